"""The fuzz targets and their oracle.

A case fails when it

* raises anything but :class:`rules_engine.RuleError` through a public entry point
  (``loads``, ``RuleSet.match / evaluate / explain``);
* makes the compiled engine and the reference evaluator disagree (matched rules or
  decisions), or ``match(raw bytes)`` disagree with ``match(decoded event)``;
* runs over the evaluation budget: ``time_budget`` seconds of CPU time (enforced by a
  profiling timer that interrupts the case) or ``mem_budget`` bytes of peak Python
  allocation (tracemalloc).

One documented difference is allowed: ``match(raw bytes)`` decodes only what the rules
read, so bytes that full decoding refuses (a ``1e400`` nobody reads) may still match.
"""

from __future__ import annotations

import json
import random
import resource
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import rules_engine
from fuzz import mutate
from fuzz.seeds import STDOUT_TARGETS, Seeds
from rules_engine import RuleError, RuleSet


class BudgetExceeded(BaseException):
    """Raised inside a case by the CPU-time timer (a BaseException, so no ``except Exception`` hides it)."""


@dataclass
class Failure:
    kind: str  # "crash", "disagree", "budget"
    target: str
    message: str
    case: dict[str, Any]
    trace: str = ""

    def signature(self) -> str:
        """Failures with one signature are one finding (kind, exception type, innermost project frame)."""
        frame = ""
        for line in self.trace.splitlines():
            if "rules_engine" in line and line.strip().startswith("File"):
                frame = line.strip()
        return f"{self.kind}|{self.target}|{self.message.split(':')[0][:80]}|{frame}"


@dataclass
class Stats:
    cases: dict[str, int] = field(default_factory=lambda: {"rules": 0, "events": 0})
    loaded: int = 0
    rejected: int = 0  # RuleError: the expected answer to bad input
    compared: int = 0


@contextmanager
def budget(seconds: float, mem_bytes: int) -> Iterator[None]:
    def on_timer(signum: int, frame: Any) -> None:
        raise BudgetExceeded(f"over the CPU-time budget of {seconds} s")

    old = signal.signal(signal.SIGPROF, on_timer)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    grown = _max_rss() - BASELINE_RSS[0]
    if grown > mem_bytes:
        BASELINE_RSS[0] = _max_rss()  # report the overshoot once, not for every later case
        raise BudgetExceeded(f"resident memory grew by {grown // 2**20} MiB, over the budget of "
                             f"{mem_bytes // 2**20} MiB")


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# The high-water mark a run starts from (set once per run, after the seed rule sets are loaded).
BASELINE_RSS = [0]


def _decisions(ds: list[Any]) -> str:
    return repr([(d.rule, d.target, d.action, d.payload, d.partition_key, d.headers) for d in ds])


