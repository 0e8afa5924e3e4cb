"""The ``stdout`` target: one JSON line per message on standard output.

Position in the pipeline: Dispatcher ─▶ **StdoutAdapter** ─▶ the process's standard output.
A write that returned is confirmed (the stream is flushed after each batch).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson

from rules_engine.deliver.adapters.common import record
from rules_engine.deliver.base import CONFIRMED, Health, Message, SendResult

__all__ = ["StdoutAdapter"]


class StdoutAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "properties": {
            "pretty": {"type": "boolean"},
            "format": {"enum": ["record", "payload"]},
        },
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.pretty = bool(options.get("pretty", False))
        self.payload_only = options.get("format", "record") == "payload"

    async def open(self) -> None:
        return None

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        opt = orjson.OPT_INDENT_2 if self.pretty else 0
        out = sys.stdout  # looked up per batch, so a redirected stdout is honoured
        for m in batch:
            out.write(orjson.dumps(m.payload if self.payload_only else record(m), option=opt).decode() + "\n")
        out.flush()
        return [CONFIRMED] * len(batch)

    async def health(self) -> Health:
        return Health(True)

    async def close(self, timeout: float) -> None:
        sys.stdout.flush()
