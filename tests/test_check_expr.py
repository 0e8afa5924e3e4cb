"""Static checks of expressions: each diagnostic, its wording, its span, and the silences."""

from __future__ import annotations

import pytest

from rules_engine.expressions.check import check_expr, static_types
from rules_engine.expressions.functions import FUNCTIONS
from rules_engine.model import ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Span

L = ir.Literal
S1 = Span("r.yaml", 3, 9, 3, 20)  # the span of the node a diagnostic must point at
S2 = Span("r.yaml", 3, 15, 3, 19)


def D(*path: str | int) -> ir.Field:
    return ir.Field(("data", *path))


def V(var: str, *path: str | int, span: Span = S2) -> ir.Field:
    return ir.Field(tuple(path), var, span)


def length(x: ir.Expr) -> ir.Call:
    return ir.Call("length", (x,))


REGEX_NOTES = (
    "the rule author chooses every pattern, and checks it when the rules load",
    "to compare with a value from the event, use ==, starts with, ends with, contains or like",
)

REPORTED = [
    pytest.param(
        ir.Compare(">", L("abc"), L(3), S1), "E305", S1, 'comparison can never be true: "abc" > 3',
        ("> compares two numbers or two strings; here the left side is a string and the right side a number",),
        id="order-string-number",
    ),
    pytest.param(
        ir.Compare("==", ir.Arith("+", D("x"), L(1)), L("a"), S1), "E305", S1,
        'comparison can never be true: data.x + 1 == "a"',
        ("the left side is a number, the right side a string, and values of different types are never equal",),
        id="eq-arith-number-vs-string",
    ),
    pytest.param(
        ir.Compare(">", length(D("x")), L("a"), S1), "E305", S1, 'comparison can never be true: length(data.x) > "a"',
        ("> compares two numbers or two strings; here the left side is a number and the right side a string",),
        id="order-function-result",
    ),
    pytest.param(
        ir.Compare("<", D("x"), L(None), S1), "E305", S1, "comparison can never be true: data.x < null",
        ("< compares two numbers or two strings; null is a null",),
        id="order-null",
    ),
    pytest.param(
        ir.Compare("<", L(True), D("x"), S1), "E305", S1, "comparison can never be true: true < data.x",
        ("< compares two numbers or two strings; true is a boolean",),
        id="order-boolean",
    ),
    pytest.param(
        ir.Compare("==", ir.Template(("x", D("a"))), L(1), S1), "E305", S1,
        'comparison can never be true: f"x{data.a}" == 1',
        ("the left side is a string, the right side a number, and values of different types are never equal",),
        id="template-is-string",
    ),
    pytest.param(
        ir.In(length(D("x")), ir.ListExpr((L("a"), L("b"))), span=S1), "E305", S1,
        'comparison can never be true: length(data.x) in ["a", "b"]',
        ("the left side is a number, the list holds a string",),
        id="in-list-of-other-type",
    ),
    pytest.param(
        ir.In(D("x"), L("abc"), True, S1), "E305", S1, 'comparison can never be true: data.x not in "abc"',
        ("the right side of 'not in' must be an array, here it is a string",),
        id="in-non-array",
    ),
    pytest.param(
        ir.StringTest("contains", length(D("x")), L("a"), S1), "E305", S1,
        'comparison can never be true: length(data.x) contains "a"',
        ("'contains' tests two strings; length(data.x) is a number",),
        id="string-test-number",
    ),
    pytest.param(
        ir.CidrTest(L(5), "10.0.0.0/8", span=S1), "E305", S1, 'comparison can never be true: 5 in cidr("10.0.0.0/8")',
        ("an address is a string; 5 is a number",),
        id="cidr-number",
    ),
    pytest.param(
        ir.Call("lowr", (D("x"),), S1), "E306", S1, "unknown function 'lowr'", ("did you mean 'lower'?",),
        id="unknown-function-suggestion",
    ),
    pytest.param(
        ir.Call("exist", (D("x"),), S1), "E306", S1, "unknown function 'exist'", ("did you mean 'exists'?",),
        id="unknown-function-suggests-syntax",
    ),
    pytest.param(
        ir.Call("frobnicate", (), S1), "E306", S1, "unknown function 'frobnicate'",
        ("known functions: " + ", ".join(sorted(FUNCTIONS)),),
        id="unknown-function-list",
    ),
    pytest.param(
        ir.Call("lower", (), S1), "E307", S1, "lower() takes 1 argument, got 0", (), id="arity-exact",
    ),
    pytest.param(
        ir.Call("round", (L(1), L(2), L(3)), S1), "E307", S1, "round() takes 1 to 2 arguments, got 3", (),
        id="arity-range",
    ),
    pytest.param(
        ir.Call("coalesce", (), S1), "E307", S1, "coalesce() takes at least 1 argument, got 0", (),
        id="arity-variadic",
    ),
    pytest.param(
        ir.Call("lower", (L(5, S2),), S1), "E333", S2, "lower() argument 1 must be a string, not a number", (),
        id="arg-type-literal",
    ),
    pytest.param(
        ir.Call("substring", (D("s"), L("1", S2)), S1), "E333", S2,
        "substring() argument 2 must be a number, not a string", (), id="arg-type-second",
    ),
    pytest.param(
        ir.Call("length", (ir.Arith("+", L(1), L(2), S2),), S1), "E333", S2,
        "length() argument 1 must be an array or an object or a string, not a number", (), id="arg-type-computed",
    ),
    pytest.param(
        ir.StringTest("matches", D("x"), L("a(b", S2), S1), "E304", S2,
        "invalid regular expression 'a(b': missing ): a(b", (), id="bad-regex",
    ),
    pytest.param(
        ir.StringTest("matches", D("x"), ir.Field(("data", "pattern"), None, S2), S1), "E353", S2,
        "the pattern of `matches` must be a string literal, so the rule author, not the event, chooses it",
        REGEX_NOTES, id="regex-from-event",
    ),
    pytest.param(
        ir.StringTest("matches", D("x"), ir.Template(("^", D("prefix")), S2), S1), "E353", S2,
        "the pattern of `matches` must be a string literal, so the rule author, not the event, chooses it",
        REGEX_NOTES, id="regex-from-template",
    ),
    pytest.param(
        ir.StringTest("matches", D("x"), ir.Arith("+", L("^a"), L("b"), S2), S1), "E353", S2,
        "the pattern of `matches` must be a string literal, so the rule author, not the event, chooses it",
        REGEX_NOTES, id="regex-computed-from-literals",
    ),
    pytest.param(
        ir.StringTest("like", D("x"), L("a\\b", S2), S1), "E350", S2,
        "invalid wildcard pattern 'a\\\\b': a backslash must be followed by '*' or '\\'",
        ("write \\* for a literal star and \\\\ for a literal backslash",), id="bad-wildcard",
    ),
    pytest.param(
        ir.CidrTest(D("ip"), "10.0.0.0/33", span=S1), "E309", S1,
        "invalid CIDR block '10.0.0.0/33': '10.0.0.0/33' does not appear to be an IPv4 or IPv6 network", (),
        id="bad-cidr",
    ),
    pytest.param(
        V("item", "price"), "E332", S2, "unknown name 'item'",
        ("variables exist only inside any(x in list: ...) and all(x in list: ...)",), id="unbound-variable",
    ),
    pytest.param(
        ir.Quantifier("any", "item", D("xs"), ir.Compare("==", V("itme", "a"), L(1))), "E332", S2,
        "unknown name 'itme'", ("did you mean 'item'?",), id="misspelt-variable",
    ),
    pytest.param(
        ir.Quantifier("all", "a", D("xs"), ir.Quantifier("any", "b", V("a", "ys"), ir.Exists(V("zz")))),
        "E332", S2, "unknown name 'zz'", ("variables in scope here: a, b",), id="variable-scope-note",
    ),
    pytest.param(
        ir.Arith("*", L("a"), L(2), S1), "E351", S1,
        "\"a\" * 2 never has a value: '*' needs two numbers, here a string and a number", (), id="arith-string-times",
    ),
    pytest.param(
        ir.Arith("+", D("x"), L(True), S1), "E351", S1,
        "data.x + true never has a value: '+' needs two numbers or two strings, here a boolean", (),
        id="arith-plus-bool",
    ),
    pytest.param(
        ir.ObjectExpr((("a", L(1)), ("a", L(2))), S1), "E352", S1, "key 'a' appears more than once in this object",
        (), id="duplicate-object-key",
    ),
]


