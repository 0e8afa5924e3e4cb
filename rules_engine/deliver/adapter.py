"""The adapter contract.  Core code depends on this Protocol only.

Delivery of real broker adapters is a later stage of the project; this module
fixes the shape they plug into: an adapter is built from a target's options
and receives payloads, and reports failures as exceptions that the delivery
loop turns into retries and dead letters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Adapter(Protocol):
    """One configured destination (a target of a rule set)."""

    name: str

    def send(self, payload: Any, *, partition_key: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        """Deliver one payload; raise on failure (the caller retries or dead-letters)."""

    def close(self) -> None:
        """Flush and release resources."""


class AdapterFactory(Protocol):
    def __call__(self, name: str, options: Mapping[str, Any]) -> Adapter: ...
