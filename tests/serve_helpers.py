"""Helpers of the sidecar tests: rule files, the app over the real ``LiveRuleSet`` and ``Dispatcher``
(file targets written in the test's folder), a local HTTP target that can be slow or refuse, and a uvicorn
server in a thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from delivery_helpers import service
from starlette.applications import Starlette

from rules_engine.deliver import Dispatcher
from rules_engine.reload import LiveRuleSet
from rules_engine.serve.app import create_app
from rules_engine.serve.config import SidecarConfig
from rules_engine.serve.metrics import DeliveryObserver, Metrics

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


def rules_with_failing_hook(hook_url: str) -> str:
    """RULES plus a ``dlq`` file target and a rule sending events with ``data.fail`` to ``hook_url``
    (a Hook that refuses them with 400: the decision fails and is not retried)."""
    return RULES.replace("rules:\n", f"  dlq: {{type: file, path: dlq.jsonl}}\n  hook: {{type: http, url: '{hook_url}'}}\n"
                         "rules:\n  - name: flaky\n    match: {data: {fail: [true]}}\n    targets: [hook]\n", 1)


def make_app(folder: Path, config: SidecarConfig | None = None, rules: str = RULES,
             tokens: Mapping[str, str] | None = None, **options: Any) -> Starlette:
    """The sidecar app over ``rules`` (file targets in ``folder``), delivering through the real Dispatcher
    (``options``: more keyword arguments of ``create_app``)."""
    lv = live(folder, rules)
    metrics = Metrics()
    dispatcher = Dispatcher(lv.current.targets, observer=DeliveryObserver(metrics))
    return create_app(config or SidecarConfig(), lv, dispatcher, metrics=metrics, tokens=tokens, **options)


class Hook:
    """A local HTTP target: records each body, answers ``status`` after ``delay`` seconds (400 for a body
    holding ``refuse``)."""

    def __init__(self, delay: float = 0.0, refuse: bytes | None = None) -> None:
        self.delay = delay
        self.refuse = refuse
        self.received: list[bytes] = []
        self.started = threading.Event()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hook.started.set()
                time.sleep(hook.delay)
                refused = hook.refuse is not None and hook.refuse in body
                if not refused:
                    hook.received.append(body)
                self.send_response(400 if refused else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Hook:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def live(folder: Path, text: str = RULES) -> LiveRuleSet:
    """A live rule set over ``text`` written to ``folder/rules.yaml`` (target files in ``folder``)."""
    path = folder / "rules.yaml"
    path.write_text(text.replace("path: ", f"path: {folder}/"), encoding="utf-8")
    return LiveRuleSet([str(path)])


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]




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
    """Skip (fail under CI) when a loopback service does not answer: the delivery tests' check."""
    service(port, name)


def wait_for(check: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``check()`` until true, at most ``timeout`` seconds (then fail saying ``what``)."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
