"""A durable broker source: a NATS JetStream durable pull consumer, acknowledged after delivery.

Position in the pipeline::

    JetStream stream ──fetch──▶ **JetStreamSource** ──route (waits for room)──▶ Pipeline ──▶ Dispatcher
                      ◀──ack / nak(delay) / term──┘ once the job's result is known

* a message is acked only after every decision of its event was delivered or dead-lettered; if one was
  lost, it is nak'ed with ``nak_delay`` and JetStream redelivers it (to this or another replica);
* poison (not a JSON object, too large) goes to the dead-letter target (E680), then is acked; an event still
  failing at its ``max_deliver``-th delivery goes there too (E681), then is terminated; a poison message no
  dead-letter target took is terminated (E682);
* several replicas bound to the same durable consumer share the work (the broker balances; a replica that
  dies leaves its unacked messages to be redelivered after ``ack_wait``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from rules_engine.serve.sources import SourceBase

__all__ = ["JetStreamSource"]

DEFAULT_URL = "nats://127.0.0.1:4222"


class JetStreamSource(SourceBase):
    """One configured ``type: jetstream`` source (a service of the app: started and stopped by its lifespan)."""

    _nc: NATS | None = None

    async def _connect(self) -> None:
        cfg = self.cfg
        assert cfg.subject is not None  # checked with the config
        self._nc = await nats.connect(cfg.url or DEFAULT_URL, connect_timeout=5, max_reconnect_attempts=-1,
                                      name=f"rules-engine {cfg.name}")
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

    async def _disconnect(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):  # the acks sent so far reach the server before closing
                await nc.flush(timeout=2)
            await nc.close()

    async def _fetch_once(self) -> None:
        try:
            msgs = await self._sub.fetch(self.cfg.batch, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            return
        good: list[tuple[Msg, dict[str, Any]]] = []
        for msg in msgs:
            event, problem = self.decode(msg.data)
            if problem is None:
                assert event is not None
                good.append((msg, event))
            elif await self.dead_letter(problem, None, msg.data, msg.metadata.num_delivered or 1):
                await msg.ack()
            else:
                await msg.term()
        if good:
            await self.settle_later(self._settle(good))

    async def _settle(self, good: list[tuple[Msg, dict[str, Any]]]) -> None:
        async def keepalive() -> None:  # still ours: tell the broker, so ack_wait does not run out
            for m, _ in good:
                await m.in_progress()

        res = await self.route([e for _, e in good], keepalive)
        failed = set(res.failed_events)
        for i, (msg, event) in enumerate(good):
            if i not in failed:
                await msg.ack()
                continue
            deliveries = msg.metadata.num_delivered or 1
            limit = self.limit_reached(deliveries)
            if limit is None:
                await msg.nak(delay=self.cfg.nak_delay)
            else:
                await self.dead_letter(limit, event, msg.data, deliveries)
                await msg.term()
