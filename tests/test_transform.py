"""Transforms: each step, what counts as an error, null_fill, copy-on-write, the envelope,
and (hypothesis) that no event makes a transform raise or change the caller's event."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rules_engine
from rules_engine.route.envelope import event_id
from rules_engine.route.transform import CompiledTransform, Context, compile_transform

NOW = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)


def transform(body: str) -> CompiledTransform:
    """The compiled transform of one YAML rule whose ``transform:`` mapping is ``body``."""
    indented = "".join(f"      {line}\n" for line in body.strip("\n").splitlines())
    rs = rules_engine.loads(
        "targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    targets: [out]\n    transform:\n" + indented
    )
    t = rs.ir.rules[0].transform
    assert t is not None
    return compile_transform(t)


def run(body: str, event: dict[str, Any], null_fill: bool = False) -> tuple[Any, list[tuple[str, str]]]:
    out = transform(body).apply(event, Context(event, "r", NOW), null_fill=null_fill)
    return out.payload, [(e.code, e.path) for e in out.errors]


EV: dict[str, Any] = {
    "id": "e-1",
    "type": "order.created",
    "source": "/shop",
    "data": {"total": 12.5, "qty": 2, "items": [{"sku": "a"}, {"sku": "b"}], "customer": {"name": "Ana"}, "note": "x"},
}


@pytest.mark.parametrize(
    ("body", "payload"),
    [
        pytest.param("set: {data.cents: data.total * 100}", {**EV, "data": {**EV["data"], "cents": 1250.0}},
                     id="set-arith"),
        pytest.param("set: {a.b.c: 'upper(data.customer.name)'}", {**EV, "a": {"b": {"c": "ANA"}}},
                     id="set-creates-objects"),
        pytest.param("set: {'data.items[1].sku': \"'z'\"}",
                     {**EV, "data": {**EV["data"], "items": [{"sku": "a"}, {"sku": "z"}]}}, id="set-array-element"),
        pytest.param("set: {'data.items[-1]': {value: 1}}",
                     {**EV, "data": {**EV["data"], "items": [{"sku": "a"}, 1]}}, id="set-negative-index"),
        pytest.param("set: {x: '{a: data.qty, b: [data.qty, 1]}'}", {**EV, "x": {"a": 2, "b": [2, 1]}},
                     id="set-object-template"),
        pytest.param("set: {x: 'f\"{data.qty} x {data.nope}\"'}", {**EV, "x": "2 x "}, id="set-template-missing-is-text"),
        pytest.param("set: {x: 'coalesce([data.nope], 1)'}", {**EV, "x": []}, id="object-inside-expression-keeps-rule"),
        pytest.param("set: {x: {cel: 'data.qty * 2'}}", {**EV, "x": 4}, id="set-cel"),
        pytest.param("set: {x: {cel: \"timestamp('2020-01-01T00:00:00Z')\"}}", {**EV, "x": "2020-01-01T00:00:00Z"},
                     id="set-cel-timestamp-as-text"),
        pytest.param("set: {x: {value: {a: [1, null]}}}", {**EV, "x": {"a": [1, None]}}, id="set-literal-json"),
        pytest.param("rename: {data.customer: client}",
                     {"id": "e-1", "type": "order.created", "source": "/shop",
                      "data": {k: v for k, v in EV["data"].items() if k != "customer"}, "client": {"name": "Ana"}},
                     id="rename"),
        pytest.param("drop: [data, nope, type]", {"id": "e-1", "source": "/shop"}, id="drop-absent-is-fine"),
        pytest.param("drop: ['data.items[0]']", {**EV, "data": {**EV["data"], "items": [{"sku": "b"}]}},
                     id="drop-array-element"),
        pytest.param("keep: [data.customer.name, id, nope]", {"data": {"customer": {"name": "Ana"}}, "id": "e-1"},
                     id="keep-in-written-order"),
        pytest.param("payload: data.items", [{"sku": "a"}, {"sku": "b"}], id="payload-expression"),
        pytest.param("payload: {n: data.qty, l: ['id', 'data.note']}", {"n": 2, "l": ["e-1", "x"]},
                     id="payload-written-out"),
    ],
)
def test_steps(body: str, payload: Any) -> None:
    got, errors = run(body, EV)
    assert errors == []
    assert got == payload


def test_expressions_read_the_original_event() -> None:
    # The second value reads data.cents of the event, which the first step only wrote into the payload.
    got, errors = run("set: {data.cents: data.qty * 100}\nrename: {data.qty: data.count}\n"
                      "payload: {count: data.qty, cents: 'default(data.cents, null)'}", EV)
    assert errors == []
    assert got == {"count": 2, "cents": None}


def test_steps_apply_in_written_order() -> None:
    got, _ = run("keep: [data.qty]\nset: {data.total: data.total}\nrename: {data.qty: n}", EV)
    assert got == {"data": {"total": 12.5}, "n": 2}


@pytest.mark.parametrize(
    ("body", "event", "errors"),
    [
        pytest.param("set: {x: data.nope}", EV, [("E511", "x")], id="missing-value"),
        pytest.param("set: {x: 'data.note * 2'}", EV, [("E511", "x")], id="failed-operation"),
        pytest.param("payload: {a: data.qty, b: {c: data.nope}}", EV, [("E511", "payload.b.c")], id="payload-field"),
        pytest.param("payload: data.nope", EV, [("E511", "payload")], id="payload-missing"),
        pytest.param("rename: {data.nope: x}", EV, [("E512", "data.nope")], id="rename-missing"),
        pytest.param("set: {data.total.cents: {value: 1}}", EV, [("E513", "data.total.cents")], id="through-number"),
        pytest.param("set: {'data.items[5].x': {value: 1}}", EV, [("E513", "data.items[5].x")], id="index-out-of-range"),
        pytest.param("set: {'data.nope[0]': {value: 1}}", EV, [("E513", "data.nope[0]")], id="index-into-missing"),
        pytest.param("set: {'data.customer[0]': {value: 1}}", EV, [("E513", "data.customer[0]")],
                     id="index-into-object"),
        pytest.param("payload: \"'text'\"\nset: {a: {value: 1}}", EV, [("E513", "a")], id="payload-not-object"),
        pytest.param("set: {x: {cel: 'data.nope'}}", EV, [("E514", "x")], id="cel-error"),
        pytest.param("set: {x: {cel: 'type(1)'}}", EV, [("E514", "x")], id="cel-not-json"),
        pytest.param("envelope: {type: data.qty}", EV, [("E515", "envelope.type")], id="envelope-type-number"),
        pytest.param("envelope: {}", {"id": "x"}, [("E515", "envelope.source")], id="envelope-no-source"),
        pytest.param("envelope: {subject: data.qty}", EV, [("E515", "envelope.subject")], id="envelope-subject-number"),
        pytest.param("envelope: {extensions: {n: data.total}}", EV, [("E515", "envelope.n")],
                     id="envelope-extension-float"),
        pytest.param("envelope: {extensions: {o: data.customer}}", EV, [("E515", "envelope.o")],
                     id="envelope-extension-object"),
        pytest.param("envelope: {type: data.nope}", EV, [("E511", "envelope.type")], id="envelope-type-missing"),
    ],
)
def test_errors(body: str, event: dict[str, Any], errors: list[tuple[str, str]]) -> None:
    payload, got = run(body, event)
    assert got == errors
    assert payload is None


def test_error_messages_say_what_is_missing() -> None:
    out = transform("set: {data.cents: data.amount * 100}").apply(EV, Context(EV, "r"))
    assert [e.message for e in out.errors] == ["no value for data.cents: data.amount is missing"]
    out = transform("rename: {data.nope: x}").apply(EV, Context(EV, "r"))
    assert out.errors[0].message == "cannot rename data.nope to x: data.nope is missing"
    out = transform("set: {data.note.x: {value: 1}}").apply(EV, Context(EV, "r"))
    assert out.errors[0].message == "cannot write data.note.x: data.note is a string, not an object"


def test_null_fill_goes_on_and_reports_every_error() -> None:
    body = (
        "set: {a: data.nope, data.note.x: {value: 1}, b: {value: 2}}\n"
        "rename: {data.gone: c}\n"
        "payload: {p: '$', q: data.nope2}\n"
    )
    payload, errors = run(body, EV, null_fill=True)
    assert errors == [("E511", "a"), ("E513", "data.note.x"), ("E512", "data.gone"), ("E511", "payload.q")]
    assert payload["q"] is None
    assert payload["p"] == EV  # `$` reads the original event


def test_null_fill_values() -> None:
    payload, errors = run("set: {a: data.nope}\nrename: {data.gone: c}", EV, null_fill=True)
    assert [c for c, _ in errors] == ["E511", "E512"]
    assert payload["a"] is None and payload["c"] is None
    assert "note" in payload["data"]  # a failed write leaves no trace


def test_the_callers_event_is_never_changed_and_untouched_parts_are_shared() -> None:
    event = copy.deepcopy(EV)
    before = copy.deepcopy(event)
    out = transform("set: {data.customer.tier: \"'gold'\"}\ndrop: ['data.items[0]', source]\n"
                    "rename: {data.note: data.notes}").apply(event, Context(event, "r"))
    assert event == before
    assert out.payload["data"]["customer"] == {"name": "Ana", "tier": "gold"}
    assert out.payload["data"]["items"] is not event["data"]["items"]
    untouched = transform("set: {data.x: {value: 1}}").apply(event, Context(event, "r")).payload
    assert untouched["data"]["customer"] is event["data"]["customer"]


def test_failed_write_leaves_no_trace_in_an_owned_payload() -> None:
    payload, errors = run("set: {a: {value: 1}, 'b.c[0]': {value: 2}}", EV, null_fill=True)
    assert errors == [("E513", "b.c[0]")]
    assert "b" not in payload


# --- envelope -------------------------------------------------------------------------------------------


def test_envelope_defaults_and_attribute_order() -> None:
    payload, errors = run("payload: data.customer\nenvelope: {format: cloudevents}", EV)
    assert errors == []
    assert list(payload) == ["specversion", "id", "source", "type", "time", "datacontenttype", "data"]
    assert payload == {"specversion": "1.0", "id": "e-1", "source": "/shop", "type": "order.created",
                       "time": "2026-11-20T10:00:05Z", "datacontenttype": "application/json", "data": {"name": "Ana"}}
    # Without an ingestion time and without an event time there is no `time` attribute.
    assert "time" not in transform("envelope: {}").apply(EV, Context(EV, "r")).payload


def test_envelope_reads_the_original_event_and_falls_back_to_detail_type() -> None:
    event = {"source": "aws.ec2", "detail-type": "EC2 State", "detail": {"id": "i-1", "n": 3}, "account": "1"}
    payload, errors = run("payload: detail.n\nenvelope: {subject: detail.id, extensions: {acct: account, "
                          "flag: {value: true}, n: detail.n, gone: detail.nope}}", event)
    assert errors == []
    assert payload["type"] == "EC2 State" and payload["subject"] == "i-1"
    assert (payload["acct"], payload["flag"], payload["n"], "gone" in payload) == ("1", True, 3, False)
    assert payload["data"] == 3
    assert payload["time"] == "2026-11-20T10:00:05Z"  # no event time: the ingestion time given


def test_envelope_id_is_derived_deterministically() -> None:
    a = {"source": "s", "type": "t", "data": {"x": 1, "y": [1, 2]}}
    b = {"data": {"y": [1, 2], "x": 1}, "type": "t", "source": "s"}
    assert event_id(a) == event_id(b) and len(event_id(a)) == 32
    assert event_id({**a, "data": {"x": 2}}) != event_id(a)
    assert event_id({"id": 7}) == "7"


def test_envelope_cel_attribute_sees_event() -> None:
    payload, errors = run("payload: {value: 1}\nenvelope: {subject: {cel: 'event.data.customer.name'}}", EV)
    assert errors == [] and payload["subject"] == "Ana"


# --- hypothesis: nothing raises, nothing changes ----------------------------------------------------------

KEYS = ("id", "type", "source", "data", "total", "items", "name", "detail")
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**66), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(["", "a", "10.0.0.1", "Ana", "x" * 40]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                    max_leaves=12)
SHAPED = st.fixed_dictionaries(
    {"id": st.text(max_size=3), "type": st.sampled_from(["t", "u"]), "total": st.integers(0, 9),
     "data": st.fixed_dictionaries({"total": st.one_of(st.integers(), st.floats(allow_nan=False)), "name": st.text()}),
     "items": st.lists(st.fixed_dictionaries({"x": SCALARS}), max_size=2)},
    optional={"source": st.just("/s"), "name": st.text(max_size=3), "detail": JSON},
)
EVENTS = st.one_of(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6), SHAPED)

RULES = """
targets:
  a: {type: stdout, dead_letter: dl, partition_key: data.name}
  b:
    type: stdout
    transform:
      set: {routed: {value: true}}
      rename: {data.total: data.amount}
      envelope: {type: "'t'", source: "'/s'", subject: data.name, extensions: {n: total}}
  dl: {type: stdout}
