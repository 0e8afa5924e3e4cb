"""CEL at load time (check_cel) and the reference evaluation through cel-python."""

from __future__ import annotations

import math
from typing import Any

import pytest
from celpy import celtypes
from celpy.evaluation import CELEvalError

from rules_engine.cel.check import check_cel
from rules_engine.cel.evaluate import CelProgram, cel_truth, evaluate_cel, explain_cel, to_cel
from rules_engine.cel.parse import DECLARED, ENVELOPE, MAX_NESTING, MAX_TREE_DEPTH
from rules_engine.model import codes
from rules_engine.model.errors import render_text
from rules_engine.model.source import Embedded, Source

FILE = "rules/orders.yaml"


def at(text: str, line: int = 7, column: int = 11) -> Embedded:
    """The text as a one-line YAML scalar starting at line:column of FILE."""
    return Embedded.plain(FILE, text, line, column)


def codes_and_places(text: str, where: Embedded | None = None) -> list[tuple[str, int, int]]:
    return [(d.code, d.line or 0, d.column or 0) for d in check_cel(text, where or at(text))]


# --- check_cel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('type == "order.created" && data.total > 1000', id="cloudevents"),
        pytest.param('detail.state == "running" && region in ["us-east-1"]', id="eventbridge"),
        pytest.param('event["detail-type"] == "x" && event.myext == 1', id="other-fields-through-event"),
        pytest.param("data.items.exists(i, i.price > 3 && i.tags.all(t, t != 'x'))", id="nested-macros"),
        pytest.param("data.items.map(i, i.qty).filter(q, q > 1).size() > 0", id="macro-chain"),
        pytest.param("has(data.customer.vip) ? data.customer.vip : false", id="has-and-ternary"),
        pytest.param('size(data.s) > 1 && data.s.matches("^[a-z]+$") && int(data.n) == 1', id="functions"),
        pytest.param("// a comment\ndata.total > 1", id="comment"),
        pytest.param("[1, 2].reduce(a, x, 0, a + x) == 3 && [3].min() == 3", id="cel-python-extensions"),
        pytest.param('b"\\x00" == bytes("") || 1u == uint(1) || duration("1s") > duration("0s")', id="other-types"),
    ],
)
def test_valid_filters_have_no_diagnostics(text: str) -> None:
    assert check_cel(text, at(text)) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("data.total >", [("E112", 7, 23)], id="unexpected-end"),
        pytest.param("data.total > > 1", [("E112", 7, 24)], id="unexpected-token"),
        pytest.param('data.name == "Zoë', [("E112", 7, 24)], id="unterminated-string"),
        pytest.param("data.total # 1", [("E112", 7, 22)], id="unexpected-character"),
        pytest.param("", [("E112", 7, 11)], id="empty"),
        pytest.param("total > 1", [("E308", 7, 11)], id="undeclared"),
        pytest.param("data.items.exists(i, i.price > j)", [("E308", 7, 42)], id="undeclared-in-macro"),
        pytest.param("data.items.exists(i, true) && i.price > 1", [("E308", 7, 41)], id="macro-variable-out-of-scope"),
        pytest.param("frob(data) || data.frob()", [("E340", 7, 11), ("E340", 7, 30)], id="unknown-functions"),
        pytest.param("data.l.all(x)", [("E341", 7, 18), ("E308", 7, 22)], id="macro-arity"),
        pytest.param("has(data.a, data.b)", [("E341", 7, 11)], id="has-arity"),
        pytest.param("data.l.exists(x.y, true)", [("E342", 7, 18)], id="macro-variable-not-a-name"),
        pytest.param("Order{total: 1}", [("E343", 7, 11)], id="message-construction"),
        pytest.param('data.s.matches("(")', [("E304", 7, 26)], id="bad-regex-method"),
        pytest.param('matches(data.s, "a{2,1}")', [("E304", 7, 27)], id="bad-regex-function"),
        pytest.param(".total == 1", [("E308", 7, 12)], id="root-scope-name"),
    ],
)
def test_problems_are_reported_at_their_file_position(text: str, expected: list[tuple[str, int, int]]) -> None:
    assert codes_and_places(text) == expected


def test_positions_map_through_multi_line_scalars() -> None:
    # A literal block scalar: every line of the expression has its own origin in the file.
    text = "type == 'x' &&\n  data.total > 1 &&\n  nope.x == 2"
    where = Embedded(FILE, text, ((10, 7), (11, 7), (12, 7)))
    assert codes_and_places(text, where) == [("E308", 12, 9)]


