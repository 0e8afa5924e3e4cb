"""rules-engine lint: planted findings with checked example events, nothing on the samples, exact verdicts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rules_engine import load, loads
from rules_engine.author.lint import lint
from rules_engine.cli.main import main
from rules_engine.ruleset import RuleSet

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / "tests" / "fixtures" / "lint" / "planted.yaml"


def _findings(text: str) -> list[tuple[str, str]]:
    rs = loads(text)
    return [(d.code, d.message) for d in lint(rs.ir).diagnostics]


def _event(note: str) -> dict[str, object]:
    text = note.split(": ", 1)[1]
    return json.loads(text[: text.rindex("}") + 1])  # type: ignore[no-any-return]


def test_planted_findings_with_checked_examples() -> None:
    rs = load(str(PLANTED))
    found = lint(rs.ir)
    alone = {n: _alone(rs, n) for n in ("big-orders", "large-invoices", "refunds")}
    got = sorted((d.code, d.message.split("'")[1]) for d in found.diagnostics)
    assert got == [("W401", "big-orders"), ("W402", "impossible"), ("W402", "prefix-and-exact"),
                   ("W403", "card-payments"), ("W404", "redundant"), ("W405", "eu-invoices"),
                   ("W406", "vip-refunds")]
    for d in found.diagnostics:
        assert d.span is not None and d.span.file.endswith("planted.yaml")
        events = [_event(n) for n in d.notes]
        matched = [rs.match(e) for e in events]
        if d.code == "W401":  # the stopping rule takes it, the shadowed one never sees it
            assert "all-orders-stop" in matched[0] and "big-orders" not in matched[0]
            assert alone["big-orders"].match(events[0]) == ["big-orders"]
        if d.code == "W403":  # both fire, into two streams of one Redis
            assert {"card-payments", "large-payments"} <= set(matched[0])
        if d.code == "W405":  # in the intersection the first one wins; each also matches alone
            assert matched[0] == ["eu-invoices"] and alone["large-invoices"].match(events[0])
            assert matched[1] == ["eu-invoices"] and matched[2] == ["large-invoices"]
        if d.code == "W406":  # the exception takes its events; the general rule has events of its own
            assert matched[0] == ["vip-refunds"] and alone["refunds"].match(events[0])
            assert matched[1] == ["refunds"]
    assert found.unknown == []


def _alone(rs: RuleSet, name: str) -> RuleSet:
    (rule,) = [dataclasses.replace(r, on_match="continue") for r in rs.ir.rules if r.name == name]
    return RuleSet(dataclasses.replace(rs.ir, rules=(rule,)), version="alone")


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "sample-rules").iterdir() if p.is_dir()),
                         ids=lambda p: p.name)
def test_nothing_spurious_on_the_samples(path: Path) -> None:
    assert lint(load(str(path)).ir).diagnostics == []


T = "targets:\n  t: {type: stdout}\nrules:\n"


def _rule(name: str, body: str) -> str:
    return f"  - name: {name}\n    targets: [t]\n{body}"


@pytest.mark.parametrize(
    "when, unsat",
    [
        pytest.param("x > 5 and x < 3", True, id="empty-range"),
        pytest.param("x >= 5 and x <= 5", False, id="single-point"),
        pytest.param("x > 5 and x < 7 and x != 6", False, id="range-minus-a-point"),
        pytest.param('x == "a" and x == "b"', True, id="two-exacts"),
        pytest.param('x > 5 and x starts with "a"', True, id="type-conflict"),
        pytest.param('x in ["a", "b"] and x not in ["a", "b"]', True, id="in-and-not-in"),
        pytest.param("not exists(x) and x == 1", True, id="absent-and-equal"),
        pytest.param('x starts with "ab" and x ends with "yz"', False, id="prefix-and-suffix"),
        pytest.param('(x == 1 or x == 2) and x > 1', False, id="or-branches"),
        pytest.param('(x == 1 or x == 2) and x > 2', True, id="every-branch-empty"),
    ],
)
def test_unsatisfiable_expressions(when: str, unsat: bool) -> None:
    codes_ = [c for c, _ in _findings(T + _rule("r", f"    when: '{when}'\n"))]
    assert ("W402" in codes_) == unsat


def test_two_patterns_on_one_field_are_satisfiable_through_an_array() -> None:
    text = ("targets:\n  t: {type: stdout}\n")
    dsl = 'target t = stdout\nrule r {\n  match {"x": [1]}\n  match {"x": [2]}\n  route to t\n}\n'
    assert lint(loads(dsl, format="dsl").ir).diagnostics == []
    assert text


def test_cel_is_unknown_not_guessed() -> None:
    rs = loads(T + _rule("r", "    cel: data.x > 5 && data.x < 3\n"))
    found = lint(rs.ir)
    assert found.diagnostics == [] and "unknown" in found.unknown[0]


def test_cel_example_found_by_search_is_checked_and_named() -> None:
    rs = loads(T + _rule("r", "    cel: data.kind == 'gold' && data.total >= 250.0\n"))
    found = lint(rs.ir)
    assert found.diagnostics == [] and found.unknown == []
    (line,) = found.searched
    event = json.loads(line.split("searched example event (")[1].split("); its")[0])
    assert rs.match(event) == ["r"]


@pytest.mark.parametrize(
    "first, second, shadowed",
    [
        pytest.param("    match: {x: [1, 2]}\n", "    match: {x: [1]}\n", True, id="value-subset"),
        pytest.param("    match: {x: [{numeric: ['>', 0]}]}\n", "    match: {x: [{numeric: ['>', 5, '<', 9]}]}\n",
                     True, id="range-inside"),
        pytest.param("    match: {x: [{prefix: a}]}\n", "    match: {x: [{prefix: ab}], y: [1]}\n", True,
                     id="longer-prefix-more-fields"),
        pytest.param("    match: {x: [1]}\n", "    match: {x: [1, 2]}\n", False, id="wider"),
        pytest.param("    when: x == 1\n", "    match: {x: [1]}\n", False, id="array-element-escapes"),
        pytest.param("    match: {x: [1]}\n", "    when: x == 1\n", True, id="scalar-inside-pattern"),
    ],
)
def test_shadowing(first: str, second: str, shadowed: bool) -> None:
    text = T + _rule("first", first + "    priority: 5\n    on_match: stop\n") + _rule("second", second)
    assert any(c == "W401" for c, _ in _findings(text)) == shadowed


def test_identical_filters_overlap() -> None:
    text = T + _rule("a", "    match: {x: [1]}\n") + _rule("b", "    match: {x: [1]}\n")
    assert [c for c, _ in _findings(text)] == ["W403"]


def _pair(first: str, second: str, t1: str = "t", t2: str = "u", targets: str = "") -> list[tuple[str, str]]:
    head = "targets:\n  t: {type: stdout}\n  u: {type: stdout}\n" + targets + "rules:\n"
    return _findings(head + f"  - name: first\n    targets: [{t1}]\n{first}"
                     + f"  - name: second\n    targets: [{t2}]\n{second}")


STOP = "    on_match: stop\n"


@pytest.mark.parametrize(
    "first, second, t2, code",
    [
        pytest.param("    when: a == 1\n" + STOP, "    when: b == 2\n", "u", "W405", id="partial-overlap"),
        pytest.param("    when: x > 1 and x < 9\n" + STOP, "    when: x > 5\n", "u", "W405", id="ranges"),
        pytest.param("    when: a == 1\n" + STOP, "    when: b == 2\n", "t", None, id="same-targets"),
        pytest.param("    when: a == 1\n", "    when: b == 2\n", "u", None, id="first-continues"),
        pytest.param("    when: a == 1\n    priority: 5\n" + STOP, "    when: b == 2\n", "u", None,
                     id="priority-declares-the-order"),
        pytest.param("    when: a == 1\n" + STOP, "    when: a == 2\n", "u", None, id="disjoint"),
        pytest.param("    match: {a: [1]}\n" + STOP, "    match: {a: [{prefix: x}]}\n", "u", None,
                     id="only-through-an-array"),
        pytest.param("    when: a == 1 and b == 2\n" + STOP, "    when: a == 1\n", "u", "W406", id="exception"),
        pytest.param("    when: x > 5\n" + STOP, "    when: x > 0\n", "u", "W406", id="exception-range"),
        pytest.param("    when: x > 5\n" + STOP, "    when: x > 0\n", "t", None, id="exception-same-target"),
    ],
)
def test_correlation_and_generalisation(first: str, second: str, t2: str, code: str | None) -> None:
    found = [c for c, _ in _pair(first, second, t2=t2)]
    assert found == ([code] if code else [])


Q = "{type: redis, url: 'redis://127.0.0.1:6379', stream: %s}"


@pytest.mark.parametrize(
    "targets, t1, t2, flagged",
    [
        pytest.param(f"  q1: {Q % 'jobs-a'}\n  q2: {Q % 'jobs-b'}\n", "q1", "q2", True, id="two-streams-one-broker"),
        pytest.param(f"  q1: {Q % 'jobs-a'}\n  q2: {{type: redis, url: 'redis://other:6379', stream: jobs-b}}\n",
                     "q1", "q2", False, id="two-brokers"),
        pytest.param("  ledger-primary: {type: stdout}\n  ledger-backup: {type: stdout}\n", "ledger-primary",
                     "ledger-backup", True, id="primary-backup-names"),
        pytest.param("  ledger-eu: {type: stdout}\n  ledger-us: {type: stdout}\n", "ledger-eu", "ledger-us", False,
                     id="other-names"),
        pytest.param("  h1: {type: http, url: 'https://a.example/in'}\n  h2: {type: http, url: 'https://b.example/in'}\n",
                     "h1", "h2", False, id="two-http-services-fan-out"),
    ],
)
def test_overlap_into_exclusive_targets(targets: str, t1: str, t2: str, flagged: bool) -> None:
    found = _pair("    when: a == 1\n", "    when: b == 2\n", t1, t2, targets)
    assert [c for c, _ in found] == (["W403"] if flagged else [])
    if flagged:
        assert "look exclusive" in found[0][1]


def test_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(PLANTED), "--format", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == ["W301", "W401", "W402", "W403", "W404", "W405", "W406"]
    for res in run["results"]:
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and res["level"] == ("note" if res["ruleId"] == "W406" else "warning")
    assert main(["lint", str(PLANTED), "--format", "github"]) == 0
    assert capsys.readouterr().out.startswith("::warning file=")
    assert main(["lint", str(PLANTED), "--strict"]) == 1
    assert "warning[W401]" in capsys.readouterr().out
    assert main(["lint", str(ROOT / "sample-rules"), "--strict", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["diagnostics"] == [] and doc["unknown"] == []
    # the CEL rules and the `not in cidr` rule are shown satisfiable by a searched example, and said so
    assert len(doc["searched"]) == 3 and all("searched example" in s for s in doc["searched"])
