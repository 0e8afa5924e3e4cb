"""Each broker adapter delivers to the real service on loopback, and the test reads it back.

NATS (core and JetStream), Redis (Streams and pub/sub), RabbitMQ (exchange + routing key,
confirms) and Mosquitto (QoS 0/1/2, retain).  Faults: the RabbitMQ and NATS connections are cut
mid-stream through a TCP proxy; nothing is lost and duplicates are counted and bounded.
Names are unique per test; everything is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import Counts, Proxy, service, target

from rules_engine.deliver import Dispatcher, DispatchResult
from rules_engine.route.router import Decision

FAST = {"attempts": 30, "initial": 0.05, "max": 0.5, "jitter": 0.1, "max_age": 30}


def uid() -> str:
    return uuid.uuid4().hex[:10]


def decisions(to: str, n: int, key: str | None = None) -> list[tuple[dict[str, Any], Decision]]:
    out = []
    for i in range(n):
        ev = {"id": f"e{i}", "type": "order.created", "data": {"n": i}}
        out.append((ev, Decision("r", to, {"n": i}, key if key is not None else f"k{i % 4}")))
    return out


async def pump(d: Dispatcher, items: Sequence[tuple[dict[str, Any], Decision]]) -> list[DispatchResult]:
    return list(await asyncio.gather(*(d.dispatch([dec], event=ev, version="v1") for ev, dec in items)))


async def wait_for(check: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):  # bounded polling
        if check():
            return
        await asyncio.sleep(0.02)


# --- NATS -------------------------------------------------------------------------------------------

async def test_nats_jetstream_publish_with_acks_and_read_back() -> None:
    service(4222, "NATS")
    import nats

    name, subject = f"T{uid()}", f"test.{uid()}"
    nc = await nats.connect("nats://127.0.0.1:4222")
    js = nc.jetstream()
    await js.add_stream(name=name, subjects=[subject])
    try:
        d = Dispatcher([target("billing", "nats", subject=subject, jetstream=True)])
        await d.start()
        results = await pump(d, decisions("billing", 50))
        await d.close()
        assert all(r.ok and r.delivered == 1 for r in results)
        sub = await js.pull_subscribe(subject, durable=None, stream=name)
        msgs = await sub.fetch(50, timeout=5)
        assert sorted(json.loads(m.data)["n"] for m in msgs) == list(range(50))
        assert all(m.headers and m.headers.get("Nats-Msg-Id") for m in msgs)
    finally:
        await js.delete_stream(name)
        await nc.close()


async def test_nats_core_publish_reaches_a_subscriber() -> None:
    service(4222, "NATS")
    import nats

    subject = f"test.core.{uid()}"
    nc = await nats.connect("nats://127.0.0.1:4222")
    sub = await nc.subscribe(subject)
    await nc.flush()
    try:
        d = Dispatcher([target("n", "nats", subject=subject)])
        await d.start()
        res = await d.dispatch([Decision("r", "n", {"x": 1}, None, (("x-a", "b"),))], event={}, version="v1")
        await d.close()
        assert res.ok
        msg = await sub.next_msg(timeout=5)
        assert json.loads(msg.data) == {"x": 1} and msg.headers == {"x-a": "b"}
    finally:
        await nc.close()


async def test_nats_jetstream_without_a_stream_is_permanent() -> None:
    service(4222, "NATS")
    d = Dispatcher([target("n", "nats", subject=f"nostream.{uid()}", jetstream=True, retry=FAST)])
    await d.start()
    res = await d.dispatch([Decision("r", "n", {"x": 1})], event={}, version="v1")
    await d.close()
    assert (res.failed, res.outcomes[0].code, res.outcomes[0].attempts) == (1, "E610", 1)


async def test_nats_reconnect_mid_stream_loses_nothing_and_stores_no_duplicate() -> None:
    service(4222, "NATS")
    import nats

    name, subject = f"T{uid()}", f"test.{uid()}"
    nc = await nats.connect("nats://127.0.0.1:4222")
    js = nc.jetstream()
    await js.add_stream(name=name, subjects=[subject])
    try:
        async with Proxy(4222) as proxy:
            counts = Counts()
            d = Dispatcher([target("n", "nats", subject=subject, jetstream=True, url=f"nats://127.0.0.1:{proxy.listen_port}",
                                   retry=FAST, timeout=2, max_in_flight=32, batch=8)], observer=counts)
            await d.start()
            run = asyncio.create_task(pump(d, decisions("n", 300)))
            await wait_for(lambda: counts.ok["n"] >= 60)
            proxy.cut()
            results = await asyncio.wait_for(run, 60)
            await d.close()
        assert proxy.cuts >= 1 and counts.ok["n"] == 300
        assert all(r.ok for r in results)
        info = await js.stream_info(name)
        # The message id travels as Nats-Msg-Id: a retry after a lost ack is dropped by the stream.
        assert info.state.messages == 300
    finally:
        await js.delete_stream(name)
        await nc.close()


# --- Redis ------------------------------------------------------------------------------------------

async def test_redis_stream_xadd_with_maxlen_and_read_back() -> None:
    service(6379, "Redis")
    import redis.asyncio as aioredis

    key = f"test:stream:{uid()}"
    r = aioredis.from_url("redis://127.0.0.1:6379")
    try:
        d = Dispatcher([target("s", "redis", stream=key, maxlen=10000)])
        await d.start()
        results = await pump(d, decisions("s", 40))
        await d.close()
        assert all(x.ok for x in results)
        entries = await r.xrange(key)
        assert sorted(json.loads(f[b"payload"])["n"] for _, f in entries) == list(range(40))
        assert all(f[b"id"] and f[b"partition_key"].startswith(b"k") for _, f in entries)
    finally:
        await r.delete(key)
        await r.aclose()


async def test_redis_wrong_key_type_is_permanent_and_pubsub_delivers() -> None:
    service(6379, "Redis")
    import redis.asyncio as aioredis

    key, channel = f"test:str:{uid()}", f"test:chan:{uid()}"
    r = aioredis.from_url("redis://127.0.0.1:6379")
    await r.set(key, "not a stream")
    ps = r.pubsub()
    await ps.subscribe(channel)
    await ps.get_message(timeout=2)  # the subscribe confirmation
    try:
        d = Dispatcher([target("bad", "redis", stream=key), target("ch", "redis", channel=channel)])
        await d.start()
        bad = await d.dispatch([Decision("r", "bad", {"x": 1})], event={}, version="v1")
        ok = await d.dispatch([Decision("r", "ch", {"x": 2})], event={}, version="v1")
        await d.close()
        assert (bad.failed, bad.outcomes[0].code) == (1, "E610") and "WRONGTYPE" in bad.outcomes[0].detail
        assert ok.ok
        msg = await ps.get_message(ignore_subscribe_messages=True, timeout=5)
        assert msg is not None and json.loads(msg["data"]) == {"x": 2}
    finally:
        await ps.aclose()
        await r.delete(key)
        await r.aclose()


async def test_redis_ordered_target_keeps_each_key_in_order_across_a_cut_connection() -> None:
    """``ordered: true`` against the real server: the connection is cut mid-stream (retries, maybe
    duplicates), and the stream still holds each partition key's messages in order, none lost."""
    service(6379, "Redis")
    import redis.asyncio as aioredis

    key, N = f"test:ordered:{uid()}", 3000
    r = aioredis.from_url("redis://127.0.0.1:6379")
    try:
        async with Proxy(6379) as proxy:
            counts = Counts()
            d = Dispatcher([target("s", "redis", stream=key, url=f"redis://127.0.0.1:{proxy.listen_port}",
                                   ordered=True, retry=FAST, timeout=3, max_in_flight=64, batch=8)], observer=counts)
            await d.start()
            items = [({"i": i}, Decision("r", "s", {"n": i, "key": f"k{i % 5}"}, f"k{i % 5}")) for i in range(N)]
            run = asyncio.create_task(d.dispatch_many([([dec], ev) for ev, dec in items], version="v1"))
            await wait_for(lambda: counts.ok["s"] >= 100)
            while not run.done() and proxy.cuts < 200:  # cut again and again: some cut finds a batch in flight
                proxy.cut()
                await asyncio.sleep(0.02)
            results = await asyncio.wait_for(run, 60)
            await d.close()
        assert proxy.cuts >= 1 and len(results) == N and all(x.ok for x in results)
        entries = [json.loads(f[b"payload"]) for _, f in await r.xrange(key)]
        assert {e["n"] for e in entries} == set(range(N))  # nothing lost
        for k in range(5):
            seen = [e["n"] for e in entries if e["key"] == f"k{k}"]
            # In order per key; a duplicate (a retry after a lost reply) repeats in place, never later.
            assert seen == sorted(seen), f"k{k} out of order"
        assert counts.retries["s"] >= 1  # the cuts did make retries (and so the order was at stake)
        assert len(entries) - N <= counts.dups["s"]  # every real duplicate was counted as possible
    finally:
        await r.delete(key)
        await r.aclose()


