"""The ``amqp`` target (RabbitMQ): exchange + routing key, publisher confirms, persistent messages, with aio-pika.

Position in the pipeline: Dispatcher ─▶ **AmqpAdapter** ─▶ a RabbitMQ broker.

The channel runs in confirm mode: each publish of a batch is in flight at
once and is confirmed by the broker's ack.  ``mandatory`` (the default)
makes an unroutable message (no queue bound) an error instead of a silent
drop, and a permanent one.  Messages are persistent (``delivery_mode: 2``)
and carry the message id, so a consumer can drop the duplicates that a retry
after a lost confirm can make.  The connection is aio-pika's robust one: it
reconnects, and what failed meanwhile is retried by the dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rules_engine.deliver.adapters.common import body, client_library
from rules_engine.deliver.base import CONFIRMED, Health, Message, SendResult, permanent, transient

__all__ = ["AmqpAdapter"]


class AmqpAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "properties": {
            "url": {"type": "string", "pattern": "^amqps?://", "x-message": "url must start with amqp:// or amqps://"},
            "exchange": {"type": "string"},
            "routing_key": {"type": "string"},
            "persistent": {"type": "boolean"},
            "mandatory": {"type": "boolean"},
        },
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = str(options.get("url", "amqp://guest:guest@127.0.0.1:5672/"))
        self.exchange_name = str(options.get("exchange", ""))
        self.routing_key = str(options.get("routing_key", ""))
        self.persistent = bool(options.get("persistent", True))
        self.mandatory = bool(options.get("mandatory", True))
        self.timeout = float(options.get("timeout", 10.0))
        self._conn: Any = None
        self._channel: Any = None
        self._exchange: Any = None
        self._aio_pika: Any = None

    async def open(self) -> None:
        with client_library("amqp"):
            import aio_pika
            import aio_pika.exceptions
        self._aio_pika = aio_pika
        self._conn = await aio_pika.connect_robust(self.url, timeout=min(self.timeout, 5.0), reconnect_interval=0.2)
        self._channel = await self._conn.channel(publisher_confirms=True, on_return_raises=self.mandatory)
        if self.exchange_name:
            self._exchange = await self._channel.get_exchange(self.exchange_name, ensure=False)
        else:
            self._exchange = self._channel.default_exchange

    async def _one(self, m: Message) -> SendResult:
        aio_pika = self._aio_pika
        exc = aio_pika.exceptions
        msg = aio_pika.Message(
            body(m.payload),
            headers=dict(m.headers),
            content_type="application/json",
            message_id=m.id or None,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT if self.persistent else aio_pika.DeliveryMode.NOT_PERSISTENT,
        )
        key = self.routing_key or (m.partition_key or "")
        try:
            await self._exchange.publish(msg, routing_key=key, mandatory=self.mandatory, timeout=self.timeout)
        except exc.PublishError as e:  # returned by the broker: no queue is bound for this key
            return permanent(
                "amqp-unroutable", f"no queue bound to exchange {self.exchange_name!r} for routing key {key!r}: {e}"
            )
        except exc.DeliveryError as e:  # nacked by the broker
            return transient("amqp-nack", str(e))
        except TimeoutError:
            return transient("timeout", f"no publisher confirm within {self.timeout:g}s")
        except Exception as e:  # noqa: BLE001  # channel/connection closed, reconnecting: try again
            return transient("connection", f"{type(e).__name__}: {e}")
        return CONFIRMED

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        return await asyncio.gather(*(self._one(m) for m in batch))

    async def health(self) -> Health:
        ok = self._conn is not None and not self._conn.is_closed
        return Health(ok, self.url.split("@")[-1])

    async def close(self, timeout: float) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.wait_for(conn.close(), timeout)
