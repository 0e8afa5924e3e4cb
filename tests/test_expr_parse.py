"""The expression language's surface syntax: text -> IR, spans, and syntax errors (syntax/dsl.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules_engine.model import ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Embedded, Span
from rules_engine.syntax.dsl import MAX_DEPTH, MAX_EXPRESSION_CHARS
from rules_engine.syntax.language import parse_expression, parse_path

L = ir.Literal


def F(*path: str | int, var: str | None = None) -> ir.Field:
    return ir.Field(tuple(path), var)


def D(*path: str | int) -> ir.Field:
    return ir.Field(("data", *path))


def where(text: str) -> Embedded:
    # As if the expression sat in a YAML file at line 7, column 11.
    return Embedded.plain("r.yaml", text, 7, 11)


def ok(text: str) -> ir.Expr:
    expr, diags = parse_expression(text, where(text))
    assert diags == [], diags
    assert expr is not None
    return expr


def fail(text: str) -> Diagnostic:
    expr, diags = parse_expression(text, where(text))
    assert expr is None
    assert diags, "expected a diagnostic"
    return diags[0]


PARSES = [
    # literals
    pytest.param('"a\\"b"', L('a"b'), id="string-double-escaped-quote"),
    pytest.param("'it\\'s'", L("it's"), id="string-single-quote"),
    pytest.param('"\\u00e9\\n\\t\\/"', L("é\n\t/"), id="string-json-escapes"),
    pytest.param('"\\ud83d\\ude00"', L("\U0001f600"), id="string-surrogate-pair"),
    pytest.param("12", L(12), id="int"),
    pytest.param("3.5", L(3.5), id="float"),
    pytest.param("1e3", L(1000.0), id="exponent"),
    pytest.param("-4", L(-4), id="negative-literal-folds"),
    pytest.param("- 2.5", L(-2.5), id="negative-with-space-folds"),
    pytest.param("true", L(True), id="true"),
    pytest.param("null", L(None), id="null"),
    pytest.param('[1, "a", data.x,]', ir.ListExpr((L(1), L("a"), D("x"))), id="list-trailing-comma"),
    pytest.param("[]", ir.ListExpr(()), id="empty-list"),
    pytest.param('{"a": 1, b: data.x}', ir.ObjectExpr((("a", L(1)), ("b", D("x")))), id="object"),
    pytest.param("{}", ir.ObjectExpr(()), id="empty-object"),
    # field references
    pytest.param("data.total", D("total"), id="field"),
    pytest.param("data.items[0].price", D("items", 0, "price"), id="index"),
    pytest.param("data.items[-1]", D("items", -1), id="negative-index"),
    pytest.param('data["odd key"]', D("odd key"), id="quoted-key"),
    pytest.param("`detail-type`", F("detail-type"), id="backtick"),
    pytest.param('$["detail-type"]', F("detail-type"), id="root-bracket"),
    pytest.param("$.detail.x", F("detail", "x"), id="root-dot"),
    pytest.param("$", F(), id="root"),
    pytest.param("data.in.match.not", D("in", "match", "not"), id="keywords-after-dot"),
    pytest.param("`in` == 1", ir.Compare("==", F("in"), L(1)), id="backtick-keyword"),
    # comparisons and logic
    pytest.param("a != b", ir.Compare("!=", F("a"), F("b")), id="ne"),
    pytest.param("a <= 1", ir.Compare("<=", F("a"), L(1)), id="le"),
    pytest.param(
        "a and b and c or d",
        ir.Or((ir.And((F("a"), F("b"), F("c"))), F("d"))),
        id="and-binds-tighter-than-or",
    ),
    pytest.param("a or (b or c)", ir.Or((F("a"), F("b"), F("c"))), id="or-flattens-parens"),
    pytest.param("not a == b", ir.Unary("not", ir.Compare("==", F("a"), F("b"))), id="not-over-comparison"),
    pytest.param("not not a", ir.Unary("not", ir.Unary("not", F("a"))), id="double-not"),
    # membership
    pytest.param("x in [1, 2]", ir.In(F("x"), ir.ListExpr((L(1), L(2)))), id="in-list"),
    pytest.param("x not in [1]", ir.In(F("x"), ir.ListExpr((L(1),)), True), id="not-in"),
    pytest.param('"vip" in data.tags', ir.In(L("vip"), D("tags")), id="in-array-field"),
    pytest.param('ip in cidr("10.1.2.3/8")', ir.CidrTest(F("ip"), "10.0.0.0/8"), id="cidr-normalised"),
    pytest.param(
        'ip not in cidr("2001:db8::1/32")', ir.CidrTest(F("ip"), "2001:db8::/32", True), id="cidr-v6-negated"
    ),
    pytest.param("exists(data.x)", ir.Exists(D("x")), id="exists"),
    # string predicates
    pytest.param('a starts with "x"', ir.StringTest("starts_with", F("a"), L("x")), id="starts-with"),
    pytest.param('a ends with "x"', ir.StringTest("ends_with", F("a"), L("x")), id="ends-with"),
    pytest.param('a contains "x"', ir.StringTest("contains", F("a"), L("x")), id="contains"),
    pytest.param('a matches "^r$"', ir.StringTest("matches", F("a"), L("^r$")), id="matches"),
    pytest.param('a like "ab*c"', ir.StringTest("like", F("a"), L("ab*c")), id="like"),
    pytest.param(
        'equals_ignore_case(a, "x")',
        ir.StringTest("equals_ignore_case", F("a"), L("x")),
        id="equals-ignore-case",
    ),
    pytest.param("contains == 1", ir.Compare("==", F("contains"), L(1)), id="operator-word-as-field"),
    # arithmetic
    pytest.param("1 + 2 * 3", ir.Arith("+", L(1), ir.Arith("*", L(2), L(3))), id="mul-binds-tighter"),
    pytest.param("10 - 2 - 3", ir.Arith("-", ir.Arith("-", L(10), L(2)), L(3)), id="left-associative"),
    pytest.param("a % 2 == 0", ir.Compare("==", ir.Arith("%", F("a"), L(2)), L(0)), id="modulo"),
    pytest.param("-a", ir.Unary("-", F("a")), id="unary-minus-field"),
    pytest.param(
        "-a.b * 2", ir.Arith("*", ir.Unary("-", F("a", "b")), L(2)), id="unary-binds-tighter-than-mul"
    ),
    pytest.param("a-1", ir.Arith("-", F("a"), L(1)), id="minus-without-spaces"),
    # calls, quantifiers, conditionals, templates
    pytest.param("lower(x)", ir.Call("lower", (F("x"),)), id="call"),
    pytest.param("now()", ir.Call("now", ()), id="call-no-args"),
    pytest.param(
        "any(item in data.items: item.price > 100)",
        ir.Quantifier("any", "item", D("items"), ir.Compare(">", F("price", var="item"), L(100))),
        id="any",
    ),
    pytest.param(
        'all(tag in data.tags: tag != "")',
        ir.Quantifier("all", "tag", D("tags"), ir.Compare("!=", F(var="tag"), L(""))),
        id="all-bare-variable",
    ),
    pytest.param(
        "any(o in data.orders: all(l in o.lines: l.qty > o.min))",
        ir.Quantifier(
            "any",
            "o",
            D("orders"),
            ir.Quantifier(
                "all", "l", F("lines", var="o"), ir.Compare(">", F("qty", var="l"), F("min", var="o"))
            ),
        ),
        id="nested-quantifiers",
    ),
    pytest.param(
        "any(x in xs: `x` == $.x) and `x` == 1",  # a bare x out there is E332 (tests/test_quantifier_scope.py)
        ir.And(
            (
                ir.Quantifier("any", "x", F("xs"), ir.Compare("==", F("x"), F("x"))),
                ir.Compare("==", F("x"), L(1)),
            )
        ),
        id="backtick-and-root-escape-variable-scope",
    ),
    pytest.param(
        'if data.vip then "gold" else "standard"',
        ir.Conditional(D("vip"), L("gold"), L("standard")),
        id="conditional",
    ),
    pytest.param(
        "if a then 1 else if b then 2 else 3",
        ir.Conditional(F("a"), L(1), ir.Conditional(F("b"), L(2), L(3))),
        id="else-if-chain",
    ),
    pytest.param(
        'f"Order {data.id} for {data.customer.name}"',
        ir.Template(("Order ", D("id"), " for ", D("customer", "name"))),
        id="template",
    ),
    pytest.param('f"{{x}} \\n"', ir.Template(("{x} \n",)), id="template-escaped-braces"),
    pytest.param('f"{data["odd key"]}"', ir.Template((D("odd key"),)), id="template-nested-double-quotes"),
    pytest.param(
        "any(i in xs: f'{i.n}' == 'a')",
        ir.Quantifier("any", "i", F("xs"), ir.Compare("==", ir.Template((F("n", var="i"),)), L("a"))),
        id="template-sees-bound-variable",
    ),
    # layout
    pytest.param("a ==\n  1 # a comment\n", ir.Compare("==", F("a"), L(1)), id="multi-line-and-comment"),
    pytest.param("a\t==\t1", ir.Compare("==", F("a"), L(1)), id="tabs"),
    pytest.param("a ==\r\n 1\r\n", ir.Compare("==", F("a"), L(1)), id="crlf"),
    pytest.param("\ufeffa == 1", ir.Compare("==", F("a"), L(1)), id="bom"),
    pytest.param(
        "x innocent_flag == 1".replace("x ", ""),
        ir.Compare("==", F("innocent_flag"), L(1)),
        id="keyword-prefix-is-a-name",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_parses_to(text: str, expected: ir.Expr) -> None:
    assert ok(text) == expected


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_rendered_expression_parses_back(text: str, expected: ir.Expr) -> None:
    # eval_expr.render_expr writes IR back as source; this parser must read it as the same IR
    from rules_engine.expressions.render import render_expr

    assert ok(render_expr(expected)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("ab.[]()\"'`$-+*/%<>=!,:{}f01 \n") + [" and ", " in ", " not ", "any(", "if "]),
        max_size=40,
    ).map("".join)
)
def test_any_text_gives_an_expression_or_diagnostics(text: str) -> None:
    expr, diags = parse_expression(text, where(text))
    assert (expr is None) == bool(diags)


def test_spans_point_into_the_file() -> None:
    # `data.total > 10` written at r.yaml:7:11
    e = ok("data.total > 10")
    assert isinstance(e, ir.Compare)
    assert e.span == Span("r.yaml", 7, 11, 7, 26)
    assert e.left.span == Span("r.yaml", 7, 11, 7, 21)
    assert e.right.span == Span("r.yaml", 7, 24, 7, 26)


def test_template_part_spans_point_inside_the_template() -> None:
    e = ok('f"id={data.id}"')
    assert isinstance(e, ir.Template)
    part = e.parts[1]
    assert isinstance(part, ir.Field)
    # f at column 11, `data.id` starts 6 characters later
    assert part.span == Span("r.yaml", 7, 17, 7, 24)


def test_spans_on_a_later_line_of_a_block_scalar() -> None:
    text = "a == 1 and\nb == 2"
    emb = Embedded("r.yaml", text, ((4, 7), (5, 7)))
    e, diags = parse_expression(text, emb)
    assert diags == [] and isinstance(e, ir.And)
    assert e.items[1].span == Span("r.yaml", 5, 7, 5, 13)


ERRORS = [
    pytest.param(
        "(a == 1",
        "E109",
        18,
        "unexpected end of expression; expected `)`, `and`, `or` or an operator",
        id="eof-in-parens",
    ),
    pytest.param(
        "a == ", "E109", 15, "unexpected end of expression; expected an expression", id="eof-after-operator"
    ),
    pytest.param(
        "a = 1",
        "E106",
        13,
        "unexpected `=`; expected `and`, `or`, an operator or end of input",
        id="single-equals",
    ),
    pytest.param("a && b", "E107", 13, "unexpected character '&'", id="ampersand"),
    pytest.param(
        "x innocent",
        "E106",
        13,
        "unexpected name `innocent`; expected `and`, `or`, an operator or end of input",
        id="keyword-needs-word-boundary",
    ),
    pytest.param(
        '"abc', "E108", 11, "string is not closed before the end of the line", id="unterminated-string"
    ),
    pytest.param(
        "'abc\n'",
        "E108",
        11,
        "string is not closed before the end of the line",
        id="string-cannot-span-lines",
    ),
    pytest.param(
        'f"{a} {b', "E108", 12, "string is not closed before the end of the line", id="unterminated-template"
    ),
    pytest.param(
        "a.`b",
        "E120",
        13,
        "`quoted` name is not closed before the end of the line",
        id="unterminated-backtick",
    ),
    pytest.param(
        "a < b < c",
        "E106",
        17,
        "unexpected `<`; expected `and`, `or`, an operator or end of input",
        id="comparisons-do-not-chain",
    ),
    pytest.param("if == 1", "E106", 14, "unexpected `==`; expected an expression", id="reserved-word"),
    pytest.param("exists(1)", "E106", 18, "unexpected number 1; expected a field", id="exists-needs-field"),
    pytest.param("a.1", "E106", 13, "unexpected number 1; expected a name", id="dot-number"),
    pytest.param(
        "[1, 2",
        "E109",
        16,
        "unexpected end of expression; expected `,`, `]`, `and`, `or` or an operator",
        id="unclosed-list",
    ),
    pytest.param("", "E109", 11, "unexpected end of expression; expected an expression", id="empty"),
    pytest.param('"\\q"', "E114", 12, "invalid escape sequence '\\\\q' in string", id="bad-escape"),
    pytest.param(
        '"\\ud800"', "E114", 12, "invalid escape sequence '\\\\ud800' in string", id="lone-surrogate"
    ),
    pytest.param("1e999", "E123", 11, "number 1e999 is out of range", id="number-out-of-range"),
    pytest.param(
        "9" * 5000, "E123", 11, "number 99999999999999999999… has too many digits", id="too-many-digits"
    ),
    pytest.param(
        "data.items[1.5]", "E124", 22, "an index must be a whole number, not 1.5", id="fractional-index"
    ),
    pytest.param(
        'ip in cidr("10.0.0.300/8")',
        "E309",
        22,
        "invalid CIDR block '10.0.0.300/8': '10.0.0.300/8' does not appear to be an IPv4 or IPv6 network",
        id="bad-cidr",
    ),
    pytest.param(
        "ip in cidr(net)",
        "E126",
        17,
        'cidr() takes one string literal, like cidr("10.0.0.0/8")',
        id="cidr-needs-literal",
    ),
    pytest.param(
        'f"{a"',
        "E127",
        13,
        "template string: `{` is not closed; write `{{` for a brace",
        id="template-open-brace",
    ),
    pytest.param(
        'f"a}"', "E127", 14, "template string: a single `}` must be written `}}`", id="template-close-brace"
    ),
    pytest.param('f"{ }"', "E127", 13, "template string: `{}` holds no expression", id="template-empty-part"),
    pytest.param(
        'f"x{a +}"',
        "E109",
        18,
        "unexpected end of template expression; expected an expression",
        id="template-part-syntax-error",
    ),
    pytest.param(
        "(" * 5000 + "a" + ")" * 5000,
        "E105",
        11 + MAX_DEPTH,
        "expression is nested deeper than 64 levels",
        id="deep-brackets-prescan",
    ),
    pytest.param(
        "not " * 5000 + "a",
        "E105",
        11 + 4 * MAX_DEPTH,
        "expression is nested deeper than 64 levels",
        id="deep-not",
    ),
    pytest.param(
        "-" * 5000 + "a",
        "E105",
        11 + MAX_DEPTH,
        "expression is nested deeper than 64 levels",
        id="deep-minus",
    ),
    pytest.param(
        " + ".join(["a"] * 200),
        "E105",
        11,
        "expression is nested deeper than 64 levels",
        id="long-sum-is-deep",
    ),
    pytest.param(
        "if a then b else " * 100 + "c",
        "E105",
        11 + 17 * (MAX_DEPTH - 1) + 3,
        "expression is nested deeper than 64 levels",
        id="deep-else-if",
    ),
    pytest.param(
        "a" * (MAX_EXPRESSION_CHARS + 1),
        "E132",
        11,
        f"expression is {MAX_EXPRESSION_CHARS + 1} characters long, more than the limit of 100000",
        id="too-long",
    ),
]


@pytest.mark.parametrize(("text", "code", "column", "message"), ERRORS)
def test_errors(text: str, code: str, column: int, message: str) -> None:
    d = fail(text)
    assert (d.code, d.message) == (code, message)
    assert d.span is not None and (d.span.file, d.span.line, d.span.column) == ("r.yaml", 7, column)


NOTES = [
    pytest.param("a = 1", "use `==` to compare values", id="eq"),
    pytest.param("a && b", "use `and` to combine conditions", id="and"),
    pytest.param("a || b", "use `or` for alternatives", id="or"),
    pytest.param("!a", "use `not` to negate, `!=` to compare", id="not"),
    pytest.param(
        "données == 1",
        "names are ASCII letters, digits and `_`; write other names in backticks",
        id="non-ascii-name",
    ),
    pytest.param("a < b < c", "comparisons do not chain: write `a < b and b < c`", id="chain"),
    pytest.param(
        "any.x == 1",
        "`any` is a reserved word here; write `` `any` `` for a field of that name",
        id="reserved",
    ),
]


@pytest.mark.parametrize(("text", "note"), NOTES)
def test_hints(text: str, note: str) -> None:
    assert note in fail(text).notes


def test_long_flat_conjunction_is_not_deep() -> None:
    # `and`/`or` chains are n-ary nodes, so their length is not nesting
    e = ok(" and ".join(f"a{i} == {i}" for i in range(2000)))
    assert isinstance(e, ir.And) and len(e.items) == 2000


def test_nesting_at_the_limit_is_fine() -> None:
    ok("(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1))
    ok("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))


PATHS = [
    pytest.param("data.customer.name", ("data", "customer", "name"), id="dotted"),
    pytest.param("data.items[0]", ("data", "items", 0), id="index"),
    pytest.param("`detail-type`", ("detail-type",), id="backtick"),
    pytest.param('$["detail-type"].x', ("detail-type", "x"), id="root"),
    pytest.param("if", ("if",), id="keyword-is-a-path-here"),
]


@pytest.mark.parametrize(("text", "expected"), PATHS)
def test_paths(text: str, expected: ir.Path) -> None:
    path, diags = parse_path(text, where(text))
    assert diags == [] and path == expected


PATH_ERRORS = [
    pytest.param(
        "$", "E125", "a transform needs a field path; `$` alone is the whole event", id="root-alone"
    ),
    pytest.param(
        "data.x + 1", "E106", "unexpected `+`; expected `.`, `[` or end of input", id="not-an-expression"
    ),
    pytest.param("data.", "E109", "unexpected end of path; expected a name", id="trailing-dot"),
]


@pytest.mark.parametrize(("text", "code", "message"), PATH_ERRORS)
def test_path_errors(text: str, code: str, message: str) -> None:
    path, diags = parse_path(text, where(text))
    assert path is None
    assert [(d.code, d.message) for d in diags] == [(code, message)]
