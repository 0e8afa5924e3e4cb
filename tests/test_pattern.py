"""EventBridge patterns: lowering to IR, rejection reasons, spans, limits, the reference matcher, explain.

The conformance judges (AWS-validated cases, CL2 counts) are in test_pattern_corpus.py;
the examples of docs/event-patterns.md run here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic, RuleError
from rules_engine.model.ir import (
    EventPattern,
    MAnythingBut,
    MCidr,
    MEqualsIgnoreCase,
    MExact,
    MExists,
    MNumeric,
    MPrefix,
    MSuffix,
    MWildcard,
    PatternAnd,
    PatternField,
    PatternOr,
)
from rules_engine.model.source import Locator, Pointer, Span
from rules_engine.patterns.api import test_event_pattern
from rules_engine.patterns.evaluate import (
    explain_pattern,
    field_values,
    match_pattern,
    value_matches,
    wildcard_matches,
)
from rules_engine.patterns.lower import MAX_DEPTH, lower_pattern, parse_pattern_json
from rules_engine.patterns.operands import ip_value
from rules_engine.patterns.wildcard import wildcard_complexity

DOC = Path(__file__).resolve().parents[1] / "docs" / "event-patterns.md"


def lower(pattern: Any) -> EventPattern:
    lowered, diags = lower_pattern(pattern, Locator("t"), ())
    assert lowered is not None, diags
    return lowered


def errors(pattern: Any) -> list[Diagnostic]:
    lowered, diags = lower_pattern(pattern, Locator("t"), ())
    assert lowered is None and diags
    return diags


def F(path: tuple[str, ...], *matchers: Any) -> PatternField:
    return PatternField(path, tuple(matchers))


# --- docs ---------------------------------------------------------------------------------------


def _doc_examples() -> list[Any]:
    blocks = re.findall(r"```pattern-example\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return [pytest.param(json.loads(b), id=f"doc-{i:02d}") for i, b in enumerate(blocks)]


def test_docs_have_examples_for_every_operator() -> None:
    examples = [p.values[0] for p in _doc_examples()]
    assert len(examples) >= 50
    text = json.dumps([e["pattern"] for e in examples])
    for op in ("prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric",
               "exists", "cidr", "$or"):  # fmt: skip
        assert f'"{op}"' in text, op
    assert {e["matches"] for e in examples} == {True, False}


@pytest.mark.parametrize("example", _doc_examples())
def test_doc_example(example: dict[str, Any]) -> None:
    assert test_event_pattern(example["pattern"], example["event"]) is example["matches"]
    lowered = lower(example["pattern"])
    assert (explain_pattern(lowered, example["event"]) is None) is example["matches"]


def test_docs_list_every_reason_we_emit() -> None:
    """Every AWS reason string in pattern.py is in the doc's rejection table."""
    source = (Path(__file__).resolve().parents[1] / "rules_engine" / "patterns" / "lower.py").read_text()
    doc = DOC.read_text(encoding="utf-8").replace("\\|", "|")
    reasons = re.findall(r'(?:_Invalid\([^,]+,|fail\([^,]+,)\s*f?"([^"{]{12,})', source)
    assert len(reasons) > 20
    for reason in reasons:
        assert reason.strip() in doc, reason


