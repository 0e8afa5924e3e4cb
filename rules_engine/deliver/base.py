"""The adapter contract: what a target type implements, and what it answers.

Position in the pipeline::

    Decision ─▶ Dispatcher (dispatcher.py: retries, dead letters, backpressure)
                   └─▶ **Adapter.send(batch)** ─▶ a broker, a webhook, a file … ─▶ one SendResult per message

An adapter is one configured target.  It is built from the target's options
(already checked at load time against the type's ``options_schema``), opened
once, and then sends batches: it may pipeline or keep many messages in flight
inside one ``send`` call, but it returns only when each message of the batch is
*confirmed* (a publisher confirm, a JetStream ack, an HTTP status, a write) or
known to have failed.  It never raises for a failed message: it answers with a
:class:`SendResult` saying whether trying again can help.  The dispatcher owns
retries, timeouts and dead letters, so an adapter stays a thin protocol shim.

A target type is found through the ``rules_engine.adapters`` entry-point
group; the entry point names an :class:`AdapterType` (usually the adapter
class itself: ``options_schema`` plus a constructor taking name and options).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

__all__ = [
    "CONFIRMED",
    "Adapter",
    "AdapterType",
    "AdapterUnavailable",
    "Health",
    "Message",
    "SendResult",
    "permanent",
    "transient",
]


@dataclass(frozen=True, slots=True)
class Message:
    """One payload for one target, with what it came from.

    ``event`` is the original event (what a dead letter carries); ``headers``
    are strings an adapter maps to its protocol's headers or attributes;
    ``id`` is stable across retries of this message, so brokers that
    de-duplicate (JetStream's ``Nats-Msg-Id``, AMQP ``message_id``) can.
    """

    payload: Any
    partition_key: str | None
    headers: tuple[tuple[str, str], ...]
    event: Any
    rule: str
    target: str
    version: str
    id: str = ""

    def __init__(self, payload: Any, partition_key: str | None, headers: tuple[tuple[str, str], ...], event: Any,
                 rule: str, target: str, version: str, id: str = "") -> None:  # noqa: A002  # the field's name
        # One Message per delivered decision: the fields are set through their slot descriptors, what the
        # generated frozen __init__ does through object.__setattr__ at about 1.7 times the cost.
        _m_payload(self, payload)
        _m_partition_key(self, partition_key)
        _m_headers(self, headers)
        _m_event(self, event)
        _m_rule(self, rule)
        _m_target(self, target)
        _m_version(self, version)
        _m_id(self, id)


_m_payload = Message.__dict__["payload"].__set__
_m_partition_key = Message.__dict__["partition_key"].__set__
_m_headers = Message.__dict__["headers"].__set__
_m_event = Message.__dict__["event"].__set__
_m_rule = Message.__dict__["rule"].__set__
_m_target = Message.__dict__["target"].__set__
_m_version = Message.__dict__["version"].__set__
_m_id = Message.__dict__["id"].__set__


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer for one message: confirmed, or failed and whether a retry can help.

    ``code`` is short and machine-friendly (``"http-503"``, ``"timeout"``,
    ``"connection"``); ``detail`` is for people (a status line and a body
    excerpt, an exception message); ``retry_after`` is the delay the receiver
    asked for (HTTP ``Retry-After``), in seconds.
    """

    ok: bool
    retryable: bool = False
    code: str = ""
    detail: str = ""
    retry_after: float | None = None


CONFIRMED: Final = SendResult(True)


def transient(code: str, detail: str, retry_after: float | None = None) -> SendResult:
    """A failure that may pass: retried under the target's retry policy."""
    return SendResult(False, True, code, detail, retry_after)


def permanent(code: str, detail: str) -> SendResult:
    """A failure that will not pass by itself: dead-lettered at once."""
    return SendResult(False, False, code, detail)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""


class AdapterUnavailable(Exception):
    """An adapter cannot work at all (its client library is not installed): never retried."""


@runtime_checkable
class Adapter(Protocol):
    """One configured target."""

    name: str

    async def open(self) -> None:
        """Connect.  Raise on failure (the dispatcher tries again before the next send);
        raise :class:`AdapterUnavailable` when trying again cannot help."""

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        """Send and confirm every message; one result per message, in order.  Never raises for
        a message that failed; an exception means the whole batch failed transiently."""

    async def health(self) -> Health: ...

    async def close(self, timeout: float) -> None:
        """Flush what is buffered and release the connection, within ``timeout`` seconds."""


class AdapterType(Protocol):
    """What an entry point of the ``rules_engine.adapters`` group names."""

    options_schema: Mapping[str, Any]
    """JSON Schema (draft 2020-12) of this type's own options (not the common ones)."""

    def __call__(self, name: str, options: Mapping[str, Any]) -> Adapter: ...
