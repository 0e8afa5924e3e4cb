"""The JetStream source against the real NATS server on loopback: ack after delivery, poison messages to
the dead-letter target with their reason, nak and redelivery up to the limit, then term."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from serve_helpers import Hook, lines, make_app, require_service, rules_with_failing_hook, running, wait_for

from rules_engine.serve.config import SidecarConfig, SourceConfig


async def _setup(stream: str, subject: str, messages: list[bytes]) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[subject])
    for m in messages:
        await js.publish(subject, m)
    await nc.close()


async def _consumer_state(stream: str, durable: str) -> tuple[int, int]:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    info = await nc.jetstream().consumer_info(stream, durable)
    await nc.close()
    return info.num_pending, info.num_ack_pending


async def _drop(stream: str) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    await nc.jetstream().delete_stream(stream)
    await nc.close()


@pytest.fixture
def stream() -> Any:
    require_service(4222, "NATS")
    name = f"SERVE_{uuid.uuid4().hex[:10].upper()}"
    yield name
    asyncio.run(_drop(name))


def test_ack_after_delivery_and_poison(tmp_path: Path, stream: str) -> None:
    subject = f"{stream.lower()}.events"
    ok = [orjson.dumps({"type": "order.created", "id": f"e{i}", "data": {"total": i}}) for i in range(40)]
    flaky = orjson.dumps({"type": "order.created", "id": "flaky", "data": {"fail": True}})
    poison = [b"not json at all", b"[1, 2, 3]"]
    asyncio.run(_setup(stream, subject, ok[:20] + poison + [flaky] + ok[20:]))
    src = SourceConfig("orders", "jetstream", stream, subject, durable="serve-test", batch=8, max_deliver=3,
                       nak_delay=0.05, dead_letter="dlq")
    cfg = SidecarConfig(sources=(src,))
    with Hook(refuse=b'"fail"') as hook, running(make_app(tmp_path, cfg, rules_with_failing_hook(hook.url)), cfg) as url:
        wait_for(lambda: len(lines(tmp_path / "dlq.jsonl")) >= 3,
                 what="40 routed events and 3 dead letters")
        wait_for(lambda: asyncio.run(_consumer_state(stream, "serve-test")) == (0, 0), what="everything acked")
        import httpx

        metrics = httpx.get(url + "/metrics", timeout=10).text
    routed = [x["payload"]["id"] for x in lines(tmp_path / "out.jsonl") if x["payload"]["id"] != "flaky"]
    assert sorted(routed) == sorted(f"e{i}" for i in range(40))
    dlq = lines(tmp_path / "dlq.jsonl")
    import base64

    raw = sorted(base64.b64decode(d["payload"]["data_base64"]) for d in dlq if "data_base64" in d["payload"])
    assert raw == sorted(poison)  # undecodable messages, kept byte for byte (E680)
    assert [d["payload"]["id"] for d in dlq if "id" in d["payload"]] == ["flaky"]  # at max_deliver (E681)
    assert len(dlq) == 3
    assert 'rules_engine_events_received_total{source="jetstream/orders"}' in metrics
    assert 'rules_engine_events_rejected_total{code="E680"} 2.0' in metrics
    assert 'rules_engine_events_rejected_total{code="E681"} 1.0' in metrics


def test_durable_ingest_with_dedup(tmp_path: Path, stream: str) -> None:
    import httpx

    from rules_engine.serve.config import DurableIngestConfig

    ingest = DurableIngestConfig(stream, f"{stream.lower()}.ingest", durable="serve-ingest", dedup_window=60,
                                 nak_delay=0.05)
    cfg = SidecarConfig(durable_ingest=ingest)
    app = make_app(tmp_path, cfg)
    ce = {"specversion": "1.0", "source": "/checkout", "type": "order.created", "data": {"total": 5}}
    with running(app, cfg) as url, httpx.Client(base_url=url, timeout=10) as c:
        structured = {"content-type": "application/cloudevents+json"}
        r1 = c.post("/events", headers=structured, content=orjson.dumps({**ce, "id": "a"}))
        r2 = c.post("/events", headers=structured, content=orjson.dumps({**ce, "id": "a"}))  # a retry: same id
        batch = orjson.dumps([{**ce, "id": "b"}, {**ce, "id": "a"}, {**ce, "id": "c"}])
        r3 = c.post("/events", headers={"content-type": "application/cloudevents-batch+json"}, content=batch)
        assert (r1.status_code, r2.status_code, r3.status_code) == (202, 202, 202)
        assert (r1.json()["stored"], r2.json()["duplicates"]) == (1, 1)
        assert (r3.json()["stored"], r3.json()["duplicates"]) == (2, 1)
        wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 3, what="3 routed events")
        wait_for(lambda: asyncio.run(_consumer_state(stream, "serve-ingest")) == (0, 0), what="everything acked")
    assert sorted(x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")) == ["a", "b", "c"]
