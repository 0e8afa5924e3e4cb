"""A quantifier's variable used outside its quantifier is E332 (issue 9, defect 13): it used to
be read, silently, as the event's top-level field of that name."""

from __future__ import annotations

import pytest

import rules_engine
from rules_engine import RuleError


def _dsl(when: str) -> str:
    return f"target out = stdout()\nrule r {{\n  when {when}\n  route to out\n}}\n"


@pytest.mark.parametrize(
    "when,column",
    [
        pytest.param("any(i in data.items: i.x == 1) and i.y == 2", 43, id="after"),
        pytest.param("i.y == 2 or any(i in data.items: i.x == 1)", 8, id="before"),
        pytest.param("all(i in data.items: any(j in i.l: j == 1)) and j == 3", 56, id="inner-variable"),
    ],
)
def test_variable_outside_its_quantifier(when: str, column: int) -> None:
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(_dsl(when), format="dsl")
    [d] = ei.value.diagnostics
    assert (d.code, d.line, d.column) == ("E332", 3, column)


@pytest.mark.parametrize(
    "when",
    [
        pytest.param("any(i in data.items: i.x == 1) and `i`.y == 2", id="backticks-read-the-event-field"),
        pytest.param("any(i in data.items: i.x == 1) and any(i in data.more: i.y == 2)", id="reused-name"),
        pytest.param("any(i in data.items: i.x == 1) and item.y == 2", id="other-name"),
        pytest.param("any(data in data.items: data.x == 1)", id="collection-names-the-event-field"),
    ],
)
def test_fine(when: str) -> None:
    rs = rules_engine.loads(_dsl(when), format="dsl")
    assert rs.match({"data": {"items": [{"x": 1}], "more": [{"y": 2}]}, "i": {"y": 2}, "item": {"y": 2}}) == ["r"]