# --- lowering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "root"),
    [
        pytest.param(
            {"source": ["aws.ec2"], "detail": {"state": ["a", 1, True, None]}},
            PatternAnd((F(("source",), MExact("aws.ec2")),
                        F(("detail", "state"), MExact("a"), MExact(1), MExact(True), MExact(None)))),
            id="exact-values-nested-paths",
        ),
        pytest.param(
            {"a": [{"prefix": "p"}, {"suffix": {"equals-ignore-case": "S"}}, {"equals-ignore-case": "e"},
                   {"wildcard": "w*"}, {"exists": False}, {"cidr": "10.0.0.5/24"}, {"exactly": "x"}]},
            PatternAnd((F(("a",), MPrefix("p"), MSuffix("S", True), MEqualsIgnoreCase("e"), MWildcard("w*"),
                          MExists(False), MCidr("10.0.0.5/24"), MExact("x")),)),
            id="string-operators",
        ),
        pytest.param(
            {"n": [{"numeric": ["=", 3]}, {"numeric": [">", 0, "<=", 5]}, {"numeric": ["<", 1.5]}]},
            PatternAnd((F(("n",), MNumeric((("=", 3.0),)), MNumeric(((">", 0.0), ("<=", 5.0))),
                          MNumeric((("<", 1.5),))),)),
            id="numeric",
        ),
        pytest.param(
            {"a": [{"anything-but": "x"}, {"anything-but": [1, 2]}, {"anything-but": {"prefix": ["p", "q"]}},
                   {"anything-but": {"equals-ignore-case": "E"}}, {"anything-but": {"wildcard": "*/x"}}]},
            PatternAnd((F(("a",), MAnythingBut((MExact("x"),)), MAnythingBut((MExact(1), MExact(2))),
                          MAnythingBut((MPrefix("p"), MPrefix("q"))), MAnythingBut((MEqualsIgnoreCase("E"),)),
                          MAnythingBut((MWildcard("*/x"),))),)),
            id="anything-but-forms",
        ),
        pytest.param(
            {"detail": {"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}, "$or": [{"d": ["3"]}, {"e": ["4"]}]}]}},
            PatternAnd((), (PatternOr((
                PatternAnd((F(("detail", "a"), MExact("1")),)),
                PatternAnd((F(("detail", "b", "c"), MExact("2")),), (PatternOr((
                    PatternAnd((F(("detail", "d"), MExact("3")),)),
                    PatternAnd((F(("detail", "e"), MExact("4")),)),
                )),)),
            )),)),
            id="nested-or-gets-absolute-paths",
        ),
        pytest.param(
            {"detail": {"state.status": ["x"]}},
            PatternAnd((F(("detail", "state.status"), MExact("x")),)),
            id="dotted-key-kept-as-written",
        ),
        pytest.param(
            {"a": {"b": ["x"]}, "a.b": ["y"]},
            PatternAnd((F(("a.b",), MExact("y")),)),
            id="same-dotted-name-last-wins",
        ),
        pytest.param(
            {"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]},
            PatternAnd((), (PatternOr((
                PatternAnd((F(("a",), MExact("y")),)),
                PatternAnd((F(("a",), MExact("x")), F(("b",), MExact("z")))),
            )),)),
            id="reassigned-across-or-expands-to-branches",
        ),
        pytest.param(
            {"ip": [{"cidr": "2001:0db8:1234:1a00:0000::/64"}, {"cidr": "::ffff:a00:1/8"}]},
            PatternAnd((F(("ip",), MCidr("2001:db8:1234:1a00::/64"), MCidr("10.0.0.1/8")),)),
            id="cidr-normalised-text",
        ),
    ],
)  # fmt: skip
def test_lowering(pattern: Any, root: PatternAnd) -> None:
    assert lower(pattern) == EventPattern(root)


# --- rejections ---------------------------------------------------------------------------------

R = "Event pattern is not valid. Reason: "


@pytest.mark.parametrize(
    ("pattern", "code", "reason"),
    [
        pytest.param([], codes.PATTERN_STRUCTURE, "Filter is not an object", id="array-pattern"),
        pytest.param("x", codes.PATTERN_STRUCTURE, "Filter is not an object", id="string-pattern"),
        pytest.param({}, codes.PATTERN_STRUCTURE, "Empty objects are not allowed", id="empty-pattern"),
        pytest.param({"a": {}}, codes.PATTERN_STRUCTURE, "Empty objects are not allowed", id="empty-nested"),
        pytest.param({"int": 42}, codes.PATTERN_STRUCTURE, '"int" must be an object or an array', id="bare-int"),
        pytest.param({"a": None}, codes.PATTERN_STRUCTURE, '"a" must be an object or an array', id="bare-null"),
        pytest.param({"a": []}, codes.PATTERN_STRUCTURE, "Empty arrays are not allowed", id="empty-array"),
        pytest.param({"a": [[1]]}, codes.PATTERN_OPERAND,
                     "Match value must be String, number, true, false, or null", id="nested-array"),
        pytest.param({"a": [float("nan")]}, codes.PATTERN_OPERAND,
                     "Match value must be String, number, true, false, or null", id="nan-value"),
        pytest.param({"a": [{}]}, codes.PATTERN_STRUCTURE, "Match expression name not found", id="empty-expr"),
        pytest.param({"a": [{"prefix": "a", "suffix": "b"}]}, codes.PATTERN_STRUCTURE,
                     "Only one key allowed in match expression", id="two-operators"),
        pytest.param({"a": [{"numeric": ["<", 1], "x": 1}]}, codes.PATTERN_STRUCTURE,
                     "Too many elements in numeric expression", id="numeric-extra-key"),
        pytest.param({"a": [{"EXISTS": True}]}, codes.PATTERN_UNKNOWN_MATCH, "Unrecognized match type EXISTS",
                     id="operator-case"),
        pytest.param({"a": [{"contains": "x"}]}, codes.PATTERN_UNKNOWN_MATCH, "Unrecognized match type contains",
                     id="unknown-operator"),
        pytest.param({"a": [{"prefix": 1}]}, codes.PATTERN_OPERAND, "prefix match pattern must be a string",
                     id="prefix-int"),
        pytest.param({"a": [{"prefix": {}}]}, codes.PATTERN_STRUCTURE, "Prefix expression name not found",
                     id="prefix-empty-object"),
        pytest.param({"a": [{"suffix": {"wildcard": "x"}}]}, codes.PATTERN_UNKNOWN_MATCH,
                     "Unsupported suffix pattern: wildcard", id="suffix-unsupported"),
        pytest.param({"a": [{"prefix": {"equals-ignore-case": 1}}]}, codes.PATTERN_OPERAND,
                     "equals-ignore-case match pattern must be a string", id="prefix-eic-int"),
        pytest.param({"a": [{"suffix": [".png"]}]}, codes.PATTERN_OPERAND, "suffix match pattern must be a string",
                     id="suffix-list"),
        pytest.param({"a": [{"exactly": 1}]}, codes.PATTERN_OPERAND, "exact match pattern must be a string",
                     id="exactly-int"),
        pytest.param({"a": [{"exists": "yes"}]}, codes.PATTERN_OPERAND,
                     "exists match pattern must be either true or false.", id="exists-string"),
        pytest.param({"a": [{"exists": True, "prefix": "x"}]}, codes.PATTERN_STRUCTURE,
                     "Only one key allowed in match expression", id="exists-extra-key"),
        pytest.param({"a": [{"cidr": 5}]}, codes.PATTERN_OPERAND, "prefix match pattern must be a string",
                     id="cidr-int"),
        pytest.param({"a": [{"anything-but": True}]}, codes.PATTERN_OPERAND,
                     "Value of anything-but must be an array or single string/number value.", id="ab-bool"),
        pytest.param({"a": [{"anything-but": ["a", 1]}]}, codes.PATTERN_OPERAND,
                     "Inside anything but list, either all values are number or string, mixed type is not supported",
                     id="ab-mixed"),
        pytest.param({"a": [{"anything-but": []}]}, codes.PATTERN_OPERAND,
                     "Inside anything but list, either all values are number or string, mixed type is not supported",
                     id="ab-empty-list"),
        pytest.param({"a": [{"anything-but": ["a", True]}]}, codes.PATTERN_OPERAND,
                     "Inside anything but list, start|null|boolean is not supported.", id="ab-list-bool"),
        pytest.param({"a": [{"anything-but": {}}]}, codes.PATTERN_STRUCTURE,
                     "Anything-But expression name not found", id="ab-empty-object"),
        pytest.param({"a": [{"anything-but": {"numeric": [">", 1]}}]}, codes.PATTERN_UNKNOWN_MATCH,
                     "Unsupported anything-but pattern: numeric", id="ab-numeric"),
        pytest.param({"a": [{"anything-but": {"suffix": ""}}]}, codes.PATTERN_OPERAND,
                     "Null prefix/suffix not allowed", id="ab-empty-suffix"),
        pytest.param({"a": [{"anything-but": {"prefix": ["x", ""]}}]}, codes.PATTERN_OPERAND,
                     "Null prefix/suffix not allowed", id="ab-empty-prefix-in-list"),
        pytest.param({"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}, codes.PATTERN_STRUCTURE,
                     "Too many elements in numeric expression", id="ab-two-inner-keys"),
        pytest.param({"a": [{"anything-but": 6e9}]}, codes.PATTERN_NUMERIC,
                     "Value must be between -5.0E9 and 5.0E9, inclusive", id="ab-number-out-of-range"),
        pytest.param({"a": [{"anything-but": {"wildcard": "a**"}}]}, codes.PATTERN_WILDCARD,
                     "Consecutive wildcard characters at pos 2", id="ab-wildcard-double-star"),
        pytest.param({"a": [{"numeric": 10}]}, codes.PATTERN_NUMERIC, "Value of numeric must be an array.",
                     id="numeric-not-array"),
        pytest.param({"a": [{"numeric": []}]}, codes.PATTERN_NUMERIC, "Invalid member in numeric match: ]",
                     id="numeric-empty"),
        pytest.param({"a": [{"numeric": [5, ">"]}]}, codes.PATTERN_NUMERIC, "Invalid member in numeric match: 5",
                     id="numeric-number-first"),
        pytest.param({"a": [{"numeric": ["!=", 5]}]}, codes.PATTERN_NUMERIC,
                     "Unrecognized numeric range operator: !=", id="numeric-bad-op"),
        pytest.param({"a": [{"numeric": ["=", "5"]}]}, codes.PATTERN_NUMERIC, "Value of equals must be numeric",
                     id="numeric-eq-string"),
        pytest.param({"a": [{"numeric": [">=", True]}]}, codes.PATTERN_NUMERIC, "Value of >= must be numeric",
                     id="numeric-bool"),
        pytest.param({"a": [{"numeric": ["<", 5, ">", 1]}]}, codes.PATTERN_NUMERIC,
                     "Too many elements in numeric expression", id="numeric-upper-then-lower"),
        pytest.param({"a": [{"numeric": [">", 0, 5]}]}, codes.PATTERN_NUMERIC, "Bad value in numeric range: 5",
                     id="numeric-range-missing-op"),
        pytest.param({"a": [{"numeric": [">", 0, ">", 0]}]}, codes.PATTERN_NUMERIC,
                     "Bad numeric range operator: >", id="numeric-two-lower-bounds"),
        pytest.param({"a": [{"numeric": [">", 0, "<"]}]}, codes.PATTERN_NUMERIC, "Value of < must be numeric",
                     id="numeric-range-missing-value"),
        pytest.param({"a": [{"numeric": [">", 0, "<", 5, 6]}]}, codes.PATTERN_NUMERIC,
                     "Too many terms in numeric range expression", id="numeric-range-too-long"),
        pytest.param({"a": [{"numeric": [">", 5, "<", 5]}]}, codes.PATTERN_NUMERIC, "Bottom must be less than top",
                     id="numeric-empty-range"),
        pytest.param({"a": [{"numeric": [">", -5.1e9]}]}, codes.PATTERN_NUMERIC,
                     "Value must be between -5.0E9 and 5.0E9, inclusive", id="numeric-too-small"),
        pytest.param({"a": [{"wildcard": "a\\b"}]}, codes.PATTERN_WILDCARD, "Invalid escape character at pos 2",
                     id="wildcard-bad-escape"),
        pytest.param({"a": [{"wildcard": "é**"}]}, codes.PATTERN_WILDCARD,
                     "Consecutive wildcard characters at pos 3", id="wildcard-pos-counts-utf8-bytes"),
        pytest.param({"a": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}, codes.PATTERN_WILDCARD,
                     "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
                     "sequences after a wildcard character", id="wildcard-too-complex"),
        pytest.param({"a": [{"wildcard": "*.bif"}, {"wildcard": "*.tiff"}, {"wildcard": "*.tif"},
                            {"wildcard": "*.svs"}]}, codes.PATTERN_WILDCARD,
                     "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
                     "sequences after a wildcard character", id="wildcards-too-complex-together"),
        pytest.param({"a": [{"cidr": "10.0.0.0"}]}, codes.PATTERN_CIDR, "Malformed CIDR, one '/' required",
                     id="cidr-no-slash"),
        pytest.param({"a": [{"cidr": "10.0.0.0/"}]}, codes.PATTERN_CIDR, "Malformed CIDR, one '/' required",
                     id="cidr-trailing-slash"),
        pytest.param({"a": [{"cidr": "10.0.0.0/x"}]}, codes.PATTERN_CIDR,
                     "Malformed CIDR, mask bits must be an integer", id="cidr-bad-mask"),
        pytest.param({"a": [{"cidr": "10.0.0.0/-1"}]}, codes.PATTERN_CIDR,
                     "Malformed CIDR, mask bits must not be negative", id="cidr-negative-mask"),
        pytest.param({"a": [{"cidr": "xx.11.xx/8"}]}, codes.PATTERN_CIDR, "Nonstandard IP address: xx.11.xx",
                     id="cidr-nonstandard"),
        pytest.param({"a": [{"cidr": "300.0.0.1/8"}]}, codes.PATTERN_CIDR, "Invalid IP address: 300.0.0.1",
                     id="cidr-invalid-v4"),
        pytest.param({"a": [{"cidr": "1::2::3/8"}]}, codes.PATTERN_CIDR, "Invalid IP address: 1::2::3",
                     id="cidr-invalid-v6"),
        pytest.param({"a": [{"cidr": "10.0.0.1/32"}]}, codes.PATTERN_CIDR, "IPv4 mask bits must be < 32",
                     id="cidr-v4-mask"),
        pytest.param({"a": [{"cidr": "::1/128"}]}, codes.PATTERN_CIDR, "IPv6 mask bits must be < 128",
                     id="cidr-v6-mask"),
        pytest.param({"$or": {"a": ["x"]}}, codes.PATTERN_OR, "It must be an Array followed with $or.",
                     id="or-object"),
        pytest.param({"$or": [{"a": ["x"]}]}, codes.PATTERN_OR,
                     "There must have at least 2 Objects in $or relationship.", id="or-single"),
        pytest.param({"$or": [{"a": ["x"]}, "b"]}, codes.PATTERN_OR,
                     "Only JSON object is allowed in array of $or relationship.", id="or-string-branch"),
        pytest.param({"$or": [{"a": ["x"]}, {}]}, codes.PATTERN_STRUCTURE, "Empty objects are not allowed",
                     id="or-empty-branch"),
        pytest.param({"$or": [{"a": ["x"]}, {"b": {"numeric": [1]}}]}, codes.PATTERN_OR,
                     "numeric is Ruler reserved fieldName which cannot be used inside $or.", id="or-reserved-name"),
    ],
)  # fmt: skip
def test_rejection(pattern: Any, code: codes.Code, reason: str) -> None:
    diags = errors(pattern)
    assert (diags[0].code, diags[0].message) == (code.code, R + reason)
    assert diags[0].severity == "error" and diags[0].span is not None


def test_many_wildcards_on_different_fields_are_fine() -> None:
    pattern = {f"f{i}": [{"wildcard": "*.bif"}] for i in range(6)}
    assert lower(pattern).root.fields[5].path == ("f5",)


@pytest.mark.parametrize(
    ("patterns", "score"),
    [
        pytest.param(["*:*:*:*:*:event-bus/*"], 13, id="aws-rejected"),
        pytest.param(["arn:aws:events:us-east-1:*:event-bus/*"], 5, id="aws-accepted-arn"),
        pytest.param(["/Users/*/dir/dir/dir/dir/dir/doc.txt"], 8, id="aws-accepted-repeats"),
        pytest.param(["*/init/*", "*/dir/*"], 10, id="aws-accepted-anything-but-list"),
        pytest.param(["abc", "a\\*c"], 0, id="no-star-no-cost"),
        pytest.param(["2*0*1*7"], 7, id="cl2-rule"),
    ],
)
def test_wildcard_complexity(patterns: list[str], score: int) -> None:
    assert wildcard_complexity(patterns) == score


# --- collecting all problems, spans, pointers ----------------------------------------------------


def test_all_problems_are_reported_each_at_its_node() -> None:
    text = (
        '{"detail": {\n'
        '  "state": [{"prefix": 5}, "ok", {"numeric": [">", 0, ">", 1]}],\n'
        '  "x": 3,\n'
        '  "y": [{"EXISTS": true}]\n'
        '}, "z": []}'
    )
    lowered, diags = parse_pattern_json(text, "p.json")
    assert lowered is None
    got = [(d.code, d.line, d.column, d.span.end_column if d.span else None) for d in diags]
    assert got == [
        ("E313", 2, 24, 25),  # the 5
        ("E314", 2, 55, 58),  # the second ">"
        ("E311", 3, 8, 9),  # the 3
        ("E312", 4, 10, 18),  # the key "EXISTS"
        ("E311", 5, 9, 11),  # the []
    ]
    assert all(d.file == "p.json" for d in diags)


class PointerLocator(Locator):
    """Answers with a span whose file name is the pointer asked for, so tests can read it back."""

    def value(self, pointer: Pointer) -> Span:
        return Span("value:" + "/".join(map(str, pointer)), 1, 1)

    def key(self, pointer: Pointer) -> Span:
        return Span("key:" + "/".join(map(str, pointer)), 1, 1)


@pytest.mark.parametrize(
    ("pattern", "where"),
    [
        pytest.param({"d": {"s": [{"prefix": 1}]}}, "value:rules/0/match/d/s/0/prefix", id="operand"),
        pytest.param({"d": [{"NUMERIC": [1]}]}, "key:rules/0/match/d/0/NUMERIC", id="unknown-operator-key"),
        pytest.param({"d": {"$or": [{"a": [1]}, {"b": [{"numeric": [">", 1, "<", 0]}]}]}},
                     "value:rules/0/match/d/$or/1/b/0/numeric/3", id="inside-or"),
        pytest.param({"d": {"a": []}}, "value:rules/0/match/d/a", id="empty-array"),
    ],
)  # fmt: skip
def test_diagnostics_use_the_pointer_of_the_offending_node(pattern: Any, where: str) -> None:
    _, diags = lower_pattern(pattern, PointerLocator("f"), ("rules", 0, "match"))
    assert [d.file for d in diags] == [where]


def test_ir_spans_point_into_the_json_text() -> None:
    text = '{\n  "detail": {\n    "state": ["a", {"prefix": "b"}]\n  }\n}'
    lowered, _ = parse_pattern_json(text, "p.json")
    assert lowered is not None
    (field,) = lowered.root.fields
    assert (field.span.line, field.span.column) == (3, 5)
    assert [(m.span.line, m.span.column) for m in field.matchers] == [(3, 15), (3, 20)]


def test_duplicate_keys_keep_the_last_value_and_its_span() -> None:
    lowered, _ = parse_pattern_json('{"a": ["first"],\n "a": ["second"]}')
    assert lowered is not None
    (field,) = lowered.root.fields
    assert field.matchers == (MExact("second"),)
    assert field.span.line == 2


def test_rule_error_renders_with_caret() -> None:
    with pytest.raises(RuleError) as info:
        test_event_pattern('{"a": [{"prefix": 1}]}', "{}")
    assert str(info.value).splitlines() == [
        "<pattern>:1:19: error[E313]: Event pattern is not valid. Reason: prefix match pattern must be a string",
        "   1 | {\"a\": [{\"prefix\": 1}]}",
        "     |                   ^",
    ]


# --- hostile input --------------------------------------------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cur = root
    for _ in range(depth):
        nxt: dict[str, Any] = {}
        cur["a"] = nxt
        cur = nxt
    cur["leaf"] = ["x"]
    return root


def test_deep_pattern_object_is_a_diagnostic_not_a_recursion_error() -> None:
    diags = errors(_nested(5000))
    assert [d.code for d in diags] == [codes.TOO_DEEP.code]
    assert diags[0].message == f"event pattern is nested deeper than {MAX_DEPTH} levels"


def test_pattern_at_the_depth_limit_is_accepted() -> None:
    (field,) = lower(_nested(MAX_DEPTH - 1)).root.fields
    assert len(field.path) == MAX_DEPTH


def test_deep_or_nesting_is_limited_too() -> None:
    pattern: dict[str, Any] = {"x": ["y"]}
    for _ in range(3000):
        pattern = {"$or": [pattern, {"z": ["w"]}]}
    assert [d.code for d in errors(pattern)] == [codes.TOO_DEEP.code]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 5000, id="arrays"),
        pytest.param('{"a":' * 5000, id="objects"),
        pytest.param('{"a": [' + "[" * 100_000 + "]" * 100_000 + "]}", id="balanced-but-deep"),
    ],
)
def test_deep_pattern_text_is_a_diagnostic(text: str) -> None:
    lowered, diags = parse_pattern_json(text)
    assert lowered is None
    assert [d.code for d in diags] == [codes.TOO_DEEP.code]