def test_undeclared_name_note_says_how_to_reach_the_field() -> None:
    (diag,) = check_cel("total > 1", at("total > 1"))
    assert diag.message == "CEL: undeclared reference to 'total'"
    assert diag.notes[0].startswith('write event.total or event["total"]: a CEL filter sees the whole event')


def test_rendered_syntax_error() -> None:
    line = '    cel: data.total > > 1'
    text = "data.total > > 1"
    diags = check_cel(text, at(text, 3, 10))
    rendered = render_text(diags, {FILE: Source(FILE, f"rules:\n  - name: big\n{line}\n")})
    assert rendered == (
        "rules/orders.yaml:3:23: error[E112]: CEL syntax error: unexpected '>'\n"
        "   3 |     cel: data.total > > 1\n"
        "     |                       ^\n"
        "   = note: expected an expression"
    )


def test_rendered_undeclared_name() -> None:
    text = "data.total > 1 && totl < 5"
    diags = check_cel(text, at(text, 3, 10))
    rendered = render_text(diags, {FILE: Source(FILE, f"rules:\n  - name: big\n    cel: {text}\n")})
    assert rendered.splitlines()[:3] == [
        "rules/orders.yaml:3:28: error[E308]: CEL: undeclared reference to 'totl'",
        "   3 |     cel: data.total > 1 && totl < 5",
        "     |                            ^^^^",
    ]


@pytest.mark.parametrize(
    "text, limit",
    [
        pytest.param("(" * 5000 + "1" + ")" * 5000, MAX_NESTING, id="parentheses"),
        pytest.param("[" * 5000 + "]" * 5000, MAX_NESTING, id="lists"),
        pytest.param("(" * 5000, MAX_NESTING, id="unbalanced"),
        pytest.param("!" * 5000 + "true", MAX_TREE_DEPTH, id="negations"),
        pytest.param("1" + " + 1" * 5000 + " > 0", MAX_TREE_DEPTH, id="operator-chain"),
        pytest.param("data" + ".a" * 5000 + " == 1", MAX_TREE_DEPTH, id="member-chain"),
    ],
)
def test_deep_expressions_are_refused_not_crashed(text: str, limit: int) -> None:
    (diag,) = check_cel(text, at(text))
    assert diag.code == codes.TOO_DEEP.code
    assert diag.message == f"CEL expression is nested deeper than {limit} levels"
    # Evaluating it is an error value, never a traceback.
    assert isinstance(evaluate_cel(text, {}), CELEvalError)


def test_brackets_inside_strings_do_not_count() -> None:
    text = 'data.s == "' + "(" * 100 + '" || data.s == \'' + "[" * 100 + "'"
    assert check_cel(text, at(text)) == []


def test_deepest_accepted_expression_evaluates() -> None:
    text = "(" * MAX_NESTING + "data.n" + ")" * MAX_NESTING + " == 1"
    assert check_cel(text, at(text)) == []
    assert cel_truth(text, {"data": {"n": 1}}) is True


# --- variables ------------------------------------------------------------------------------------------


def test_declared_names() -> None:
    assert DECLARED == ENVELOPE | {"event"}
    assert {"id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data"} <= ENVELOPE
    assert {"version", "account", "region", "resources", "detail"} <= ENVELOPE


CLOUDEVENT = {
    "specversion": "1.0", "id": "1", "source": "/shop", "type": "order.created",
    "data": {"total": 1500, "price": 9.5, "items": [{"price": 3}, {"price": 10}], "big": 2**64},
}
EVENTBRIDGE = {
    "version": "0", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
    "account": "1", "region": "us-west-1", "resources": ["arn:1"], "detail": {"state": "running"},
}


