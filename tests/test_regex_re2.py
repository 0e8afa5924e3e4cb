"""`matches` runs on RE2 in both engines, and constructs RE2 cannot run are refused when the
rules load (issue 9, defect 11)."""

from __future__ import annotations

import pytest

import rules_engine
from rules_engine import RuleError


def _rules(pattern: str) -> str:
    return f"target out = stdout()\nrule r {{\n  when x matches {pattern}\n  route to out\n}}\n"


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_nested_repetition_is_linear(engine: str) -> None:
    """The classic catastrophic pattern: Python's re takes 2**n steps on n a's and a '!'
    (28 of them took over 20 s); RE2 answers 10,000 of them at once."""
    rs = rules_engine.loads(_rules('"^(a+)+$"'), format="dsl", engine=engine)
    assert rs.match({"x": "a" * 10_000 + "!"}) == []
    assert rs.match({"x": "a" * 10_000}) == ["r"]
    assert [v.matched for v in rs.explain({"x": "a" * 40 + "!"})] == [False]


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(r'"^(a)\\1$"', id="backreference"),
        pytest.param('"^(?=x)"', id="lookahead"),
        pytest.param('"(?<!x)y"', id="lookbehind"),
        pytest.param('"(?>a+)b"', id="atomic-group"),
        pytest.param('"a++"', id="possessive"),
    ],
)
def test_backtracking_constructs_are_E354(pattern: str) -> None:
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(_rules(pattern), format="dsl")
    [d] = ei.value.diagnostics
    assert d.code == "E354" and (d.line, d.column) == (3, 18)
    assert "RE2" in " ".join(d.notes)


def test_invalid_pattern_stays_E304() -> None:
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(_rules('"(unclosed"'), format="dsl")
    assert [d.code for d in ei.value.diagnostics] == ["E304"]


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize(
    "pattern,text,expected",
    [
        pytest.param('"(?i)^ORDER-[0-9]+$"', "order-12", True, id="flags"),
        pytest.param('"[0-9]{3}"', "x-12345-y", True, id="search-anywhere"),
        pytest.param('"^é+$"', "ééé", True, id="unicode"),
        pytest.param('"a$"', "a\n", False, id="dollar-is-end-of-text"),
    ],
)
def test_re2_semantics(engine: str, pattern: str, text: str, expected: bool) -> None:
    rs = rules_engine.loads(_rules(pattern), format="dsl", engine=engine)
    assert rs.match({"x": text}) == (["r"] if expected else [])
