"""The JetStream source against the real NATS server on loopback: ack after delivery, poison messages to
the dead-letter target with their reason, nak and redelivery up to the limit, then term."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from serve_helpers import RULES, FileDispatcher, Result, lines, live, require_service, running, wait_for

from rules_engine.routing import Decision
from rules_engine.serve.app import create_app
from rules_engine.serve.config import SidecarConfig, SourceConfig

RULES_DLQ = RULES.replace("rules:\n", "  dlq: {type: file, path: dlq.jsonl}\nrules:\n", 1)


class FlakyDispatcher(FileDispatcher):
    """Loses the decisions of events with ``data.fail`` (as a target that never answers would)."""

    async def dispatch(self, decisions: Sequence[Decision], *, event: Any, version: str) -> Result:
        if isinstance(event.get("data"), dict) and event["data"].get("fail") and decisions[0].target != "dlq":
            return Result(0, 0, len(decisions))
        return await super().dispatch(decisions, event=event, version=version)


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
    app = create_app(cfg, live(tmp_path, RULES_DLQ), FlakyDispatcher(tmp_path))
    with running(app, cfg) as url:
        wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 40 and len(lines(tmp_path / "dlq.jsonl")) >= 3,
                 what="40 routed events and 3 dead letters")
        wait_for(lambda: asyncio.run(_consumer_state(stream, "serve-test")) == (0, 0), what="everything acked")
        import httpx

        metrics = httpx.get(url + "/metrics", timeout=10).text
    assert sorted(x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")) == sorted(f"e{i}" for i in range(40))
    dlq = lines(tmp_path / "dlq.jsonl")
    import base64

    raw = sorted(base64.b64decode(d["payload"]["data_base64"]) for d in dlq if "data_base64" in d["payload"])
    assert raw == sorted(poison)  # undecodable messages, kept byte for byte (E680)
    assert [d["payload"]["id"] for d in dlq if "id" in d["payload"]] == ["flaky"]  # at max_deliver (E681)
    assert len(dlq) == 3
    assert 'rules_engine_events_received_total{source="jetstream/orders"}' in metrics
    assert 'rules_engine_events_rejected_total{code="E680"} 2.0' in metrics
    assert 'rules_engine_events_rejected_total{code="E681"} 1.0' in metrics