@pytest.mark.parametrize(("expr", "code", "span", "message", "notes"), REPORTED)
def test_reported(expr: ir.Expr, code: str, span: Span, message: str, notes: tuple[str, ...]) -> None:
    diags = check_expr(expr)
    assert [(d.code, d.message, d.notes) for d in diags] == [(code, message, notes)]
    assert diags[0].span == span
    assert diags[0].is_error


SILENT = [
    pytest.param(ir.Compare(">", D("x"), L(3)), id="field-vs-number"),
    pytest.param(ir.Compare("==", D("x"), L("a")), id="field-eq-string"),
    pytest.param(ir.Compare("!=", length(D("x")), L("a")), id="ne-of-different-types-is-not-never"),
    pytest.param(ir.Compare("<", ir.Call("min", (D("a"), D("b"))), L("z")), id="min-may-be-string"),
    pytest.param(ir.Compare("==", ir.Call("coalesce", (D("a"), L(1))), L("z")), id="unknown-return-type"),
    pytest.param(ir.Compare("==", ir.Arith("+", D("a"), D("b")), L("z")), id="plus-may-concatenate"),
    pytest.param(ir.Compare("==", ir.Conditional(D("c"), L(1), D("x")), L("z")), id="conditional-unknown-branch"),
    pytest.param(ir.In(D("x"), D("list")), id="in-field"),
    pytest.param(ir.In(length(D("x")), ir.ListExpr((L(1), D("y")))), id="in-list-with-field"),
    pytest.param(ir.StringTest("matches", D("x"), L(r"^a\d+(?P<n>x)?$")), id="good-regex"),
    pytest.param(ir.StringTest("like", D("x"), D("pattern")), id="wildcard-from-event-allowed"),
    pytest.param(ir.StringTest("like", D("x"), L("a*b\\*c\\\\")), id="good-wildcard"),
    pytest.param(ir.CidrTest(D("ip"), "2001:db8::/32"), id="good-cidr-v6"),
    pytest.param(ir.CidrTest(D("ip"), "10.1.2.3/8"), id="cidr-host-bits-allowed"),
    pytest.param(ir.Quantifier("any", "item", D("xs"), ir.Compare(">", V("item", "p"), L(1))), id="bound-variable"),
    pytest.param(ir.Call("round", (D("x"), L(2))), id="good-call"),
    pytest.param(ir.Call("length", (D("x"),)), id="field-argument-any-type"),
    pytest.param(ir.Cel("size(data.x) > 2"), id="cel-not-ours"),
]