async def test_redis_update_targets_while_connected_loses_nothing() -> None:
    """Targets swapped under load on live connections: a changed target gets a new lane (and stream),
    an unchanged one keeps its lane and connection; every message lands in exactly one stream."""
    service(6379, "Redis")
    import redis.asyncio as aioredis

    a, b, keep = (f"test:swap:{x}:{uid()}" for x in ("a", "b", "keep"))
    r = aioredis.from_url("redis://127.0.0.1:6379")
    try:
        counts = Counts()
        d = Dispatcher([target("s", "redis", stream=a, max_in_flight=32, batch=8),
                        target("k", "redis", stream=keep)], observer=counts)
        await d.start()
        kept = d._lanes["k"]

        async def produce() -> list[DispatchResult]:
            out: list[DispatchResult] = []
            for start in range(0, 2000, 50):  # 40 batches of 50 events, each to both targets
                batch = [([Decision("r", "s", {"n": i}), Decision("r", "k", {"n": i})], {"i": i})
                         for i in range(start, start + 50)]
                out += await d.dispatch_many(batch, version="v1")
            return out

        run = asyncio.create_task(produce())
        await wait_for(lambda: counts.ok["s"] >= 500)
        await d.update_targets([target("s", "redis", stream=b, max_in_flight=32, batch=8),
                                target("k", "redis", stream=keep)])
        assert d._lanes["k"] is kept and kept.opened  # unchanged: same lane, same connection
        results = await asyncio.wait_for(run, 60)
        await d.close()
        assert len(results) == 2000 and all(x.ok and x.delivered == 2 for x in results)
        in_a = [json.loads(f[b"payload"])["n"] for _, f in await r.xrange(a)]
        in_b = [json.loads(f[b"payload"])["n"] for _, f in await r.xrange(b)]
        in_keep = [json.loads(f[b"payload"])["n"] for _, f in await r.xrange(keep)]
        assert in_a and in_b  # the swap happened mid-stream
        assert sorted(in_a + in_b) == list(range(2000))  # each message once, in one of the two streams
        assert sorted(in_keep) == list(range(2000))
    finally:
        await r.delete(a, b, keep)
        await r.aclose()


