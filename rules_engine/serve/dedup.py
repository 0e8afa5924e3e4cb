"""Deduplication of incoming events across replicas, through Redis: ``SET key NX EX`` on CloudEvents
(``source``, ``id``).

Position in the pipeline::

    POST /events, broker sources ──**RedisDedup.route_once**──▶ Pipeline ──▶ Dispatcher
                                      │  SET <prefix><source> <id> "pending" NX EX lease   (one round trip a job)
                                      └─ after the job: delivered → SET … "done" EX window; failed → DEL

* the first replica to claim a (source, id) routes it; any other copy seen while the claim holds is a
  duplicate: acknowledged (HTTP 200, broker ack) and counted, not routed;
* a claim is a lease of ``lease`` seconds until the event's decisions are settled, then the mark is kept for
  ``window`` seconds; an event whose delivery failed releases its claim, so the producer's retry or the
  broker's redelivery is routed; a replica that dies mid-delivery leaves its lease to expire, after which a
  redelivery is routed (at least once, never "at most once" by accident);
* events without a string ``source`` and ``id`` (plain JSON) are never deduplicated; if Redis cannot be
  reached the job is refused like a full queue would be (the caller retries), never routed unchecked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from rules_engine.serve.config import DedupConfig
from rules_engine.serve.jobs import Submit
from rules_engine.serve.pipeline import JobResult

__all__ = ["RedisDedup"]


def _key(prefix: str, event: Mapping[str, Any]) -> str | None:
    src, eid = event.get("source"), event.get("id")
    if isinstance(src, str) and isinstance(eid, str):
        return f"{prefix}{len(src)}:{src}{eid}"  # the length keeps ("a:b", "c") apart from ("a", "b:c")
    return None


class RedisDedup:
    """The dedup marks in Redis (a service of the app: connected at start, closed at stop)."""

    def __init__(self, cfg: DedupConfig, *, lease: float) -> None:
        self.cfg = cfg
        self.lease = max(1, int(lease + 0.999))
        self._r: Any = None

    async def start(self) -> None:
        # Connected on first use: Redis being down answers jobs with "retry" (E679), it does not stop the start.
        self._r = aioredis.from_url(self.cfg.url, socket_connect_timeout=5, socket_timeout=10)

    async def stop(self) -> None:
        r, self._r = self._r, None
        if r is not None:
            await r.aclose()

    async def route_once(self, events: Sequence[dict[str, Any]], route: Submit) -> tuple[JobResult, int]:
        """Route the events no replica has claimed; returns the result (indexes into ``events``) and the
        number of duplicates.  Raises what Redis or ``route`` raises, after releasing this job's claims (so a
        retry is routed, not taken for a duplicate)."""
        keys = [_key(self.cfg.key_prefix, ev) for ev in events]
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            if k is not None:
                pipe.set(k, b"pending", nx=True, ex=self.lease)
        answers = iter(await pipe.execute())
        fresh = [i for i, k in enumerate(keys) if k is None or next(answers)]
        duplicates = len(events) - len(fresh)
        if not fresh:
            return JobResult(events=len(events)), duplicates
        try:
            res = await route([events[i] for i in fresh] if duplicates else events)
        except BaseException:
            claimed = [k for i in fresh if (k := keys[i]) is not None]
            if claimed:
                with contextlib.suppress(Exception):  # else the lease runs out by itself
                    await self._r.delete(*claimed)
            raise
        failed = {fresh[j] for j in res.failed_events}
        res.failed_events = sorted(failed)
        res.events = len(events)
        pipe = self._r.pipeline(transaction=False)
        for i in fresh:
            k = keys[i]
            if k is None:
                continue
            if i in failed:
                pipe.delete(k)
            else:
                pipe.set(k, b"done", ex=self.cfg.window)
        await pipe.execute()
        return res, duplicates
