"""Helpers of the sidecar tests: rule files, a live rule set and a dispatcher for the app.

Until the delivery layer is on main, ``FileDispatcher`` stands in for
``deliver.Dispatcher`` (the same contract, INTERFACES.md): every decision is
appended to a JSON Lines file, which the tests read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import rules_engine
from rules_engine.reload import LiveRuleSet
from rules_engine.route.router import Decision
from rules_engine.ruleset import RuleSet
from rules_engine.serve.config import SidecarConfig

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


class FlakyDispatcher(FileDispatcher):
    """Loses the decisions of events with ``data.fail`` (as a target that never answers would)."""

    async def dispatch(self, decisions: Sequence[Decision], *, event: Any, version: str) -> Result:
        if isinstance(event.get("data"), dict) and event["data"].get("fail") and decisions[0].target != "dlq":
            return Result(0, 0, len(decisions))
        return await super().dispatch(decisions, event=event, version=version)


def live(folder: Path, text: str = RULES) -> LiveRuleSet:
    """A live rule set over ``text`` written to ``folder/rules.yaml`` (target files in ``folder``)."""
    path = folder / "rules.yaml"
    path.write_text(text.replace("path: ", f"path: {folder}/"), encoding="utf-8")
    return LiveRuleSet([str(path)])


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def ruleset(text: str = RULES) -> RuleSet:
    return rules_engine.loads(text)


@contextlib.contextmanager
def running(app: Any, config: SidecarConfig | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL.

    The server is stopped (graceful shutdown, lifespan included) on exit; bounded waits throughout.
    """
    import threading
    import time

    import uvicorn

    from rules_engine.serve.server import uvicorn_config

    cfg = config or SidecarConfig()
    cfg = dataclasses.replace(cfg, listen=dataclasses.replace(cfg.listen, port=0))
    server = uvicorn.Server(uvicorn_config(app, cfg))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if cfg.listen.tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"


def require_service(port: int, name: str) -> None:
    """Skip (fail under CI) when a loopback service does not answer."""
    import os
    import socket

    import pytest

    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        msg = f"{name} is not answering on 127.0.0.1:{port}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def wait_for(check: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``check()`` until true, at most ``timeout`` seconds (then fail saying ``what``)."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