def test_matcher_walks_only_the_pattern_paths_of_huge_events() -> None:
    deep: Any = "needle"
    for _ in range(50_000):
        deep = [deep]  # arrays nested 50,000 deep along the matched path
    wide = {f"k{i}": {"nested": list(range(10))} for i in range(20_000)}
    event = {"detail": {"v": deep}, **wide}
    assert match_pattern(lower({"detail": {"v": ["needle"]}}), event) is True
    assert match_pattern(lower({"detail": {"v": [{"prefix": "x"}]}}), event) is False
    assert match_pattern(lower({"k19999": {"nested": [9]}}), event) is True


def test_test_event_pattern_is_not_collected_by_pytest() -> None:
    assert getattr(test_event_pattern, "__test__", True) is False


# --- the reference matcher ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        pytest.param({"a": {"b": ["x"], "c": ["y"]}}, {"a": [{"b": "x", "c": "n"}, {"b": "n", "c": "y"}]}, False,
                     id="array-consistency-objects"),
        pytest.param({"a": {"b": ["x"], "c": ["y"]}}, {"a": [{"b": "x", "c": "n"}, {"b": "x", "c": "y"}]}, True,
                     id="array-consistency-same-element"),
        pytest.param({"a": {"b": ["x"]}, "d": ["y"]}, {"a": [{"b": "x"}], "d": ["n", "y"]}, True,
                     id="different-arrays-are-independent"),
        pytest.param({"a": {"b": {"c": ["x"]}, "d": ["y"]}},
                     {"a": [[{"b": [{"c": "x"}], "d": "n"}], [{"d": "y"}]]}, False, id="consistency-nested-arrays"),
        pytest.param({"a": {"$or": [{"b": ["x"]}, {"c": ["q"]}], "d": ["y"]}},
                     {"a": [{"b": "x"}, {"d": "y"}]}, False, id="consistency-through-or"),
        pytest.param({"a": {"b": ["x"], "c": [{"exists": False}]}}, {"a": [{"b": "x"}, {"c": 1}]}, False,
                     id="exists-false-is-global"),
        pytest.param({"a": [1]}, {"a": [[[1]]]}, True, id="arrays-of-arrays-flatten"),
        pytest.param({"a": [{"exists": True}]}, {"a": [None]}, True, id="exists-null-in-array"),
        pytest.param({"a": [{"exists": True}]}, {"a": [[], {}]}, False, id="exists-empty-containers"),
        pytest.param({"a": [{"exists": False}]}, "not an object", True, id="non-object-event"),
        pytest.param({"a": [1]}, {"a": 1.0000000001}, False, id="full-double-precision"),
        pytest.param({"a": [{"numeric": ["=", -122.42916360922355]}]}, {"a": -122.42916360922355}, True,
                     id="numeric-equals-many-decimals"),
        pytest.param({"a": [123456789012]}, {"a": 123456789012}, True, id="big-exact-number"),
        pytest.param({"a": [123456789012]}, {"a": 123456789012.0}, False, id="big-number-text-differs"),
        pytest.param({"a": [{"anything-but": 5}]}, {"a": True}, True, id="anything-but-bool"),
        pytest.param({"a": [{"anything-but": "10.0.0.1"}]}, {"a": "10.0.0.01"}, True,
                     id="anything-but-no-ip-normalising"),
        pytest.param({"a": [{"anything-but": {"prefix": []}}]}, {"a": "x"}, True, id="anything-but-empty-set"),
        pytest.param({"a": ["10.0.0.1"]}, {"a": "::ffff:10.0.0.1"}, False, id="exact-ip-needs-ip-shaped-event"),
        pytest.param({"a": ["10.0.0.1"]}, {"a": "::ffff:a00:1"}, True, id="exact-ip-v4-mapped"),
        pytest.param({"a": [{"cidr": "10.0.0.0/8"}]}, {"a": ["1.1.1.1", "10.9.9.9"]}, True, id="cidr-any-element"),
        pytest.param({"a": [{"cidr": "10.0.0.0/8"}]}, {"a": "::1"}, False, id="cidr-family-mismatch"),
        pytest.param({"a": [{"prefix": {"equals-ignore-case": "straße"}}]}, {"a": "STRASSE"}, False,
                     id="ignore-case-is-per-character"),
        pytest.param({"a": [{"equals-ignore-case": "ÉTÉ"}]}, {"a": "été"}, True, id="ignore-case-unicode"),
        pytest.param({"": {"": ["x"]}}, {"": {"": "x"}}, True, id="empty-keys"),
    ],
)  # fmt: skip
def test_match(pattern: Any, event: Any, expected: bool) -> None:
    assert match_pattern(lower(pattern), event) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        pytest.param("*", "", True, id="star-empty"),
        pytest.param("a*b*c", "abc", True, id="stars-zero-width"),
        pytest.param("a*b*c", "aXbYbZc", True, id="backtracking"),
        pytest.param("a*b*c", "aXbYbZ", False, id="missing-tail"),
        pytest.param("*abab", "ababab", True, id="overlap"),
        pytest.param("a\\\\b", "a\\b", True, id="escaped-backslash"),
        pytest.param("a\\*", "ab", False, id="escaped-star-is-literal"),
        pytest.param("", "", True, id="empty-matches-empty"),
    ],
)
def test_wildcard_matches(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_matches(pattern, text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10.0.0.1", (4, 0x0A000001), id="v4"),
        pytest.param("010.0.0.1", None, id="v4-leading-zero"),
        pytest.param("256.0.0.1", None, id="v4-out-of-range"),
        pytest.param("2001:DB8::1", (6, 0x20010DB8000000000000000000000001), id="v6"),
        pytest.param("::ffff:a00:1", (4, 0x0A000001), id="v4-mapped"),
        pytest.param("::ffff:10.0.0.1", None, id="dotted-v6-is-not-ip-shaped"),
        pytest.param("host.example", None, id="hostname"),
    ],
)
def test_ip_value(text: str, expected: tuple[int, int] | None) -> None:
    assert ip_value(text) == expected


