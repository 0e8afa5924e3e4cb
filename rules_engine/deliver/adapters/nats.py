"""The ``nats`` target: core NATS publish, or JetStream publish with an ack, with nats-py.

Position in the pipeline: Dispatcher ─▶ **NatsAdapter** ─▶ a NATS server.

JetStream (``jetstream: true``): every message of a batch is published with
``publish_async`` (all in flight at once) and is confirmed by its PubAck; the
message id travels as ``Nats-Msg-Id``, so a retry after a lost ack is dropped
by the server's duplicate window instead of stored twice.  Core NATS has no
acknowledgement: a batch counts as confirmed once a ``flush`` round trip shows
the server received it (a subscriber that was not there never gets it).
nats-py reconnects by itself; a publish during a reconnect fails transiently
and is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rules_engine.deliver.adapters.common import body, client_library
from rules_engine.deliver.base import CONFIRMED, Health, Message, SendResult, permanent, transient

__all__ = ["NatsAdapter"]


class NatsAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "required": ["subject"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^(nats|tls)://[^/\\s]+",
                "x-message": "url must start with nats:// or tls://",
            },
            "subject": {
                "type": "string",
                "pattern": "^[^\\s*>]+$",
                "x-message": "subject must be a concrete subject (no spaces or wildcards)",
            },
            "jetstream": {"type": "boolean"},
            "stream": {"type": "string", "minLength": 1},
        },
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = str(options.get("url", "nats://127.0.0.1:4222"))
        self.subject = str(options["subject"])
        self.jetstream = bool(options.get("jetstream", False))
        self.stream = options.get("stream")
        self.timeout = float(options.get("timeout", 10.0))
        self.max_in_flight = int(options.get("max_in_flight", 256))
        self._nc: Any = None
        self._js: Any = None
        self._errors: Any = None

    async def open(self) -> None:
        with client_library("nats"):
            import nats
            import nats.js.errors
        self._errors = nats.js.errors
        self._nc = await nats.connect(
            self.url,
            connect_timeout=min(self.timeout, 5.0),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            allow_reconnect=True,
        )
        if self.jetstream:
            # Room for every message the dispatcher may have in flight here (its permits, plus dead letters
            # and retries from elsewhere), so nats-py's own semaphore never has waiters (asyncio's
            # ``Semaphore.locked`` walks them on every publish).
            self._js = self._nc.jetstream(timeout=self.timeout,
                                          publish_async_max_pending=max(2 * self.max_in_flight, 128))

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        if self._nc is None or not self._nc.is_connected:
            return [transient("connection", "not connected to NATS")] * len(batch)
        if not self.jetstream:
            for m in batch:
                await self._nc.publish(self.subject, body(m.payload), headers=dict(m.headers) or None)
            await self._nc.flush(timeout=self.timeout)
            return [CONFIRMED] * len(batch)
        # Every message of the batch in flight, then every ack gathered.  No ``wait_stall``: with one,
        # nats-py wraps each publish in ``wait_for`` (a task and a timer per message); the dispatcher
        # already bounds the whole batch by the target's timeout, and its permits keep the messages in
        # flight under ``publish_async_max_pending``.
        publish, subject, stream = self._js.publish_async, self.subject, self.stream
        futures = []
        for m in batch:
            headers = dict(m.headers)
            if m.id:
                headers["Nats-Msg-Id"] = m.id
            futures.append(await publish(subject, body(m.payload), stream=stream, headers=headers))
        acks = await asyncio.gather(*futures, return_exceptions=True)
        return [self._result(a) for a in acks]

    def _result(self, ack: Any) -> SendResult:
        if not isinstance(ack, BaseException):
            return CONFIRMED
        errors = self._errors
        if isinstance(ack, errors.NoStreamResponseError):
            return permanent("nats-no-stream", "no JetStream stream listens on this subject")
        if isinstance(ack, errors.APIError):
            code = getattr(ack, "code", None)
            if code is not None and 400 <= int(code) < 500 and int(code) not in (408, 429):
                return permanent(f"nats-{code}", str(ack))
        return transient("nats", f"{type(ack).__name__}: {ack}")

    async def health(self) -> Health:
        ok = self._nc is not None and self._nc.is_connected
        return Health(bool(ok), self.url)

    async def close(self, timeout: float) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            try:
                await asyncio.wait_for(nc.drain(), timeout)
            except Exception:  # noqa: BLE001  # a connection that cannot drain is closed all the same
                await nc.close()
