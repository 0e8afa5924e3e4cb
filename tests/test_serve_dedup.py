"""Deduplication shared across replicas through one Redis (``SET NX EX`` on CloudEvents source and id): two
app instances, the real Redis on loopback; a duplicate is acknowledged and counted, not routed; a failed
delivery releases its claim so the retry is routed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from serve_helpers import Hook, lines, make_app, require_service, rules_with_failing_hook, running, wait_for

from rules_engine.serve.config import DedupConfig, SidecarConfig, SourceConfig


def ce(i: str, **extra: object) -> dict[str, object]:
    return {"specversion": "1.0", "id": i, "source": "/shop", "type": "order.created", **extra}


def post(url: str, *events: dict[str, object]) -> httpx.Response:
    return httpx.post(url + "/events", content=orjson.dumps(list(events)), timeout=10,
                      headers={"content-type": "application/cloudevents-batch+json"})


@pytest.fixture
def prefix() -> Iterator[str]:
    require_service(6379, "Redis")
    p = f"serve-dedup-test:{uuid.uuid4().hex[:10]}:"
    yield p
    r = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=10)
    for k in r.scan_iter(match=p + "*"):
        r.delete(k)
    r.close()


def test_two_replicas_share_the_dedup_window(tmp_path: Path, prefix: str) -> None:
    cfg = SidecarConfig(dedup=DedupConfig(window=60, key_prefix=prefix))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with Hook(refuse=b'"fail"') as hook:
        rules = rules_with_failing_hook(hook.url)
        with running(make_app(tmp_path / "a", cfg, rules), cfg) as a, running(make_app(tmp_path / "b", cfg, rules), cfg) as b:
            first = post(a, ce("1"), ce("2"))
            assert first.status_code == 200 and first.json()["duplicates"] == 0, first.text
            # The producer retries on the other replica: both already routed, acknowledged without routing.
            again = post(b, ce("2"), ce("1"), ce("3"))
            assert again.status_code == 200 and again.json()["duplicates"] == 2, again.text
            # A plain JSON event (no CloudEvents source) is never taken for a duplicate.
            for _ in range(2):
                plain = httpx.post(b + "/events", json={"type": "order.created", "id": "plain"}, timeout=10)
                assert plain.status_code == 200 and plain.json()["duplicates"] == 0, plain.text
            # Same id from another source is another event.
            assert post(b, ce("1", source="/other")).json()["duplicates"] == 0
            # A failed delivery releases the claim: the retry on the other replica is routed (and fails again).
            assert post(a, ce("f", data={"fail": True})).status_code == 503
            assert post(b, ce("f", data={"fail": True})).status_code == 503
            assert len(hook.received) == 0
            metrics_b = httpx.get(b + "/metrics", timeout=10).text
    ids_a = [x["payload"]["id"] for x in lines(tmp_path / "a" / "out.jsonl")]
    ids_b = [x["payload"]["id"] for x in lines(tmp_path / "b" / "out.jsonl")]
    assert sorted(ids_a) == ["1", "2", "f"] and sorted(ids_b) == ["1", "3", "f", "plain", "plain"]
    assert 'rules_engine_events_duplicate_total{source="http"} 2.0' in metrics_b


def test_a_broker_source_acks_a_duplicate_without_routing_it(tmp_path: Path, prefix: str) -> None:
    key = f"serve-dedup-{uuid.uuid4().hex[:10]}"
    r = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=10)
    r.xgroup_create(key, "routers", id="0", mkstream=True)
    for i in ("1", "2", "1", "3", "2"):
        r.xadd(key, {"event": orjson.dumps(ce(i))})
    cfg = SidecarConfig(dedup=DedupConfig(window=60, key_prefix=prefix),
                        sources=(SourceConfig("orders", "redis", key, group="routers", batch=2),))
    try:
        with running(make_app(tmp_path, cfg), cfg) as url:
            wait_for(lambda: r.xpending(key, "routers")["pending"] == 0 and len(lines(tmp_path / "out.jsonl")) >= 3,
                     what="every entry acknowledged")
            metrics = httpx.get(url + "/metrics", timeout=10).text
    finally:
        r.delete(key)
        r.close()
    assert sorted(x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")) == ["1", "2", "3"]
    assert 'rules_engine_events_duplicate_total{source="redis/orders"} 2.0' in metrics


def test_redis_down_is_a_retry_not_an_unchecked_route(tmp_path: Path) -> None:
    cfg = SidecarConfig(dedup=DedupConfig(url="redis://127.0.0.1:1/0"))
    with running(make_app(tmp_path, cfg), cfg) as url:
        r = post(url, ce("1"))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "E679", r.text
    assert lines(tmp_path / "out.jsonl") == []
