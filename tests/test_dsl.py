"""The rule language: files -> IR, statements, spans, errors and recovery, hostile input, docs examples."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Golden
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from rules_engine.model import ir
from rules_engine.model.errors import Diagnostic, render_text
from rules_engine.model.resources import grammar_text
from rules_engine.model.source import Source, Span
from rules_engine.syntax import dsl, dsl_errors, dsl_tree
from rules_engine.syntax.dsl import MAX_SYNTAX_ERRORS
from rules_engine.syntax.language import parse_rules

ROOT = Path(__file__).resolve().parents[1]
L = ir.Literal


def D(*path: str | int) -> ir.Field:
    return ir.Field(("data", *path))


def parse(text: str, name: str = "t.rules") -> tuple[ir.RuleSetIR | None, list[Diagnostic]]:
    return parse_rules(Source(name, text))


def ok(text: str) -> ir.RuleSetIR:
    rs, diags = parse(text)
    assert diags == [], render_text(diags, {"t.rules": Source("t.rules", text)})
    assert rs is not None
    return rs


def one_rule(body: str) -> ir.Rule:
    rs = ok(f"rule r {{\n{body}\n}}\n")
    assert len(rs.rules) == 1
    return rs.rules[0]


# --- files ----------------------------------------------------------------------------------------

SAMPLE = """\
# comments with '#'
target audit = file(path: "audit.jsonl")
target orders = http(url: "https://orders.internal/hook", timeout: 5) {
  keep id, type, data
  partition by data.customer_id
}
target dlq = file(path: "dead.jsonl")
default route to dlq

