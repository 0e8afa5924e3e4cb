"""The expression compiler agrees with the reference evaluator, case by case and on
generated expression trees and events (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine.compile.expr_codegen import MAX_DEPTH, compile_predicate, compile_value, depth
from rules_engine.expressions.evaluate import evaluate, truth
from rules_engine.expressions.functions import FUNCTIONS
from rules_engine.model import ir
from rules_engine.model.source import Embedded
from rules_engine.model.values import MISSING
from rules_engine.syntax.language import parse_expression


def parse(text: str) -> ir.Expr:
    node, diags = parse_expression(text, Embedded.plain("test", text, 1, 1))
    assert node is not None and not diags, diags
    return node


def same(a: Any, b: Any) -> bool:
    """Identical JSON values: same types all the way down (1 is not 1.0, true is not 1), NaN equals NaN."""
    if a is MISSING or b is MISSING:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        # Key order is not part of a JSON value (the reference's from_cel even reverses it).
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


EVENT: dict[str, Any] = {
    "id": "o-1",
    "type": "order.created",
    "detail-type": "Order",
    "data": {
        "total": 1250.5,
        "qty": 3,
        "country": "FR",
        "email": "Ana@Example.com",
        "tags": ["vip", "eu"],
        "ip": "10.1.2.3",
        "items": [{"sku": "SKU-1", "price": 40, "qty": 2}, {"sku": "MUG", "price": 5, "qty": 1}],
        "customer": {"name": "Ana", "tier": None},
        "flag": True,
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("data.total", 1250.5, id="field"),
        pytest.param("data.items[0].sku", "SKU-1", id="field-index"),
        pytest.param("data.items[-1].price", 5, id="field-negative-index"),
        pytest.param("data.nope.deeper", MISSING, id="field-missing"),
        pytest.param("data.total.x", MISSING, id="field-through-number"),
        pytest.param("$.data.customer.tier", None, id="field-null"),
        pytest.param('$["detail-type"]', "Order", id="field-odd-key"),
        pytest.param("data.total > 1000", True, id="gt-literal"),
        pytest.param("1000 < data.total", True, id="mirrored-literal"),
        pytest.param("data.country > 1", False, id="order-wrong-type"),
        pytest.param("data.nope != 1", False, id="ne-missing-is-false"),
        pytest.param("data.country != 'DE'", True, id="ne-present"),
        pytest.param("data.qty == 3.0", True, id="int-equals-float"),
        pytest.param("data.flag == 1", False, id="bool-is-not-number"),
        pytest.param("data.customer.tier == null", True, id="eq-null"),
        pytest.param("data.country in ['FR', 'DE']", True, id="in-strings"),
        pytest.param("data.qty in [1, 3.0]", True, id="in-numbers"),
        pytest.param("data.nope not in ['FR']", False, id="not-in-missing-is-false"),
        pytest.param("'vip' in data.tags", True, id="in-array-field"),
        pytest.param("data.qty * 100 + 1", 301, id="arith-int"),
        pytest.param("data.total / 2", 625.25, id="arith-div"),
        pytest.param("data.qty / 0", MISSING, id="arith-div-zero"),
        pytest.param("-7 % 3", 2, id="arith-mod-sign"),
        pytest.param("data.country + '!'", "FR!", id="string-concat"),
        pytest.param("data.flag * 2", MISSING, id="arith-bool"),
        pytest.param("lower(data.email)", "ana@example.com", id="call-1"),
        pytest.param("substring(data.country, 0, 1)", "F", id="call-3"),
        pytest.param("lowr(data.email)", MISSING, id="call-unknown"),
        pytest.param("lower(data.email, 1)", MISSING, id="call-arity"),
        pytest.param("data.email matches '^[A-Z]'", True, id="matches"),
        pytest.param("data.email matches '('", False, id="matches-invalid"),
        pytest.param("data.items[0].sku like 'SKU-*'", True, id="like"),
        pytest.param("equals_ignore_case(data.email, 'ana@example.COM')", True, id="equals-ignore-case"),
        pytest.param("data.ip in cidr('10.0.0.0/8')", True, id="cidr"),
        pytest.param("data.ip not in cidr('10.0.0.0/8')", False, id="not-cidr"),
        pytest.param("data.nope not in cidr('10.0.0.0/8')", False, id="not-cidr-missing"),
        pytest.param("any(i in data.items: i.price * i.qty > 50)", True, id="any"),
        pytest.param("all(i in data.items: i.price > 10)", False, id="all"),
        pytest.param("all(i in data.nope: i > 1)", False, id="all-no-array"),
        pytest.param("any(o in data.items: all(t in data.tags: t != o.sku))", True, id="nested-quantifiers"),
        pytest.param("if data.total > 1000 then 'gold' else 'std'", "gold", id="conditional"),
        pytest.param('f"Order {id} for {data.customer.name}: {data.tags}"', 'Order o-1 for Ana: ["vip","eu"]',
                     id="template"),
        pytest.param('f"[{data.nope}]"', "[]", id="template-missing"),
        pytest.param("[data.qty, data.nope, 'x']", [3, "x"], id="list-skips-missing"),
        pytest.param("{a: data.qty, b: data.nope}", {"a": 3}, id="object-skips-missing"),
        pytest.param("not exists(data.nope)", True, id="not-exists"),
        pytest.param("data.qty > 1 and data.country == 'FR' and data.flag", True, id="and-3"),
        pytest.param("data.qty > 5 or data.nope or data.flag", True, id="or-3"),
    ],
)
def test_compiled_value(text: str, expected: Any) -> None:
    e = parse(text)
    got = compile_value(e)(EVENT, {})
    assert same(got, expected), got
    assert same(got, evaluate(e, EVENT))
    assert compile_predicate(e)(EVENT) is truth(e, EVENT)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("data.qty + 1", 4, id="cel-int"),
        pytest.param("data.total > 1000.0", True, id="cel-bool"),
        pytest.param("data.nope", MISSING, id="cel-error-is-missing"),
        pytest.param("[data.qty, 1/0]", MISSING, id="cel-error-inside-list"),
        pytest.param("timestamp('2020-01-01T00:00:00Z')", MISSING, id="cel-timestamp-is-missing"),
        pytest.param("b'xy'", MISSING, id="cel-bytes-is-missing"),
        pytest.param("{'k': data.country}", {"k": "FR"}, id="cel-map"),
    ],
)
def test_compiled_cel_node(source: str, expected: Any) -> None:
    e = ir.Cel(source)
    assert same(compile_value(e)(EVENT, {}), expected)
    assert same(evaluate(e, EVENT), expected)
    assert compile_predicate(e)(EVENT) is truth(e, EVENT)


def test_results_are_fresh_containers() -> None:
    fn = compile_value(parse("[1, {a: 2}]"))
    first = fn(EVENT, {})
    first.append(3)
    first[1]["b"] = 1
    assert fn(EVENT, {}) == [1, {"a": 2}]


def test_deep_tree_falls_back_to_the_reference() -> None:
    e: ir.Expr = ir.Literal(1)
    for _ in range(MAX_DEPTH + 5):
        e = ir.Unary("-", e)
    assert depth(e) > MAX_DEPTH
    assert compile_value(e)({}, {}) == evaluate(e, {})
    assert compile_predicate(ir.Unary("not", e))({}) is truth(ir.Unary("not", e), {})


# --- generated trees ----------------------------------------------------------------------------------

KEYS = ("a", "b", "c", "items", "ip")
STRINGS = ("", "a", "ab", "a*b", "A", "10.0.0.1", "::1", "x", "é", "(", "a+")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([2**70, -(2**63), 10**400, 1e308, -0.0, 0.5, 2.0, 1e-300]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(STRINGS),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8,
)
EVENTS = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=5)
CEL = (
    "a > 1", "a", "event.b", "size(b)", "a + 1", "[a, 1]", "{'k': a}", "has(event.c)", "1/0",
    "b.exists(t, t == 'x')", "timestamp('2020-01-01T00:00:00Z')", "b'xy'", "type(a)", "a == 1.0",
)
NETWORKS = ("10.0.0.0/8", "::/0", "not-a-net", "10.0.0.1/32")
CALLS = tuple(sorted(FUNCTIONS)) + ("nope",)


def path_steps() -> st.SearchStrategy[tuple[str | int, ...]]:
    return st.lists(st.one_of(st.sampled_from(KEYS), st.sampled_from([0, 1, -1, 5])), max_size=3).map(tuple)


@st.composite
def exprs(draw: st.DrawFn, size: int = 4, bound: tuple[str, ...] = ()) -> ir.Expr:
    def sub(scope: tuple[str, ...] = bound) -> ir.Expr:
        return draw(exprs(size - 1, scope))

    leaf = size <= 0 or draw(st.integers(0, 3)) == 0
    if leaf:
        kind = draw(st.integers(0, 3 if bound else 2))
        if kind == 0:
            return ir.Literal(draw(SCALARS))
        if kind == 1:
            return ir.Field(draw(path_steps()))
        if kind == 2:
            return ir.Literal(draw(st.sampled_from(STRINGS)))
        return ir.Field(draw(path_steps()), var=draw(st.sampled_from(bound + ("unbound",))))
    kind = draw(st.integers(0, 17))
    if kind == 0:
        return ir.ListExpr(tuple(sub() for _ in range(draw(st.integers(0, 3)))))
    if kind == 1:
        return ir.ObjectExpr(tuple((draw(st.sampled_from("xyx")), sub()) for _ in range(draw(st.integers(0, 3)))))
    if kind == 2:
        return ir.Unary(draw(st.sampled_from(["not", "-"])), sub())
    if kind == 3:
        return ir.Arith(draw(st.sampled_from(["+", "-", "*", "/", "%"])), sub(), sub())
    if kind == 4:
        return ir.Compare(draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="])), sub(), sub())
    if kind == 5:
        return ir.And(tuple(sub() for _ in range(draw(st.integers(0, 3)))))
    if kind == 6:
        return ir.Or(tuple(sub() for _ in range(draw(st.integers(0, 3)))))
    if kind == 7:
        coll = (
            ir.ListExpr(tuple(ir.Literal(draw(SCALARS)) for _ in range(draw(st.integers(0, 3)))))
            if draw(st.booleans())
            else sub()
        )
        return ir.In(sub(), coll, draw(st.booleans()))
    if kind == 8:
        var = draw(st.sampled_from(bound + (None,))) if bound else None
        return ir.Exists(ir.Field(draw(path_steps()), var))
    if kind == 9:
        op = draw(st.sampled_from(["starts_with", "ends_with", "contains", "matches", "like", "equals_ignore_case"]))
        right = ir.Literal(draw(st.sampled_from(STRINGS + ("\\", "a\\*", "*b")))) if draw(st.booleans()) else sub()
        return ir.StringTest(op, sub(), right)
    if kind == 10:
        return ir.CidrTest(sub(), draw(st.sampled_from(NETWORKS)), draw(st.booleans()))
    if kind == 11:
        return ir.Call(draw(st.sampled_from(CALLS)), tuple(sub() for _ in range(draw(st.integers(0, 3)))))
    if kind == 12:
        var = draw(st.sampled_from(["x", "y"]))
        return ir.Quantifier(draw(st.sampled_from(["any", "all"])), var, sub(), sub(bound + (var,)))
    if kind == 13:
        return ir.Conditional(sub(), sub(), sub())
    if kind == 14:
        parts = tuple(sub() if draw(st.booleans()) else draw(st.sampled_from(STRINGS)) for _ in range(3))
        return ir.Template(parts)
    if kind == 15 and draw(st.integers(0, 3)) == 0:
        return ir.Cel(draw(st.sampled_from(CEL)))
    # Comparisons against literals take the specialised paths: make them common.
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    lit = ir.Literal(draw(SCALARS))
    return ir.Compare(op, sub(), lit) if draw(st.booleans()) else ir.Compare(op, lit, sub())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs(), st.lists(EVENTS, min_size=1, max_size=4))
def test_compiled_equals_reference(e: ir.Expr, events: list[dict[str, Any]]) -> None:
    value = compile_value(e)
    predicate = compile_predicate(e)
    for event in events:
        expected = evaluate(e, event)
        got = value(event, {})
        assert same(got, expected), (got, expected)
        assert predicate(event) is truth(e, event)
