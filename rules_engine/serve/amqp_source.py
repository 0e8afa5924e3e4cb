"""A durable broker source: a RabbitMQ quorum queue, consumed with manual acks after delivery.

Position in the pipeline::

    RabbitMQ quorum queue ──basic.consume (prefetch = batch)──▶ **AmqpSource** ──route──▶ Pipeline
                          ◀──ack once delivered / nack(requeue) on failure──┘

* the channel's prefetch bounds the unacknowledged messages this replica holds, so a full ingest queue
  stops the flow at the broker; several replicas consuming one queue share it (the broker balances);
* a message is acked only after its event's decisions were all delivered or dead-lettered; a failed one is
  nack'ed with requeue, and the quorum queue counts the delivery (``x-delivery-count``); at ``max_deliver``
  deliveries the event goes to the dead-letter target (E681) and is acked; poison (E680) goes there at once;
* if routing a batch raises, every message not yet answered is nack'ed with requeue (never held unanswered);
* the queue is declared as a durable quorum queue if it does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from rules_engine.serve.sources import SourceBase

__all__ = ["AmqpSource"]

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


class AmqpSource(SourceBase):
    """One configured ``type: amqp`` source (a service of the app)."""

    _conn: Any = None

    async def _connect(self) -> None:
        cfg = self.cfg
        self._conn = await aio_pika.connect_robust(cfg.url or DEFAULT_URL, timeout=10)
        channel = await self._conn.channel()
        await channel.set_qos(prefetch_count=cfg.batch)
        queue = await channel.declare_queue(cfg.stream, durable=True, arguments={"x-queue-type": "quorum"})
        # Bounded by the prefetch: the broker sends no more than `batch` unacked messages.
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue(maxsize=cfg.batch)
        self._tag = await queue.consume(self._inbox.put, no_ack=False)
        self._queue = queue

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
            await conn.close()  # unacked messages go back to the queue for another consumer

    async def _fetch_once(self) -> None:
        try:
            first = await asyncio.wait_for(self._inbox.get(), timeout=1.0)
        except TimeoutError:
            return
        msgs = [first]
        while len(msgs) < self.cfg.batch and not self._inbox.empty():
            msgs.append(self._inbox.get_nowait())
        await self.settle_later(self._settle(msgs))

    async def _settle(self, msgs: list[AbstractIncomingMessage]) -> None:
        """Route the batch and answer every message.  If routing or answering raises (dedup's Redis down,
        a channel error), the messages not yet answered are nack'ed with requeue: unanswered, they would
        stay with this consumer until its channel closed, holding the prefetch, and the source would stall."""
        try:
            await self._settle_batch(msgs)
        except Exception:
            for msg in msgs:
                if not msg.processed:
                    with contextlib.suppress(Exception):  # the channel may be gone: then the broker requeues
                        await msg.nack(requeue=True)
            raise

    async def _settle_batch(self, msgs: list[AbstractIncomingMessage]) -> None:
        good: list[tuple[AbstractIncomingMessage, dict[str, Any]]] = []
        for msg in msgs:
            event, problem = self.decode(msg.body)
            if problem is None:
                assert event is not None
                good.append((msg, event))
            else:
                await self.dead_letter(problem, None, msg.body, _deliveries(msg))
                await msg.ack()
        if not good:
            return

        async def keepalive() -> None:  # nothing to renew: unacked messages stay ours until we answer
            return None

        res = await self.route([e for _, e in good], keepalive)
        failed = set(res.failed_events)
        for i, (msg, event) in enumerate(good):
            if i not in failed:
                await msg.ack()
                continue
            deliveries = _deliveries(msg)
            limit = self.limit_reached(deliveries)
            if limit is None:
                await msg.nack(requeue=True)
            else:
                await self.dead_letter(limit, event, msg.body, deliveries)
                await msg.ack()


def _deliveries(msg: AbstractIncomingMessage) -> int:
    """This delivery's number: the quorum queue's count of earlier deliveries, plus one."""
    count = (msg.headers or {}).get("x-delivery-count", 0)
    return (int(count) if isinstance(count, int) else 0) + 1