rule high_value_order priority 10 {
  description "Orders over 1000 go to the orders service and the audit log"
  when type == "order.created" and data.total > 1000 and data.country in ["US", "CA"]
  set data.total_cents = data.total * 100
  route to orders, audit
}
"""


def test_whole_file() -> None:
    rs = ok(SAMPLE)
    assert rs.targets == (
        ir.Target("audit", "file", ir.freeze({"path": "audit.jsonl"})),
        ir.Target(
            "orders",
            "http",
            ir.freeze({"url": "https://orders.internal/hook", "timeout": 5}),
            transform=ir.Transform((ir.Keep((("id",), ("type",), ("data",))),)),
            partition_key=D("customer_id"),
        ),
        ir.Target("dlq", "file", ir.freeze({"path": "dead.jsonl"})),
    )
    assert rs.default_targets == (ir.TargetRef("dlq"),)
    assert rs.files == ("t.rules",)
    assert rs.rules == (
        ir.Rule(
            name="high_value_order",
            priority=10,
            description="Orders over 1000 go to the orders service and the audit log",
            filters=(
                ir.Filter(
                    "when",
                    ir.And(
                        (
                            ir.Compare("==", ir.Field(("type",)), L("order.created")),
                            ir.Compare(">", D("total"), L(1000)),
                            ir.In(D("country"), ir.ListExpr((L("US"), L("CA")))),
                        )
                    ),
                ),
            ),
            transform=ir.Transform(
                (ir.SetField(("data", "total_cents"), ir.Arith("*", D("total"), L(100))),)
            ),
            targets=(ir.TargetRef("orders"), ir.TargetRef("audit")),
        ),
    )


def test_names_carry_spans_of_the_name() -> None:
    rs = ok(SAMPLE)
    assert rs.targets[1].span == Span("t.rules", 3, 8, 3, 14)
    assert rs.rules[0].span == Span("t.rules", 10, 6, 10, 22)
    assert rs.rules[0].targets[1].span == Span("t.rules", 14, 20, 14, 25)
    f = rs.rules[0].filters[0]
    assert f.span == Span("t.rules", 12, 3, 12, 86)
    assert isinstance(f.node, ir.And) and f.node.items[1].span == Span("t.rules", 12, 36, 12, 53)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param('rule "High value" { }', ["High value"], id="quoted"),
        pytest.param("rule slack-ops_2 { }", ["slack-ops_2"], id="dashes"),
        pytest.param("rule rule { } rule when { }", ["rule", "when"], id="keywords-as-names"),
    ],
)
def test_rule_names(text: str, names: list[str]) -> None:
    assert [r.name for r in ok(text).rules] == names


def test_target_forms() -> None:
    rs = ok(
        "target out = stdout\n"
        'target "my sink" = my-adapter()\n'
        'target h = http(headers: {"X-A": ["1", 2.5, true, null]}, retries: -3,)\n'
        'default route to out, "my sink"\n'
        "default route to h\n"
    )
    assert [(t.name, t.type) for t in rs.targets] == [
        ("out", "stdout"),
        ("my sink", "my-adapter"),
        ("h", "http"),
    ]
    assert ir.thaw(rs.targets[2].options) == {"headers": {"X-A": ["1", 2.5, True, None]}, "retries": -3}
    assert [t.name for t in rs.default_targets] == ["out", "my sink", "h"]


def test_empty_and_comment_only_files_give_an_empty_rule_set() -> None:
    assert ok("") == ir.RuleSetIR(files=("t.rules",))
    assert ok("# nothing here\n\n") == ir.RuleSetIR(files=("t.rules",))


# --- rule-set settings ---------------------------------------------------------------------------------

SETTINGS = [
    pytest.param("rule r { }", True, {}, id="defaults"),
    pytest.param("deduplicate false", False, {}, id="deduplicate-false"),
    pytest.param("deduplicate true", True, {}, id="deduplicate-true"),
    pytest.param('metadata {"owner": "shop"}', True, {"owner": "shop"}, id="metadata"),
    pytest.param(
        'metadata {\n  "owner": "shop",\n  "links": {"wiki": "https://w"},\n  "n": [1, -2.5, true, null],\n}',
        True,
        {"owner": "shop", "links": {"wiki": "https://w"}, "n": [1, -2.5, True, None]},
        id="metadata-nested-multiline",
    ),
    pytest.param(
        "target t = stdout\nmetadata {}\nrule r { route to t }\ndeduplicate false\n", False, {}, id="anywhere"
    ),
]


@pytest.mark.parametrize(("text", "deduplicate", "metadata"), SETTINGS)
def test_settings(text: str, deduplicate: bool, metadata: dict[str, object]) -> None:
    rs = ok(text)
    assert rs.deduplicate is deduplicate
    assert ir.thaw(rs.metadata) == metadata
    assert list(ir.thaw(rs.metadata)) == list(metadata)  # key order is kept


def test_settings_words_stay_names_elsewhere() -> None:
    rs = ok(
        "target deduplicate = stdout\nrule metadata { when metadata.owner == deduplicate route to deduplicate }"
    )
    assert [t.name for t in rs.targets] == ["deduplicate"]
    assert rs.rules[0].name == "metadata"
    assert rs.rules[0].filters[0].node == ir.Compare(
        "==", ir.Field(("metadata", "owner")), ir.Field(("deduplicate",))
    )


# The same settings written both ways give the same IR.
SETTINGS_TWINS = [
    pytest.param("", "", id="none"),
    pytest.param("deduplicate: false\n", "deduplicate false\n", id="deduplicate-false"),
    pytest.param("deduplicate: true\n", "deduplicate true\n", id="deduplicate-true"),
    pytest.param(
        "metadata:\n  owner: shop-platform\n  tier: 2\n  links: {runbook: 'https://wiki/shop'}\n  tags: [a, b]\n",
        'metadata {"owner": "shop-platform", "tier": 2, "links": {"runbook": "https://wiki/shop"}, "tags": ["a", "b"]}\n',
        id="metadata",
    ),
    pytest.param(
        "deduplicate: false\nmetadata: {owner: shop}\n",
        'metadata {"owner": "shop"}\ndeduplicate false\n',
        id="both",
    ),
]


@pytest.mark.parametrize(("yaml_settings", "dsl_settings"), SETTINGS_TWINS)
def test_settings_equal_their_yaml_twin(yaml_settings: str, dsl_settings: str) -> None:
    from rules_engine.loader import parse_source

    yaml_text = yaml_settings + "targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    targets: [out]\n"
    dsl_text = dsl_settings + "target out = stdout\nrule r { route to out }\n"
    from_yaml, ydiags = parse_source(Source("s.yaml", yaml_text), "yaml")
    from_dsl, ddiags = parse_source(Source("s.rules", dsl_text), "dsl")
    assert ydiags == [] and ddiags == []
    assert from_yaml is not None and from_dsl is not None
    assert dataclasses.replace(from_dsl, files=()) == dataclasses.replace(from_yaml, files=())


# --- rule statements ---------------------------------------------------------------------------------

RULES = [
    pytest.param("", ir.Rule("r"), id="empty-rule"),
    pytest.param("on match stop", ir.Rule("r", on_match="stop"), id="on-match-stop"),
    pytest.param("on match continue", ir.Rule("r"), id="on-match-continue"),
    pytest.param("on error null_fill", ir.Rule("r", on_error="null_fill"), id="on-error"),
    pytest.param("disabled", ir.Rule("r", enabled=False), id="disabled"),
    pytest.param('description "x"', ir.Rule("r", description="x"), id="description"),
    pytest.param(
        "route to a\nroute to b",
        ir.Rule("r", targets=(ir.TargetRef("a"), ir.TargetRef("b"))),
        id="routes-join",
    ),
    pytest.param(
        "when a == 1\nwhen b",
        ir.Rule(
            "r",
            filters=(
                ir.Filter("when", ir.Compare("==", ir.Field(("a",)), L(1))),
                ir.Filter("when", ir.Field(("b",))),
            ),
        ),
        id="several-filters",
    ),
    pytest.param(
        "when a and\n  b",
        ir.Rule("r", filters=(ir.Filter("when", ir.And((ir.Field(("a",)), ir.Field(("b",))))),)),
        id="expression-across-lines",
    ),
]


@pytest.mark.parametrize(("body", "expected"), RULES)
def test_rule_statements(body: str, expected: ir.Rule) -> None:
    assert one_rule(body) == expected


def test_priority_in_header() -> None:
    rs = ok("rule a priority -5 { } rule b priority 7 { }")
    assert [r.priority for r in rs.rules] == [-5, 7]


TRANSFORMS = [
    pytest.param("set data.x = 1", ir.SetField(("data", "x"), L(1)), id="set"),
    pytest.param(
        "set data.items[0].n = data.n", ir.SetField(("data", "items", 0, "n"), D("n")), id="set-index"
    ),
    pytest.param(
        "rename data.total to data.amount", ir.Rename(("data", "total"), ("data", "amount")), id="rename"
    ),
    pytest.param("drop data.a, `detail-type`", ir.Drop((("data", "a"), ("detail-type",))), id="drop"),
    pytest.param(
        "keep id, type, data", ir.Keep((("id",), ("type",), ("data",))), id="keep-keyword-like-names"
    ),
    pytest.param(
        'payload {"id": id, "n": data.n}',
        ir.Replace(ir.ObjectExpr((("id", ir.Field(("id",))), ("n", D("n"))))),
        id="payload",
    ),
    pytest.param(
        'input transformer { paths: {"who": "$.detail.name"}, template: "hi <who>" }',
        ir.InputTransformer((("who", "$.detail.name"),), "hi <who>"),
        id="input-transformer",
    ),
    pytest.param(
        'input transformer { template: "static" }',
        ir.InputTransformer((), "static"),
        id="input-transformer-without-paths",
    ),
]


@pytest.mark.parametrize(("stmt", "step"), TRANSFORMS)
def test_transform_statements(stmt: str, step: ir.TransformStep) -> None:
    assert one_rule(stmt).transform == ir.Transform((step,))


def test_transform_keeps_written_order_and_envelope() -> None:
    rule = one_rule(
        "drop data.a\n"
        "set data.b = 2\n"
        'envelope cloudevents { type: f"com.example.{type}", source: "/r", subject: id, tenant: data.t, }'
    )
    assert rule.transform == ir.Transform(
        (ir.Drop((("data", "a"),)), ir.SetField(("data", "b"), L(2))),
        ir.Envelope(
            ir.Template(("com.example.", ir.Field(("type",)))),
            L("/r"),
            ir.Field(("id",)),
            (("tenant", D("t")),),
        ),
    )
    assert rule.transform is not None and rule.transform.span == Span("t.rules", 2, 1, 2, 12)


def test_target_transform_and_partition() -> None:
    rs = ok("target t = stdout {\n  partition by data.k\n  set x = 1\n  envelope cloudevents { }\n}")
    t = rs.targets[0]
    assert t.partition_key == D("k")
    assert t.transform == ir.Transform((ir.SetField(("x",), L(1)),), ir.Envelope())


def test_match_filter_lowers_the_pattern() -> None:
    rule = one_rule('match {\n  "source": ["aws.ec2"],\n  "detail": {"n": [{"numeric": [">", 0]}]}\n}')
    (f,) = rule.filters
    assert f.kind == "match" and isinstance(f.node, ir.EventPattern)
    fields = {pf.path: pf.matchers for pf in f.node.root.fields}
    assert fields == {("source",): (ir.MExact("aws.ec2"),), ("detail", "n"): (ir.MNumeric(((">", 0.0),)),)}


def test_match_filter_errors_point_at_the_json_node() -> None:
    rs, diags = parse('rule r {\n  match {"detail": {"state": [{"prefix": 5}]}}\n}')
    assert rs is None
    assert [(d.code, d.span) for d in diags] == [("E313", Span("t.rules", 2, 42, 2, 43))]


def test_cel_filter() -> None:
    rule = one_rule("cel 'data.total > 10 && data.name == \"x\"'")
    (f,) = rule.filters
    assert f == ir.Filter("cel", ir.Cel('data.total > 10 && data.name == "x"'))


def test_cel_errors_point_into_the_string() -> None:
    rs, diags = parse("rule r {\n  cel 'data.total > '\n}")
    assert rs is None
    # the CEL text starts at column 8 (after the quote) and is 13 characters long
    assert [(d.code, d.span.line) for d in diags if d.span] == [("E112", 2)]
    assert diags[0].span is not None and 8 <= diags[0].span.column <= 21


# --- errors ---------------------------------------------------------------------------------------------

FILE_ERRORS = [
    pytest.param(
        "rule r {\n  whenn x == 1\n}",
        [("E106", 2, 3, "unexpected name `whenn`; expected `}` or a rule statement")],
        id="statement-typo",
    ),
    pytest.param(
        "rules r { }",
        [
            (
                "E106",
                1,
                1,
                (
                    "unexpected name `rules`; expected `deduplicate`, `default`, `metadata`, `rule`, `target` "
                    "or end of input"
                ),
            )
        ],
        id="top-level-typo",
    ),
    pytest.param(
        "rule r {\n  when x == 1\n",
        [
            (
                "E109",
                2,
                14,
                "unexpected end of file; expected `and`, `or`, `}`, an operator or a rule statement",
            )
        ],
        id="eof",
    ),
    pytest.param(
        'target a = http(url "x")',
        [("E106", 1, 21, 'unexpected string "x"; expected `:`')],
        id="option-colon",
    ),
    pytest.param(
        "rule r { on match halt }",
        [("E106", 1, 19, "unexpected name `halt`; expected `continue` or `stop`")],
        id="on-match-value",
    ),
    pytest.param(
        "rule r { on error retry }",
        [("E106", 1, 19, "unexpected name `retry`; expected `dead_letter`, `null_fill` or `skip`")],
        id="on-error-value",
    ),
    pytest.param(
        "rule r priority 1.5 { }",
        [("E124", 1, 17, "priority must be a whole number, not 1.5")],
        id="priority",
    ),
    pytest.param(
        'rule r { description "a" description "b" }',
        [("E122", 1, 26, "`description` is given more than once in rule 'r'")],
        id="dup-description",
    ),
    pytest.param(
        "rule r { on match stop on match stop disabled disabled }",
        [
            ("E122", 1, 24, "`on match` is given more than once in rule 'r'"),
            ("E122", 1, 47, "`disabled` is given more than once in rule 'r'"),
        ],
        id="dup-on-match-disabled",
    ),
    pytest.param(
        "target t = stdout { partition by a partition by b }",
        [("E122", 1, 36, "`partition by` is given more than once in target 't'")],
        id="dup-partition",
    ),
    pytest.param(
        'target t = http(url: "a", url: "b")',
        [("E121", 1, 27, "option 'url' is given more than once")],
        id="dup-option",
    ),
    pytest.param(
        'target t = http(h: {"a": 1, "a": 2})',
        [("E352", 1, 29, "key 'a' appears more than once in this object")],
        id="dup-json-key",
    ),
    pytest.param(
        "rule r { set $ = 1 }",
        [("E125", 1, 14, "`set` needs a field path; `$` alone is the whole event")],
        id="set-root",
    ),
    pytest.param(
        "rule r { envelope xml { } }",
        [("E128", 1, 19, "unknown envelope format 'xml'; the supported format is 'cloudevents'")],
        id="envelope-format",
    ),
    pytest.param(
        "rule r { envelope cloudevents { id: 1, Tenant: 2, type: 1, type: 2 } }",
        [
            ("E129", 1, 33, "CloudEvents attribute 'id': the envelope sets it itself"),
            (
                "E129",
                1,
                40,
                "CloudEvents attribute 'Tenant': an extension name has 1 to 20 lowercase letters or digits (CloudEvents 1.0)",
            ),
            ("E121", 1, 60, "attribute 'type' is given more than once"),
        ],
        id="envelope-attributes",
    ),
    pytest.param(
        "rule r { envelope cloudevents { } envelope cloudevents { } }",
        [("E122", 1, 35, "`envelope` is given more than once in one transform")],
        id="two-envelopes",
    ),
    pytest.param(
        "rule r { envelope cloudevents { } drop a }",
        [
            (
                "E131",
                1,
                35,
                "`drop` comes after `envelope`: the envelope wraps the finished payload, so it must come last",
            )
        ],
        id="step-after-envelope",
    ),
    pytest.param(
        'rule r { input transformer { paths: {"a": 1}, extra: 2 } }',
        [
            ("E130", 1, 10, "input transformer: `template` is required"),
            (
                "E130",
                1,
                37,
                'input transformer: `paths` must be an object of strings, like {"name": "$.detail.name"}',
            ),
            ("E130", 1, 54, "input transformer: unknown key 'extra'; the keys are `paths` and `template`"),
        ],
        id="input-transformer",
    ),
    pytest.param(
        'rule "a\\xb" { }', [("E114", 1, 8, "invalid escape sequence '\\\\x' in string")], id="escape-in-name"
    ),
    pytest.param(
        "deduplicate false\nrule r { }\ndeduplicate true",
        [("E122", 3, 1, "`deduplicate` is given more than once in one file")],
        id="dup-deduplicate",
    ),
    pytest.param(
        'metadata {"a": 1}\nmetadata {"b": 2}',
        [("E122", 2, 1, "`metadata` is given more than once in one file")],
        id="dup-metadata",
    ),
    pytest.param(
        'metadata {"a": 1, "a": 2}',
        [("E352", 1, 19, "key 'a' appears more than once in this object")],
        id="metadata-dup-key",
    ),
    pytest.param(
        "deduplicate no",
        [("E106", 1, 13, "unexpected name `no`; expected `false` or `true`")],
        id="deduplicate-value",
    ),
    pytest.param(
        'metadata ["a"]',
        [("E106", 1, 10, "unexpected `[`; expected `{`")],
        id="metadata-not-object",
    ),
    pytest.param(
        'rule r { when a in cidr("1.2.3.4/40") }',
        [
            (
                "E309",
                1,
                25,
                "invalid CIDR block '1.2.3.4/40': '1.2.3.4/40' does not appear to be an IPv4 or IPv6 network",
            )
        ],
        id="bad-cidr",
    ),
]


@pytest.mark.parametrize(("text", "expected"), FILE_ERRORS)
def test_file_errors(text: str, expected: list[tuple[str, int, int, str]]) -> None:
    rs, diags = parse(text)
    assert rs is None
    assert [
        (d.code, d.span.line if d.span else 0, d.span.column if d.span else 0, d.message) for d in diags
    ] == expected


def test_recovery_reports_errors_of_several_rules() -> None:
    text = (
        "target a = stdout\n"
        "rule one {\n  when x == 1\n  route to a\n"  # missing `}`: the error is at the next `rule`
        "rule two {\n  when y ==\n}\n"  # missing operand
        "rule three { route to a }\n"  # fine
        "rule four { when (z }\n"  # unbalanced
    )
    rs, diags = parse(text)
    assert rs is None
    assert [(d.code, d.span.line if d.span else 0) for d in diags] == [("E106", 5), ("E106", 7), ("E106", 9)]


def test_recovery_stops_after_the_limit() -> None:
    rs, diags = parse("rule r { when ) }\n" * 100)
    assert rs is None
    assert len(diags) == MAX_SYNTAX_ERRORS
    assert diags[-1].notes == (f"stopped after {MAX_SYNTAX_ERRORS} syntax errors",)


def test_windows_line_endings_tabs_and_bom() -> None:
    text = "\ufeffrule r {\r\n\twhen\tx ==\t1 and\r\n\t\ty == 2\r\n\troute to t\r\n}\r\n"
    rule = ok(text).rules[0]
    assert rule.span == Span("t.rules", 1, 7, 1, 8)
    f = rule.filters[0]
    assert isinstance(f.node, ir.And) and f.node.items[1].span == Span("t.rules", 3, 3, 3, 9)
    _rs, diags = parse(text.replace("y ==", "y ="))
    assert [(d.code, d.span.line, d.span.column) for d in diags if d.span] == [("E106", 3, 5)]


BIG = 10 * 1024 * 1024
# Inputs are built inside the test (as callables) so 10 MB strings do not live through the whole session.
HOSTILE = [
    pytest.param(lambda: "# " + "x" * BIG, None, id="10MB-comment"),
    pytest.param(lambda: 'rule r { description "' + "x" * BIG + '" }', None, id="10MB-string"),
    pytest.param(
        lambda: 'rule r { description "' + "x" * BIG, ("E108", 1, 22), id="10MB-unterminated-string"
    ),
    pytest.param(lambda: "@" * BIG, ("E107", 1, 1), id="10MB-garbage"),
    pytest.param(lambda: "rule r { when " + "(" * BIG, ("E105", 1, 15 + 63), id="10MB-open-brackets"),
    pytest.param(lambda: "rule " + "a" * BIG, ("E109", 1, 6 + BIG), id="10MB-name"),
    pytest.param(lambda: "rule r { when " + "not " * 5000 + "a }", ("E105", 1, 15 + 4 * 64), id="5000-nots"),
    pytest.param(
        lambda: "rule r { match " + '{"a": ' * 5000 + "1" + "}" * 5000 + " }",
        ("E105", 1, 16 + 6 * 63),
        id="5000-deep-json",
    ),
    pytest.param(lambda: "rule r {\x00}", ("E107", 1, 9), id="nul-character"),
]


@pytest.mark.parametrize(("make", "first"), HOSTILE)
def test_hostile_input_gives_diagnostics_not_tracebacks(
    make: Callable[[], str], first: tuple[str, int, int] | None
) -> None:
    rs, diags = parse(make())
    if first is None:
        assert diags == [] and rs is not None
    else:
        assert rs is None and diags
        d = diags[0]
        assert d.span is not None and (d.code, d.span.line, d.span.column) == first


_NOISE = st.lists(
    st.sampled_from(
        list("ruletagwhnd $.[](){}\"'`#:,=<>!-+*/%f0123456789\n\t\r\\&")
        + ["rule ", "target ", " when ", " and ", " in ", " not ", 'f"{', "route to ", "match {"]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_NOISE)
def test_any_text_gives_a_result_or_diagnostics(text: str) -> None:
    rs, diags = parse(text)
    assert (rs is None) == any(d.is_error for d in diags)
    assert all(d.span is not None and d.span.line >= 1 and d.span.column >= 1 for d in diags)


# --- the parser's trees and the piecewise parse ------------------------------------------------------

# Lark's own trees with its own `propagate_positions`: the positions dsl.Node trees must have.
_REFERENCE_OPTIONS = {
    "parser": "lalr",
    "lexer": "contextual",
    "propagate_positions": True,
    "maybe_placeholders": True,
    "start": ["rules_file", "expr_only", "path_only"],
}


@pytest.fixture(scope="module")
def lark_reference() -> Lark:
    return Lark(grammar_text(), postlex=dsl_tree._NamesEverywhere(), **_REFERENCE_OPTIONS)


def _same_tree(ours: object, theirs: object) -> None:
    if isinstance(theirs, Tree):
        assert isinstance(ours, dsl_tree.Node) and ours.data == theirs.data, (ours, theirs)
        m = theirs.meta
        if m.empty:
            assert ours.line == 0, ours
        else:
            assert (ours.line, ours.column, ours.end_line, ours.end_column) == (
                m.line,
                m.column,
                m.end_line,
                m.end_column,
            ), ours.data
        assert len(ours.children) == len(theirs.children), ours.data
        for a, b in zip(ours.children, theirs.children, strict=True):
            _same_tree(a, b)
    elif isinstance(theirs, Token):
        assert isinstance(ours, Token) and (ours.type, ours.value) == (theirs.type, theirs.value)
        assert (ours.line, ours.column, ours.end_line, ours.end_column) == (
            theirs.line,
            theirs.column,
            theirs.end_line,
            theirs.end_column,
        )
    else:
        assert ours is None and theirs is None


def _compare_parsers(reference: Lark, text: str, start: str) -> None:
    try:
        theirs = reference.parse(text, start=start)
    except UnexpectedInput:
        with pytest.raises(UnexpectedInput):
            dsl_tree.lark_parser().parse(text, start=start)
        return
    _same_tree(dsl_tree.lark_parser().parse(text, start=start), theirs)


TREE_CASES = [
    pytest.param("", "rules_file", id="empty-file"),
    pytest.param(SAMPLE, "rules_file", id="sample"),
    pytest.param("target a = x()\ntarget b = y(a: [], b: {}, c: -1,) { }", "rules_file", id="empty-parts"),
    pytest.param(
        "rule r priority -2 { on match stop on error null_fill disabled }", "rules_file", id="kept-words"
    ),
    pytest.param('deduplicate false metadata {"a": [1, {"b": null}],}', "rules_file", id="settings"),
    pytest.param("((a))", "expr_only", id="parentheses"),
    pytest.param("(a or b) and (c)", "expr_only", id="parentheses-at-the-ends"),
    pytest.param("-(-x) * (1 + 2) - 3 % y", "expr_only", id="arithmetic"),
    pytest.param("not (a) == [] and {} != {b: (1), 'c': [2,]}", "expr_only", id="brackets"),
    pytest.param("if (a) then f(x, (y),) else g()", "expr_only", id="conditional-call"),
    pytest.param('any(i in (data.items): (i.p) > 1) or exists($["a"][0])', "expr_only", id="quantifier"),
    pytest.param('f"{a}" + `b c`.d[-1]["e"]', "expr_only", id="template-fields"),
    pytest.param("$", "path_only", id="root"),
    pytest.param("data.items[0].`x`", "path_only", id="path"),
]


@pytest.mark.parametrize(("text", "start"), TREE_CASES)
def test_parse_trees_have_larks_positions(lark_reference: Lark, text: str, start: str) -> None:
    _compare_parsers(lark_reference, text, start)


def test_doc_examples_have_larks_positions(lark_reference: Lark) -> None:
    for param in _doc_examples():
        example = param.values[0]  # type: ignore[attr-defined]
        _compare_parsers(lark_reference, str(example), "rules_file")


@settings(max_examples=300, deadline=None)
@given(text=_NOISE, start=st.sampled_from(["rules_file", "expr_only"]))
def test_any_text_gets_larks_tree(lark_reference: Lark, text: str, start: str) -> None:
    _compare_parsers(lark_reference, text, start)


_ATOMS = st.sampled_from(
    [
        "a",
        "data.x[0]",
        "1",
        '"s"',
        "[]",
        "[1, (2),]",
        "{}",
        "{k: (v)}",
        "f(x)",
        "exists(a.b)",
        "-3",
        "`q r`",
        "$",
    ]
)
_EXPRS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(
            inner, st.sampled_from([" and ", " or ", " + ", " * ", " == ", " in ", " like "]), inner
        ).map("".join),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"not {e}"),
        inner.map(lambda e: f"-{e}"),
        st.tuples(inner, inner, inner).map(lambda t: f"if {t[0]} then {t[1]} else ({t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"any(i in {t[0]}: {t[1]})"),
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(expr=_EXPRS)
def test_expressions_get_larks_positions(lark_reference: Lark, expr: str) -> None:
    _compare_parsers(lark_reference, expr, "expr_only")
    _compare_parsers(lark_reference, f"rule r {{\n  when {expr}\n  set x = {expr}\n}}", "rules_file")


def _spanned(value: object) -> object:
    """A value with the spans that IR equality leaves out, for comparing positions too."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(_spanned(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple | list):
        return tuple(_spanned(v) for v in value)
    return value


