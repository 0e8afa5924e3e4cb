"""A broker source: an MQTT 5 shared subscription at QoS 1, each message acknowledged (PUBACK) after delivery.

Position in the pipeline::

    MQTT broker ──$share/<group>/<topic>, QoS 1──▶ **MqttSource** ──route──▶ Pipeline ──▶ Dispatcher
                ◀──PUBACK once the event's decisions are delivered or dead-lettered──┘

* the client (aiomqtt over paho-mqtt) runs with paho's manual acknowledgement, so no PUBACK leaves before
  the Dispatcher has settled the event; PUBACKs go out in the order the messages came in, as MQTT requires
  (MQTT 5.0, 4.6), so one event still being retried holds back the PUBACKs of those behind it;
* the CONNECT's Receive Maximum (``batch`` × (IN_FLIGHT_BATCHES + 1)) bounds the unacknowledged messages
  the broker sends, so a full ingest queue stops the flow at the broker and the client's inbox is bounded;
* MQTT cannot reject a message or ask for it again on a live connection (the broker resends only after a
  reconnect), so a failed event is routed again here after ``nak_delay``, up to ``max_deliver`` times, then
  goes to the dead-letter target (E681) and is acknowledged; poison (not a JSON object, too large) goes
  there at once (E680) and is acknowledged;
* the session is persistent (clean start off, Session Expiry ``session_expiry``), so what was not
  acknowledged when a connection broke is sent again when the same client id reconnects (``consumer``:
  give each replica a stable one); a PUBACK owed on a connection that broke is never sent on the next one,
  since the broker numbers its resent messages afresh;
* several replicas subscribing with the same ``group`` share the work: the broker hands each message to one
  of them.  What the broker does with an un-acked message of a replica that never comes back is its own
  affair (docs/sidecar.md says what Mosquitto does).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rules_engine.serve.sources import IN_FLIGHT_BATCHES, SourceBase, log

__all__ = ["DEFAULT_URL", "MqttSource", "shared_topic"]

DEFAULT_URL = "mqtt://127.0.0.1:1883"
CONNECT_TIMEOUT = 10.0


def shared_topic(group: str, topic: str) -> str:
    """The MQTT 5 shared-subscription filter for ``topic`` in the share group ``group``."""
    return f"$share/{group}/{topic}"


class MqttSource(SourceBase):
    """One configured ``type: mqtt`` source (a service of the app).

    Invariant: ``self._unacked`` holds the packet ids of the current connection's QoS 1 messages in the
    order they arrived; an id leaves it (PUBACK sent) only once it and every id before it are settled.
    """

    _client: Any = None

    async def _connect(self) -> None:
        cfg = self.cfg
        url = urlsplit(cfg.url or DEFAULT_URL)
        self._client_id = cfg.consumer or f"rules-engine-{socket.gethostname()}-{os.getpid()}"
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 1883
        self._user = unquote(url.username) if url.username else None
        self._password = unquote(url.password) if url.password else None
        self._generation = 0
        self._unacked: deque[int] = deque()
        self._settled: set[int] = set()
        await self._open()

    async def _open(self) -> None:
        cfg = self.cfg
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = cfg.session_expiry
        props.ReceiveMaximum = min(65535, cfg.batch * (IN_FLIGHT_BATCHES + 1))
        client = aiomqtt.Client(self._host, self._port, identifier=self._client_id, username=self._user,
                                password=self._password, protocol=aiomqtt.ProtocolVersion.V5,
                                clean_start=False, properties=props, timeout=CONNECT_TIMEOUT)
        # aiomqtt has no switch for it: manual acknowledgement is paho's, set before CONNECT so that no
        # message of a resumed session is acknowledged on arrival.
        client._client.manual_ack_set(True)
        await client.__aenter__()
        try:
            await client.subscribe(shared_topic(cfg.group, cfg.stream), qos=1, timeout=CONNECT_TIMEOUT)
        except BaseException:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
            raise
        self._generation += 1
        self._unacked.clear()
        self._settled.clear()
        self._client = client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a broken connection is closed either way
                await client.__aexit__(None, None, None)

    async def _fetch_once(self) -> None:
        if self._client is None:  # the connection broke: resume the session (the broker resends)
            await self._open()
        client = self._client
        messages = client.messages
        try:
            first = await asyncio.wait_for(anext(messages), timeout=1.0)
        except TimeoutError:
            return
        except aiomqtt.MqttError:
            await self._disconnect()
            raise
        batch = [first]
        while len(batch) < self.cfg.batch and len(messages):
            batch.append(await anext(messages))
        self._unacked.extend(m.mid for m in batch if m.qos > 0)
        await self.settle_later(self._settle(batch, self._generation))

    def _ack(self, mids: list[int], generation: int) -> None:
        """Mark ``mids`` settled and send the PUBACKs now due, in arrival order."""
        if generation != self._generation or self._client is None:
            return  # that connection is gone; the broker resends those messages on the new one
        self._settled.update(mids)
        paho = self._client._client
        while self._unacked and self._unacked[0] in self._settled:
            mid = self._unacked.popleft()
            self._settled.discard(mid)
            paho.ack(mid, 1)

    async def _settle(self, batch: list[aiomqtt.Message], generation: int) -> None:
        done: list[int] = []
        good: list[tuple[aiomqtt.Message, bytes, dict[str, Any]]] = []
        for msg in batch:
            raw = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
            event, problem = self.decode(raw)
            if problem is None:
                assert event is not None
                good.append((msg, raw, event))
            else:
                await self.dead_letter(problem, None, raw, 1)
                done.append(msg.mid)
        attempt = 0
        while good:
            attempt += 1

            async def keepalive() -> None:  # nothing to renew: an un-acked message stays ours on this connection
                return None

            try:
                res = await self.route([e for _, _, e in good], keepalive)
                failed = set(res.failed_events)
            except Exception as e:  # noqa: BLE001 - e.g. the dedup store down: MQTT cannot hand it back, so retry
                log.warning("routing a batch failed", extra={"source": self.cfg.name, "error": repr(e)})
                failed = set(range(len(good)))
            retry = []
            for i, item in enumerate(good):
                if i not in failed:
                    done.append(item[0].mid)
                    continue
                limit = self.limit_reached(attempt)
                if limit is None:
                    retry.append(item)
                else:
                    await self.dead_letter(limit, item[2], item[1], attempt)
                    done.append(item[0].mid)
            good = retry
            if good:
                if self._stopping.is_set():  # left un-acked: the broker resends them after a reconnect
                    break
                await asyncio.sleep(self.cfg.nak_delay)
        qos1 = {m.mid for m in batch if m.qos > 0}
        self._ack([mid for mid in done if mid in qos1], generation)
