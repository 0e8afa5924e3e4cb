"""Impact of a rule change on recorded events (``rules-engine diff OLD NEW --events FILE.jsonl``).

Position in the pipeline::

    events.jsonl ──raw lines──▶ old.match(raw), new.match(raw)   (compiled engines, partial decoding)
                                   │ different, or a matched rule / its targets changed
                                   ▼
                       old.evaluate, new.evaluate ──▶ per rule / per target counts + examples

Fast path: an event whose matched rules are the same under both rule sets, and
whose matched rules (and the targets they send to) are unchanged in the IR,
cannot be routed differently, so only the two raw matches are paid for it.  Only
events the change can affect are decoded and routed twice.

Categories (an event can be in several):
  * newly matched: no rule matched it before, some rule does now;
  * no longer matched: some rule matched it before, none does now;
  * per rule: events it now matches that it did not (gained), and the reverse (lost);
  * per target: events it now receives / no longer receives, and events whose payload changed.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules_engine.model import ir
from rules_engine.ruleset import RuleSet

EXAMPLES = 3


@dataclass
class Counts:
    gained: int = 0
    lost: int = 0
    payload_changed: int = 0


@dataclass
class DiffReport:
    old: str
    new: str
    events: int = 0
    malformed: int = 0
    changed: int = 0
    newly_matched: int = 0
    no_longer_matched: int = 0
    targets_changed: int = 0
    payloads_changed: int = 0
    seconds: float = 0.0
    rules: dict[str, Counts] = field(default_factory=dict)
    targets: dict[str, Counts] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def example(self, kind: str, item: dict[str, Any]) -> None:
        got = self.examples.setdefault(kind, [])
        if len(got) < EXAMPLES:
            got.append(item)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old, "new": self.new, "events": self.events, "malformed": self.malformed,
            "changed": self.changed, "newly_matched": self.newly_matched, "no_longer_matched": self.no_longer_matched,
            "targets_changed": self.targets_changed, "payloads_changed": self.payloads_changed,
            "seconds": round(self.seconds, 3),
            "rules": {k: vars(v) for k, v in sorted(self.rules.items())},
            "targets": {k: vars(v) for k, v in sorted(self.targets.items())},
            "examples": self.examples,
        }


def _unchanged_rules(old: ir.RuleSetIR, new: ir.RuleSetIR) -> frozenset[str]:
    """Rules identical in both, sending to targets identical in both (same routing for the same event)."""
    if old.deduplicate != new.deduplicate:
        return frozenset()
    o_targets = {t.name: t for t in old.targets}
    n_targets = {t.name: t for t in new.targets}
    n_rules = {r.name: r for r in new.rules}
    same = set()
    for r in old.rules:
        if n_rules.get(r.name) == r and all(o_targets.get(t.name) == n_targets.get(t.name) for t in r.targets):
            same.add(r.name)
    return frozenset(same)


def _defaults_unchanged(old: ir.RuleSetIR, new: ir.RuleSetIR) -> bool:
    o = {t.name: t for t in old.targets}
    n = {t.name: t for t in new.targets}
    return old.default_targets == new.default_targets and all(o.get(t.name) == n.get(t.name)
                                                              for t in old.default_targets)


def _delivered(decisions: Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in decisions:
        if d.action == "deliver":
            out.setdefault(d.target, d.payload)
    return out


def _event_id(raw: bytes) -> Any:
    try:
        ev = json.loads(raw)
    except ValueError:
        return None
    return ev.get("id") if isinstance(ev, dict) else None


def diff_events(old: RuleSet, new: RuleSet, lines: Iterable[bytes], old_name: str = "old",
                new_name: str = "new") -> DiffReport:
    """Replay raw JSON lines through both rule sets and count what the change does."""
    rep = DiffReport(old_name, new_name)
    same = _unchanged_rules(old.ir, new.ir)
    defaults_same = _defaults_unchanged(old.ir, new.ir)
    started = time.perf_counter()
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        rep.events += 1
        try:
            m_old = old.match(raw)
            m_new = new.match(raw)
        except Exception:  # a malformed line (RuleError), or a line no JSON reader takes
            rep.malformed += 1
            rep.events -= 1
            continue
        if m_old == m_new and all(n in same for n in m_old) and (m_old or defaults_same):
            continue
        _compare(rep, raw, lineno, m_old, m_new, old, new)
    rep.seconds = time.perf_counter() - started
    return rep


def _compare(rep: DiffReport, raw: bytes, lineno: int, m_old: list[str], m_new: list[str], old: RuleSet,
             new: RuleSet) -> None:
    d_old = _delivered(old.evaluate(raw))
    d_new = _delivered(new.evaluate(raw))
    gained = [r for r in m_new if r not in m_old]
    lost = [r for r in m_old if r not in m_new]
    t_gained = [t for t in d_new if t not in d_old]
    t_lost = [t for t in d_old if t not in d_new]
    t_payload = [t for t in d_new if t in d_old and d_new[t] != d_old[t]]
    if not (gained or lost or t_gained or t_lost or t_payload):
        return
    rep.changed += 1
    where = {"line": lineno, "id": _event_id(raw)}
    for r in gained:
        rep.rules.setdefault(r, Counts()).gained += 1
    for r in lost:
        rep.rules.setdefault(r, Counts()).lost += 1
    for t in t_gained:
        rep.targets.setdefault(t, Counts()).gained += 1
    for t in t_lost:
        rep.targets.setdefault(t, Counts()).lost += 1
    for t in t_payload:
        rep.targets.setdefault(t, Counts()).payload_changed += 1
    if not m_old and m_new:
        rep.newly_matched += 1
        rep.example("newly matched", {**where, "rules": m_new})
    if m_old and not m_new:
        rep.no_longer_matched += 1
        rep.example("no longer matched", {**where, "rules": m_old})
    if gained and m_old:
        rep.example("matched by more rules", {**where, "gained": gained})
    if lost and m_new:
        rep.example("matched by fewer rules", {**where, "lost": lost})
    if t_gained or t_lost:
        rep.targets_changed += 1
        rep.example("different targets", {**where, "before": sorted(d_old), "after": sorted(d_new)})
    if t_payload:
        rep.payloads_changed += 1
        t = t_payload[0]
        rep.example("payload changed", {**where, "target": t, "before": d_old[t], "after": d_new[t]})


# --- rule sets from paths or git revisions -------------------------------------------------------------


def materialize(spec: str, workdir: str) -> str:
    """A path to load: ``spec`` itself, or for ``REV:path`` that path as it was at git revision REV.

    The files are written below ``workdir`` (``git show REV:file``, run in the current repository).
    """
    if ":" not in spec or Path(spec).exists():
        return spec
    rev, path = spec.split(":", 1)
    path = path.rstrip("/") or "."
    listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", path], capture_output=True,
                             text=True, check=False)
    if listing.returncode != 0:
        raise ValueError(f"git cannot list {path!r} at {rev!r}: {listing.stderr.strip()}")
    names = [n for n in listing.stdout.splitlines() if n]
    if not names:
        raise ValueError(f"no file {path!r} at revision {rev!r}")
    root = Path(tempfile.mkdtemp(prefix="rev-", dir=workdir))
    for name in names:
        blob = subprocess.run(["git", "show", f"{rev}:{name}"], capture_output=True, check=False)
        if blob.returncode != 0:
            raise ValueError(f"git cannot show {name!r} at {rev!r}: {blob.stderr.decode(errors='replace').strip()}")
        dest = root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(blob.stdout)
    return str(root / path)


# --- rendering ---------------------------------------------------------------------------------------


def render_text(rep: DiffReport) -> str:
    out = [f"diff {rep.old} -> {rep.new}: {rep.events:,} event(s), {rep.changed:,} routed differently"
           + (f" ({rep.malformed:,} malformed line(s) skipped)" if rep.malformed else "")]
    if not rep.changed:
        return out[0] + "\n"
    out.append(f"  newly matched (no rule before): {rep.newly_matched:,}")
    out.append(f"  no longer matched (no rule now): {rep.no_longer_matched:,}")
    out.append(f"  different targets: {rep.targets_changed:,}")
    out.append(f"  payload changed: {rep.payloads_changed:,}")
    if rep.rules:
        out.append("rules (events gained / lost):")
        out.extend(f"  {name}: +{c.gained:,} / -{c.lost:,}" for name, c in sorted(rep.rules.items()))
    if rep.targets:
        out.append("targets (events gained / lost / payload changed):")
        out.extend(f"  {name}: +{c.gained:,} / -{c.lost:,} / ~{c.payload_changed:,}"
                   for name, c in sorted(rep.targets.items()))
    for kind, items in rep.examples.items():
        out.append(f"examples, {kind}:")
        out.extend("  " + json.dumps(i, ensure_ascii=False, default=str) for i in items)
    return "\n".join(out) + "\n"


def render_markdown(rep: DiffReport) -> str:
    out = [f"### Rule change impact: `{rep.old}` → `{rep.new}`", "",
           f"Replayed **{rep.events:,}** recorded events: **{rep.changed:,}** would be routed differently."]
    if not rep.changed:
        return "\n".join(out) + "\n"
    out += ["", "| change | events |", "|---|---:|",
            f"| newly matched (no rule before) | {rep.newly_matched:,} |",
            f"| no longer matched (no rule now) | {rep.no_longer_matched:,} |",
            f"| different targets | {rep.targets_changed:,} |",
            f"| payload changed | {rep.payloads_changed:,} |"]
    if rep.rules:
        out += ["", "| rule | gained | lost |", "|---|---:|---:|"]
        out += [f"| `{n}` | {c.gained:,} | {c.lost:,} |" for n, c in sorted(rep.rules.items())]
    if rep.targets:
        out += ["", "| target | gained | lost | payload changed |", "|---|---:|---:|---:|"]
        out += [f"| `{n}` | {c.gained:,} | {c.lost:,} | {c.payload_changed:,} |"
                for n, c in sorted(rep.targets.items())]
    if rep.examples:
        out += ["", "<details><summary>Examples</summary>", ""]
        for kind, items in rep.examples.items():
            out.append(f"**{kind}**")
            out.append("")
            out.extend(f"- `{json.dumps(i, ensure_ascii=False, default=str)}`" for i in items)
            out.append("")
        out.append("</details>")
    return "\n".join(out) + "\n"
