"""Rule unit tests: ``*_test.yaml`` files beside the rules (``rules-engine test``).

Position in the pipeline::

    *_test.yaml ──read (positions)──▶ TestFile ──run──▶ CaseResult (+ Coverage) ──▶ text / json / junit

A test file::

    rules: [orders.yaml]          # optional; default: the rule files of the test file's folder
    tests:
      - name: big orders from abroad get a review
        event: {type: order.created, data: {total: 5000}}    # or  event_file: events/big.json
                                                              # or  event_file: orders.jsonl + line: 3
        at: "2024-05-01T12:00:00+00:00"                       # optional ingestion time
        expect:
          rules: [high-value-fraud-review]     # exactly these rules match (any order)
          rules_include: [audit-all]           # at least these
          no_match: true                       # no rule matches
          targets: [fraud-review]              # exactly these targets receive the event
          targets_include: [audit]
          payloads:                            # per target: equals / subset / when (expression) / cel
            fraud-review: {subset: {data: {total: 5000}}}

The rules are evaluated through the public API (:class:`~rules_engine.ruleset.RuleSet`); a
payload assertion written as an expression or CEL is a one-rule rule set matched against the
payload.  A test naming a rule or target the rule set does not have is E711, an event file or
JSONL line that is not there E712, a malformed test file E710: errors, never passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rules_engine import load, loads
from rules_engine.author.coverage import Coverage
from rules_engine.loader import MAX_FILE_BYTES, TEST_SUFFIXES, read_source
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic, RuleError
from rules_engine.model.source import Span
from rules_engine.ruleset import RuleSet
from rules_engine.syntax.yaml_loader import load_yaml

_EXPECT_KEYS = ("rules", "rules_include", "no_match", "targets", "targets_include", "payloads")
_CASE_KEYS = ("name", "event", "event_file", "line", "at", "expect")
_PAYLOAD_KEYS = ("equals", "subset", "when", "cel")


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    failures: list[str] = field(default_factory=list)
    explain: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class FileResult:
    file: str
    rules: list[str]
    cases: list[CaseResult] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    coverage: Coverage | None = None


def find_test_files(paths: Sequence[str]) -> list[str]:
    """``*_test.yaml`` files named or found below folders (hidden folders skipped), sorted."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(str(f) for f in sorted(path.rglob("*")) if f.name.endswith(TEST_SUFFIXES)
                       and not any(part.startswith(".") for part in f.relative_to(path).parts))
        else:
            out.append(p)
    return out


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _subset(e, a) for e, a in zip(expected, actual, strict=True))
    return _same(expected, actual)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _show(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


class _Run:
    def __init__(self, file: str, with_coverage: bool, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.file = file
        self.with_coverage = with_coverage
        self.max_file_bytes = max_file_bytes
        self.diags: list[Diagnostic] = []

    def bad(self, span: Span, detail: str) -> None:
        self.diags.append(codes.TEST_FILE_INVALID.at(span, detail=detail))

    def run(self) -> FileResult:
        src, diags = read_source(self.file, self.max_file_bytes)
        if src is None:
            return FileResult(self.file, [], diagnostics=diags)
        doc, loc, diags = load_yaml(src)
        if diags or not isinstance(doc, dict):
            if not diags:
                diags = [codes.TEST_FILE_INVALID.at(Span.point(self.file, 1, 1), detail="a test file is a mapping "
                                                    "with `tests:` (and optionally `rules:`)")]
            return FileResult(self.file, [], diagnostics=diags)
        here = Path(self.file).parent
        raw_rules = doc.get("rules", None)
        rule_paths = [str(here)] if raw_rules is None else [str(here / r) for r in (
            [raw_rules] if isinstance(raw_rules, str) else raw_rules if isinstance(raw_rules, list) else [])]
        for k in doc:
            if k not in ("rules", "tests"):
                self.bad(loc.key((k,)), f"unknown key {k!r}; a test file has `rules` and `tests`")
        res = FileResult(self.file, rule_paths)
        try:
            rs = load(*rule_paths, max_file_bytes=self.max_file_bytes)
        except RuleError as e:
            res.diagnostics = self.diags + list(e.diagnostics)
            return res
        if self.with_coverage:
            res.coverage = Coverage(rs.ir)
        tests = doc.get("tests")
        if not isinstance(tests, list) or not tests:
            self.bad(loc.value(("tests",)) if "tests" in doc else Span.point(self.file, 1, 1),
                     "`tests` must be a non-empty list of tests")
            tests = []
        for i, case in enumerate(tests):
            r = self.case(rs, case, ("tests", i), loc, res.coverage)
            if r is not None:
                res.cases.append(r)
        res.diagnostics = self.diags
        return res

    def case(self, rs: RuleSet, case: Any, ptr: tuple[Any, ...], loc: Any, cov: Coverage | None) -> CaseResult | None:
        span = loc.value(ptr)
        if not isinstance(case, dict):
            self.bad(span, "a test is a mapping with `name`, `event` (or `event_file`) and `expect`")
            return None
        before = len(self.diags)
        for k in case:
            if k not in _CASE_KEYS:
                self.bad(loc.key(ptr + (k,)), f"unknown key {k!r}; a test has {', '.join(_CASE_KEYS)}")
        name = str(case.get("name") or f"test {ptr[-1] + 1}")
        event = self.event(case, name, ptr, loc)
        expect = case.get("expect")
        if not isinstance(expect, dict) or not expect:
            self.bad(loc.value(ptr + ("expect",)) if "expect" in case else span,
                     "`expect` must name what should happen (rules, no_match, targets, payloads)")
            expect = {}
        for k in expect:
            if k not in _EXPECT_KEYS:
                self.bad(loc.key(ptr + ("expect", k)), f"unknown expectation {k!r}; use {', '.join(_EXPECT_KEYS)}")
        self.names(rs, name, expect, ptr + ("expect",), loc)
        now = None
        if "at" in case:
            try:
                now = datetime.fromisoformat(str(case["at"]))
            except ValueError:
                self.bad(loc.value(ptr + ("at",)), f"`at` must be an ISO 8601 time, not {case['at']!r}")
        if len(self.diags) > before or event is None:
            return None
        started = time.perf_counter()
        result = CaseResult(self.file, name, span.line)
        matched = rs.match(event)
        decisions = rs.evaluate(event, now=now)
        targets = [d.target for d in decisions if d.action == "deliver"]
        if cov is not None:
            cov.add(event, matched, targets)
        self.check(result, expect, matched, decisions, targets)
        if not result.ok:
            involved = set(matched) | set(expect.get("rules") or []) | set(expect.get("rules_include") or [])
            for v in rs.explain(event):
                if v.rule in involved:
                    why = "matched" if v.status == "matched" else (v.reason or v.status)
                    result.explain.append(f"{v.rule} ({v.file}:{v.line}): {why}")
        result.seconds = time.perf_counter() - started
        return result

    def event(self, case: dict[str, Any], test: str, ptr: tuple[Any, ...], loc: Any) -> dict[str, Any] | None:
        if ("event" in case) == ("event_file" in case):
            self.bad(loc.value(ptr), "a test needs exactly one of `event` (inline) and `event_file`")
            return None
        if "event" in case:
            if "line" in case:
                self.bad(loc.key(ptr + ("line",)), "`line` picks a line of `event_file`; this test has none")
            ev = case["event"]
            if not isinstance(ev, dict):
                self.bad(loc.value(ptr + ("event",)), "`event` must be a mapping (a JSON object)")
                return None
            return ev
        at = loc.value(ptr + ("event_file",))
        path = Path(self.file).parent / str(case["event_file"])
        line = case.get("line")
        if "line" in case and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            self.bad(loc.value(ptr + ("line",)), f"`line` is a line number of the JSONL file (1 for the first), "
                     f"not {line!r}")
            return None
        where = f"{str(path)!r}" if line is None else f"line {line} of {str(path)!r}"
        try:
            text = path.read_text(encoding="utf-8") if line is None else _jsonl_line(path, line)
        except OSError as e:
            self.diags.append(codes.TEST_EVENT_MISSING.at(at, test=test, detail=f"cannot read {str(path)!r}: "
                                                          f"{e.strerror or e}"))
            return None
        except _NoLine as e:
            self.diags.append(codes.TEST_EVENT_MISSING.at(loc.value(ptr + ("line",)), test=test,
                                                          detail=f"{str(path)!r} {e}"))
            return None
        try:
            ev = json.loads(text)
        except ValueError as e:
            self.bad(at, f"{where} is not JSON: {e}")
            return None
        if not isinstance(ev, dict):
            self.bad(at, f"{where} does not hold a JSON object")
            return None
        return ev

    def names(self, rs: RuleSet, test: str, expect: dict[str, Any], ptr: tuple[Any, ...], loc: Any) -> None:
        known_rules = {r.name for r in rs.ir.rules}
        known_targets = {t.name for t in rs.ir.targets}
        for key, kind, known in (("rules", "rule", known_rules), ("rules_include", "rule", known_rules),
                                 ("targets", "target", known_targets), ("targets_include", "target", known_targets),
                                 ("payloads", "target", known_targets)):
            if key not in expect:
                continue
            value = expect[key]
            if key == "payloads" and not isinstance(value, dict) or key != "payloads" and not isinstance(value, list):
                self.bad(loc.value(ptr + (key,)), f"`{key}` must be a {'mapping' if key == 'payloads' else 'list'}")
                continue
            for i, n in enumerate(value):
                if n not in known:
                    at = loc.key(ptr + (key, n)) if key == "payloads" else loc.value(ptr + (key, i))
                    self.diags.append(codes.TEST_UNKNOWN_NAME.at(at, kind=kind, name=str(n), test=test))
            if key == "payloads":
                for n, spec in value.items():
                    if not isinstance(spec, dict) or not spec or any(k not in _PAYLOAD_KEYS for k in spec):
                        self.bad(loc.value(ptr + (key, n)), f"a payload expectation has {', '.join(_PAYLOAD_KEYS)}")
        if "no_match" in expect and not isinstance(expect["no_match"], bool):
            self.bad(loc.value(ptr + ("no_match",)), "`no_match` is true or false")

    def check(self, result: CaseResult, expect: dict[str, Any], matched: list[str], decisions: list[Any],
              targets: list[str]) -> None:
        f = result.failures
        if "rules" in expect and sorted(set(expect["rules"])) != sorted(set(matched)):
            f.append(_diff_sets("matched rules", expect["rules"], matched))
        if "rules_include" in expect:
            missing = [n for n in expect["rules_include"] if n not in matched]
            if missing:
                f.append(f"rules that should match but did not: {', '.join(missing)} (matched: "
                         f"{', '.join(matched) or 'none'})")
        if expect.get("no_match") and matched:
            f.append(f"expected no rule to match; matched: {', '.join(matched)}")
        if expect.get("no_match") is False and not matched:
            f.append("expected some rule to match; none did")
        if "targets" in expect and sorted(set(expect["targets"])) != sorted(set(targets)):
            f.append(_diff_sets("targets", expect["targets"], targets))
        if "targets_include" in expect:
            missing = [n for n in expect["targets_include"] if n not in targets]
            if missing:
                f.append(f"targets that should receive the event but did not: {', '.join(missing)}")
        for target, spec in (expect.get("payloads") or {}).items():
            sent = [d.payload for d in decisions if d.target == target and d.action == "deliver"]
            if not sent:
                why = [f"{d.action}: error[{d.error.code}] {d.error.message}" for d in decisions
                       if d.target == target and d.error is not None]
                because = f" ({'; '.join(why)})" if why else ""
                f.append(f"payload for {target}: nothing was sent to {target}{because}")
                continue
            payload = sent[0]
            if "equals" in spec and not _subset(spec["equals"], payload) or "equals" in spec and not _subset(
                    payload, spec["equals"]):
                f.append(f"payload for {target} differs:\n    expected: {_show(spec['equals'])}\n"
                         f"    actual:   {_show(payload)}")
            if "subset" in spec and not _subset(spec["subset"], payload):
                f.append(f"payload for {target} does not contain the expected part:\n"
                         f"    expected part: {_show(spec['subset'])}\n    actual:        {_show(payload)}")
            for kind in ("when", "cel"):
                if kind in spec:
                    verdict = _assertion(kind, str(spec[kind]), payload)
                    if verdict is not True:
                        f.append(f"payload for {target}: `{kind}: {spec[kind]}` {verdict}\n"
                                 f"    actual: {_show(payload)}")


class _NoLine(Exception):
    pass


def _jsonl_line(path: Path, line: int) -> str:
    """Line ``line`` (1-based) of a JSONL file, read up to that line only."""
    seen = 0
    with path.open(encoding="utf-8") as f:
        for seen, text in enumerate(f, start=1):
            if seen == line:
                if not text.strip():
                    raise _NoLine(f"line {line} is blank")
                return text
    raise _NoLine(f"has {seen} line{'s' if seen != 1 else ''}, no line {line}")


def _diff_sets(what: str, expected: list[Any], actual: list[str]) -> str:
    exp = [str(x) for x in expected]
    missing = [x for x in exp if x not in actual]
    extra = [x for x in actual if x not in exp]
    lines = [f"{what} differ:", f"    expected: {', '.join(exp) or 'none'}",
             f"    actual:   {', '.join(actual) or 'none'}"]
    if missing:
        lines.append(f"    - missing: {', '.join(missing)}")
    if extra:
        lines.append(f"    + unexpected: {', '.join(extra)}")
    return "\n".join(lines)


def _assertion(kind: str, text: str, payload: Any) -> bool | str:
    """True when the expression (or CEL) holds for the payload; else why not."""
    if not isinstance(payload, dict):
        return "cannot be checked: the payload is not an object"
    body = json.dumps({"targets": {"t": {"type": "stdout"}}, "rules": [{"name": "assertion", kind: text,
                                                                         "targets": ["t"]}]})
    try:
        check = loads(body, name="<assertion>", engine="reference")
    except RuleError as e:
        return "is invalid: " + "; ".join(f"{d.code} {d.message}" for d in e.diagnostics)
    return True if check.match(payload) else "does not hold"


def run_test_files(files: Sequence[str], with_coverage: bool = False,
                   max_file_bytes: int = MAX_FILE_BYTES) -> list[FileResult]:
    """Run each test file; rule files and test files over ``max_file_bytes`` are E104."""
    return [_Run(f, with_coverage, max_file_bytes).run() for f in files]


__all__ = ["TEST_SUFFIXES", "CaseResult", "FileResult", "find_test_files", "run_test_files"]
