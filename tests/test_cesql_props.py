"""Properties of the CESQL dialect over generated expressions and events (hypothesis):

* ``parse(render(tree)) == tree``: the printer writes text the parser reads back;
* the compiled engine (fail fast mode) agrees with the reference evaluator: the same verdict,
  the same first error class, and the same value whenever there is no error;
* the order of an event's keys never changes a verdict.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rules_engine.cesql import ast
from rules_engine.cesql.evaluate import evaluate, matches
from rules_engine.cesql.functions import BUILTINS
from rules_engine.cesql.parse import parse
from rules_engine.cesql.render import render
from rules_engine.compile.cesql_codegen import compile_cesql

NAMES = ["type", "source", "subject", "myint", "mybool", "myext", "missing"]
TEXT = st.text(alphabet="ab1%_.-tTrRuUeE ", max_size=6)
INTS = st.sampled_from([0, 1, -1, 2, 7, -7, 10, 2**31 - 1, -(2**31)])
FUNCS = sorted({f.name for f in BUILTINS}) + ["NOPE"]

literals = st.one_of(st.booleans(), INTS, TEXT).map(ast.Literal)
atoms = st.one_of(
    literals,
    st.sampled_from(NAMES).map(ast.Attribute),
    st.sampled_from(NAMES).map(ast.Exists),
)


def _extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    ops = ["AND", "OR", "XOR", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]
    return st.one_of(
        children.map(ast.Not),
        children.filter(lambda c: not (isinstance(c, ast.Literal) and type(c.value) is int)).map(ast.Negate),
        st.builds(ast.Binary, st.sampled_from(ops), children, children),
        st.builds(ast.Like, children, TEXT, st.booleans()),
        st.builds(ast.In, children, st.lists(children, min_size=1, max_size=3).map(tuple), st.booleans()),
        st.builds(ast.Call, st.sampled_from(FUNCS), st.lists(children, max_size=3).map(tuple)),
    )


exprs = st.recursive(atoms, _extend, max_leaves=8)
attr_values = st.one_of(st.none(), st.booleans(), INTS, TEXT, st.just(2**40), st.just(1.5), st.just([1, "a"]))
events = st.dictionaries(st.sampled_from(NAMES[:-1]), attr_values, max_size=6).map(
    lambda d: {"specversion": "1.0", "id": "x", **d})


@given(exprs)
def test_render_parses_back(tree: ast.Expr) -> None:
    text = render(tree)
    back, problem = parse(text)
    assert problem is None, (text, problem)
    assert back == tree, text


@given(exprs, events)
def test_compiled_agrees_with_reference(tree: ast.Expr, event: dict[str, Any]) -> None:
    text = render(tree)
    value, errors = evaluate(tree, event)
    compiled = compile_cesql(text)
    got, kind = compiled.evaluate(event)
    assert compiled.match(event) == matches(tree, event), text
    assert kind == (errors[0].kind if errors else None), text
    if not errors:
        assert type(got) is type(value) and got == value, text


@given(exprs, events)
def test_key_order_does_not_matter(tree: ast.Expr, event: dict[str, Any]) -> None:
    backwards = dict(reversed(list(event.items())))
    assert matches(tree, event) == matches(tree, backwards)
