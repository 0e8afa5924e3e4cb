"""Decisions: order, deduplication, the default route, partition keys and on_error policies."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

import rules_engine
from rules_engine.model import ir
from rules_engine.route.router import DEFAULT_RULE, Decision, compile_router


def load(text: str, fmt: str = "yaml") -> rules_engine.RuleSet:
    return rules_engine.loads(text, format=fmt)


def summary(rs: rules_engine.RuleSet, event: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(d.rule, d.target, d.action) for d in rs.evaluate(event)]


ORDER = """
targets:
  a: {type: stdout}
  b: {type: stdout}
  c: {type: stdout}
default_targets: [c]
rules:
  - {name: low, when: x > 0, targets: [c, a]}
  - {name: high, priority: 5, when: x > 0, targets: [b, a]}
  - {name: off, enabled: false, when: x > 0, targets: [c]}
  - {name: stopper, priority: 1, when: x > 10, on_match: stop, targets: [c]}
  - {name: after-stop, priority: 0, when: x > 10, targets: [a]}
"""


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"x": 1}, [("high", "b", "deliver"), ("high", "a", "deliver"), ("low", "c", "deliver")],
                     id="priority-then-file-order-dedup"),
        pytest.param({"x": 11}, [("high", "b", "deliver"), ("high", "a", "deliver"), ("stopper", "c", "deliver")],
                     id="stop-ends-the-walk"),
        pytest.param({"x": 0}, [(DEFAULT_RULE, "c", "deliver")], id="default-route"),
    ],
)
def test_order_dedup_default(event: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert summary(load(ORDER), event) == expected


def test_deduplicate_false_sends_one_copy_per_rule() -> None:
    rs = load(ORDER + "deduplicate: false\n")
    assert summary(rs, {"x": 1}) == [
        ("high", "b", "deliver"), ("high", "a", "deliver"), ("low", "c", "deliver"), ("low", "a", "deliver"),
    ]


def test_a_matched_rule_without_targets_keeps_the_event_off_the_default_route() -> None:
    rs = load("targets: {c: {type: stdout}}\ndefault_targets: [c]\n"
              "rules:\n  - {name: sink, when: x == 1, on_match: stop, targets: []}\n")
    assert rs.evaluate({"x": 1}) == []
    assert summary(rs, {"x": 2}) == [(DEFAULT_RULE, "c", "deliver")]


def test_default_route_applies_target_transforms() -> None:
    rs = load("targets:\n  c:\n    type: stdout\n    transform: {set: {routed: \"'default'\"}}\n"
              "    partition_key: id\ndefault_targets: [c]\nrules: []\n")
    (d,) = rs.evaluate({"id": 7})
    assert (d.rule, d.payload, d.partition_key) == (DEFAULT_RULE, {"id": 7, "routed": "default"}, "7")


def test_target_transform_runs_after_the_rule_transform() -> None:
    rs = load("targets:\n  a:\n    type: stdout\n    transform: {rename: {total: amount}}\n  b: {type: stdout}\n"
              "rules:\n  - name: r\n    when: exists(n)\n    transform: {payload: {total: n}}\n    targets: [a, b]\n")
    assert [d.payload for d in rs.evaluate({"n": 3})] == [{"amount": 3}, {"total": 3}]


@pytest.mark.parametrize(
    ("key", "event", "expected"),
    [
        pytest.param("data.customer", {"data": {"customer": "c-1"}}, "c-1", id="string"),
        pytest.param("data.n", {"data": {"n": 7.0}}, "7", id="number-as-text"),
        pytest.param("data.o", {"data": {"o": {"b": 1, "a": [True]}}}, '{"a":[true],"b":1}', id="object-as-json"),
        pytest.param("data.nope", {"data": {}}, None, id="missing-is-none"),
        pytest.param('f"{data.a}-{data.b}"', {"data": {"a": 1, "b": "x"}}, "1-x", id="template"),
    ],
)
def test_partition_key(key: str, event: dict[str, Any], expected: str | None) -> None:
    rs = load(f"targets:\n  a: {{type: stdout, partition_key: '{key}'}}\n"
              "rules:\n  - {name: r, when: exists(data), targets: [a]}\n")
    assert [d.partition_key for d in rs.evaluate(event)] == [expected]


def test_partition_key_reads_the_original_event() -> None:
    rs = load("targets:\n  a: {type: stdout, partition_key: data.id}\n"
              "rules:\n  - name: r\n    when: exists(data)\n    transform: {drop: [data]}\n    targets: [a]\n")
    (d,) = rs.evaluate({"data": {"id": "k"}})
    assert d.payload == {} and d.partition_key == "k"


# --- on_error -------------------------------------------------------------------------------------------

POLICY = """
targets:
  a: {{type: stdout, dead_letter: dlq}}
  b: {{type: stdout}}
  dlq: {{type: stdout}}
