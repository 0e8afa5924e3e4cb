"""The EventBridge input transformer behaves as AWS documents it.

Sources (facts only): "Amazon EventBridge input transformation",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
(the example EC2 event, the table of templates and outputs, predefined variables, common
issues), and the InputTransformer API reference,
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html
(at most 100 variables, dot notation, a placeholder cannot be an object key).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rules_engine.model import ir
from rules_engine.model.values import MISSING
from rules_engine.patterns.input_transformer import (
    WILDCARD,
    check_input_transformer,
    compile_input_transformer,
    parse_input_path,
    select,
)

# The documentation's example EC2 event.
EC2: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
# The documentation's input path.
PATHS = (
    ("timestamp", "$.time"),
    ("instance", "$.detail.instance-id"),
    ("state", "$.detail.state"),
    ("resource", "$.resources[0]"),
)
NOW = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)


def fill(template: str, event: dict[str, Any] = EC2, paths: tuple[tuple[str, str], ...] = PATHS) -> Any:
    it = ir.InputTransformer(paths, template)
    assert check_input_transformer(it) == []
    fn = compile_input_transformer(it)
    assert fn is not None
    return fn(event, "example", NOW)


@pytest.mark.parametrize(
    ("template", "output"),
    [
        # The documentation's table, row by row.
        pytest.param('"instance <instance> is in <state>"', "instance i-0123456789 is in RUNNING", id="simple-string"),
        pytest.param('"instance \\"<instance>\\" is in <state>"', 'instance "i-0123456789" is in RUNNING',
                     id="string-with-escaped-quotes"),
        pytest.param('{"instance" : <instance>, "state": <state>}', {"instance": "i-0123456789", "state": "RUNNING"},
                     id="simple-json"),
        pytest.param('{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in '
                     '<state>"}',
                     {"instance": "i-0123456789", "state": "RUNNING",
                      "instanceStatus": 'instance "i-0123456789" is in RUNNING'}, id="json-strings-and-variables"),
        pytest.param('{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
                     {"instance": "i-0123456789", "state": [9, "RUNNING", True], "Transformed": "Yes"},
                     id="json-mix-of-variables-and-static"),
        pytest.param('{"instance" : <instance>, "ruleName" : <aws.events.rule-name>}',
                     {"instance": "i-0123456789", "ruleName": "example"}, id="reserved-variables-in-json"),
        pytest.param('"<aws.events.rule-name> triggered"', "example triggered", id="reserved-variable-in-string"),
        pytest.param('{"timestamp" : <timestamp>, "message": "instance \\"<instance>\\" is in <state>"}',
                     {"timestamp": "2015-11-11T21:29:54Z", "message": 'instance "i-0123456789" is in RUNNING'},
                     id="cloudwatch-log-group-strings-get-quotes"),
        # A template that is not JSON is a plain string: values pasted in as text.
        pytest.param("<instance> is in state <state>", "i-0123456789 is in state RUNNING", id="plain-text"),
        pytest.param("no placeholders: a < b, c > d", "no placeholders: a < b, c > d", id="plain-text-other-angles"),
        pytest.param('{"r": <resource>}', {"r": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"},
                     id="array-index"),
    ],
)
def test_documented_templates(template: str, output: Any) -> None:
    assert fill(template) == output


@pytest.mark.parametrize(
    ("template", "output"),
    [
        # "If you specify a variable to match a JSON path that doesn't exist in the event, that variable
        # isn't created and won't appear in the output": nothing in text, and "" as a JSON value (what AWS
        # delivered in LocalStack's recorded snapshots; issue 9, defect 18).
        pytest.param('{"gone": <gone>, "state": <state>}', {"gone": "", "state": "RUNNING"}, id="missing-json-value"),
        pytest.param('{"msg": "[<gone>]"}', {"msg": "[]"}, id="missing-in-string"),
        pytest.param("[<gone>]", [""], id="missing-in-array"),
        pytest.param("state=<state> gone=<gone>", "state=RUNNING gone=", id="missing-in-plain-text"),
        # An object or array pasted into a plain-text template loses its inner quotes (AWS Pipes' common
        # issues); inside a string of a JSON template it is an error (tests/test_input_transformer_aws.py).
        pytest.param("detail is <detail>", "detail is {instance-id:i-0123456789,state:RUNNING}",
                     id="object-in-string-loses-quotes"),
        pytest.param('{"d": <detail>}', {"d": {"instance-id": "i-0123456789", "state": "RUNNING"}},
                     id="object-as-json-value"),
        pytest.param('{"n": <n>, "s": "<n>", "b": <b>, "z": "<z>"}', {"n": 1.5, "s": "1.5", "b": True, "z": "null"},
                     id="scalars"),
        # Values are not re-parsed: a quote inside a value cannot break the JSON.
        pytest.param('{"q": "said <q>"}', {"q": 'said "hi" {x}'}, id="quote-in-value-is-escaped"),
    ],
)
def test_common_issues(template: str, output: Any) -> None:
    event = {**EC2, "n": 1.5, "b": True, "z": None, "q": '"hi" {x}'}
    paths = PATHS + (("gone", "$.detail.nope"), ("detail", "$.detail"), ("n", "$.n"), ("b", "$.b"), ("z", "$.z"),
                     ("q", "$.q"))
    assert fill(template, event, paths) == output


def test_reserved_event_variables() -> None:
    out = fill('{"e": <aws.events.event>, "j": <aws.events.event.json>, "t": <aws.events.event.ingestion-time>}')
    # without `detail`, with `detailType` and the ingestion time in epoch milliseconds, as AWS delivers it
    assert out["e"] == {("detailType" if k == "detail-type" else k): (int(NOW.timestamp() * 1000) if k == "time" else v)
                        for k, v in EC2.items() if k != "detail"}
    assert out["j"] == EC2  # the whole event
    assert out["t"] == "2026-11-20T10:00:05Z"  # the time the caller supplied, never a clock read


def test_ingestion_time_without_a_time_is_missing() -> None:
    fn = compile_input_transformer(ir.InputTransformer((), '{"t": <aws.events.event.ingestion-time>, "s": "<aws.events.event.ingestion-time>"}'))
    assert fn is not None and fn(EC2, "r", None) == {"t": "", "s": ""}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        pytest.param("$", (), id="root"),
        pytest.param("$.detail.instance-id", ("detail", "instance-id"), id="dashes"),
        pytest.param("$.a_b.c/d.E9", ("a_b", "c/d", "E9"), id="underscores-slashes-alphanumerics"),
        pytest.param("$.resources[0]", ("resources", 0), id="index"),
        pytest.param("$.items[*].id", ("items", WILDCARD, "id"), id="wildcard-index"),
        pytest.param("$.detail.*", ("detail", WILDCARD), id="wildcard-key"),
    ],
)
def test_supported_paths(path: str, steps: tuple[Any, ...]) -> None:
    assert parse_input_path(path) == (steps, "")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("detail.state", id="no-root"),
        pytest.param('$.detail["state"]', id="bracket-key"),
        pytest.param("$.detail.state name", id="space"),
        pytest.param("$.items[-1]", id="negative-index"),
        pytest.param("$..state", id="deep-scan"),
        pytest.param("$.items[?(@.x)]", id="filter"),
    ],
)
def test_unsupported_paths(path: str) -> None:
    steps, why = parse_input_path(path)
    assert steps is None and why


def test_wildcards_collect_matches() -> None:
    event = {"items": [{"id": 1}, {"x": 2}, {"id": 3}], "detail": {"a": 1, "b": [2]}}
    assert select(event, ("items", WILDCARD, "id")) == [1, 3]
    assert select(event, ("detail", WILDCARD)) == [1, [2]]
    assert select(event, ("nope", WILDCARD)) is MISSING
    assert select(event, ("items", 5)) is MISSING


@pytest.mark.parametrize(
    ("paths", "template", "code"),
    [
        pytest.param((("v", "$.a[\"b\"]"),), "<v>", "E370", id="bracket-path"),
        pytest.param((("aws.x", "$.a"),), "x", "E371", id="reserved-name"),
        pytest.param((("a b", "$.a"),), "x", "E371", id="name-characters"),
        pytest.param(tuple((f"v{i}", "$.a") for i in range(101)), "x", "E372", id="more-than-100"),
        pytest.param((("v", "$.a"),), "{<v>: 1}", "E373", id="placeholder-as-key"),
        pytest.param((("v", "$.a"),), '{"a": <v>', "E373", id="not-json"),
        pytest.param((), '{"a": "x <aws.events.event>"}', "E373", id="event-inside-string"),
        pytest.param((), "<aws.events.event.json> as text", "E373", id="event-json-in-plain-text"),
        pytest.param((), '{"arn": <aws.events.rule-arn>}', "E373", id="rule-arn"),
        pytest.param((), '{"x": <aws.events.other>}', "E373", id="unknown-reserved"),
        pytest.param((), "no placeholders <b>here</b>", "E373", id="undefined-placeholder-in-text"),
        pytest.param((("v", "$.a"),), '{"x": <w>}', "E373", id="undefined-placeholder"),
    ],
)
def test_refused_at_load(paths: tuple[tuple[str, str], ...], template: str, code: str) -> None:
    it = ir.InputTransformer(paths, template)
    assert [d.code for d in check_input_transformer(it)][:1] == [code]
    assert compile_input_transformer(it) is None


def test_fresh_containers_per_event() -> None:
    fn = compile_input_transformer(ir.InputTransformer((("s", "$.detail.state"),), '{"a": [1, {"b": <s>}]}'))
    assert fn is not None
    first = fn(EC2, "r", None)
    first["a"][1]["b"] = "changed"
    assert fn(EC2, "r", None) == {"a": [1, {"b": "RUNNING"}]}
