"""rules-engine lint: planted findings with checked example events, nothing on the samples, exact verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rules_engine import load, loads
from rules_engine.author.lint import lint
from rules_engine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / "tests" / "fixtures" / "lint" / "planted.yaml"


def _findings(text: str) -> list[tuple[str, str]]:
    rs = loads(text)
    return [(d.code, d.message) for d in lint(rs.ir).diagnostics]


def test_planted_findings_with_checked_examples() -> None:
    rs = load(str(PLANTED))
    found = lint(rs.ir)
    got = sorted((d.code, d.message.split("'")[1]) for d in found.diagnostics)
    assert got == [("W401", "big-orders"), ("W402", "impossible"), ("W402", "prefix-and-exact"),
                   ("W403", "to-primary"), ("W404", "redundant")]
    for d in found.diagnostics:
        assert d.span is not None and d.span.file.endswith("planted.yaml")
        for note in d.notes:
            event = json.loads(note.removeprefix("example event: "))
            matched = rs.match(event)
            if d.code == "W401":  # the stopping rule takes it, the shadowed one never sees it
                assert "all-orders-stop" in matched and "big-orders" not in matched
            if d.code == "W403":
                assert matched[0] == "to-primary"
                assert loads(PLANTED.read_text().replace("    on_match: stop\n    targets: [billing-primary]",
                                                         "    targets: [billing-primary]")).match(event)[:2] == [
                    "to-primary", "to-backup"]
    assert found.unknown == []


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


def test_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(PLANTED), "--format", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == ["W301", "W401", "W402", "W403", "W404"]
    for res in run["results"]:
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and res["level"] == "warning"
    assert main(["lint", str(PLANTED), "--format", "github"]) == 0
    assert capsys.readouterr().out.startswith("::warning file=")
    assert main(["lint", str(PLANTED), "--strict"]) == 1
    assert "warning[W401]" in capsys.readouterr().out
    assert main(["lint", str(ROOT / "sample-rules"), "--strict", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["diagnostics"] == [] and doc["unknown"] == []
    # the CEL rules and the `not in cidr` rule are shown satisfiable by a searched example, and said so
    assert len(doc["searched"]) == 3 and all("searched example" in s for s in doc["searched"])