@pytest.mark.parametrize("expr", SILENT)
def test_silent(expr: ir.Expr) -> None:
    assert check_expr(expr) == []


def test_bound_parameter_declares_outer_variables() -> None:
    expr = ir.Compare("==", V("item", "a"), L(1))
    assert check_expr(expr, frozenset({"item"})) == []
    assert [d.code for d in check_expr(expr)] == ["E332"]


def test_all_problems_are_collected() -> None:
    expr = ir.And(
        (
            ir.Call("nope", (L(1),)),
            ir.StringTest("matches", D("x"), L("[")),
            ir.CidrTest(D("ip"), "x"),
            V("v"),
        )
    )
    diags: list[Diagnostic] = check_expr(expr)
    assert [d.code for d in diags] == ["E306", "E304", "E309", "E332"]


def test_no_cascade_after_a_never_value() -> None:
    # "a" * 2 is reported once; the comparison that uses it is not reported again.
    expr = ir.Compare("==", ir.Arith("*", L("a"), L(2)), L("x"))
    assert [d.code for d in check_expr(expr)] == ["E351"]


@pytest.mark.parametrize(
    ("expr", "types"),
    [
        pytest.param(L("a"), {"string"}, id="literal"),
        pytest.param(D("x"), None, id="field-unknown"),
        pytest.param(ir.Arith("+", D("x"), L(1)), {"number"}, id="plus-number"),
        pytest.param(ir.Arith("+", D("x"), D("y")), {"number", "string"}, id="plus-unknown"),
        pytest.param(ir.Arith("-", L("a"), L(1)), set(), id="never"),
        pytest.param(ir.Conditional(D("c"), L(1), L("a")), {"number", "string"}, id="conditional"),
        pytest.param(ir.Call("split", (D("a"), L(","))), {"array"}, id="call"),
        pytest.param(ir.Exists(D("a")), {"boolean"}, id="predicate"),
    ],
)
def test_static_types(expr: ir.Expr, types: set[str] | None) -> None:
    got = static_types(expr)
    assert (None if got is None else set(got)) == types
