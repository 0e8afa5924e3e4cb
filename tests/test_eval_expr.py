"""The reference evaluator: each rule of docs/expressions.md as a table row.

Expressions are built as IR by hand (the parser is tested on its own); the
doc examples (test_expr_doc_examples.py) cover the same ground through text.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from rules_engine.expressions.evaluate import evaluate, truth
from rules_engine.expressions.explain import explain_expr
from rules_engine.expressions.functions import FUNCTIONS
from rules_engine.expressions.render import render_expr
from rules_engine.model import ir
from rules_engine.model.values import MISSING, get_path, json_equal, to_text, type_name

L = ir.Literal


def F(*path: str | int, var: str | None = None) -> ir.Field:
    return ir.Field(tuple(path), var)


def D(*path: str | int) -> ir.Field:
    """A field under ``data``."""
    return ir.Field(("data", *path))


def cmp(op: Any, left: ir.Expr, right: ir.Expr) -> ir.Compare:
    return ir.Compare(op, left, right)


def lst(*values: Any) -> ir.ListExpr:
    return ir.ListExpr(tuple(L(v) for v in values))


def ev(**data: Any) -> dict[str, Any]:
    return {"data": data}


def same(a: Any, b: Any) -> bool:
    """Equal and, for numbers, of the same Python type (int stays int)."""
    if a is MISSING or b is MISSING:
        return a is b
    return json_equal(a, b) and (type(a) is type(b) or not isinstance(a, (int, float)))


# --- values.py --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param(1, 1.0, True, id="int-equals-float"),
        pytest.param(True, 1, False, id="bool-is-not-number"),
        pytest.param(False, 0, False, id="false-is-not-zero"),
        pytest.param(None, None, True, id="null-null"),
        pytest.param(None, MISSING, False, id="null-is-not-missing"),
        pytest.param(MISSING, MISSING, False, id="missing-equals-nothing"),
        pytest.param([1, [2, {"a": 3}]], [1.0, [2, {"a": 3.0}]], True, id="deep-array"),
        pytest.param([1, 2], [2, 1], False, id="array-order-matters"),
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, True, id="object-key-order-ignored"),
        pytest.param({"a": 1}, {"a": 1, "b": 2}, False, id="object-extra-key"),
        pytest.param("1", 1, False, id="string-is-not-number"),
        pytest.param([], {}, False, id="empty-array-vs-object"),
    ],
)
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


@pytest.mark.parametrize(
    ("value", "name"),
    [
        pytest.param("x", "string", id="string"),
        pytest.param(1.5, "number", id="float"),
        pytest.param(2, "number", id="int"),
        pytest.param(True, "boolean", id="bool"),
        pytest.param(None, "null", id="null"),
        pytest.param([], "array", id="array"),
        pytest.param({}, "object", id="object"),
        pytest.param(MISSING, "missing", id="missing"),
    ],
)
def test_type_name(value: Any, name: str) -> None:
    assert type_name(value) == name


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(("a", "b"), 1, id="keys"),
        pytest.param(("items", 0, "p"), 10, id="index"),
        pytest.param(("items", -1, "p"), 20, id="negative-index"),
        pytest.param(("items", 2), MISSING, id="index-out-of-range"),
        pytest.param(("items", -3), MISSING, id="negative-out-of-range"),
        pytest.param(("items", "p"), MISSING, id="no-array-flattening"),
        pytest.param(("a", 0), MISSING, id="index-on-object"),
        pytest.param(("a", "b", "c"), MISSING, id="key-on-number"),
        pytest.param(("n",), None, id="null-is-present"),
        pytest.param((), {"a": {"b": 1}, "items": [{"p": 10}, {"p": 20}], "n": None}, id="root"),
    ],
)
def test_get_path(path: ir.Path, expected: Any) -> None:
    event = {"a": {"b": 1}, "items": [{"p": 10}, {"p": 20}], "n": None}
    assert same(get_path(event, path), expected)


def test_deep_values_do_not_exhaust_the_stack() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    other: Any = 1
    for _ in range(100_000):
        other = [other]
    assert json_equal(deep, other)
    assert to_text(deep).startswith("[[[[") and len(to_text(deep)) == 200_001
    path = (0,) * 100_000
    assert get_path(deep, path) == 1


# --- comparisons and logic --------------------------------------------------------------------------

COMPARISONS = [
    # equality
    pytest.param(cmp("==", D("n"), L(1)), ev(n=1.0), True, id="eq-int-float"),
    pytest.param(cmp("==", D("n"), L(1)), ev(n=True), False, id="eq-bool-not-number"),
    pytest.param(cmp("==", D("n"), L(True)), ev(n=True), True, id="eq-bool"),
    pytest.param(cmp("==", D("n"), L(1)), ev(), False, id="eq-missing-false"),
    pytest.param(cmp("==", D("n"), L(None)), ev(n=None), True, id="eq-null-present"),
    pytest.param(cmp("==", D("n"), L(None)), ev(), False, id="eq-null-missing"),
    pytest.param(cmp("==", D("a"), ir.ListExpr((L(1), L("x")))), ev(a=[1.0, "x"]), True, id="eq-deep-array"),
    pytest.param(cmp("==", D("a"), ir.ObjectExpr((("k", L(1)),))), ev(a={"k": 1}), True, id="eq-deep-object"),
    pytest.param(cmp("==", D("a"), D("b")), ev(), False, id="eq-both-missing"),
    # inequality: the left side must be present
    pytest.param(cmp("!=", D("n"), L(1)), ev(n=2), True, id="ne-present-differs"),
    pytest.param(cmp("!=", D("n"), L(1)), ev(n=1.0), False, id="ne-equal"),
    pytest.param(cmp("!=", D("n"), L(1)), ev(), False, id="ne-missing-false"),
    pytest.param(ir.Unary("not", cmp("==", D("n"), L(1))), ev(), True, id="not-eq-missing-true"),
    pytest.param(cmp("!=", D("n"), L(None)), ev(n=0), True, id="ne-null-present-value"),
    pytest.param(cmp("!=", D("n"), L(None)), ev(n=None), False, id="ne-null-null"),
    pytest.param(cmp("!=", D("n"), L(None)), ev(), False, id="ne-null-missing"),
    pytest.param(cmp("!=", D("n"), L("1")), ev(n=1), True, id="ne-types-differ"),
    # ordering
    pytest.param(cmp(">", D("n"), L(1000)), ev(n=1000.5), True, id="gt-numbers"),
    pytest.param(cmp(">=", D("n"), L(1000)), ev(n=1000), True, id="ge-equal"),
    pytest.param(cmp("<", D("s"), L("b")), ev(s="a"), True, id="lt-strings"),
    pytest.param(cmp("<", D("s"), L("a")), ev(s="B"), True, id="lt-code-point-order"),
    pytest.param(cmp("<", D("s"), L("é")), ev(s="z"), True, id="lt-unicode-code-points"),
    pytest.param(cmp(">", D("n"), L(3)), ev(n="5"), False, id="gt-string-vs-number"),
    pytest.param(cmp("<=", D("n"), L(1)), ev(n=True), False, id="le-bool-not-number"),
    pytest.param(cmp("<", D("n"), L(None)), ev(n=None), False, id="lt-null"),
    pytest.param(cmp("<", D("n"), L(1)), ev(), False, id="lt-missing"),
    pytest.param(cmp("<", D("a"), ir.ListExpr((L(2),))), ev(a=[1]), False, id="lt-arrays"),
    pytest.param(cmp(">", D("n"), L(1)), ev(n=10**400), True, id="gt-huge-int"),
    # and / or / not
    pytest.param(ir.And((cmp("==", D("a"), L(1)), cmp("==", D("b"), L(2)))), ev(a=1, b=2), True, id="and-true"),
    pytest.param(ir.And((cmp("==", D("a"), L(1)), cmp("==", D("b"), L(2)))), ev(a=1), False, id="and-false"),
    pytest.param(ir.Or((cmp("==", D("a"), L(1)), cmp("==", D("b"), L(2)))), ev(b=2), True, id="or-true"),
    pytest.param(ir.Or((cmp("==", D("a"), L(1)), cmp("==", D("b"), L(2)))), ev(), False, id="or-false"),
    pytest.param(ir.And((D("a"), L(True))), ev(a="yes"), False, id="and-non-boolean-is-not-true"),
    pytest.param(ir.Unary("not", D("a")), ev(a="yes"), True, id="not-non-boolean"),
    pytest.param(ir.Unary("not", D("a")), ev(a=True), False, id="not-true"),
    pytest.param(D("vip"), ev(vip=True), True, id="bare-field-true"),
    pytest.param(D("vip"), ev(vip=1), False, id="bare-field-one-is-not-true"),
    # in / not in
    pytest.param(ir.In(D("c"), lst("US", "CA")), ev(c="CA"), True, id="in-list"),
    pytest.param(ir.In(D("c"), lst("US", "CA")), ev(c="FR"), False, id="in-list-no"),
    pytest.param(ir.In(D("c"), lst("US", "CA")), ev(), False, id="in-missing"),
    pytest.param(ir.In(D("c"), lst(1, 2)), ev(c=2.0), True, id="in-numeric-equality"),
    pytest.param(ir.In(D("c"), lst("US", "CA"), negated=True), ev(c="FR"), True, id="not-in-list"),
    pytest.param(ir.In(D("c"), lst("US", "CA"), negated=True), ev(c="US"), False, id="not-in-list-no"),
    pytest.param(ir.In(D("c"), lst("US", "CA"), negated=True), ev(), False, id="not-in-missing-false"),
    pytest.param(ir.In(L("vip"), D("tags")), ev(tags=["new", "vip"]), True, id="in-array-field"),
    pytest.param(ir.In(L("vip"), D("tags")), ev(tags="vip"), False, id="in-string-is-not-array"),
    pytest.param(ir.In(L("vip"), D("tags"), negated=True), ev(tags="x"), False, id="not-in-non-array-false"),
    pytest.param(ir.In(L("vip"), D("tags"), negated=True), ev(), False, id="not-in-missing-array-false"),
    pytest.param(ir.In(L(None), ir.ListExpr((D("x"),))), ev(), False, id="in-list-skips-missing"),
    # exists
    pytest.param(ir.Exists(D("x")), ev(x=None), True, id="exists-null"),
    pytest.param(ir.Exists(D("x")), ev(), False, id="exists-missing"),
    pytest.param(ir.Exists(D("x", 1)), ev(x=[0]), False, id="exists-index-out-of-range"),
    pytest.param(ir.Exists(F()), {}, True, id="exists-root"),
]


@pytest.mark.parametrize(("expr", "event", "expected"), COMPARISONS)
def test_verdicts(expr: ir.Expr, event: Any, expected: bool) -> None:
    assert truth(expr, event) is expected
    # explain_expr agrees with the verdict
    assert (explain_expr(expr, event) is None) is expected


def test_and_or_short_circuit_yield_booleans() -> None:
    expr = ir.Or((D("a"), D("b")))
    assert evaluate(expr, ev(a=True, b="x")) is True
    assert evaluate(ir.And((D("a"), D("b"))), ev(a="x", b=True)) is False


# --- arithmetic --------------------------------------------------------------------------------

ARITH = [
    pytest.param("+", 2, 3, 5, id="add-ints-int"),
    pytest.param("+", 2, 0.5, 2.5, id="add-mixed"),
    pytest.param("+", "ab", "cd", "abcd", id="concat"),
    pytest.param("+", "a", 1, MISSING, id="string-plus-number"),
    pytest.param("+", True, 1, MISSING, id="bool-not-number"),
    pytest.param("+", None, 1, MISSING, id="null-not-number"),
    pytest.param("+", [1], [2], MISSING, id="arrays-do-not-add"),
    pytest.param("-", 5, 7, -2, id="sub"),
    pytest.param("*", 6, 7, 42, id="mul-int"),
    pytest.param("*", "a", 3, MISSING, id="no-string-repeat"),
    pytest.param("/", 7, 2, 3.5, id="div"),
    pytest.param("/", 6, 3, 2.0, id="div-is-always-float"),
    pytest.param("/", 1, 0, MISSING, id="div-by-zero"),
    pytest.param("/", 1, 0.0, MISSING, id="div-by-float-zero"),
    pytest.param("%", 7, 3, 1, id="mod"),
    pytest.param("%", -7, 3, 2, id="mod-sign-of-divisor"),
    pytest.param("%", 7.5, 2, 1.5, id="mod-float"),
    pytest.param("%", 7, 0, MISSING, id="mod-by-zero"),
    pytest.param("*", 1e308, 10, MISSING, id="overflow-to-inf"),
    pytest.param("*", 10**200, 10**200, MISSING, id="int-beyond-double-range"),
    pytest.param("+", 10**400, 0.5, MISSING, id="huge-int-plus-float"),
    pytest.param("/", 10**400, 3, MISSING, id="huge-int-division"),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), ARITH)
def test_arithmetic(op: Any, a: Any, b: Any, expected: Any) -> None:
    expr = ir.Arith(op, D("a"), D("b"))
    assert same(evaluate(expr, ev(a=a, b=b)), expected)


@pytest.mark.parametrize(
    ("expr", "event", "expected"),
    [
        pytest.param(ir.Arith("+", D("a"), L(1)), ev(), MISSING, id="missing-operand"),
        pytest.param(cmp("==", ir.Arith("+", D("a"), L(1)), L(1)), ev(), False, id="missing-arith-compares-false"),
        pytest.param(cmp("!=", ir.Arith("+", D("a"), L(1)), L(1)), ev(), False, id="missing-arith-ne-false"),
        pytest.param(ir.Unary("-", D("a")), ev(a=3), -3, id="negate"),
        pytest.param(ir.Unary("-", D("a")), ev(a="3"), MISSING, id="negate-string"),
        pytest.param(ir.Unary("-", D("a")), ev(a=True), MISSING, id="negate-bool"),
    ],
)
def test_arithmetic_edges(expr: ir.Expr, event: Any, expected: Any) -> None:
    assert same(evaluate(expr, event), expected)


# --- string predicates and CIDR ----------------------------------------------------------------------

STRINGS = [
    pytest.param("starts_with", "order-12", "order-", True, id="starts-with"),
    pytest.param("starts_with", "Order-12", "order-", False, id="starts-with-case-sensitive"),
    pytest.param("ends_with", "photo.JPG", ".JPG", True, id="ends-with"),
    pytest.param("contains", "hello world", "o w", True, id="contains"),
    pytest.param("contains", ["a", "b"], "a", False, id="contains-is-for-strings"),
    pytest.param("matches", "order-123", r"^order-\d+$", True, id="matches"),
    pytest.param("matches", "xx order-1 yy", r"order-\d", True, id="matches-searches"),
    pytest.param("matches", "ORDER-1", r"(?i)^order", True, id="matches-inline-flag"),
    pytest.param("matches", "abc", "(", False, id="matches-invalid-pattern-false"),
    pytest.param("matches", 123, r"\d+", False, id="matches-number-false"),
    pytest.param("like", "abbbc", "ab*c", True, id="like"),
    pytest.param("like", "ac", "ab*c", False, id="like-literal-b-needed"),
    pytest.param("like", "abc", "a*", True, id="like-prefix"),
    pytest.param("like", "abc", "*", True, id="like-star-only"),
    pytest.param("like", "", "*", True, id="like-star-empty"),
    pytest.param("like", "abc", "abc", True, id="like-no-star-exact"),
    pytest.param("like", "abcd", "abc", False, id="like-no-star-whole-string"),
    pytest.param("like", "a*c", r"a\*c", True, id="like-escaped-star"),
    pytest.param("like", "abc", r"a\*c", False, id="like-escaped-star-literal"),
    pytest.param("like", "a\\c", "a\\\\c", True, id="like-escaped-backslash"),
    pytest.param("like", "aXa", "a*a*a", False, id="like-no-overlap"),
    pytest.param("like", "aaa", "a*a*a", True, id="like-pieces-adjacent"),
    pytest.param("like", "aa", "a*a", True, id="like-first-last-share-nothing"),
    pytest.param("like", "a", "a*a", False, id="like-first-last-overlap"),
    pytest.param("like", "a.b", "a.b", True, id="like-dot-is-literal"),
    pytest.param("like", "abc", "a\\bc", False, id="like-bad-escape-false"),
    pytest.param("equals_ignore_case", "STRASSE", "straße", True, id="ignore-case-casefold"),
    pytest.param("equals_ignore_case", "Alice", "alice", True, id="ignore-case"),
    pytest.param("equals_ignore_case", "Alice", "bob", False, id="ignore-case-differs"),
    pytest.param("starts_with", MISSING, "a", False, id="missing-left"),
    pytest.param("starts_with", None, "a", False, id="null-left"),
]


@pytest.mark.parametrize(("op", "left", "right", "expected"), STRINGS)
def test_string_predicates(op: Any, left: Any, right: Any, expected: bool) -> None:
    data = {"s": right} if left is MISSING else {"l": left, "s": right}
    expr = ir.StringTest(op, D("l"), D("s"))
    assert truth(expr, {"data": data}) is expected
    assert (explain_expr(expr, {"data": data}) is None) is expected


def test_pathological_like_is_linear() -> None:
    # A backtracking matcher would take exponential time on this.
    text = "a" * 5000
    expr = ir.StringTest("like", D("s"), L("*a*a*a*a*a*a*a*a*a*a*a*b"))
    assert truth(expr, ev(s=text)) is False


CIDRS = [
    pytest.param("10.1.2.3", "10.0.0.0/8", False, True, id="v4-inside"),
    pytest.param("11.1.2.3", "10.0.0.0/8", False, False, id="v4-outside"),
    pytest.param("11.1.2.3", "10.0.0.0/8", True, True, id="v4-not-in"),
    pytest.param("2001:db8::1", "2001:db8::/32", False, True, id="v6-inside"),
    pytest.param("10.1.2.3", "2001:db8::/32", False, False, id="v4-in-v6-net"),
    pytest.param("10.1.2.3", "2001:db8::/32", True, True, id="v4-not-in-v6-net"),
    pytest.param("not-an-ip", "10.0.0.0/8", False, False, id="invalid-address"),
    pytest.param("not-an-ip", "10.0.0.0/8", True, False, id="invalid-address-not-in-false"),
    pytest.param(167837955, "10.0.0.0/8", False, False, id="int-is-not-an-address"),
    pytest.param(MISSING, "10.0.0.0/8", True, False, id="missing-not-in-false"),
    pytest.param("10.1.2.3", "bogus", False, False, id="invalid-network"),
]


@pytest.mark.parametrize(("ip", "network", "negated", "expected"), CIDRS)
def test_cidr(ip: Any, network: str, negated: bool, expected: bool) -> None:
    event = ev() if ip is MISSING else ev(ip=ip)
    expr = ir.CidrTest(D("ip"), network, negated)
    assert truth(expr, event) is expected
    assert (explain_expr(expr, event) is None) is expected


# --- quantifiers and conditionals ------------------------------------------------------------------

PRICE_OVER_100 = cmp(">", F("price", var="item"), L(100))

QUANTIFIERS = [
    pytest.param("any", [{"price": 50}, {"price": 150}], True, id="any-one"),
    pytest.param("any", [{"price": 50}], False, id="any-none"),
    pytest.param("any", [], False, id="any-empty"),
    pytest.param("any", MISSING, False, id="any-missing"),
    pytest.param("any", {"price": 150}, False, id="any-object"),
    pytest.param("all", [{"price": 150}, {"price": 101}], True, id="all-all"),
    pytest.param("all", [{"price": 150}, {"price": 50}], False, id="all-one-fails"),
    pytest.param("all", [{"price": 150}, {}], False, id="all-element-missing-field"),
    pytest.param("all", [], True, id="all-empty-true"),
    pytest.param("all", MISSING, False, id="all-missing-false"),
    pytest.param("all", "abc", False, id="all-string-false"),
]


@pytest.mark.parametrize(("kind", "items", "expected"), QUANTIFIERS)
def test_quantifiers(kind: Any, items: Any, expected: bool) -> None:
    event = ev() if items is MISSING else ev(items=items)
    expr = ir.Quantifier(kind, "item", D("items"), PRICE_OVER_100)
    assert truth(expr, event) is expected
    assert (explain_expr(expr, event) is None) is expected


def test_quantifier_bare_variable_and_nesting() -> None:
    # any(row in data.m: any(x in row: x == 3))
    inner = ir.Quantifier("any", "x", F(var="row"), cmp("==", F(var="x"), L(3)))
    expr = ir.Quantifier("any", "row", D("m"), inner)
    assert truth(expr, ev(m=[[1, 2], [3]])) is True
    assert truth(expr, ev(m=[[1, 2], [4]])) is False
    # the outer variable stays visible inside the inner quantifier
    inner2 = ir.Quantifier("all", "x", F("xs", var="row"), cmp("<", F(var="x"), F("limit", var="row")))
    expr2 = ir.Quantifier("all", "row", D("rows"), inner2)
    assert truth(expr2, ev(rows=[{"xs": [1, 2], "limit": 3}, {"xs": [], "limit": 0}])) is True


def test_unbound_variable_is_missing() -> None:
    assert evaluate(F("a", var="nope"), {"a": 1}) is MISSING
    assert evaluate(F("a", var="v"), {}, {"v": {"a": 7}}) == 7


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        pytest.param(True, "gold", id="true-then"),
        pytest.param(False, "standard", id="false-else"),
        pytest.param(1, "standard", id="one-is-not-true"),
        pytest.param(MISSING, "standard", id="missing-else"),
    ],
)
def test_conditional(cond: Any, expected: str) -> None:
    expr = ir.Conditional(D("vip"), L("gold"), L("standard"))
    event = ev() if cond is MISSING else ev(vip=cond)
    assert evaluate(expr, event) == expected


# --- templates and built values --------------------------------------------------------------------

TEMPLATES = [
    pytest.param("abc", "abc", id="string-raw"),
    pytest.param(12, "12", id="int"),
    pytest.param(12.0, "12", id="integral-float-no-point"),
    pytest.param(12.5, "12.5", id="float"),
    pytest.param(1e20, "100000000000000000000", id="big-integral-float"),
    pytest.param(1.5e-7, "1.5e-07", id="small-float-repr"),
    pytest.param(True, "true", id="bool"),
    pytest.param(None, "null", id="null"),
    pytest.param([1, "a", {"k": 2.0}], '[1,"a",{"k":2}]', id="array-compact-json"),
    pytest.param({"b": 1, "a": [True]}, '{"a":[true],"b":1}', id="object-compact-json-sorted-keys"),
    pytest.param("é\n", "é\n", id="unicode-raw"),
    pytest.param(MISSING, "", id="missing-empty"),
]


@pytest.mark.parametrize(("value", "text"), TEMPLATES)
def test_template_rendering(value: Any, text: str) -> None:
    expr = ir.Template(("<", D("v"), ">"))
    event = ev() if value is MISSING else ev(v=value)
    assert evaluate(expr, event) == f"<{text}>"


def test_built_values_skip_missing() -> None:
    assert evaluate(ir.ListExpr((D("a"), L(1), D("b"))), ev(b=2)) == [1, 2]
    obj = ir.ObjectExpr((("x", D("a")), ("y", L(1))))
    assert evaluate(obj, ev()) == {"y": 1}
    dup = ir.ObjectExpr((("x", L(1)), ("x", D("missing"))))
    assert evaluate(dup, ev()) == {}


# --- function library -------------------------------------------------------------------------------

FUNCTION_CASES = [
    pytest.param("lower", ["ÀB"], "àb", id="lower"),
    pytest.param("lower", [5], MISSING, id="lower-number"),
    pytest.param("upper", ["straße"], "STRASSE", id="upper"),
    pytest.param("trim", ["  a b\t\n"], "a b", id="trim"),
    pytest.param("length", ["héllo"], 5, id="length-string-code-points"),
    pytest.param("length", [[1, 2, 3]], 3, id="length-array"),
    pytest.param("length", [{"a": 1}], 1, id="length-object"),
    pytest.param("length", [12], MISSING, id="length-number"),
    pytest.param("length", [MISSING], MISSING, id="length-missing"),
    pytest.param("string", [3.0], "3", id="string-number"),
    pytest.param("string", [None], "null", id="string-null"),
    pytest.param("string", [[1, 2]], "[1,2]", id="string-array"),
    pytest.param("string", [MISSING], MISSING, id="string-missing"),
    pytest.param("number", ["42"], 42, id="number-int-text"),
    pytest.param("number", [" -1.5e2 "], -150.0, id="number-float-text"),
    pytest.param("number", ["+007"], 7, id="number-leading-zeros"),
    pytest.param("number", [".5"], 0.5, id="number-bare-fraction"),
    pytest.param("number", ["1_000"], MISSING, id="number-underscores"),
    pytest.param("number", ["nan"], MISSING, id="number-nan"),
    pytest.param("number", ["1e999"], MISSING, id="number-overflow"),
    pytest.param("number", ["١٢"], MISSING, id="number-non-ascii-digits"),
    pytest.param("number", [True], MISSING, id="number-bool"),
    pytest.param("number", [7], 7, id="number-number"),
    pytest.param("abs", [-3], 3, id="abs"),
    pytest.param("abs", ["-3"], MISSING, id="abs-string"),
    pytest.param("floor", [-2.5], -3, id="floor"),
    pytest.param("ceil", [2.1], 3, id="ceil"),
    pytest.param("round", [2.5], 3, id="round-half-away"),
    pytest.param("round", [-2.5], -3, id="round-half-away-negative"),
    pytest.param("round", [2.675, 2], 2.68, id="round-as-written"),
    pytest.param("round", [1234, -2], 1200, id="round-int-negative-digits"),
    pytest.param("round", [1250, -2], 1300, id="round-int-half"),
    pytest.param("round", [1.5, 0.5], MISSING, id="round-fractional-digits"),
    pytest.param("round", [7, 2], 7, id="round-int-positive-digits"),
    pytest.param("min", [3, 1.5, 2], 1.5, id="min-args"),
    pytest.param("min", [[3, 1, 2]], 1, id="min-array"),
    pytest.param("max", ["b", "a"], "b", id="max-strings"),
    pytest.param("max", [1, "a"], MISSING, id="max-mixed"),
    pytest.param("max", [[]], MISSING, id="max-empty"),
    pytest.param("max", [7], 7, id="max-one"),
    pytest.param("sum", [[1, 2, 3.5]], 6.5, id="sum"),
    pytest.param("sum", [[]], 0, id="sum-empty"),
    pytest.param("sum", [[1, "2"]], MISSING, id="sum-string"),
    pytest.param("substring", ["abcdef", 1, 3], "bc", id="substring"),
    pytest.param("substring", ["abcdef", -2], "ef", id="substring-negative"),
    pytest.param("substring", ["abc", 1, 99], "bc", id="substring-clamped"),
    pytest.param("substring", ["abc", 1.5], MISSING, id="substring-fraction"),
    pytest.param("replace", ["a-b-c", "-", "+"], "a+b+c", id="replace"),
    pytest.param("replace", ["abc", "", "x"], "abc", id="replace-empty-old"),
    pytest.param("split", ["a,b,,c", ","], ["a", "b", "", "c"], id="split"),
    pytest.param("split", ["abc", ""], ["a", "b", "c"], id="split-characters"),
    pytest.param("join", [["a", 1, 2.0], "-"], "a-1-2", id="join"),
    pytest.param("join", [["a", None], "-"], MISSING, id="join-null"),
    pytest.param("coalesce", [MISSING, None, "x", "y"], "x", id="coalesce"),
    pytest.param("coalesce", [MISSING, None], MISSING, id="coalesce-none"),
    pytest.param("default", [MISSING, "fb"], "fb", id="default-missing"),
    pytest.param("default", [None, "fb"], None, id="default-keeps-null"),
    pytest.param("keys", [{"b": 1, "a": 2}], ["a", "b"], id="keys-sorted"),
    pytest.param("values", [{"b": 1, "a": 2}], [2, 1], id="values-by-sorted-key"),
    pytest.param("keys", [[1]], MISSING, id="keys-array"),
    pytest.param("type", [MISSING], "missing", id="type-missing"),
    pytest.param("type", [[1]], "array", id="type-array"),
]


@pytest.mark.parametrize(("name", "args", "expected"), FUNCTION_CASES)
def test_functions(name: str, args: list[Any], expected: Any) -> None:
    data = {f"a{i}": v for i, v in enumerate(args) if v is not MISSING}
    expr = ir.Call(name, tuple(D(f"a{i}") for i in range(len(args))))
    assert same(evaluate(expr, {"data": data}), expected)


def test_every_function_is_total_on_odd_inputs() -> None:
    odd: list[Any] = [MISSING, None, True, 0, -1, 2.5, 10**400, "", "x", [], [1, "a"], {}, {"k": None}]
    for fn in FUNCTIONS.values():
        arity = fn.min_args if fn.max_args is None else fn.max_args
        for n in range(fn.min_args, arity + 1):
            for v in odd:
                result = fn.impl(*([v] * n))
                assert result is MISSING or type_name(result) != "unknown", (fn.name, v)


def test_unknown_function_and_wrong_arity_are_missing() -> None:
    assert evaluate(ir.Call("nope", (L(1),)), {}) is MISSING
    assert evaluate(ir.Call("lower", ()), {}) is MISSING
    assert evaluate(ir.Call("lower", (L("A"), L("B"))), {}) is MISSING


def test_string_building_is_bounded() -> None:
    big = "a" * 4000
    expr = ir.Call("replace", (ir.Call("replace", (D("s"), L("a"), L(big))), L("a"), L(big)))
    assert evaluate(expr, ev(s=big)) is MISSING


# --- robustness -----------------------------------------------------------------------------------


def test_never_raises_on_hostile_events() -> None:
    deep: Any = {"x": 1}
    for _ in range(5_000):  # far beyond Python's recursion limit
        deep = {"x": deep}
    exprs: list[ir.Expr] = [
        cmp("==", D("x"), ir.ObjectExpr((("x", L(1)),))),
        ir.Template(("", D("x"))),
        ir.Call("length", (D("x"),)),
        ir.Call("string", (F("data"),)),
        ir.StringTest("matches", D("s"), L("(a+)+$")),
        ir.In(D("x"), ir.ListExpr((D("x"),))),
    ]
    events: list[Any] = [ev(x=deep), {"data": deep}, ev(s="\ud800" * 3), ev(x=math.nan), ev(x=math.inf), [], None, "x"]
    for expr in exprs:
        for event in events:
            evaluate(expr, event)
            explain_expr(expr, event)
    # a deep event value compared with itself is equal
    assert truth(ir.In(D("x"), ir.ListExpr((D("x"),))), ev(x=deep)) is True


# --- explanations -------------------------------------------------------------------------------------

EXPLAIN = [
    pytest.param(cmp(">", D("total"), L(1000)), ev(total=950), "data.total: 950 is not > 1000", id="gt"),
    pytest.param(cmp("==", D("country"), L("US")), ev(), "data.country: missing", id="missing"),
    pytest.param(
        ir.In(D("country"), lst("US", "CA")), ev(country="FR"), "data.country: 'FR' is not in ['US', 'CA']", id="in"
    ),
    pytest.param(
        ir.In(D("country"), lst("US", "CA"), negated=True), ev(country="US"),
        "data.country: 'US' is in ['US', 'CA']", id="not-in",
    ),
    pytest.param(cmp("!=", D("c"), L("US")), ev(c="US"), "data.c: 'US' equals 'US'", id="ne"),
    pytest.param(
        cmp(">", D("n"), L(3)), ev(n="5"), "data.n: '5' (string) cannot be ordered against 3 (number)", id="types"
    ),
    pytest.param(
        cmp("<", D("a"), D("b")), ev(a=5, b=3), "data.a: 5 is not < data.b (3)", id="field-vs-field"
    ),
    pytest.param(
        ir.Or((cmp("==", D("a"), L(1)), ir.Exists(D("b")))), ev(a=2),
        "none of the alternatives holds: data.a: 2 is not 1; data.b: missing", id="or",
    ),
    pytest.param(
        ir.And((cmp("==", D("a"), L(1)), cmp("==", D("b"), L(2)))), ev(a=1, b=3), "data.b: 3 is not 2", id="and-first-failing"
    ),
    pytest.param(ir.Unary("not", ir.Exists(D("a"))), ev(a=1), "exists(data.a) holds (negated by 'not')", id="not"),
    pytest.param(
        cmp(">", ir.Arith("+", D("a"), L(1)), L(5)), ev(),
        "data.a: missing (so data.a + 1 has no value)", id="missing-inside-arith",
    ),
    pytest.param(
        ir.StringTest("starts_with", D("id"), L("order-")), ev(id="inv-1"),
        "data.id: 'inv-1' does not start with 'order-'", id="starts-with",
    ),
    pytest.param(
        ir.StringTest("matches", D("id"), L("^x")), ev(id=5), "data.id: 5 is a number, not a string", id="not-string"
    ),
    pytest.param(
        ir.CidrTest(D("ip"), "10.0.0.0/8"), ev(ip="11.0.0.1"), "data.ip: '11.0.0.1' is not in cidr(\"10.0.0.0/8\")",
        id="cidr",
    ),
    pytest.param(
        ir.CidrTest(D("ip"), "10.0.0.0/8"), ev(ip="nope"), "data.ip: 'nope' is not an IP address", id="cidr-invalid"
    ),
    pytest.param(
        ir.Quantifier("all", "item", D("items"), PRICE_OVER_100), ev(items=[{"price": 150}, {"price": 50}]),
        "data.items[1]: item.price: 50 is not > 100", id="all",
    ),
    pytest.param(
        ir.Quantifier("any", "item", D("items"), PRICE_OVER_100), ev(items=[{"price": 50}]),
        "no element of data.items satisfies item.price > 100 (first: data.items[0]: item.price: 50 is not > 100)",
        id="any",
    ),
    pytest.param(
        ir.Quantifier("any", "item", D("items"), PRICE_OVER_100), ev(items=[]),
        "data.items: the array is empty, so no element satisfies item.price > 100", id="any-empty",
    ),
    pytest.param(D("vip"), ev(vip=False), "data.vip: false is not true", id="bare-field"),
    pytest.param(cmp("<", L(1000), D("total")), ev(total=950), "data.total: 950 is not > 1000", id="constant-left"),
    pytest.param(
        ir.In(L("vip"), D("tags")), ev(tags=["new"]), "data.tags: ['new'] does not contain 'vip'", id="in-array-field"
    ),
    pytest.param(ir.In(L("vip"), D("tags")), ev(tags="vip"), "data.tags: 'vip' is not an array", id="in-non-array"),
    pytest.param(
        cmp("==", F("detail-type"), L("x")), {"detail-type": "y"}, "$[\"detail-type\"]: 'y' is not 'x'",
        id="quoted-root-key",
    ),
    pytest.param(
        cmp("==", D("s"), L("x")), ev(s="y" * 200), "data.s: '" + "y" * 79 + "… is not 'x'", id="long-value-cut"
    ),
]


@pytest.mark.parametrize(("expr", "event", "text"), EXPLAIN)
def test_explain(expr: ir.Expr, event: Any, text: str) -> None:
    assert truth(expr, event) is False
    assert explain_expr(expr, event) == text


def test_explain_none_when_true() -> None:
    assert explain_expr(cmp("==", D("a"), L(1)), ev(a=1)) is None


# --- rendering --------------------------------------------------------------------------------------

RENDER = [
    pytest.param(cmp(">", D("total"), L(1000)), "data.total > 1000", id="compare"),
    pytest.param(D("items", 0, "price"), "data.items[0].price", id="index"),
    pytest.param(D("items", -1), "data.items[-1]", id="negative-index"),
    pytest.param(D("odd key"), 'data["odd key"]', id="quoted-key"),
    pytest.param(F("detail-type"), '$["detail-type"]', id="root-quoted-key"),
    pytest.param(F(), "$", id="root"),
    pytest.param(F("and", "or"), '$["and"]["or"]', id="keyword-keys"),
    pytest.param(F("x", var="item"), "item.x", id="variable"),
    pytest.param(L("a\"b\n"), '"a\\"b\\n"', id="string-escapes"),
    pytest.param(L(1.0), "1.0", id="float-keeps-point"),
    pytest.param(L(-2), "-2", id="negative"),
    pytest.param(L(None), "null", id="null"),
    pytest.param(
        ir.Arith("*", ir.Arith("+", L(1), L(2)), L(3)), "(1 + 2) * 3", id="parens-needed"
    ),
    pytest.param(ir.Arith("+", L(1), ir.Arith("*", L(2), L(3))), "1 + 2 * 3", id="no-parens"),
    pytest.param(ir.Arith("-", L(1), ir.Arith("-", L(2), L(3))), "1 - (2 - 3)", id="left-assoc"),
    pytest.param(ir.Arith("-", ir.Arith("-", L(1), L(2)), L(3)), "1 - 2 - 3", id="left-assoc-left"),
    pytest.param(ir.Unary("-", L(-2)), "- -2", id="double-minus"),
    pytest.param(ir.Unary("-", ir.Arith("+", D("a"), L(1))), "-(data.a + 1)", id="negate-sum"),
    pytest.param(
        ir.And((ir.Or((D("a"), D("b"))), ir.Unary("not", D("c")))), "(data.a or data.b) and not data.c", id="logic"
    ),
    pytest.param(ir.And((ir.And((D("a"), D("b"))), D("c"))), "data.a and data.b and data.c", id="nested-and-flat"),
    pytest.param(ir.Unary("not", cmp("==", D("a"), L(1))), "not data.a == 1", id="not-binds-looser"),
    pytest.param(ir.In(D("c"), lst("US"), negated=True), 'data.c not in ["US"]', id="not-in"),
    pytest.param(ir.CidrTest(D("ip"), "10.0.0.0/8", True), 'data.ip not in cidr("10.0.0.0/8")', id="cidr"),
    pytest.param(ir.StringTest("starts_with", D("a"), L("x")), 'data.a starts with "x"', id="starts-with"),
    pytest.param(
        ir.StringTest("equals_ignore_case", D("a"), L("x")), 'equals_ignore_case(data.a, "x")', id="ignore-case"
    ),
    pytest.param(ir.Exists(D("a")), "exists(data.a)", id="exists"),
    pytest.param(
        ir.Quantifier("any", "item", D("items"), PRICE_OVER_100), "any(item in data.items: item.price > 100)",
        id="quantifier",
    ),
    pytest.param(
        ir.Quantifier("any", "data", D("xs"), cmp("==", F(var="data"), D("y"))),
        "any(data in $.data.xs: data == $.data.y)", id="event-field-shadowed-by-variable",
    ),
    pytest.param(
        ir.Conditional(D("vip"), L("gold"), ir.Conditional(D("x"), L(1), L(2))),
        'if data.vip then "gold" else if data.x then 1 else 2', id="conditional-chain",
    ),
    pytest.param(
        cmp("==", ir.Conditional(D("vip"), L(1), L(2)), L(1)), "(if data.vip then 1 else 2) == 1", id="conditional-operand"
    ),
    pytest.param(
        ir.Template(("Order {", D("id"), "} for ", D("c", "name"))), 'f"Order {{{data.id}}} for {data.c.name}"',
        id="template",
    ),
    pytest.param(
        ir.ObjectExpr((("a", L(1)), ("b c", D("x")), ("in", L(2)))), '{a: 1, "b c": data.x, "in": 2}', id="object"
    ),
    pytest.param(ir.Template(("x", ir.ObjectExpr((("a", L(1)),)))), 'f"x{({a: 1})}"', id="template-object"),
    pytest.param(ir.Call("lower", (D("a"),)), "lower(data.a)", id="call"),
]


@pytest.mark.parametrize(("expr", "text"), RENDER)
def test_render(expr: ir.Expr, text: str) -> None:
    assert render_expr(expr) == text


# --- CEL nodes (evaluated by rules_engine.cel) ---------------------------------------------------------

CEL = [
    pytest.param("data.n > 2", True, True, id="true"),
    pytest.param("data.n > 5", False, False, id="false"),
    pytest.param("data.a", [1, 2.5, "x", {"k": True}], False, id="json-value-not-a-verdict"),
    pytest.param("size(data.a) + 1", 5, False, id="int"),
    pytest.param("data.missing == 1", MISSING, False, id="cel-error-is-missing"),
    pytest.param("b'x'", MISSING, False, id="bytes-are-not-json"),
    pytest.param("data.n +", MISSING, False, id="syntax-error-is-missing"),
]


@pytest.mark.parametrize(("source", "value", "verdict"), CEL)
def test_cel_nodes(source: str, value: Any, verdict: bool) -> None:
    event = ev(n=3, a=[1, 2.5, "x", {"k": True}])
    result = evaluate(ir.Cel(source), event)
    assert same(result, value)
    if isinstance(value, bool):
        assert result is value  # CEL's BoolType comes back as a real bool
    assert truth(ir.Cel(source), event) is verdict
    why = explain_expr(ir.Cel(source), event)
    assert (why is None) is verdict
    assert why is None or why.startswith(f"CEL {source}")
