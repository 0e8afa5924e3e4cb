"""The RabbitMQ source against the real RabbitMQ on loopback: a quorum queue consumed with manual acks
after delivery, failed events requeued and counted by the broker (x-delivery-count), poison dead-lettered."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import orjson
import pytest
from serve_helpers import Hook, lines, make_app, require_service, rules_with_failing_hook, running, wait_for

from rules_engine.serve.config import SidecarConfig, SourceConfig

URL = "amqp://guest:guest@127.0.0.1:5672/"


async def _publish(queue: str, bodies: list[bytes]) -> None:
    conn = await aio_pika.connect(URL, timeout=10)
    ch = await conn.channel()
    await ch.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    for b in bodies:
        await ch.default_exchange.publish(aio_pika.Message(b, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                          routing_key=queue)
    await conn.close()


async def _ready(queue: str) -> int:
    conn = await aio_pika.connect(URL, timeout=10)
    q = await (await conn.channel()).declare_queue(queue, passive=True)
    n = q.declaration_result.message_count
    await conn.close()
    return int(n or 0)


async def _delete(queue: str) -> None:
    conn = await aio_pika.connect(URL, timeout=10)
    await (await conn.channel()).queue_delete(queue)
    await conn.close()


@pytest.fixture
def queue() -> Iterator[str]:
    require_service(5672, "RabbitMQ")
    name = f"serve-test-{uuid.uuid4().hex[:10]}"
    yield name
    asyncio.run(_delete(name))


def test_quorum_queue_source(tmp_path: Path, queue: str) -> None:
    good = [orjson.dumps({"type": "order.created", "id": f"e{i}"}) for i in range(25)]
    flaky = orjson.dumps({"type": "order.created", "id": "flaky", "data": {"fail": True}})
    asyncio.run(_publish(queue, good[:10] + [b"\x00garbage", flaky] + good[10:]))
    src = SourceConfig("orders", "amqp", queue, batch=8, max_deliver=3, dead_letter="dlq")
    cfg = SidecarConfig(sources=(src,))
    with Hook(refuse=b'"fail"') as hook, running(make_app(tmp_path, cfg, rules_with_failing_hook(hook.url)), cfg):
        wait_for(lambda: len(lines(tmp_path / "dlq.jsonl")) >= 2, what="2 dead letters")
        wait_for(lambda: len({x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")}) >= 26, what="26 routed")
    assert asyncio.run(_ready(queue)) == 0  # every message acked: nothing came back when the consumer left
    routed = [x["payload"]["id"] for x in lines(tmp_path / "out.jsonl") if x["payload"]["id"] != "flaky"]
    assert sorted(routed) == sorted(f"e{i}" for i in range(25))
    dlq = lines(tmp_path / "dlq.jsonl")
    assert [base64.b64decode(d["payload"]["data_base64"]) for d in dlq if "data_base64" in d["payload"]] == [b"\x00garbage"]
    assert [d["payload"]["id"] for d in dlq if "id" in d["payload"]] == ["flaky"]
    assert len(hook.received) == 0 and len(dlq) == 2


def test_a_batch_whose_settling_fails_is_requeued_not_held(
    tmp_path: Path, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routing raises for the first batches (as with dedup on and its Redis down): the source nacks what it
    had not answered, so the messages come back and are routed once routing works, instead of staying
    unacked on this consumer's channel (holding the whole prefetch: a stalled source)."""
    from rules_engine.serve.sources import SourceBase

    real = SourceBase.route
    calls = {"n": 0}

    async def flaky_route(self: Any, events: Any, keepalive: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("dedup store unreachable (test)")
        return await real(self, events, keepalive)

    monkeypatch.setattr(SourceBase, "route", flaky_route)
    bodies = [orjson.dumps({"type": "order.created", "id": f"e{i}"}) for i in range(12)]
    asyncio.run(_publish(queue, bodies))
    src = SourceConfig("orders", "amqp", queue, batch=4, max_deliver=5, dead_letter="dlq")
    cfg = SidecarConfig(sources=(src,))
    with Hook() as hook, running(make_app(tmp_path, cfg, rules_with_failing_hook(hook.url)), cfg):
        wait_for(lambda: len({x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")}) >= 12, what="12 routed")
    assert calls["n"] >= 3
    assert sorted({x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")}) == sorted(f"e{i}" for i in range(12))
    assert asyncio.run(_ready(queue)) == 0
    assert not (tmp_path / "dlq.jsonl").exists() or lines(tmp_path / "dlq.jsonl") == []