def _both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed in pieces as small as can be, and in one piece: the same IR, spans and diagnostics."""
    monkeypatch.setattr(dsl, "PIECE_CHARS", 1)
    pieces = parse(text)
    monkeypatch.setattr(dsl, "PIECE_CHARS", 10**9)
    whole = parse(text)
    assert _spanned(pieces[0]) == _spanned(whole[0])
    assert pieces[1] == whole[1]


PIECES = [
    pytest.param(SAMPLE * 3, id="many-items"),
    pytest.param(
        "rule a { when x and\nrule == 1 }\nrule b {\n  when y and\n  target == 2\n}\n", id="cut-inside-a-rule"
    ),
    pytest.param("default route to a,\nrule\nrule x { }\n", id="cut-inside-a-default-route"),
    pytest.param("deduplicate false\nrule a { }\ndeduplicate true\n", id="setting-twice-in-two-pieces"),
    pytest.param(
        "rule a { when " + "not " * 70 + "x }\nrule b { when " + "not " * 70 + "y }\n",
        id="too-deep-reported-once",
    ),
    pytest.param("rule a { }\nrule b { when x = 1 }\nrule c { route to }\n", id="syntax-errors"),
    pytest.param(
        'rule a { description "\\q" }\nrule b { on match stop on match stop }\n', id="lowering-errors"
    ),
    pytest.param(
        "# a comment\n\nrule a { }\n  target t = stdout\n\tdefault route to t\n", id="indented-items"
    ),
]


@pytest.mark.parametrize("text", PIECES)
def test_pieces_parse_like_the_whole_file(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _both_ways(text, monkeypatch)


@settings(max_examples=200, deadline=None)
@given(_NOISE)
def test_any_text_parses_the_same_in_pieces(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _both_ways(text, monkeypatch)


def test_a_large_file_is_parsed_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(f"rule r{i} {{\n  when data.n == {i}\n  route to t\n}}\n" for i in range(2000))
    starts = [start for start, _ in dsl.pieces(text)]
    assert len(starts) > 10 and all(text[s:].startswith("rule ") for s in starts)

    def no_whole_file_parse(source: Source) -> None:
        raise AssertionError("a valid file should not need the one-tree path")

    monkeypatch.setattr(dsl, "parse_file_tree", no_whole_file_parse)
    rs = ok(text)
    assert [r.name for r in rs.rules] == [f"r{i}" for i in range(2000)]
    assert rs.rules[-1].span == Span("t.rules", 4 * 1999 + 1, 6, 4 * 1999 + 1, 11)


def test_parser_is_built_once() -> None:
    assert dsl_tree.lark_parser() is dsl_tree.lark_parser()


def test_expected_words_groups_and_names_terminals() -> None:
    terminals = {t.name for t in dsl_tree.lark_parser().terminals}
    words = dsl_errors.expected_words(terminals)
    assert "__ANON" not in words and "RPAR" not in words and "an expression" in words


# --- golden renderings --------------------------------------------------------------------------------

GOLDEN_CASES = {
    "missing-brace": "target a = stdout\nrule one {\n  when x == 1\n  route to a\nrule two {\n  route to a\n}\n",
    "single-equals": "rule r {\n  when data.x = 1\n}\n",
    "unterminated": 'rule r {\n  description "Orders over 1000\n  route to a\n}\n',
    "reserved-word": "rule r {\n  when any == 1\n}\n",
    "and-and": "rule r {\n  when a == 1 && b == 2\n}\n",
    "lowering": (
        'target t = http(url: "a", url: "b")\n'
        "rule r priority 2.5 {\n"
        '  description "tab\\q"\n'
        '  when ip in cidr("10.0.0.1/33") and f"{a} }"\n'
        "  on match stop\n  on match continue\n}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_rendering(name: str, golden: Golden) -> None:
    file = f"{name}.rules"
    src = Source(file, GOLDEN_CASES[name])
    rs, diags = parse_rules(src)
    assert rs is None
    golden.check(f"dsl/{name}.txt", render_text(diags, {file: src}) + "\n")


# --- the documentation ----------------------------------------------------------------------------------

_FENCE = re.compile(r"^```rules\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _doc_examples() -> list[object]:
    text = (ROOT / "docs" / "rule-language.md").read_text(encoding="utf-8")
    out: list[object] = []
    for i, m in enumerate(_FENCE.finditer(text)):
        line = text.count("\n", 0, m.start()) + 2
        out.append(pytest.param(m.group(1), line, id=f"example-{i + 1}-line-{line}"))
    return out


def test_docs_have_examples() -> None:
    assert len(_doc_examples()) >= 6


@pytest.mark.parametrize(("example", "line"), _doc_examples())
def test_doc_example_parses(example: str, line: int) -> None:
    src = Source("docs/rule-language.md", "\n" * (line - 1) + example)
    rs, diags = parse_rules(src)
    assert diags == [], render_text(diags, {src.name: src})
    assert rs is not None and (rs.rules or rs.targets)
