"""Rule sets whose every version routes to a target of its own, and bounded waiting, for the reload tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rules_engine.deliver import CONFIRMED, Health, Message, SendResult


def targets_yaml(tag: str) -> str:
    return f"targets:\n  t-{tag}: {{type: stdout}}\n"


def rules_yaml(tag: str, rules: int = 1) -> str:
    """Rules that route events of type ``order`` to target ``t-<tag>`` (defined elsewhere)."""
    out = ["rules:\n"]
    for i in range(rules):
        out.append(f"  - name: r{i}\n    match: {{type: [order], detail: {{n: [{i}]}}}}\n    targets: [t-{tag}]\n"
                   if i else f"  - name: r0\n    match: {{type: [order]}}\n    targets: [t-{tag}]\n")
    return "".join(out)


def one_file(tag: str, rules: int = 1) -> str:
    return targets_yaml(tag) + rules_yaml(tag, rules)


BROKEN = "targets:\n  out: {type: stdout\nrules: []\n"  # E102: unclosed flow mapping


def write(path: Path, text: str) -> None:
    """Write through a temp file and a rename, like an editor saving (the file is never half-written)."""
    tmp = path.with_name(path.name + ".tmp~")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def until(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until ``cond()`` holds, checking every 10 ms; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


class MemorySink:
    """An in-process target type (``storm-memory``): confirms every message at once and keeps
    (target, version, event id) of each in :attr:`delivered`, shared by all its instances.

    Registered through an entry point like a third-party plugin (:func:`install_memory_sink`),
    so the loader's target-type check and the dispatcher's registry both find it.
    """

    options_schema: ClassVar[Mapping[str, Any]] = {"properties": {"open_delay": {"type": "number"}}}
    delivered: ClassVar[list[tuple[str, str, Any]]] = []
    opened: ClassVar[int] = 0
    closed: ClassVar[int] = 0

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.open_delay = float(options.get("open_delay", 0.0))  # a target slow to connect

    async def open(self) -> None:
        await asyncio.sleep(self.open_delay)
        type(self).opened += 1

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        type(self).delivered.extend((m.target, m.version, m.event["id"]) for m in batch)
        return [CONFIRMED] * len(batch)

    async def health(self) -> Health:
        return Health(True)

    async def close(self, timeout: float) -> None:
        type(self).closed += 1


def install_memory_sink(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make :class:`MemorySink` an installed plugin (a dist-info whose entry point names it); its type name."""
    dist = f"storm_sink_{folder.name.replace('-', '_')}"
    info = folder / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[rules_engine.adapters]\nstorm-memory = tests.reload_helpers:MemorySink\n")
    monkeypatch.syspath_prepend(str(folder))
    MemorySink.delivered, MemorySink.opened, MemorySink.closed = [], 0, 0
    return "storm-memory"
