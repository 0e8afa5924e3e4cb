"""Running the sidecar: the live rule set, the reloader, the dispatcher and the app under uvicorn.

Position in the pipeline::

    cli ``serve`` ──▶ **run_server** ──▶ uvicorn ──▶ create_app (lifespan: dispatcher, pipeline, reloader)

Shutdown (SIGTERM or SIGINT): uvicorn stops accepting connections and waits up to ``drain_timeout`` for the
requests in flight (each answers only once its events are delivered or dead-lettered); then the lifespan
stops the reloader, drains the ingest queue and closes the dispatcher, which flushes the targets.  A second
signal makes uvicorn exit at once, without waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any, TextIO

import uvicorn
from starlette.applications import Starlette

from rules_engine.model import ir
from rules_engine.model.errors import RuleError, render_text
from rules_engine.reload import LiveRuleSet, Reloader
from rules_engine.serve.app import create_app
from rules_engine.serve.config import SidecarConfig, load_config, read_tokens
from rules_engine.serve.logs import configure_logging
from rules_engine.serve.metrics import DeliveryObserver, Metrics
from rules_engine.serve.ports import DispatcherPort

__all__ = ["DispatcherFactory", "ReloaderService", "build_app", "run_server", "uvicorn_config"]

log = logging.getLogger("rules_engine.serve")

DispatcherFactory = Callable[[Sequence[ir.Target], DeliveryObserver], DispatcherPort]
"""Builds the dispatcher for a rule set's targets, reporting to the observer (cli passes deliver's)."""


class ReloaderService:
    """The reloader as a service of the app: started by its lifespan, with SIGHUP when on the main thread."""

    def __init__(self, reloader: Reloader, sighup: bool) -> None:
        self.reloader = reloader
        self.sighup = sighup

    async def start(self) -> None:
        await self.reloader.start()
        if self.sighup:
            self.reloader.install_sighup(asyncio.get_running_loop())

    async def stop(self) -> None:
        await self.reloader.stop()


def build_app(rules: Sequence[str], config: SidecarConfig, dispatcher_factory: DispatcherFactory, *,
              environ: Mapping[str, str] | None = None, sighup: bool = True) -> Starlette:
    """Load the rules (raises ``RuleError``), read the tokens (E654) and build the app around them."""
    tokens = read_tokens(config.auth, environ)
    live = LiveRuleSet(list(rules))
    metrics = Metrics()
    dispatcher = dispatcher_factory(live.current.targets, DeliveryObserver(metrics))
    rc = config.reload
    reloader = Reloader(live, debounce=rc.debounce, poll_interval=rc.poll_interval,
                        max_delay=max(1.0, rc.debounce), watch=rc.watch)
    return create_app(config, live, dispatcher, metrics=metrics, tokens=tokens,
                      services=[ReloaderService(reloader, sighup)])


def uvicorn_config(app: Any, config: SidecarConfig) -> uvicorn.Config:
    """The uvicorn settings that the sidecar config implies (TLS, limits, logging, drain timeout)."""
    listen = config.listen
    kwargs: dict[str, Any] = {}
    if listen.tls is not None:
        kwargs.update(ssl_certfile=listen.tls.cert_file, ssl_keyfile=listen.tls.key_file)
        if listen.tls.client_ca_file is not None:
            kwargs["ssl_ca_certs"] = listen.tls.client_ca_file
            kwargs["ssl_cert_reqs"] = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL,
                                       "required": ssl.CERT_REQUIRED}[listen.tls.client_cert]
    return uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        lifespan="on",
        log_config=None,  # our handlers (logs.py), not uvicorn's defaults
        access_log=config.logging.access_log,
        server_header=False,
        timeout_graceful_shutdown=max(1, int(config.drain_timeout)),
        # Headers past twice the app's own limit are cut off by the server before the app sees them.
        h11_max_incomplete_event_size=2 * config.limits.max_header_bytes,
        **kwargs,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, with a second stop signal ending the process at once.

    uvicorn's own forced exit still waits for the event loop's tasks to be cancelled (a target stuck in a
    send can hold that up); a second SIGTERM/SIGINT means "now", so the process ends here with status 1.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig in (signal.SIGINT, signal.SIGTERM):
            log.error("second stop signal: exiting at once; accepted work may not be delivered")
            for h in logging.getLogger("rules_engine").handlers:
                h.flush()
            os._exit(1)
        super().handle_exit(sig, frame)


GC_YOUNG_THRESHOLD = 20_000
"""Allocations (net of frees) between two young-generation collections while serving (CPython's default: 700)."""


def _tune_gc() -> None:
    """Garbage-collector settings for serving, set once the app is built.

    Everything made at start-up (modules, the rule set, the app) lives as long as the process:
    ``gc.freeze`` moves it out of the collector's reach, so a full collection no longer walks it.  A batch
    of events allocates thousands of short-lived dicts and strings that reference counting frees (they
    form no cycles); with the default young threshold of 700 the collector ran about 250 times a second
    under ``benchmarks/serve_bench.py`` batches and took ~15% of the event loop's time, freeing nothing.
    A threshold of ``GC_YOUNG_THRESHOLD`` keeps it but runs it ~30 times less often; cyclic garbage
    still goes, only in larger rounds.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def run_server(rules: Sequence[str], config_path: str | None, dispatcher_factory: DispatcherFactory, *,
               host: str | None = None, port: int | None = None, err: TextIO | None = None) -> int:
    """``rules-engine serve``: serve until SIGTERM/SIGINT; 0 after a clean shutdown, 1 for invalid rules or
    config (the diagnostics rendered on ``err``, like ``validate``)."""
    err = err or sys.stderr
    try:
        config = load_config(config_path) if config_path else SidecarConfig()
        if host is not None or port is not None:
            listen = dataclasses.replace(config.listen, host=host if host is not None else config.listen.host,
                                         port=port if port is not None else config.listen.port)
            config = dataclasses.replace(config, listen=listen)
        configure_logging(config.logging.level, config.logging.format)
        app = build_app(rules, config, dispatcher_factory)
    except RuleError as e:
        print(render_text(e.diagnostics, e.sources), file=err)
        return 1
    _tune_gc()
    server = _Server(uvicorn_config(app, config))
    log.info("listening", extra={"host": config.listen.host, "port": config.listen.port,
                                 "tls": config.listen.tls is not None})
    # uvicorn re-raises the stop signal once it has shut down; after a graceful shutdown that is the end of
    # the story, so the process exits 0 instead of dying by the signal.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if server.started else 1
