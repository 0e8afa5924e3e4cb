"""What every durable broker source shares: decoding, poison handling, routing a batch with backpressure,
and the fetch loop's lifecycle.

Position in the pipeline::

    broker ──fetch──▶ JetStreamSource / RedisSource (**SourceBase**) ──route──▶ Pipeline ──▶ Dispatcher
           ◀──ack / retry / dead letter───┘

A source acknowledges a message only after its event's decisions were all delivered or dead-lettered
(at least once).  Poison — a message that is not a JSON object, or is too large — goes to the source's
``dead_letter`` target with the reason (E680), as does an event still failing at ``max_deliver``
deliveries (E681); without a dead-letter target, or if that fails too, it is logged and counted (E682).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.route.router import Decision
from rules_engine.serve.config import SourceConfig
from rules_engine.serve.metrics import Metrics
from rules_engine.serve.pipeline import JobResult, Pipeline

__all__ = ["H_CODE", "H_DELIVERIES", "H_ERROR", "H_SOURCE", "SourceBase"]

log = logging.getLogger("rules_engine.serve")

STOP_TIMEOUT_S = 10.0
H_CODE = "x-rules-engine-error-code"
H_ERROR = "x-rules-engine-error"
H_SOURCE = "x-rules-engine-source"
H_DELIVERIES = "x-rules-engine-deliveries"


class SourceBase:
    """A source's fetch loop (``_fetch_once``, one batch) owned by ``start``/``stop``."""

    def __init__(self, cfg: SourceConfig, pipeline: Pipeline, metrics: Metrics, *, drain_timeout: float) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.metrics = metrics
        self.label = f"{cfg.type}/{cfg.name}"
        self._drain_timeout = drain_timeout
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------------
    async def _connect(self) -> None:
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError

    async def _fetch_once(self) -> None:
        """Fetch one batch (waiting at most about a second) and settle every message of it."""
        raise NotImplementedError

    async def start(self) -> None:
        await self._connect()
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"source-{self.cfg.name}")

    async def stop(self) -> None:
        """Stop fetching; let the batch in hand finish (bounded by the drain timeout), then disconnect."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                async with asyncio.timeout(min(self._drain_timeout, STOP_TIMEOUT_S) + 1.0):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._disconnect()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._fetch_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a broker hiccup must not end the source; unacked comes back
                log.warning("source fetch failed", extra={"source": self.cfg.name, "error": repr(e)})
                await asyncio.sleep(0.5)

    # --- shared steps -------------------------------------------------------------------------
    def decode(self, data: bytes) -> tuple[dict[str, Any] | None, Diagnostic | None]:
        limit = self.cfg.max_event_bytes
        if len(data) > limit:
            return None, codes.POISON_EVENT.at(None, source=self.cfg.name,
                                               detail=f"{len(data)} bytes, more than the limit of {limit}")
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            return None, codes.POISON_EVENT.at(None, source=self.cfg.name, detail=f"not JSON: {e.msg}")
        if not isinstance(value, dict):
            return None, codes.POISON_EVENT.at(None, source=self.cfg.name, detail="not a JSON object")
        return value, None

    def limit_reached(self, deliveries: int) -> Diagnostic | None:
        if deliveries >= self.cfg.max_deliver:
            return codes.DELIVERY_LIMIT.at(None, source=self.cfg.name, count=deliveries)
        return None

    async def route(self, events: Sequence[dict[str, Any]], keepalive: Callable[[], Awaitable[None]]) -> JobResult:
        """Route ``events`` as one job.  While the queue is full this waits (calling ``keepalive`` each
        second), and no fetch happens meanwhile: the backlog stays in the broker."""
        while True:
            try:
                fut = await self.pipeline.submit(events, self.label, timeout=1.0)
                break
            except TimeoutError:
                with contextlib.suppress(Exception):
                    await keepalive()
        return await fut

    async def dead_letter(self, diag: Diagnostic, event: dict[str, Any] | None, raw: bytes, deliveries: int) -> bool:
        """Send a poison message to the dead-letter target with its reason; True when it was taken."""
        self.metrics.events_rejected.labels(diag.code).inc()
        dl = self.cfg.dead_letter
        sent = False
        if dl is not None:
            payload: Any = event if event is not None else {"data_base64": base64.b64encode(raw).decode("ascii")}
            headers = ((H_CODE, diag.code), (H_ERROR, diag.message), (H_SOURCE, self.cfg.name),
                       (H_DELIVERIES, str(deliveries)))
            version = self.pipeline.rules.version
            decision = Decision(f"<source {self.cfg.name}>", dl, payload, None, headers, version=version)
            try:
                out = await self.pipeline.dispatcher.dispatch([decision], event=payload, version=version)
                sent = out.failed == 0
            except Exception as e:  # noqa: BLE001 - reported below
                log.error("dead letter failed", extra={"source": self.cfg.name, "error": repr(e)})
        if sent:
            log.warning(diag.message, extra={"code": diag.code, "source": self.cfg.name, "dead_letter": dl})
            return True
        lost = codes.POISON_LOST.at(None, source=self.cfg.name, code=diag.code, detail=diag.message)
        self.metrics.events_rejected.labels(lost.code).inc()
        log.error(lost.message, extra={"code": lost.code, "source": self.cfg.name})
        return False
