"""The Redis Streams source against the real Redis on loopback: XACK after delivery, entries a dead
consumer left pending taken over with XAUTOCLAIM, the delivery count from XPENDING, poison dead-lettered."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from serve_helpers import Hook, lines, make_app, require_service, rules_with_failing_hook, running, wait_for

from rules_engine.serve.config import SidecarConfig, SourceConfig


@pytest.fixture
def stream() -> Iterator[tuple[redis.Redis, str]]:
    require_service(6379, "Redis")
    r = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=10)
    key = f"serve-test-{uuid.uuid4().hex[:10]}"
    yield r, key
    r.delete(key)
    r.close()


def test_redis_group_source(tmp_path: Path, stream: tuple[redis.Redis, str]) -> None:
    r, key = stream
    r.xgroup_create(key, "routers", id="0", mkstream=True)
    for i in range(10):
        r.xadd(key, {"event": orjson.dumps({"type": "order.created", "id": f"e{i}"})})
    # A replica that read these and died: they stay pending in its name until claimed.
    assert len(r.xreadgroup("routers", "dead-replica", {key: ">"}, count=10)[0][1]) == 10
    for i in range(10, 30):
        r.xadd(key, {"event": orjson.dumps({"type": "order.created", "id": f"e{i}"})})
    r.xadd(key, {"event": b"{oops"})
    r.xadd(key, {"other": b"x"})
    r.xadd(key, {"event": orjson.dumps({"type": "order.created", "id": "flaky", "data": {"fail": True}})})
    src = SourceConfig("orders", "redis", key, group="routers", consumer="live-replica", claim_idle=0.3,
                       batch=8, max_deliver=3, dead_letter="dlq")
    cfg = SidecarConfig(sources=(src,))
    with Hook(refuse=b'"fail"') as hook, running(make_app(tmp_path, cfg, rules_with_failing_hook(hook.url)), cfg) as url:
        wait_for(lambda: len(lines(tmp_path / "dlq.jsonl")) >= 3,
                 what="30 routed events and 3 dead letters")
        wait_for(lambda: r.xpending(key, "routers")["pending"] == 0, what="every entry acknowledged")
        metrics = httpx.get(url + "/metrics", timeout=10).text
    routed = [x["payload"]["id"] for x in lines(tmp_path / "out.jsonl") if x["payload"]["id"] != "flaky"]
    assert sorted(routed) == sorted(f"e{i}" for i in range(30))
    dlq = lines(tmp_path / "dlq.jsonl")
    assert sorted(base64.b64decode(d["payload"]["data_base64"]) for d in dlq if "data_base64" in d["payload"]) \
        == [b"", b"{oops"]
    assert [d["payload"]["id"] for d in dlq if "id" in d["payload"]] == ["flaky"]
    assert 'rules_engine_events_received_total{source="redis/orders"}' in metrics
    assert 'rules_engine_events_rejected_total{code="E681"} 1.0' in metrics
