"""The ``amqp`` target (RabbitMQ): exchange + routing key, publisher confirms, persistent messages, with aio-pika.

Position in the pipeline: Dispatcher ─▶ **AmqpAdapter** ─▶ a RabbitMQ broker.

The channel runs in confirm mode: each publish of a batch is in flight at
once and is confirmed by the broker's ack.  ``mandatory`` (the default)
makes an unroutable message (no queue bound) an error instead of a silent
drop, and a permanent one; so is a missing exchange (the broker closes the
channel with 404 NOT_FOUND: the message is dead-lettered at once, and a new
channel is opened for the next messages).  Messages are persistent (``delivery_mode: 2``)
and carry the message id, so a consumer can drop the duplicates that a retry
after a lost confirm can make.  The connection is aio-pika's robust one: it
reconnects, and what failed meanwhile is retried by the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        self._channel_broken = False

    async def open(self) -> None:
        with client_library("amqp"):
            import aio_pika
            import aio_pika.exceptions
        self._aio_pika = aio_pika
        self._conn = await aio_pika.connect_robust(self.url, timeout=min(self.timeout, 5.0), reconnect_interval=0.2)
        await self._open_channel()

    async def _open_channel(self) -> None:
        self._channel = await self._conn.channel(publisher_confirms=True, on_return_raises=self.mandatory)
        if self.exchange_name:
            self._exchange = await self._channel.get_exchange(self.exchange_name, ensure=False)
        else:
            self._exchange = self._channel.default_exchange
        self._channel_broken = False

    async def _ensure_channel(self) -> None:
        """After the broker closed the channel (a publish to a missing exchange: 404 NOT_FOUND), aio-pika
        does not reopen it: open a new one, so the next messages are not refused for an old error."""
        if not self._channel_broken or self._conn is None or self._conn.is_closed:
            return
        old = self._channel
        await self._open_channel()
        with contextlib.suppress(Exception):  # already closed by the broker
            await old.close()

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
            # No per-publish timeout (a timer per message in aiormq): the dispatcher bounds the batch.
            await self._exchange.publish(msg, routing_key=key, mandatory=self.mandatory, timeout=None)
        except exc.PublishError as e:  # returned by the broker: no queue is bound for this key
            return permanent(
                "amqp-unroutable", f"no queue bound to exchange {self.exchange_name!r} for routing key {key!r}: {e}"
            )
        except exc.DeliveryError as e:  # nacked by the broker
            return transient("amqp-nack", str(e))
        except exc.ChannelNotFoundEntity as e:  # 404 NOT_FOUND: the exchange does not exist
            self._channel_broken = True
            return permanent("amqp-not-found", f"exchange {self.exchange_name!r}: {e}")
        except TimeoutError:
            return transient("timeout", f"no publisher confirm within {self.timeout:g}s")
        except (exc.AMQPChannelError, exc.ChannelInvalidStateError) as e:  # the channel closed: a new one next time
            self._channel_broken = True
            return transient("connection", f"{type(e).__name__}: {e}")
        except Exception as e:  # noqa: BLE001  # channel/connection closed, reconnecting: try again
            return transient("connection", f"{type(e).__name__}: {e}")
        return CONFIRMED

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        if self._channel_broken:
            try:
                await self._ensure_channel()
            except Exception as e:  # noqa: BLE001  # the connection is down too: it reconnects, retry
                return [transient("connection", f"cannot reopen the channel: {type(e).__name__}: {e}")] * len(batch)
        return await asyncio.gather(*(self._one(m) for m in batch))

    async def health(self) -> Health:
        ok = self._conn is not None and not self._conn.is_closed
        return Health(ok, self.url.split("@")[-1])

    async def close(self, timeout: float) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.wait_for(conn.close(), timeout)
