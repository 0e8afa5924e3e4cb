"""OpenTelemetry traces of the sidecar (the otel extra), read back from the SDK's in-memory exporter: one
span per event continuing the W3C trace context the event or the request carries, one child span per
delivery with its target, rule and outcome."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from serve_helpers import Hook, lines, make_app, require_service, rules_with_failing_hook, running, wait_for

from rules_engine.serve.config import SidecarConfig, SourceConfig, TracingConfig

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
CFG = SidecarConfig(tracing=TracingConfig(enabled=True))


def _exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def test_event_and_delivery_spans_continue_the_cloudevents_traceparent(tmp_path: Path) -> None:
    provider, exporter = _exporter()
    with running(make_app(tmp_path, CFG, tracer_provider=provider), CFG) as url:
        r = httpx.post(url + "/events", content=b'{"total": 5000}', timeout=10, headers={
            "content-type": "application/json", "ce-specversion": "1.0", "ce-id": "o-1", "ce-source": "/shop",
            "ce-type": "order.created", "ce-traceparent": TRACEPARENT, "ce-tracestate": "vendor=abc"})
        assert r.status_code == 200, r.text
    spans = _by_name(exporter.get_finished_spans())
    [ev] = spans["rules-engine event"]
    assert ev.context is not None and ev.parent is not None
    assert (format(ev.context.trace_id, "032x"), format(ev.parent.span_id, "016x")) == (TRACE, PARENT)
    assert ev.context.trace_state.get("vendor") == "abc"
    assert ev.attributes is not None and ev.attributes["cloudevents.event_id"] == "o-1"
    assert ev.attributes["rules_engine.decisions"] == 2 and ev.status.status_code != StatusCode.ERROR
    deliveries = spans["deliver out"] + spans["deliver big"]
    assert len(deliveries) == 2
    for d in deliveries:
        assert d.parent is not None and d.parent.span_id == ev.context.span_id
        assert d.context is not None and d.context.trace_id == ev.context.trace_id
        assert d.attributes is not None and d.attributes["rules_engine.outcome"] == "delivered"
    assert {(d.attributes["rules_engine.target"], d.attributes["rules_engine.rule"])  # type: ignore[index]
            for d in deliveries} == {("out", "orders"), ("big", "big-orders")}


def test_the_http_traceparent_header_is_the_parent_of_events_without_their_own(tmp_path: Path) -> None:
    provider, exporter = _exporter()
    other = "0af7651916cd43dd8448eb211c80319c"
    batch = [{"specversion": "1.0", "id": "a", "source": "/s", "type": "order.created"},
             {"specversion": "1.0", "id": "b", "source": "/s", "type": "order.created",
              "traceparent": f"00-{other}-b7ad6b7169203331-01"}]
    with running(make_app(tmp_path, CFG, tracer_provider=provider), CFG) as url:
        r = httpx.post(url + "/events", content=orjson.dumps(batch), timeout=10,
                       headers={"content-type": "application/cloudevents-batch+json", "traceparent": TRACEPARENT})
        assert r.status_code == 200, r.text
    events = {s.attributes["cloudevents.event_id"]: s  # type: ignore[index]
              for s in _by_name(exporter.get_finished_spans())["rules-engine event"]}
    assert events["a"].parent is not None and events["a"].parent.span_id == int(PARENT, 16)
    assert events["a"].context is not None and events["a"].context.trace_id == int(TRACE, 16)
    assert events["b"].context is not None and events["b"].context.trace_id == int(other, 16)


def test_a_failed_delivery_span_says_so_and_a_source_event_continues_its_trace(tmp_path: Path) -> None:
    require_service(6379, "Redis")
    provider, exporter = _exporter()
    key = f"serve-trace-{uuid.uuid4().hex[:10]}"
    r = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=10)
    r.xadd(key, {"event": orjson.dumps({"type": "order.created", "id": "f-1", "source": "/s", "data": {"fail": True},
                                        "traceparent": TRACEPARENT})})
    cfg = SidecarConfig(tracing=TracingConfig(enabled=True),
                        sources=(SourceConfig("orders", "redis", key, claim_idle=60, max_deliver=1, dead_letter="dlq"),))
    try:
        with Hook(refuse=b'"fail"') as hook, \
                running(make_app(tmp_path, cfg, rules_with_failing_hook(hook.url), tracer_provider=provider), cfg):
            wait_for(lambda: len(lines(tmp_path / "dlq.jsonl")) == 1, what="the dead letter")
    finally:
        r.delete(key)
        r.close()
    spans = _by_name(exporter.get_finished_spans())
    [ev] = spans["rules-engine event"]
    assert ev.parent is not None and ev.parent.span_id == int(PARENT, 16)
    assert ev.attributes is not None and ev.attributes["rules_engine.source"] == "redis/orders"
    assert ev.status.status_code == StatusCode.ERROR
    [hook_span] = spans["deliver hook"]
    assert hook_span.attributes is not None and hook_span.attributes["rules_engine.outcome"] == "failed"
    assert hook_span.status.status_code == StatusCode.ERROR and hook_span.attributes["rules_engine.code"]


def test_without_opentelemetry_the_sidecar_runs_and_tracing_on_says_which_extra(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"  # as if the otel extra were not installed
        "import rules_engine, rules_engine.cli.main, rules_engine.serve.app\n"
        "from rules_engine.model.errors import RuleError\n"
        "from rules_engine.serve.config import SidecarConfig, TracingConfig\n"
        "sys.path.insert(0, 'tests')\n"
        "from serve_helpers import make_app\n"
        "make_app(__import__('pathlib').Path(sys.argv[1]))\n"
        "try:\n"
        "    make_app(__import__('pathlib').Path(sys.argv[1]), SidecarConfig(tracing=TracingConfig(enabled=True)))\n"
        "except RuleError as e:\n"
        "    print(e.diagnostics[0].code, e.diagnostics[0].message)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=root, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("E652 tracing.enabled: traces need the otel extra"), out.stdout


def test_the_console_exporter_prints_the_spans_at_shutdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = SidecarConfig(tracing=TracingConfig(enabled=True, exporter="console", service_name="router-test"))
    with running(make_app(tmp_path, cfg), cfg) as url:
        r = httpx.post(url + "/events", json={"type": "order.created", "id": "c-1", "traceparent": TRACEPARENT},
                       timeout=10)
        assert r.status_code == 200, r.text
    out = capsys.readouterr().out  # the app's own provider is shut down with it, which flushes the batch
    assert '"name": "rules-engine event"' in out and '"name": "deliver out"' in out
    assert f'"trace_id": "0x{TRACE}"' in out and '"service.name": "router-test"' in out
