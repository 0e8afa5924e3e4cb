"""A durable broker source: a Redis stream read in a consumer group, acknowledged (XACK) after delivery.

Position in the pipeline::

    Redis stream ──XAUTOCLAIM (idle entries) / XREADGROUP (new)──▶ **RedisSource** ──route──▶ Pipeline
                 ◀──XACK once the event's decisions are delivered or dead-lettered──┘

* an entry is XACKed only after every decision of its event was delivered or dead-lettered; a failed one
  stays pending and is claimed again (by this or any replica) once idle for ``claim_idle`` seconds;
* entries a dead replica left pending are taken over with XAUTOCLAIM after the same idle time, so
  replicas in one group share the work and none is lost;
* the delivery count is Redis's own (XPENDING's ``times_delivered``): at ``max_deliver`` the event goes to
  the dead-letter target (E681) and is XACKed; poison — no ``field``, not a JSON object, too large — goes
  there at once (E680) and is XACKed.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from rules_engine.model import codes
from rules_engine.serve.sources import SourceBase

__all__ = ["RedisSource"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"


class RedisSource(SourceBase):
    """One configured ``type: redis`` source (a service of the app)."""

    _r: Any = None

    async def _connect(self) -> None:
        cfg = self.cfg
        self._r = aioredis.from_url(cfg.url or DEFAULT_URL, socket_connect_timeout=5, socket_timeout=10)
        try:
            await self._r.xgroup_create(cfg.stream, cfg.group, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._consumer = cfg.consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._field = cfg.field.encode()
        self._next_claim = 0.0

    async def _disconnect(self) -> None:
        r, self._r = self._r, None
        if r is not None:
            await r.aclose()

    async def _fetch_once(self) -> None:
        cfg = self.cfg
        entries: list[tuple[bytes, dict[bytes, bytes] | None]] = []
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + max(cfg.claim_idle / 2, 0.05)
            claimed = await self._r.xautoclaim(cfg.stream, cfg.group, self._consumer, int(cfg.claim_idle * 1000),
                                               "0-0", count=cfg.batch)
            entries = list(claimed[1])
        if not entries:
            resp = await self._r.xreadgroup(cfg.group, self._consumer, {cfg.stream: ">"}, count=cfg.batch, block=1000)
            entries = list(resp[0][1]) if resp else []
        if entries:
            await self.settle_later(self._settle(entries))

    async def _deliveries(self, entry_id: bytes) -> int:
        pending = await self._r.xpending_range(self.cfg.stream, self.cfg.group, entry_id, entry_id, 1)
        return int(pending[0]["times_delivered"]) if pending else 1

    async def _settle(self, entries: list[tuple[bytes, dict[bytes, bytes] | None]]) -> None:
        cfg = self.cfg
        done: list[bytes] = []
        good: list[tuple[bytes, bytes, dict[str, Any]]] = []
        for entry_id, fields in entries:
            if fields is None:  # trimmed from the stream while pending: nothing left to route
                done.append(entry_id)
                continue
            raw = fields.get(self._field)
            if raw is None:
                diag = codes.POISON_EVENT.at(None, source=cfg.name, detail=f"the entry has no field {cfg.field!r}")
                await self.dead_letter(diag, None, b"", await self._deliveries(entry_id))
                done.append(entry_id)
                continue
            event, problem = self.decode(raw)
            if problem is not None:
                await self.dead_letter(problem, None, raw, await self._deliveries(entry_id))
                done.append(entry_id)
            else:
                assert event is not None
                good.append((entry_id, raw, event))
        if good:
            async def keepalive() -> None:  # reset the idle time so no other replica claims them meanwhile
                await self._r.xclaim(cfg.stream, cfg.group, self._consumer, 0, [g[0] for g in good], justid=True)

            res = await self.route([g[2] for g in good], keepalive)
            failed = set(res.failed_events)
            for i, (entry_id, raw, event) in enumerate(good):
                if i not in failed:
                    done.append(entry_id)
                    continue
                deliveries = await self._deliveries(entry_id)
                limit = self.limit_reached(deliveries)
                if limit is not None:  # else: stays pending, claimed again after claim_idle
                    await self.dead_letter(limit, event, raw, deliveries)
                    done.append(entry_id)
        if done:
            await self._r.xack(cfg.stream, cfg.group, *done)
