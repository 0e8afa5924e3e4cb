"""Backpressure: a producer faster than the target is refused with 429 + Retry-After once the bounded
ingest queue is full, and the sidecar's memory stays bounded (RSS measured; every loop bounded)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from serve_helpers import RULES, Hook, make_app, running

from rules_engine.serve.config import LimitsConfig, QueueConfig, SidecarConfig


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _produce(url: str, rounds: int, concurrency: int, body: bytes) -> dict[int, int]:
    statuses: dict[int, int] = {}
    retry_after: set[str] = set()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as c:
        async def one() -> None:
            r = await c.post("/events", content=body, headers={"content-type": "application/cloudevents-batch+json"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 429:
                retry_after.add(r.headers["retry-after"])

        for _ in range(rounds):
            await asyncio.gather(*(one() for _ in range(concurrency)))
    assert retry_after <= {"2"}
    return statuses


def test_slow_target_fast_producer(tmp_path: Path) -> None:
    event = b'{"specversion":"1.0","id":"x","source":"/p","type":"order.created","data":{"pad":"' + b"x" * 50_000 + b'"}}'
    batch = b"[" + event + b"]"
    cfg = SidecarConfig(queue=QueueConfig(size=4, workers=2, retry_after=2),
                        limits=LimitsConfig(max_batch_events=100))
    hook = Hook(delay=0.2)  # the slow target: 200 ms an event
    rules = RULES.replace("{type: file, path: out.jsonl}", f"{{type: http, url: '{hook.url}', max_in_flight: 32}}")
    with hook, running(make_app(tmp_path, cfg, rules), cfg) as url:
        asyncio.run(_produce(url, 1, 32, batch))  # warm up: connections, buffers, first allocations
        before = _rss_kib()
        started = time.monotonic()
        total: dict[int, int] = {}
        for _ in range(2):  # bounded in count; each round ~150 requests
            for k, v in asyncio.run(_produce(url, 3, 48, batch)).items():
                total[k] = total.get(k, 0) + v
            if time.monotonic() - started > 60:
                break
        grown_mib = (_rss_kib() - before) / 1024
    print(f"statuses {total}, RSS grew {grown_mib:.1f} MiB")
    assert set(total) <= {200, 429} and total.get(429, 0) > 0 and total.get(200, 0) > 0
    # Every event of every accepted request reached the slow target (warm-up requests included).
    assert len(hook.received) >= total[200]
    # ~300 requests of 50 KB arrived; the queue holds at most 4 of them: memory must not follow the load.
    assert grown_mib < 40, grown_mib
