"""Helpers of the sidecar tests: rule files, a live rule set and a dispatcher for the app.

Until the delivery and reload layers are on main, ``FileDispatcher`` and ``StaticLive`` stand in for
``deliver.Dispatcher`` and ``reload.LiveRuleSet`` (the same contract, INTERFACES.md): every decision is
appended to a JSON Lines file, which the tests read back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import rules_engine
from rules_engine.routing import Decision
from rules_engine.ruleset import RuleSet

RULES = """\
targets:
  out: {type: file, path: out.jsonl}
  big: {type: file, path: big.jsonl}
rules:
  - name: orders
    match: {type: [order.created]}
    targets: [out]
  - name: big-orders
    match: {type: [order.created], data: {total: [{numeric: [">", 1000]}]}}
    targets: [big]
"""


@dataclass(frozen=True)
class Result:
    delivered: int
    dead_lettered: int
    failed: int


class FileDispatcher:
    def __init__(self, folder: Path, delay: float = 0.0, fail: bool = False) -> None:
        self.folder = folder
        self.delay = delay
        self.fail = fail
        self.started = False
        self.closed = False

    async def start(self) -> None:
        self.started = True

    async def dispatch(self, decisions: Sequence[Decision], *, event: Any, version: str) -> Result:
        if self.delay:
            await asyncio.sleep(self.delay)
        n = 0
        for d in decisions:
            if d.action == "skip":
                continue
            if self.fail:
                continue
            with open(self.folder / f"{d.target}.jsonl", "ab") as f:
                f.write(orjson.dumps({"rule": d.rule, "payload": d.payload, "version": version}) + b"\n")
            n += 1
        failed = sum(d.action != "skip" for d in decisions) if self.fail else 0
        return Result(n, 0, failed)

    async def update_targets(self, targets: Sequence[Any]) -> None:
        pass

    def health(self) -> Mapping[str, Any]:
        return {"out": {"ok": True}, "big": {"ok": True}}

    async def close(self, timeout: float = 10.0) -> None:
        self.closed = True


class StaticLive:
    def __init__(self, rs: RuleSet) -> None:
        self._rs = rs

    @property
    def current(self) -> RuleSet:
        return self._rs

    @property
    def status(self) -> Any:
        return {"version": self._rs.version}

    def reload(self, trigger: str = "manual") -> Any:
        return {"ok": True}

    def subscribe(self, on_reload: Any = None, on_failure: Any = None) -> None:
        pass


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def ruleset(text: str = RULES) -> RuleSet:
    return rules_engine.loads(text)