@pytest.mark.parametrize(
    "text, event, expected",
    [
        pytest.param('type == "order.created" && data.total > 1000', CLOUDEVENT, True, id="cloudevents"),
        pytest.param('detail.state == "running" && region == "us-west-1"', EVENTBRIDGE, True, id="eventbridge"),
        pytest.param('event["detail-type"].startsWith("EC2")', EVENTBRIDGE, True, id="dashed-name"),
        pytest.param('resources.exists(r, r == "arn:1") && account == "1" && version == "0"', EVENTBRIDGE, True,
                     id="eventbridge-names"),
        pytest.param("detail.state == 'x' || data.total == 1500", CLOUDEVENT, True, id="absent-name-absorbed"),
        pytest.param("detail.state == 'x'", CLOUDEVENT, False, id="absent-name-is-error"),
        pytest.param("data.total == 1500.0", CLOUDEVENT, False, id="int-is-not-double"),
        pytest.param("data.price > 9", CLOUDEVENT, True, id="double-orders-against-int"),
        pytest.param("double(data.total) == 1500.0", CLOUDEVENT, True, id="explicit-conversion"),
        pytest.param("data.big > 1.8e19", CLOUDEVENT, True, id="json-int-beyond-int64-is-double"),
        pytest.param("data.items.exists(i, i.price > 5)", CLOUDEVENT, True, id="macro"),
        pytest.param("data.total", CLOUDEVENT, False, id="non-bool"),
        pytest.param("event.id == '1' && id == '1'", CLOUDEVENT, True, id="event-and-envelope-agree"),
    ],
)
def test_cel_truth(text: str, event: dict[str, Any], expected: bool) -> None:
    assert cel_truth(text, event) is expected


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(3, celtypes.IntType(3), id="int"),
        pytest.param(3.0, celtypes.DoubleType(3.0), id="double"),
        pytest.param(2**63, celtypes.DoubleType(2.0**63), id="beyond-int64"),
        pytest.param(True, celtypes.BoolType(True), id="bool"),
        pytest.param("é", celtypes.StringType("é"), id="string"),
        pytest.param(None, None, id="null"),
        pytest.param([1, "a"], celtypes.ListType([celtypes.IntType(1), celtypes.StringType("a")]), id="list"),
    ],
)
def test_to_cel_keeps_json_types(value: Any, expected: Any) -> None:
    got = to_cel(value)
    assert type(got) is type(expected) and got == expected


def test_to_cel_huge_int_is_infinite_double() -> None:
    assert to_cel(-(10**400)) == -math.inf


@pytest.mark.parametrize(
    "text, event, expected",
    [
        pytest.param("data.total > 1000", CLOUDEVENT, None, id="true"),
        pytest.param("data.total < 1000", CLOUDEVENT, "CEL expression evaluated to false", id="false"),
        pytest.param("data.totl < 1000", CLOUDEVENT, "CEL error: no such member in mapping: 'totl'", id="missing"),
        pytest.param("nope < 1000", CLOUDEVENT, "CEL error: undeclared reference to 'nope'", id="undeclared"),
        pytest.param("data.total == 1.0", CLOUDEVENT,
                     "CEL error: found no matching overload for '==' applied to '(int, double)'", id="overload"),
        pytest.param("data.total", CLOUDEVENT, "CEL expression evaluated to int 1500, not a bool", id="non-bool"),
        pytest.param("data.items[0]", CLOUDEVENT, 'CEL expression evaluated to map {"price": 3}, not a bool',
                     id="non-bool-map"),
        pytest.param("null.exists(x, true)", CLOUDEVENT,
                     "CEL error: TypeError: 'NoneType' object is not iterable", id="cel-python-raised"),
        pytest.param("data.total >", CLOUDEVENT, "CEL error: CEL syntax error: unexpected end of expression",
                     id="syntax"),
        pytest.param("data.x == 1", {"data": {"x": {1, 2}}}, "CEL error: the event is not JSON: set is not a JSON value",
                     id="not-json"),
    ],
)
def test_explain_cel(text: str, event: dict[str, Any], expected: str | None) -> None:
    assert explain_cel(text, event) == expected


@pytest.mark.parametrize(
    "text, event",
    [
        pytest.param("(" * 40 + "1" + ")" * 40 + " == 1", {}, id="deep-for-cel-python"),
        pytest.param("int(1.0 / 0.0) == 1", {}, id="overflow-escapes-cel-python"),
        pytest.param("data.a == 1", {"data": {"a": object()}}, id="non-json-value"),
        pytest.param("data.a == 1", {"data": [1] * 3}, id="wrong-shape"),
    ],
)
def test_evaluate_never_raises(text: str, event: dict[str, Any]) -> None:
    result = evaluate_cel(text, event)
    assert isinstance(result, CELEvalError)
    assert cel_truth(text, event) is False
    assert (explain_cel(text, event) or "").startswith("CEL error: ")


def test_program_is_reusable_and_immutable() -> None:
    program = CelProgram.build("data.total > 1000")
    assert [program.truth({"data": {"total": n}}) for n in (1, 2000, 1, 5000)] == [False, True, False, True]
    with pytest.raises(AttributeError):
        program.text = "x"  # type: ignore[misc]


def test_cel_codes_are_in_their_ranges() -> None:
    cel_codes = [codes.CEL_UNKNOWN_FUNCTION, codes.CEL_MACRO_ARITY, codes.CEL_MACRO_VARIABLE, codes.CEL_UNSUPPORTED]
    assert all(340 <= int(c.code[1:]) <= 349 for c in cel_codes)
    assert all(520 <= int(c.code[1:]) <= 529 for c in (codes.CEL_FALSE, codes.CEL_EVAL_ERROR, codes.CEL_NOT_BOOL))
