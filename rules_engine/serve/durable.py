"""Durable ingest: ``POST /events`` stores its events in a JetStream stream and answers 202; a JetStream
source on that stream routes them (acknowledged after delivery).

Position in the pipeline::

    POST /events ──**DurableIngest.publish**──▶ JetStream stream (dedup window) ──▶ JetStreamSource ──▶ Pipeline

The answer comes once JetStream has confirmed every event of the request (its publish ack), so a 202 means
the events survive this process.  Each event carries ``Nats-Msg-Id: <source> <id>``: within the stream's
duplicate window a repeated CloudEvent is stored once, whichever replica received it (plain JSON events
without ``source`` and ``id`` are not deduplicated).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import nats
import orjson
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from rules_engine.model import codes
from rules_engine.serve.config import DurableIngestConfig
from rules_engine.serve.errors import IngestError

__all__ = ["DurableIngest"]


class DurableIngest:
    """Publishes accepted events to the ingest stream (a service of the app, started before the source)."""

    def __init__(self, cfg: DurableIngestConfig, *, timeout: float) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None

    async def start(self) -> None:
        cfg = self.cfg
        self._nc = await nats.connect(cfg.url, connect_timeout=5, max_reconnect_attempts=-1,
                                      name="rules-engine ingest")
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(cfg.stream)
        except NotFoundError:
            await self._js.add_stream(StreamConfig(name=cfg.stream, subjects=[cfg.subject],
                                                   duplicate_window=cfg.dedup_window))

    async def stop(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.flush(timeout=2)
            await nc.close()

    async def publish(self, events: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Store ``events``; returns (stored, duplicates).  Raises :class:`IngestError` (503, E678)."""
        js = self._js
        if js is None:
            raise IngestError.of(503, codes.NOT_PERSISTED, {"Retry-After": "1"}, stream=self.cfg.stream,
                                 detail="not connected")

        async def one(ev: dict[str, Any]) -> bool:
            src, eid = ev.get("source"), ev.get("id")
            headers = {"Nats-Msg-Id": f"{src} {eid}"} if isinstance(src, str) and isinstance(eid, str) else None
            ack = await js.publish(self.cfg.subject, orjson.dumps(ev), timeout=self.timeout,
                                   stream=self.cfg.stream, headers=headers)
            return bool(ack.duplicate)

        try:
            dups = await asyncio.gather(*(one(ev) for ev in events))
        except Exception as e:  # noqa: BLE001 - any broker failure: the producer retries (dedup makes it safe)
            raise IngestError.of(503, codes.NOT_PERSISTED, {"Retry-After": "1"}, stream=self.cfg.stream,
                                 detail=str(e) or type(e).__name__) from None
        return len(events) - sum(dups), sum(dups)