rules:
  - name: r
    when: exists(x)
    on_error: {policy}
    transform:
      set: {{cents: 'x * 100', ok: {{value: 1}}}}
    targets: [a, b]
  - name: later
    when: exists(x)
    targets: [b]
"""


def test_skip_records_the_error_and_lets_a_later_rule_deliver() -> None:
    rs = load(POLICY.format(policy="skip"))
    ds = rs.evaluate({"x": "not a number"})
    assert [(d.rule, d.target, d.action, d.payload) for d in ds] == [
        ("r", "a", "skip", None), ("r", "b", "skip", None), ("later", "b", "deliver", {"x": "not a number"}),
    ]
    assert ds[0].error is not None and (ds[0].error.code, ds[0].error.path) == ("E511", "cents")
    assert not ds[0].delivered


def test_dead_letter_sends_the_original_event_to_the_dead_letter_target() -> None:
    rs = load(POLICY.format(policy="dead_letter"))
    event = {"x": "nan"}
    ds = rs.evaluate(event)
    assert [(d.rule, d.target, d.action) for d in ds] == [
        ("r", "dlq", "dead_letter"), ("r", "b", "dead_letter"), ("later", "b", "deliver"),
    ]
    assert ds[0].payload is event
    headers = dict(ds[0].headers)
    assert headers["x-rules-engine-error-code"] == "E511"
    assert headers["x-rules-engine-target"] == "a" and headers["x-rules-engine-rule"] == "r"
    assert headers["x-rules-engine-error-path"] == "cents"
    # b has no dead-letter target: the decision stays addressed to b, marked for dead-lettering.
    # It is not b's copy of the event (issue 9, defect 9): the later rule's decision for b is sent.


def test_a_dead_lettered_decision_does_not_block_a_later_delivery() -> None:
    """docs/transforms.md's errors example with on_error: dead_letter on `strict`: `lenient`'s
    null-filled decision still reaches `out` (issue 9, defect 9)."""
    text = """
targets:
  out: {type: stdout, dead_letter: dlq}
  dlq: {type: stdout}
rules:
  - name: strict
    on_error: dead_letter
    transform:
      set:
        data.cents: data.total * 100
    targets: [out]
  - name: lenient
    on_error: null_fill
    transform:
      set:
        data.cents: data.total * 100
    targets: [out]
    on_match: stop
