"""Rule sets whose every version routes to a target of its own, and bounded waiting, for the reload tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path


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
