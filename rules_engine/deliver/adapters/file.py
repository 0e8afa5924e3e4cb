"""The ``file`` target: JSON Lines appended to a file, with an fsync policy and size rotation.

Position in the pipeline: Dispatcher ─▶ **FileAdapter** ─▶ a local file.

A batch is written with one ``write`` in a worker thread (the event loop never
blocks on the disk); batches that arrive while a write is under way are written
together by the next one (group commit: one write, one fsync for all of them).
``fsync: always`` makes a confirmation mean "on disk"; ``batch`` (the default)
fsyncs once per write, before any message of it is confirmed, which is the same
guarantee at batch granularity; ``never`` leaves it to the OS (a crash of the machine can
lose confirmed lines).  With ``rotate_bytes``, a file that reached that size is
renamed ``path.1`` (older ones shift to ``.2`` … ``.keep``) before the next write.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar

import orjson

from rules_engine.deliver.adapters.common import record
from rules_engine.deliver.base import CONFIRMED, Health, Message, SendResult, transient

__all__ = ["FileAdapter"]


class FileAdapter:
    options_schema: ClassVar[Mapping[str, Any]] = {
        "required": ["path"],
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "fsync": {"enum": ["always", "batch", "never"]},
            "format": {"enum": ["record", "payload"]},
            "rotate_bytes": {"type": "integer", "minimum": 1024},
            "keep": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.path = Path(str(options["path"]))
        self.fsync = str(options.get("fsync", "batch"))
        self.payload_only = options.get("format", "record") == "payload"
        self.rotate_bytes = options.get("rotate_bytes")
        self.keep = int(options.get("keep", 5))
        self._fh: IO[bytes] | None = None
        self._pending: list[tuple[bytes, asyncio.Future[Exception | None]]] = []  # waiting for the next write
        self._writer: asyncio.Task[None] | None = None  # the one task that writes (see _drain)

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115  # owned by this adapter until close()

    def _rotate(self) -> None:
        assert self._fh is not None
        self._fh.close()
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._open()

    def _write(self, data: bytes) -> None:
        assert self._fh is not None
        if self.rotate_bytes is not None and self._fh.tell() > 0 and self._fh.tell() + len(data) > self.rotate_bytes:
            self._rotate()
            assert self._fh is not None
        if self.fsync == "always":
            for line in data.splitlines(keepends=True):
                self._fh.write(line)
                self._fh.flush()
                os.fsync(self._fh.fileno())
            return
        self._fh.write(data)
        self._fh.flush()
        if self.fsync == "batch":
            os.fsync(self._fh.fileno())

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        dumps = orjson.dumps
        nl = orjson.OPT_APPEND_NEWLINE  # one line per message, without a concatenation per line
        if self.payload_only:
            data = b"".join([dumps(m.payload, option=nl) for m in batch])
        else:
            data = b"".join([dumps(record(m), option=nl) for m in batch])
        done: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self._pending.append((data, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name=f"file:{self.name}")
        error = await done  # a caller that gives up (timeout) does not stop the write under way
        if error is not None:
            return [transient("io", f"{self.path}: {getattr(error, 'strerror', None) or error}")] * len(batch)
        return [CONFIRMED] * len(batch)

    async def _drain(self) -> None:
        """Group commit: everything pending is written, in arrival order, with one write and one fsync;
        batches that arrive meanwhile wait for the next round.  The only writer (lines stay whole and in
        order); it ends when nothing is pending."""
        while self._pending:
            group, self._pending = self._pending, []
            error: Exception | None = None
            try:
                await asyncio.to_thread(self._write, b"".join(d for d, _ in group))
            except Exception as e:  # noqa: BLE001  # told to every sender of the group (transient)
                error = e
            for _, f in group:
                if not f.done():
                    f.set_result(error)

    async def health(self) -> Health:
        return Health(self._fh is not None and not self._fh.closed, str(self.path))

    async def close(self, timeout: float) -> None:
        if self._writer is not None:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)  # what was sent is written first
        if self._fh is not None:
            fh, self._fh = self._fh, None
            await asyncio.to_thread(self._close, fh)

    def _close(self, fh: IO[bytes]) -> None:
        fh.flush()
        if self.fsync != "never":
            os.fsync(fh.fileno())
        fh.close()