# --- RabbitMQ ---------------------------------------------------------------------------------------

async def _queue_on(exchange: str) -> tuple[Any, Any, Any]:
    import aio_pika

    conn = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    ch = await conn.channel()
    ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.DIRECT, auto_delete=True)
    q = await ch.declare_queue(f"q.{exchange}", exclusive=True)
    await q.bind(ex, routing_key="review")
    return conn, ex, q


async def _drain(q: Any, limit: int) -> list[Any]:
    got = []
    for _ in range(limit):  # bounded
        m = await q.get(no_ack=True, fail=False, timeout=5)
        if m is None:
            break
        got.append(m)
    return got


async def test_amqp_confirms_persistent_and_read_back() -> None:
    service(5672, "RabbitMQ")
    exchange = f"test.ex.{uid()}"
    conn, ex, q = await _queue_on(exchange)
    try:
        d = Dispatcher([target("fraud", "amqp", exchange=exchange, routing_key="review")])
        await d.start()
        results = await pump(d, decisions("fraud", 30))
        unroutable = Dispatcher([target("nowhere", "amqp", exchange=exchange, routing_key="nobody")])
        await unroutable.start()
        lost = await unroutable.dispatch([Decision("r", "nowhere", {"x": 1})], event={}, version="v1")
        await unroutable.close()
        await d.close()
        assert all(r.ok for r in results)
        got = await _drain(q, 100)
        assert sorted(json.loads(m.body)["n"] for m in got) == list(range(30))
        assert all(m.delivery_mode == 2 and m.message_id for m in got)
        assert (lost.failed, lost.outcomes[0].code) == (1, "E610")
    finally:
        await conn.close()


