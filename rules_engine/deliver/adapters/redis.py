"""The ``redis`` target: Streams (``XADD`` with ``MAXLEN``) or pub/sub, with redis-py's asyncio client.

Position in the pipeline: Dispatcher ─▶ **RedisAdapter** ─▶ a Redis server.

A batch goes out as one pipeline (one round trip, no transaction); each
command's reply confirms its message (the entry id for ``XADD``, the receiver
count for ``PUBLISH``).  A stream entry has the fields ``payload`` (JSON),
``rule``, ``target``, ``id``, the partition key when there is one, and every
message header.  ``maxlen`` trims approximately (``~``), which is what keeps
``XADD`` cheap.  Connection errors are transient; a command error (a key of
the wrong type) is permanent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rules_engine.deliver.adapters.common import body, client_library
from rules_engine.deliver.base import CONFIRMED, Health, Message, SendResult, permanent, transient

__all__ = ["RedisAdapter"]


class RedisAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^rediss?://",
                "x-message": "url must start with redis:// or rediss://",
            },
            "stream": {"type": "string", "minLength": 1},
            "channel": {"type": "string", "minLength": 1},
            "maxlen": {"type": "integer", "minimum": 1},
        },
        "oneOf": [{"required": ["stream"]}, {"required": ["channel"]}],
        "x-message": "a redis target needs exactly one of 'stream' (XADD) or 'channel' (PUBLISH)",
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = str(options.get("url", "redis://127.0.0.1:6379"))
        self.stream = options.get("stream")
        self.channel = options.get("channel")
        self.maxlen = options.get("maxlen")
        self.timeout = float(options.get("timeout", 10.0))
        self._r: Any = None
        self._redis: Any = None

    async def open(self) -> None:
        with client_library("redis"):
            import redis
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        self._redis = redis
        # No ``socket_timeout``: redis-py would open an ``asyncio.timeout`` per reply read (64 per
        # pipelined batch); the dispatcher bounds each whole batch by the target's timeout instead.
        # No retries inside redis-py either (its default re-sends a whole pipeline after a broken
        # connection, unseen): the dispatcher retries, so it knows which messages may be duplicates.
        r = aioredis.from_url(self.url, socket_connect_timeout=min(self.timeout, 5.0),
                              retry=Retry(NoBackoff(), 0))
        await r.ping()
        self._r = r

    @staticmethod
    def fields(m: Message) -> dict[str, bytes | str]:
        f: dict[str, bytes | str] = {"payload": body(m.payload), "id": m.id}
        if m.partition_key is not None:
            f["partition_key"] = m.partition_key
        for k, v in m.headers:
            f[k] = v
        return f

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        redis = self._redis
        pipe = self._r.pipeline(transaction=False)
        for m in batch:
            if self.stream is not None:
                pipe.xadd(self.stream, self.fields(m), maxlen=self.maxlen, approximate=True)
            else:
                pipe.publish(self.channel, body(m.payload))
        try:
            replies = await pipe.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            return [transient("connection", f"{type(e).__name__}: {e}")] * len(batch)
        out: list[SendResult] = []
        for rep in replies:
            if isinstance(rep, (redis.ConnectionError, redis.TimeoutError)):
                out.append(transient("connection", str(rep)))
            elif isinstance(rep, Exception):
                out.append(permanent("redis", f"{type(rep).__name__}: {rep}"))
            else:
                out.append(CONFIRMED)
        return out

    async def health(self) -> Health:
        return Health(self._r is not None, self.url)

    async def close(self, timeout: float) -> None:
        if self._r is not None:
            r, self._r = self._r, None
            await r.aclose()