def test_value_matches_exists_and_field_values() -> None:
    assert value_matches(MNumeric(((">=", 0.0),)), 0) is True
    assert value_matches(MNumeric(((">=", 0.0),)), False) is False
    witnesses = field_values({"a": [{"b": 1}, {"b": [2, {"c": 3}]}], "a.b": 4}, ("a", "b"))
    assert [w.value for w in witnesses] == [1, 2, 4]
    outer = witnesses[0].membership[0][0]
    inner = witnesses[1].membership[1][0]
    assert [w.membership for w in witnesses] == [((outer, 0),), ((outer, 1), (inner, 0)), ()]
    assert outer != inner


# --- explain ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        pytest.param({"detail": {"state": ["stopped", "terminated"]}}, {"detail": {"state": "running"}},
                     "detail.state: 'running' is not one of ['stopped', 'terminated']", id="one-of"),
        pytest.param({"detail": {"total": [{"numeric": [">", 1000]}]}}, {"detail": {"total": 950}},
                     "detail.total: 950 is not > 1000", id="numeric"),
        pytest.param({"detail": {"country": ["DE"]}}, {"detail": {}}, "detail.country: missing", id="missing"),
        pytest.param({"a": ["x"]}, {"a": "y"}, "a: 'y' is not 'x'", id="single-exact"),
        pytest.param({"a": [{"numeric": ["<", 5]}]}, {"a": "3"}, "a: '3' is not a number", id="not-a-number"),
        pytest.param({"a": [{"exists": False}]}, {"a": None}, "a: present (null), expected missing",
                     id="exists-false"),
        pytest.param({"a": [{"prefix": "x"}]}, {"a": "y"}, "a: 'y' does not match prefix 'x'", id="prefix"),
        pytest.param({"a": [{"prefix": "x"}, {"suffix": "z"}]}, {"a": "y"},
                     "a: 'y' matches none of prefix 'x', suffix 'z'", id="several-matchers"),
        pytest.param({"a": ["x"]}, {"a": ["y", "z"]}, "a: none of ['y', 'z'] matches 'x'", id="array-values"),
        pytest.param({"s": ["ok"], "$or": [{"a": [1]}, {"b": [2]}]}, {"s": "ok", "a": 2},
                     "no $or alternative matched: a: 2 is not 1; b: missing", id="or"),
        pytest.param({"e": {"f": ["A"], "l": ["D"]}}, {"e": [{"f": "A", "l": "S"}, {"f": "J", "l": "D"}]},
                     "e.l: matches only in a different element of the same array than e.f", id="consistency"),
        pytest.param({"a": ["x"]}, {"a": "x"}, None, id="match-is-none"),
    ],
)  # fmt: skip
def test_explain(pattern: Any, event: Any, expected: str | None) -> None:
    assert explain_pattern(lower(pattern), event) == expected