"""
    for engine in ("compiled", "reference"):
        ds = rules_engine.loads(text, engine=engine).evaluate({"data": {"total": "12"}})
        assert [(d.rule, d.target, d.action) for d in ds] == [
            ("strict", "dlq", "dead_letter"), ("lenient", "out", "deliver"),
        ]
        assert ds[1].payload == {"data": {"total": "12", "cents": None}}


def test_null_fill_delivers_with_nulls() -> None:
    rs = load(POLICY.format(policy="null_fill"))
    ds = rs.evaluate({"x": "nan"})
    assert [(d.target, d.action, d.payload) for d in ds] == [
        ("a", "deliver", {"x": "nan", "cents": None, "ok": 1}), ("b", "deliver", {"x": "nan", "cents": None, "ok": 1}),
    ]
    assert ds[0].error is not None and ds[0].error.code == "E511"


def test_target_transform_failure_affects_that_target_only() -> None:
    rs = load("targets:\n  a:\n    type: stdout\n    transform: {rename: {nope: x}}\n  b: {type: stdout}\n"
              "rules:\n  - {name: r, when: exists(y), targets: [a, b]}\n")
    assert summary(rs, {"y": 1}) == [("r", "a", "skip"), ("r", "b", "deliver")]


# --- API ------------------------------------------------------------------------------------------------


def test_evaluate_accepts_bytes_and_text_and_returns_frozen_decisions() -> None:
    rs = load(ORDER)
    ds = rs.evaluate(b'{"x": 1}')
    assert ds == rs.evaluate('{"x": 1}') == rs.evaluate({"x": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds[0].target = "z"  # type: ignore[misc]
    assert ds[0].to_dict() == {"rule": "high", "target": "b", "payload": {"x": 1}, "partition_key": None,
                               "version": rs.version}


def test_every_decision_carries_the_rule_set_version() -> None:
    """Deliver, skip, dead-letter and default-route decisions all say which rules made them."""
    rs = load("targets:\n  a: {type: stdout, dead_letter: dl}\n  b: {type: stdout}\n  dl: {type: stdout}\n"
              "  d: {type: stdout}\ndefault_targets: [d]\n"
              "rules:\n  - {name: ok, when: x == 1, targets: [b]}\n"
              "  - {name: bad, when: x == 1, on_error: dead_letter, transform: {rename: {nope: y}}, targets: [a]}\n")
    decisions = rs.evaluate({"x": 1}) + rs.evaluate({"x": 2})
    assert sorted(d.action for d in decisions) == ["dead_letter", "deliver", "deliver"]
    assert {d.version for d in decisions} == {rs.version} and len(rs.version) == 16
    other = load(ORDER)
    assert other.version != rs.version and {d.version for d in other.evaluate({"x": 11})} == {other.version}


def test_now_is_the_ingestion_time() -> None:
    rs = load("targets: {a: {type: stdout}}\nrules:\n  - name: r\n    when: exists(x)\n    transform:\n"
              "      input_paths_map: {}\n      input_template: '{\"at\": <aws.events.event.ingestion-time>}'\n"
              "    targets: [a]\n")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rs.evaluate({"x": 1}, now=now)[0].payload == {"at": "2026-01-02T03:04:05Z"}
    assert rs.evaluate({"x": 1})[0].payload == {"at": ""}  # a variable without a value: "" (AWS)


def test_engines_agree() -> None:
    ref = rules_engine.loads(ORDER, engine="reference")
    comp = rules_engine.loads(ORDER, engine="compiled")
    for x in (0, 1, 11):
        assert ref.evaluate({"x": x}) == comp.evaluate({"x": x})


def test_router_from_ir_ignores_rules_it_does_not_know() -> None:
    rs = ir.RuleSetIR((ir.Target("a", "stdout"),), (ir.Rule("r", targets=(ir.TargetRef("a"),)),))
    router = compile_router(rs)
    assert router.route({"k": 1}, [ir.Rule("stranger")]) == []
    assert router.route({"k": 1}, list(rs.rules)) == [Decision("r", "a", {"k": 1})]


def test_dry_run_json_has_decisions(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from rules_engine.cli.main import main

    rules = tmp_path / "r.yaml"
    rules.write_text(POLICY.format(policy="skip"), encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text('{"x": 2}\n{"x": "s"}\n', encoding="utf-8")
    assert main(["dry-run", "--rules", str(rules), "--events", str(events), "--format", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    version = lines[0]["version"]
    assert lines[0]["decisions"][0] == {"rule": "r", "target": "a", "payload": {"x": 2, "cents": 200, "ok": 1},
                                        "partition_key": None, "version": version}
    assert version == rules_engine.load(str(rules)).version and lines[1]["decisions"][0]["version"] == version
    assert lines[1]["decisions"][0]["action"] == "skip"
    assert lines[1]["decisions"][0]["error"]["code"] == "E511"
    assert main(["dry-run", "--rules", str(rules), "--events", str(events)]) == 0
    text = capsys.readouterr().out
    assert '      → a: {"x":2,"cents":200,"ok":1}' in text
    assert "      → a: skipped: error[E511] no value for cents: x * 100 has no value" in text
    assert "      → b: not sent again" in text
