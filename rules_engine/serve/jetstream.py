"""A durable broker source: a NATS JetStream durable pull consumer, acknowledged after delivery.

Position in the pipeline::

    JetStream stream ──fetch──▶ **JetStreamSource** ──submit (waits for room)──▶ Pipeline ──▶ Dispatcher
                      ◀──ack / nak(delay) / term──┘ once the job's result is known

Invariants:

* a message is acked only after every decision of its event was delivered or dead-lettered; if one was
  lost, it is nak'ed with ``nak_delay`` and JetStream redelivers it (to this or another replica);
* a message that is not a JSON object, or is larger than ``max_event_bytes``, is poison: it goes to the
  source's ``dead_letter`` target with the reason (E680), then is acked.  A message still failing at its
  ``max_deliver``-th delivery goes there too (E681), then is terminated.  Without a dead-letter target
  (or if that fails too) poison is logged, counted and terminated (E682), never silently dropped;
* when the ingest queue is full the source waits for room before fetching again: the broker holds the
  backlog, not this process;
* several replicas bound to the same durable consumer share the work (the broker balances; a replica that
  dies leaves its unacked messages to be redelivered after ``ack_wait``): delivery is at least once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import Any

import nats
import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from .. import codes
from ..errors import Diagnostic
from ..routing import Decision
from .config import SourceConfig
from .metrics import Metrics
from .pipeline import Pipeline

__all__ = ["JetStreamSource"]

log = logging.getLogger("rules_engine.serve")

STOP_TIMEOUT_S = 10.0
H_CODE = "x-rules-engine-error-code"
H_ERROR = "x-rules-engine-error"
H_SOURCE = "x-rules-engine-source"
H_DELIVERIES = "x-rules-engine-deliveries"


class JetStreamSource:
    """One configured ``type: jetstream`` source (a service of the app: started and stopped by its lifespan)."""

    def __init__(self, cfg: SourceConfig, pipeline: Pipeline, metrics: Metrics, *, drain_timeout: float) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.metrics = metrics
        self.label = f"jetstream/{cfg.name}"
        self._drain_timeout = drain_timeout
        self._nc: NATS | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        cfg = self.cfg
        self._nc = await nats.connect(cfg.url, connect_timeout=5, max_reconnect_attempts=-1, name=f"rules-engine {cfg.name}")
        js = self._nc.jetstream()
        # A consumer that exists is bound as it is (several replicas share it); otherwise it is created.
        config = ConsumerConfig(durable_name=cfg.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=cfg.ack_wait,
                                max_deliver=-1, deliver_policy=DeliverPolicy.ALL, filter_subject=cfg.subject,
                                max_ack_pending=max(1000, cfg.batch * 8))
        try:
            await js.consumer_info(cfg.stream, cfg.durable)
        except NotFoundError:
            await js.add_consumer(cfg.stream, config)
        self._sub = await js.pull_subscribe_bind(cfg.durable, cfg.stream)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"source-{cfg.name}")

    async def stop(self) -> None:
        """Stop fetching; let the batch in hand finish (bounded), then close the connection."""
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
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):  # the acks sent so far reach the server before closing
                await nc.flush(timeout=2)
            await nc.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await self._sub.fetch(self.cfg.batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a broker hiccup must not end the source
                log.warning("fetch failed", extra={"source": self.cfg.name, "error": repr(e)})
                await asyncio.sleep(0.5)
                continue
            try:
                await self._handle(msgs)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - unacked messages come back after ack_wait
                log.exception("handling a batch failed", extra={"source": self.cfg.name})

    async def _handle(self, msgs: list[Msg]) -> None:
        good: list[tuple[Msg, dict[str, Any]]] = []
        for msg in msgs:
            event, problem = self._decode(msg.data)
            if problem is not None:
                await self._poison(msg, problem, None, terminate=False)
            else:
                assert event is not None
                good.append((msg, event))
        if not good:
            return
        # Waits while the queue is full: no fetch happens meanwhile, so the backlog stays in the broker.
        while True:
            try:
                fut = await self.pipeline.submit([e for _, e in good], self.label, timeout=1.0)
                break
            except TimeoutError:
                for m, _ in good:  # still ours: tell the broker, so ack_wait does not run out
                    with contextlib.suppress(Exception):
                        await m.in_progress()
        res = await fut
        failed = set(res.failed_events)
        for i, (msg, event) in enumerate(good):
            if i not in failed:
                await msg.ack()
                continue
            delivered = msg.metadata.num_delivered or 1
            if delivered >= self.cfg.max_deliver:
                d = codes.DELIVERY_LIMIT.at(None, source=self.cfg.name, count=delivered)
                await self._poison(msg, d, event, terminate=True)
            else:
                await msg.nak(delay=self.cfg.nak_delay)

    def _decode(self, data: bytes) -> tuple[dict[str, Any] | None, Diagnostic | None]:
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

    async def _poison(self, msg: Msg, diag: Diagnostic, event: dict[str, Any] | None, *, terminate: bool) -> None:
        """Dead-letter ``msg`` with its reason, then ack it (or term it, at the delivery limit)."""
        self.metrics.events_rejected.labels(diag.code).inc()
        dl = self.cfg.dead_letter
        sent = False
        if dl is not None:
            payload: Any = event if event is not None else {"data_base64": base64.b64encode(msg.data).decode("ascii")}
            headers = ((H_CODE, diag.code), (H_ERROR, diag.message), (H_SOURCE, self.cfg.name),
                       (H_DELIVERIES, str(msg.metadata.num_delivered or 1)))
            decision = Decision(f"<source {self.cfg.name}>", dl, payload, None, headers,
                                version=self.pipeline.rules.version)
            try:
                out = await self.pipeline.dispatcher.dispatch([decision], event=payload,
                                                              version=self.pipeline.rules.version)
                sent = out.failed == 0
            except Exception as e:  # noqa: BLE001 - reported below
                log.error("dead letter failed", extra={"source": self.cfg.name, "error": repr(e)})
        if not sent:
            lost = codes.POISON_LOST.at(None, source=self.cfg.name, code=diag.code, detail=diag.message)
            self.metrics.events_rejected.labels(lost.code).inc()
            log.error(lost.message, extra={"code": lost.code, "source": self.cfg.name})
            await msg.term()
            return
        log.warning(diag.message, extra={"code": diag.code, "source": self.cfg.name, "dead_letter": dl})
        if terminate:
            await msg.term()
        else:
            await msg.ack()
