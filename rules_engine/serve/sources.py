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
from rules_engine.serve.jobs import Dedup, EventTracer, run_job
from rules_engine.serve.metrics import Metrics
from rules_engine.serve.pipeline import JobResult, Pipeline

__all__ = ["H_CODE", "H_DELIVERIES", "H_ERROR", "H_SOURCE", "SourceBase"]

log = logging.getLogger("rules_engine.serve")

STOP_TIMEOUT_S = 10.0
IN_FLIGHT_BATCHES = 4
H_CODE = "x-rules-engine-error-code"
H_ERROR = "x-rules-engine-error"
H_SOURCE = "x-rules-engine-source"
H_DELIVERIES = "x-rules-engine-deliveries"


class SourceBase:
    """A source's fetch loop (``_fetch_once``, one batch) owned by ``start``/``stop``."""

    tracer: EventTracer | None = None  # set by the app when tracing is on
    dedup: Dedup | None = None  # set by the app when deduplication is configured

    def __init__(self, cfg: SourceConfig, pipeline: Pipeline, metrics: Metrics, *, drain_timeout: float) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.metrics = metrics
        self.label = f"{cfg.type}/{cfg.name}"
        self._drain_timeout = drain_timeout
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Batches being routed while the next one is fetched: at most IN_FLIGHT_BATCHES (the bound).
        self._slots = asyncio.Semaphore(IN_FLIGHT_BATCHES)
        self._settling: set[asyncio.Task[None]] = set()

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
        """Stop fetching; let the batches in hand finish (bounded by the drain timeout), then disconnect."""
        self._stopping.set()
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._settling) if t is not None]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=min(self._drain_timeout, STOP_TIMEOUT_S) + 1.0)
            for t in pending:  # unacked messages come back from the broker
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        await self._disconnect()

    async def settle_later(self, work: Awaitable[None]) -> None:
        """Route and acknowledge a fetched batch in the background, so the next fetch overlaps it; waits
        while IN_FLIGHT_BATCHES batches are in flight (no fetch meanwhile: the backlog stays in the broker)."""
        await self._slots.acquire()

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - unacked messages come back from the broker
                log.exception("settling a batch failed", extra={"source": self.cfg.name})
            finally:
                self._slots.release()

        task = asyncio.create_task(run())
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

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
        second), and no fetch happens meanwhile: the backlog stays in the broker.

        With tracing (one span per event) or deduplication configured, the job goes through
        ``jobs.run_job``; a duplicate counts as settled (acknowledged, not routed)."""
        if self.tracer is None and self.dedup is None:
            return await self._submit(events, keepalive)
        res, duplicates = await run_job(events, self.label, lambda evs: self._submit(evs, keepalive),
                                        tracer=self.tracer, dedup=self.dedup)
        if duplicates:
            self.metrics.events_duplicate.labels(self.label).inc(duplicates)
        return res

    async def _submit(self, events: Sequence[dict[str, Any]], keepalive: Callable[[], Awaitable[None]]) -> JobResult:
        while True:
            try:
                fut = await self.pipeline.submit(events, self.label, timeout=1.0)
                break
            except TimeoutError:
                if self._stopping.is_set():  # stopping: the messages stay unacked in the broker
                    raise asyncio.CancelledError from None
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