async def test_amqp_connection_cut_mid_stream_loses_nothing() -> None:
    service(5672, "RabbitMQ")
    exchange = f"test.ex.{uid()}"
    conn, ex, q = await _queue_on(exchange)
    try:
        async with Proxy(5672) as proxy:
            counts = Counts()
            d = Dispatcher([target("fraud", "amqp", exchange=exchange, routing_key="review",
                                   url=f"amqp://guest:guest@127.0.0.1:{proxy.listen_port}/", retry=FAST, timeout=3,
                                   max_in_flight=32, batch=8)], observer=counts)
            await d.start()
            run = asyncio.create_task(pump(d, decisions("fraud", 300)))
            await wait_for(lambda: counts.ok["fraud"] >= 60)
            proxy.cut()
            results = await asyncio.wait_for(run, 60)
            await d.close()
        assert proxy.cuts >= 1 and all(r.ok for r in results)
        got = await _drain(q, 1000)
        ids = [m.message_id for m in got]
        assert len(set(ids)) == 300  # nothing lost
        duplicates = len(ids) - len(set(ids))
        assert duplicates <= 32  # at most what was in flight when the connection went
        # Every real duplicate is one the dispatcher counted as possible (retried after an unknown outcome).
        assert duplicates <= counts.dups["fraud"] <= counts.retries["fraud"]
    finally:
        await conn.close()


async def test_amqp_missing_exchange_is_permanent_and_the_next_channel_works(tmp_path: Path) -> None:
    """A publish to an exchange that does not exist: the broker closes the channel with 404 NOT_FOUND.
    That is permanent (dead-lettered at the first attempt); once the exchange exists, the adapter's
    new channel delivers."""
    service(5672, "RabbitMQ")
    exchange = f"test.ex.{uid()}"
    dead = tmp_path / "dead.jsonl"
    counts = Counts()
    d = Dispatcher([target("fraud", "amqp", exchange=exchange, routing_key="review", dead_letter="dl", retry=FAST),
                    target("dl", "file", path=str(dead))], observer=counts)
    await d.start()
    try:
        res = await asyncio.wait_for(d.dispatch([Decision("r", "fraud", {"x": 1})], event={"e": 1}, version="v1"), 30)
        o = res.outcomes[0]
        assert (o.status, o.attempts, o.code, o.dead_letter) == ("dead_lettered", 1, "E610", "dl")
        assert "NOT_FOUND" in o.detail and counts.retries["fraud"] == 0
        record = json.loads(dead.read_text())
        assert record["payload"] == {"e": 1} and record["headers"]["x-rules-engine-exhausted"] == "not retryable"
        conn, ex, q = await _queue_on(exchange)  # now the exchange exists
        try:
            ok = await asyncio.wait_for(d.dispatch([Decision("r", "fraud", {"x": 2})], event={}, version="v1"), 30)
            assert ok.ok and ok.delivered == 1
            assert [json.loads(m.body) for m in await _drain(q, 10)] == [{"x": 2}]
        finally:
            await conn.close()
    finally:
        await d.close()


# --- MQTT -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_mqtt_publish_each_qos_and_read_back(qos: int) -> None:
    service(1883, "Mosquitto")
    import aiomqtt

    topic = f"test/{uid()}"
    async with aiomqtt.Client("127.0.0.1", 1883, protocol=aiomqtt.ProtocolVersion.V5) as sub:
        await sub.subscribe(topic, qos=2)
        d = Dispatcher([target("m", "mqtt", topic=topic, qos=qos)])
        await d.start()
        results = await pump(d, decisions("m", 10))
        await d.close()
        assert all(r.ok for r in results)
        got = []
        async with asyncio.timeout(10):
            async for msg in sub.messages:
                got.append(json.loads(bytes(msg.payload)))  # type: ignore[arg-type]
                if len(got) == 10:
                    break
    assert sorted(x["n"] for x in got) == list(range(10))


async def test_mqtt_retain_and_user_properties() -> None:
    service(1883, "Mosquitto")
    import aiomqtt

    topic = f"test/{uid()}"
    d = Dispatcher([target("m", "mqtt", topic=topic, qos=1, retain=True)])
    await d.start()
    res = await d.dispatch([Decision("r", "m", {"last": True}, None, (("x-k", "v"),))], event={}, version="v1")
    await d.close()
    assert res.ok
    async with aiomqtt.Client("127.0.0.1", 1883, protocol=aiomqtt.ProtocolVersion.V5) as sub:
        await sub.subscribe(topic, qos=1)
        async with asyncio.timeout(10):
            async for msg in sub.messages:
                assert msg.retain and json.loads(bytes(msg.payload)) == {"last": True}  # type: ignore[arg-type]
                assert ("x-k", "v") in msg.properties.UserProperty  # type: ignore[union-attr]
                break
        await sub.publish(topic, b"", qos=1, retain=True)  # clear the retained message
