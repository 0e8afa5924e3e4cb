"""CEL list macros are linear in the list's size in both engines (issue 9, defect 1).

cel-python 0.5 folds ``exists``/``all`` with ``||``/``&&`` and nests both operands' text into
each "no such overload" error, so a list of N elements whose predicate errors costs 2**N.  Our
reference (``cel._LinearMacros``) and the compiled translation fold linearly with the same
verdicts.  Where plain cel-python is the oracle below, its lists stay at most 10 elements
long: it is exponential on exactly these inputs.
"""

from __future__ import annotations

from typing import Any

import celpy
import pytest

import rules_engine
from rules_engine.cel.evaluate import CelProgram, activation, is_true
from rules_engine.cel.parse import parse_cel
from rules_engine.compile.cel_codegen import compile_cel_value

DOC_EXAMPLE = 'data.items.exists(i, i.sku.startsWith("GIFT-"))'  # docs/cel.md


def _rules(cel: str) -> str:
    return f"targets: {{out: {{type: stdout}}}}\nrules:\n  - {{name: r, cel: '{cel}', targets: [out]}}\n"


def _events(n: int) -> list[pytest.param]:
    return [
        pytest.param({"data": {"items": [{"name": "x"}] * n}}, False, id=f"{n}-erroring-items"),
        pytest.param({"data": {"items": "x" * n}}, False, id=f"string-of-{n}"),
        pytest.param({"data": {"items": [{"name": "x"}] * n + [{"sku": "GIFT-1"}]}}, True, id=f"{n}-errors-then-true"),
        pytest.param({"data": {"items": [{"sku": "GIFT-1"}] + [{"name": "x"}] * n}}, True, id=f"true-then-{n}-errors"),
    ]


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize("event,expected", _events(12) + _events(1000))
def test_doc_example_on_long_lists(engine: str, event: dict[str, Any], expected: bool) -> None:
    rs = rules_engine.loads(_rules(DOC_EXAMPLE), engine=engine)
    assert rs.match(event) == (["r"] if expected else [])
    [verdict] = rs.explain(event)
    # The error a failed exists() reports stays one error's size, however long the list.
    assert verdict.matched is expected and len(verdict.reason or "") < 1000


@pytest.mark.parametrize(
    "text,expected",
    [
        pytest.param("[{}, {}, {}, {'a': 1}].exists(i, i.a == 1)", True, id="exists-error-does-not-hide-true"),
        pytest.param("[{}, {}, {'a': 2}].exists(i, i.a == 1)", False, id="exists-errors-and-false-is-error"),
        pytest.param("[{}, {}, {'a': 2}].all(i, i.a == 1)", False, id="all-false-wins-over-errors"),
        pytest.param("[{}, {}, {'a': 1}].all(i, i.a == 1)", False, id="all-errors-is-error"),
        pytest.param("[1, 2, 3].all(i, i > 0)", True, id="all-true"),
        pytest.param("[].exists(i, i > 0) || [].all(i, i > 0)", True, id="empty-lists"),
    ],
)
@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_error_semantics(text: str, expected: bool, engine: str) -> None:
    assert rules_engine.loads(_rules(text.replace("'", '"')), engine=engine).match({}) == (["r"] if expected else [])


@pytest.mark.parametrize("text", [DOC_EXAMPLE, "data.items.all(i, i.sku == 1)"])
def test_result_size_does_not_grow_with_the_list(text: str) -> None:
    """The size of the result (an error value) is a step count that needs no clock: cel-python's
    doubles with every erroring element, ours is the same for 3 elements and for 14."""
    sizes = set()
    for n in (3, 14):
        event = {"data": {"items": [{"name": "x"}] * n}}
        ref, comp = CelProgram.build(text).evaluate(event), compile_cel_value(text)(event)
        sizes.add((len(repr(ref)), len(repr(comp))))
    assert len(sizes) == 1


CELPY_ORACLE = [
    "data.l.exists(i, i.sku == 1)",
    "data.l.all(i, i.sku == 1)",
    "data.l.exists(i, i)",
    "data.l.all(i, i)",
    "data.l.exists(i, i.sku.startsWith('G'))",
]
SMALL_LISTS = [[], [{}], [{}, {}], [{}, {"sku": 1}], [{"sku": 2}, {}], [1, {}, "x"], [True, 1], [False, 1, 2],
               [{}] * 10, [{}] * 9 + [{"sku": 1}], [1, 2, 3, False], [None, None]]  # fmt: skip


@pytest.mark.parametrize("text", CELPY_ORACLE)
@pytest.mark.parametrize("items", SMALL_LISTS, ids=lambda x: repr(x)[:40])
def test_reference_agrees_with_cel_python(text: str, items: list[Any]) -> None:
    """Same verdict and kind of value as plain cel-python, and the same value on lists of up to
    two elements (from a third non-bool result on, cel-python's error text doubles, ours stays
    the one made from the first two)."""
    event = {"data": {"l": items}}
    ours = CelProgram.build(text).evaluate(event)
    try:
        theirs = celpy.Environment().program(parse_cel(text)).evaluate(activation(event))
    except celpy.CELEvalError as e:
        theirs = e
    assert is_true(ours) == is_true(theirs)
    assert type(ours) is type(theirs)
    if len(items) <= 2:
        assert repr(ours) == repr(theirs)
