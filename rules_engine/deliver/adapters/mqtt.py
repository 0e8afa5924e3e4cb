"""The ``mqtt`` target: publish to a topic with QoS 0, 1 or 2 and retain, with aiomqtt (MQTT 5).

Position in the pipeline: Dispatcher ─▶ **MqttAdapter** ─▶ an MQTT broker.

QoS 1 is confirmed by PUBACK, QoS 2 by PUBCOMP; QoS 0 has no confirmation,
so it counts as confirmed once handed to the connection.  A batch is
published with every message in flight at once.  Message headers travel as
MQTT 5 user properties.  A lost connection is reconnected before the next
batch; what failed is retried by the dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rules_engine.deliver.adapters.common import body, client_library
from rules_engine.deliver.base import CONFIRMED, Health, Message, SendResult, transient

__all__ = ["MqttAdapter"]


class MqttAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "required": ["topic"],
        "properties": {
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "topic": {"type": "string", "pattern": "^[^+#]+$", "x-message": "topic must not hold the wildcards + or #"},
            "qos": {"enum": [0, 1, 2]},
            "retain": {"type": "boolean"},
        },
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.host = str(options.get("host", "127.0.0.1"))
        self.port = int(options.get("port", 1883))
        self.topic = str(options["topic"])
        self.qos = int(options.get("qos", 1))
        self.retain = bool(options.get("retain", False))
        self.timeout = float(options.get("timeout", 10.0))
        self.max_in_flight = int(options.get("max_in_flight", 256))
        self._client: Any = None
        self._aiomqtt: Any = None
        self._packet_types: Any = None
        self._properties_type: Any = None

    async def open(self) -> None:
        with client_library("mqtt"):
            import aiomqtt
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
        self._aiomqtt, self._packet_types, self._properties_type = aiomqtt, PacketTypes, Properties
        client = aiomqtt.Client(
            self.host,
            self.port,
            protocol=aiomqtt.ProtocolVersion.V5,
            timeout=self.timeout,
            max_inflight_messages=min(self.max_in_flight, 65535),
            max_queued_outgoing_messages=0,
        )
        # Many publishes in flight are the point here, not a warning sign (the dispatcher bounds them).
        client.pending_calls_threshold = self.max_in_flight + 1
        await client.__aenter__()
        self._client = client

    def _properties(self, m: Message) -> Any:
        if not m.headers:
            return None
        p = self._properties_type(self._packet_types.PUBLISH)
        p.UserProperty = list(m.headers)
        return p

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        if self._client is None:
            await self.open()
        aiomqtt = self._aiomqtt

        async def one(m: Message) -> SendResult:
            try:
                await self._client.publish(
                    self.topic,
                    body(m.payload),
                    qos=self.qos,
                    retain=self.retain,
                    properties=self._properties(m),
                    timeout=self.timeout,
                )
            except aiomqtt.MqttError as e:
                return transient("connection", str(e))
            return CONFIRMED

        results = await asyncio.gather(*(one(m) for m in batch))
        if any(not r.ok for r in results):
            await self._reset()
        return results

    async def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001  # the connection is gone either way; the next batch reconnects
                pass

    async def health(self) -> Health:
        return Health(self._client is not None, f"{self.host}:{self.port}")

    async def close(self, timeout: float) -> None:
        await asyncio.wait_for(self._reset(), timeout)
