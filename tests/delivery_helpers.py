"""Shared by the delivery tests: a counting observer, a local webhook server, service checks."""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from rules_engine.deliver import Message
from rules_engine.model import ir


class Counts:
    """A DeliveryObserver that counts per target (what serve/ does with prometheus-client)."""

    def __init__(self) -> None:
        self.ok: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.reasons: list[str] = []
        self.dead_letters: list[Message] = []
        self.dups: Counter[str] = Counter()

    def delivered(self, target: str, rule: str, seconds: float) -> None:
        self.ok[target] += 1

    def retried(self, target: str, reason: str) -> None:
        self.retries[target] += 1
        self.reasons.append(reason)

    def dead_lettered(self, target: str, rule: str, code: str, reason: str, message: Message) -> None:
        self.dead[target] += 1
        self.dead_letters.append(message)

    def failed(self, target: str, rule: str, reason: str) -> None:
        self.lost[target] += 1

    def possible_duplicate(self, target: str, rule: str) -> None:
        self.dups[target] += 1


def target(name: str, type_: str, **options: Any) -> ir.Target:
    return ir.Target(name, type_, ir.freeze(options))


def need(ok: bool, what: str) -> None:
    """Go on when ``ok``; otherwise skip with ``what`` outside CI, and fail under CI (``.ci/run`` sets CI and
    installs or starts everything the tests need, so a skip there would hide a failure)."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI provides it: see .ci/run)")
    pytest.skip(what)


def service(port: int, name: str) -> None:
    """Skip (or fail under CI) when a loopback service is not answering."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        need(False, f"{name} is not running on 127.0.0.1:{port}")


@dataclass
class Hook:
    """A local webhook: ``script[path]`` answers requests in turn (status, headers, delay)."""

    url: str
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    script: dict[str, list[tuple[int, dict[str, str], float]]] = field(default_factory=dict)

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.received if p == path)


@asynccontextmanager
async def webhook() -> AsyncIterator[Hook]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    hook = Hook(f"http://127.0.0.1:{sock.getsockname()[1]}")

    async def endpoint(request: Request) -> Response:
        path = request.url.path
        hook.received.append((path, dict(request.headers), await request.body()))
        steps = hook.script.get(path)
        status, headers, delay = steps.pop(0) if steps and len(steps) > 1 else (steps[0] if steps else (200, {}, 0.0))
        if delay:
            await asyncio.sleep(delay)
        return Response(f"status {status} from {path}", status_code=status, headers=headers)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST", "PUT", "PATCH"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(200):  # bounded: up to 2 s for the server to start
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield hook
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 5)
        sock.close()



class Proxy:
    """A TCP proxy on loopback whose connections the test can cut (a broker connection dropped
    mid-stream); new connections are accepted again at once, so clients can reconnect."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listen_port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.cuts = 0

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 5)
        self._writers |= {writer, up_w}
        for src, dst in ((reader, up_w), (up_r, writer)):
            t = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()

    def cut(self) -> None:
        """Drop every open connection (both directions), like a broker closing them."""
        self.cuts += 1
        for w in list(self._writers):
            transport = w.transport
            transport.abort()
        self._writers.clear()
