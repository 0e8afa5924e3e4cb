"""docs/expressions.md is executable: every ``expr-example`` block is parsed, evaluated and checked.

A block holds JSON: ``{"expr": "<expression>", "event": {...}, "result": <value>}``,
or ``"missing": true`` instead of ``result`` when the expression has no value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rules_engine.expressions.check import check_expr
from rules_engine.expressions.evaluate import evaluate
from rules_engine.expressions.functions import FUNCTIONS
from rules_engine.expressions.render import render_expr
from rules_engine.model.source import Embedded
from rules_engine.model.values import MISSING, json_equal

DOC = Path(__file__).resolve().parents[1] / "docs" / "expressions.md"
_BLOCK = re.compile(r"^```expr-example\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[int, dict[str, Any]]]:
    text = DOC.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        out.append((line, json.loads(m.group(1))))
    return out


EXAMPLES = _examples()
PARAMS = [pytest.param(ex, id=f"line{line}:{ex['expr'][:40]}") for line, ex in EXAMPLES]


def _parse(text: str) -> Any:
    from rules_engine.syntax import language

    expr, diags = language.parse_expression(text, Embedded.plain("<doc>", text))
    assert not [d for d in diags if d.is_error], [d.message for d in diags]
    assert expr is not None
    return expr


def test_examples_are_well_formed() -> None:
    assert len(EXAMPLES) > 50
    for line, ex in EXAMPLES:
        assert set(ex) in ({"expr", "event", "result"}, {"expr", "event", "missing"}), line
        assert ex.get("missing", True) is True, line


def test_every_function_has_an_example() -> None:
    used = " ".join(ex["expr"] for _, ex in EXAMPLES)
    for name in FUNCTIONS:
        assert f"{name}(" in used, f"docs/expressions.md has no example using {name}()"
    for word in ("starts with", "ends with", "contains", "matches", "like", "equals_ignore_case(", "cidr(",
                 "not in", "exists(", "any(", "all(", "if ", " or ", " and ", "not ", "f\"", " % ", " / "):
        assert word in used, f"docs/expressions.md has no example using {word!r}"


@pytest.mark.parametrize("ex", PARAMS)
def test_example(ex: dict[str, Any]) -> None:
    expr = _parse(ex["expr"])
    value = evaluate(expr, ex["event"])
    if ex.get("missing"):
        assert value is MISSING
    else:
        expected = ex["result"]
        assert value is not MISSING
        assert json_equal(value, expected), value
        if isinstance(expected, bool):
            assert value is expected
    # Examples are meant to be clean rules: the static checks find nothing.
    assert [d.code for d in check_expr(expr)] == []


@pytest.mark.parametrize("ex", PARAMS)
def test_render_round_trips(ex: dict[str, Any]) -> None:
    expr = _parse(ex["expr"])
    text = render_expr(expr)
    assert _parse(text) == expr, text