# --- properties -----------------------------------------------------------------------------------

_keys = st.sampled_from(["a", "b", "c"])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", "", "10.0.0.1"]))
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=10,
)
_matchers = st.one_of(
    _scalars,
    st.builds(lambda s: {"prefix": s}, st.sampled_from(["", "x", "1"])),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda n: {"numeric": [">=", n]}, st.integers(-3, 3)),
    st.builds(lambda s: {"anything-but": s}, st.sampled_from(["x", "y"])),
)
_patterns = st.recursive(
    st.dictionaries(_keys, st.lists(_matchers, min_size=1, max_size=3), min_size=1, max_size=2),
    lambda inner: st.dictionaries(_keys, inner, min_size=1, max_size=2),
    max_leaves=4,
)


def _shuffled(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shuffled(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_shuffled(v) for v in value]
    return value


@settings(max_examples=150, deadline=None)
@given(_patterns, st.dictionaries(_keys, _json, max_size=3))
def test_key_order_never_changes_a_verdict(pattern: dict[str, Any], event: dict[str, Any]) -> None:
    lowered = lower(pattern)
    verdict = match_pattern(lowered, event)
    assert match_pattern(lowered, _shuffled(event)) is verdict
    assert (explain_pattern(lowered, event) is None) is verdict
    # the JSON-text path and the decoded-value path agree
    assert test_event_pattern(json.dumps(pattern), json.dumps(event)) is verdict


@settings(max_examples=100, deadline=None)
@given(_patterns, _patterns, st.dictionaries(_keys, _json, max_size=3))
def test_or_of_two_patterns_is_either(p: dict[str, Any], q: dict[str, Any], event: dict[str, Any]) -> None:
    either = lower({"$or": [p, q]})
    assert match_pattern(either, event) is (match_pattern(lower(p), event) or match_pattern(lower(q), event))


def test_a_long_wildcard_is_refused_without_exploring_every_state() -> None:
    """Found by the fuzzer (docs/fuzzing.md): a 300-character wildcard with dozens of stars took
    seconds of CPU to score; the loader only asks whether the score is over the limit, so the
    exploration stops at the first set of live positions past it."""
    import rules_engine
    from rules_engine import RuleError

    pattern = "/Users/*/dir/dir/dir/dir/dir/doc.txt" * 9
    score = wildcard_complexity([pattern, "/Users/*/doc.txt"], stop_above=10)
    assert 10 < score < 10_000
    text = json.dumps({"targets": {"out": {"type": "stdout"}},
                       "rules": [{"name": "r", "match": {"f": [{"wildcard": pattern}]}, "targets": ["out"]}]})
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text)
    assert [d.code for d in ei.value.diagnostics] == ["E315"]


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_a_wildcard_holding_a_lone_surrogate_loads(engine: str) -> None:
    """Found by the fuzzer: YAML's "\\ud800" escape gives a lone surrogate, and the wildcard
    checks encoded the pattern as strict UTF-8 (a raw UnicodeEncodeError from loads)."""
    import rules_engine

    text = 'targets: {out: {type: stdout}}\nrules:\n  - {name: r, match: {x: [{wildcard: "a*\\ud800"}]}, targets: [out]}\n'
    rs = rules_engine.loads(text, engine=engine)
    assert rs.match({"x": "ab"}) == [] and rs.match({"x": "a\ud800"}) == ["r"]