def _answer(fn: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", value) or ("rule_error", codes); anything else propagates (a crash)."""
    try:
        return "ok", fn()
    except RuleError as e:
        return "rule_error", sorted({d.code for d in e.diagnostics})


def compare_engines(comp: RuleSet, ref: RuleSet, event: Any) -> str | None:
    """None when both engines agree on ``event`` (decoded value or raw JSON); else what differs."""
    raw = isinstance(event, (bytes, str))
    r_match = _answer(lambda: ref.match(event))
    c_match = _answer(lambda: comp.match(event))
    if raw and r_match[0] == "rule_error":
        # Full decoding refused it; the partial decoder may not have looked (documented).
        _answer(lambda: comp.evaluate(event))
        _answer(lambda: comp.explain(event))
        return None
    if c_match != r_match:
        return f"match: compiled {c_match} != reference {r_match}"
    r_eval = _answer(lambda: _decisions(ref.evaluate(event)))
    c_eval = _answer(lambda: _decisions(comp.evaluate(event)))
    if c_eval != r_eval:
        return f"evaluate: compiled {c_eval} != reference {r_eval}"
    _answer(lambda: comp.explain(event))
    if raw and r_match[0] == "ok":
        decoded = json.loads(event)
        d_match = _answer(lambda: comp.match(decoded))
        if d_match != c_match:
            return f"match(bytes) {c_match} != match(decoded) {d_match}"
    return None


class Fuzzer:
    """Runs numbered cases; case ``i`` of seed ``s`` is reproducible from ``(s, i)`` alone."""

    def __init__(self, seeds: Seeds, time_budget: float = 2.0, mem_budget: int = 512 * 2**20) -> None:
        self.seeds = seeds
        self.time_budget = time_budget
        self.mem_budget = mem_budget
        self.stats = Stats()
        self.rule_sets = self._event_rule_sets()
        BASELINE_RSS[0] = _max_rss()

    def _event_rule_sets(self) -> list[tuple[str, RuleSet, RuleSet]]:
        """The rule sets events are fuzzed against: every seed file, and one of stress filters."""
        out: list[tuple[str, RuleSet, RuleSet]] = []
        texts = [(t, "yaml") for t in self.seeds.yaml_texts] + [(t, "dsl") for t in self.seeds.dsl_texts]
        for i, f in enumerate(mutate.STRESS_FILTERS):  # one file per stress rule: one that does not load drops alone
            rule = dict(f, name=f"s{i}", targets=["out"])
            texts.append((json.dumps({"targets": STDOUT_TARGETS, "rules": [rule]}), "yaml"))
        for n, (text, fmt) in enumerate(texts):
            try:
                comp = rules_engine.loads(text, format=fmt, name=f"seed{n}")
                ref = rules_engine.loads(text, format=fmt, name=f"seed{n}", engine="reference")
            except RuleError:
                continue
            except Exception:  # noqa: BLE001  # a seed the loader crashes on is reported by the rules target
                continue
            out.append((f"seed{n}", comp, ref))
        return out

    # --- rules target -----------------------------------------------------------

    def rule_case(self, rng: random.Random) -> dict[str, Any]:
        s = self.seeds
        r = rng.random()
        if r < 0.45 and s.yaml_docs:
            text = mutate.yaml_dump(rng, mutate.mutate_tree(rng, mutate.pick(rng, s.yaml_docs), s.yaml_docs))
            return {"format": "yaml", "text": text}
        if r < 0.65 and s.yaml_texts:
            text = mutate.mutate_text(rng, mutate.pick(rng, s.yaml_texts), mutate.YAML_TOKENS)
            return {"format": "yaml", "text": text}
        if r < 0.9 and s.dsl_texts:
            return {"format": "dsl", "text": mutate.mutate_text(rng, mutate.pick(rng, s.dsl_texts), mutate.DSL_TOKENS)}
        fmt = rng.choice(["yaml", "dsl"])
        base = mutate.pick(rng, s.yaml_texts if fmt == "yaml" else s.dsl_texts)
        data = mutate.mutate_bytes(rng, base.encode("utf-8"))
        return {"format": fmt, "bytes": data.hex()}

    def run_rule_case(self, rng: random.Random, case: dict[str, Any]) -> Failure | None:
        self.stats.cases["rules"] += 1
        data: str | bytes = bytes.fromhex(case["bytes"]) if "bytes" in case else case["text"]
        try:
            comp = rules_engine.loads(data, format=case["format"], name="fuzz")
        except RuleError:
            self.stats.rejected += 1
            return None
        self.stats.loaded += 1
        ref = rules_engine.loads(data, format=case["format"], name="fuzz", engine="reference")
        events = [mutate.pick(rng, self.seeds.events) for _ in range(3)] if self.seeds.events else [{}]
        events.append(mutate.mutate_tree(rng, mutate.pick(rng, events)))
        for ev in events:
            why = compare_engines(comp, ref, ev)
            self.stats.compared += 1
            if why:
                return Failure("disagree", "rules", why, dict(case, event=ev))
        return None

    # --- events target ----------------------------------------------------------

    def event_case(self, rng: random.Random) -> dict[str, Any]:
        name = mutate.pick(rng, self.rule_sets)[0]
        ev = mutate.mutate_tree(rng, mutate.pick(rng, self.seeds.events or [{}]), self.seeds.events)
        r = rng.random()
        if r < 0.4:
            return {"rule_set": name, "event": ev}
        text = json.dumps(ev, ensure_ascii=rng.random() < 0.5)
        if r < 0.7:
            return {"rule_set": name, "json": text}
        return {"rule_set": name, "bytes": mutate.mutate_bytes(rng, text.encode("utf-8")).hex()}

    def run_event_case(self, rng: random.Random, case: dict[str, Any]) -> Failure | None:
        self.stats.cases["events"] += 1
        _, comp, ref = next(x for x in self.rule_sets if x[0] == case["rule_set"])
        event: Any = case.get("event", case.get("json"))
        if "bytes" in case:
            event = bytes.fromhex(case["bytes"])
        why = compare_engines(comp, ref, event)
        self.stats.compared += 1
        return Failure("disagree", "events", why, case) if why else None

    # --- one case ---------------------------------------------------------------

    def one(self, target: str, seed: int, i: int) -> Failure | None:
        import traceback

        rng = random.Random(f"{seed}:{target}:{i}")
        case = self.rule_case(rng) if target == "rules" else self.event_case(rng)
        case = dict(case, replay=f"--target {target} --seed {seed} --replay {i}")
        run = self.run_rule_case if target == "rules" else self.run_event_case
        t0 = time.process_time()
        try:
            with budget(self.time_budget, self.mem_budget):
                return run(rng, case)
        except BudgetExceeded as e:
            return Failure("budget", target, f"{e} ({time.process_time() - t0:.1f} s)", case, traceback.format_exc())
        except RecursionError as e:
            return Failure("crash", target, f"RecursionError: {e}", case, traceback.format_exc())
        except Exception as e:  # noqa: BLE001  # every other exception is a finding
            return Failure("crash", target, f"{type(e).__name__}: {e}", case, traceback.format_exc())
