"""Helpers the built-in adapters share: payload encoding and lazy client imports.

Position in the pipeline: under each adapter (``Message`` ─▶ bytes on the wire).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from rules_engine.deliver.base import AdapterUnavailable, Message

__all__ = ["body", "client_library", "record"]


def body(payload: Any) -> bytes:
    """The payload as JSON bytes (a str or bytes payload is sent as it is)."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return orjson.dumps(payload)


def record(m: Message) -> dict[str, Any]:
    """The self-describing record that stdout and file targets write (``format: record``)."""
    out: dict[str, Any] = {"rule": m.rule, "target": m.target}
    if m.partition_key is not None:
        out["partition_key"] = m.partition_key
    if m.headers:
        out["headers"] = dict(m.headers)
    out["payload"] = m.payload
    return out


@contextmanager
def client_library(extra: str) -> Iterator[None]:
    """Wrap the lazy import of a client library: its absence is permanent for this target.

    Used as ``with client_library("nats"): import nats`` inside ``open``, so the core imports
    without any client and a missing one names the extra that brings it.
    """
    try:
        yield
    except ImportError as e:
        raise AdapterUnavailable(
            f"the client library {e.name!r} is not installed (pip install \"rules-engine[{extra}]\"): {e}"
        ) from e