default_targets: [b]
rules:
  - name: skip
    when: exists(data)
    transform:
      set: {data.cents: data.total * 100, 'items[0].x': total, data.label: 'f"{name}: {data}"'}
      rename: {data.name: who}
    targets: [a, b]
  - name: dead
    when: exists(type)
    on_error: dead_letter
    transform:
      keep: [id, data.total, detail]
      drop: [data, 'items[1]']
      set: {n: {cel: "size(event.items) + 1"}}
    targets: [a]
  - name: fill
    when: exists(source)
    on_error: null_fill
    transform:
      payload: {total: total, items: items, first: 'items[0]', name: 'upper(name)'}
      set: {extra.deep.x: detail.x}
    targets: [b, a]
  - name: aws
    when: exists(detail)
    transform:
      input_paths_map: {d: $.detail, t: $.total, all: '$.items[*].x', rule: $.type}
      input_template: '{"d": <d>, "t": "<t>", "all": <all>, "e": <aws.events.event>, "r": <aws.events.rule-name>}'
    targets: [b]
"""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_transforms_never_raise_and_never_change_the_event(event: dict[str, Any]) -> None:
    rs = _ruleset()
    before = json.dumps(event, sort_keys=True)
    decisions = rs.evaluate(event, now=NOW)
    assert json.dumps(event, sort_keys=True) == before
    for d in decisions:
        json.dumps(d.payload)  # every payload is JSON
        if d.error is None:
            assert d.action == "deliver"
        elif d.action == "skip":
            assert d.payload is None and d.rule in ("skip", "aws", "<default>")
        elif d.action == "dead_letter":
            assert d.payload is event and d.rule == "dead" and d.target == "dl"
        else:
            assert d.rule == "fill"


_CACHE: list[rules_engine.RuleSet] = []


def _ruleset() -> rules_engine.RuleSet:
    if not _CACHE:
        _CACHE.append(rules_engine.loads(RULES))
    return _CACHE[0]


# --- the optimistic path of plain `set` transforms equals the general one -----------------------------

FAST = transform("set: {data.cents: data.total * 100, data.who: 'upper(name)', "
                 "'deep.er.x': 'f\"{id}-{type}\"', data.t: type}")


@settings(max_examples=150, deadline=None)
@given(EVENTS)
def test_fast_path_equals_general_path(event: dict[str, Any]) -> None:
    assert FAST.fast is not None
    general = CompiledTransform(FAST.names, FAST.fns, FAST.source)
    for null_fill in (False, True):
        assert FAST.run(event, event, "r", NOW, null_fill) == general.run(event, event, "r", NOW, null_fill)


@pytest.mark.parametrize(
    ("text", "fmt", "code"),
    [
        pytest.param("targets: {out: {type: stdout}}\nrules:\n  - name: r\n    when: x == 1\n    transform:\n"
                     "      envelope: {extensions: {Bad_Name: x}}\n    targets: [out]\n", "yaml", "E129",
                     id="yaml-extension-name"),
        pytest.param("targets: {out: {type: stdout}}\nrules:\n  - name: r\n    when: x == 1\n    transform:\n"
                     "      envelope: {extensions: {time: x}}\n    targets: [out]\n", "yaml", "E129",
                     id="yaml-extension-is-context-attribute"),
        pytest.param("targets: {out: {type: stdout}}\nrules:\n  - name: r\n    when: x == 1\n    transform:\n"
                     "      keep: ['items[0]']\n    targets: [out]\n", "yaml", "E374", id="yaml-keep-index"),
        pytest.param("target out = stdout {\n  keep a, b[1].c\n}\nrule r {\n  when x == 1\n  route to out\n}\n", "dsl",
                     "E374", id="dsl-target-keep-index"),
    ],
)
def test_checked_at_load(text: str, fmt: str, code: str) -> None:
    with pytest.raises(rules_engine.RuleError) as info:
        rules_engine.loads(text, format=fmt)
    assert [d.code for d in info.value.diagnostics] == [code]
