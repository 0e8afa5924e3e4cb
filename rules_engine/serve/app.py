"""The sidecar's ASGI application: a list of routes over thin handlers (parse, call the core, render).

Position in the pipeline::

    HTTP ──▶ **create_app** routes ──▶ binding.read_events ──▶ Pipeline (queue) ──▶ Dispatcher
                                   ──▶ LiveRuleSet (evaluate, explain, reload, status)

Endpoints (docs/sidecar.md): ``POST /events`` (ingest; answers after every decision was delivered or
dead-lettered), ``POST /evaluate`` and ``POST /explain`` (dry runs, nothing delivered), ``POST /-/reload``,
``GET /rules``, ``GET /livez``, ``GET /readyz``, ``GET /metrics``.  The lifespan starts and stops what the app
owns: the dispatcher, the pipeline's workers and any extra services (the reloader, broker sources).
A reload reaches the pipeline through ``switch.RuleSwitch`` (the new set's targets open first).

The app is ``routes`` + ``middleware``; a later console mounts itself beside them (``app.routes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Protocol

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rules_engine.model import codes
from rules_engine.model.errors import RuleError
from rules_engine.reload import reload_body, rules_body
from rules_engine.serve.binding import read_events
from rules_engine.serve.config import SidecarConfig
from rules_engine.serve.console import console_routes
from rules_engine.serve.errors import IngestError, error_body
from rules_engine.serve.metrics import CONTENT_TYPE_LATEST, Metrics
from rules_engine.serve.pipeline import JobResult, Pipeline
from rules_engine.serve.ports import DispatcherPort, LiveRules
from rules_engine.serve.sources import SourceBase
from rules_engine.serve.switch import RuleSwitch

__all__ = ["Service", "SidecarState", "create_app"]

log = logging.getLogger("rules_engine.serve")


class Service(Protocol):
    """Something the app's lifespan starts after the pipeline and stops before it (reloader, sources)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default)


def _default(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


@dataclass(slots=True)
class SidecarState:
    """What the handlers share; one per app (``app.state.sidecar``)."""

    config: SidecarConfig
    live: LiveRules
    dispatcher: DispatcherPort
    metrics: Metrics
    pipeline: Pipeline
    tokens: Mapping[str, str] = field(repr=False)  # bearer token -> publisher (empty: no auth); never shown
    publishers: Mapping[str, Any]  # publisher name -> PublisherConfig
    durable: Any = None  # durable.DurableIngest when `durable_ingest` is configured
    tracing: Any = None  # tracing.Tracing when `tracing.enabled` (the otel extra)
    dedup: Any = None  # dedup.RedisDedup when `dedup` is configured


def _refuse(err: IngestError, metrics: Metrics) -> Response:
    metrics.events_rejected.labels(err.diagnostic.code).inc()
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def _check_headers(request: Request, st: SidecarState) -> None:
    limit = st.config.limits.max_header_bytes
    size = sum(len(k) + len(v) + 4 for k, v in request.scope["headers"])
    if size > limit:
        raise IngestError.of(431, codes.HEADERS_TOO_LARGE, limit=limit)


def _authenticate(request: Request, st: SidecarState) -> str | None:
    """The publisher a request's bearer token names (``None`` when authentication is off).

    Every configured token is compared, each in constant time, so timing tells nothing of which one
    nearly matched.  Neither the token nor the header is ever logged.
    """
    if not st.tokens:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise IngestError.of(401, codes.UNAUTHORIZED, {"WWW-Authenticate": 'Bearer realm="rules-engine"'},
                             detail="a bearer token is required (Authorization: Bearer <token>)")
    given = presented.strip().encode("utf-8", "surrogateescape")
    found: str | None = None
    for token, publisher in st.tokens.items():
        if hmac.compare_digest(given, token.encode("utf-8")):
            found = publisher
    if found is None:
        raise IngestError.of(401, codes.UNAUTHORIZED, {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                             detail="the bearer token is not valid")
    return found


def _allowed(publisher: str | None, events: Sequence[Mapping[str, Any]], st: SidecarState) -> None:
    """A publisher sends only the CloudEvents ``source`` and ``type`` values it was given."""
    if publisher is None:
        return
    p = st.publishers[publisher]
    for ev in events:
        for attr, patterns in (("source", p.sources), ("type", p.types)):
            if not patterns:
                continue
            value = ev.get(attr)
            if not isinstance(value, str) or not any(fnmatch.fnmatchcase(value, pat) for pat in patterns):
                raise IngestError.of(403, codes.FORBIDDEN_EVENT, publisher=publisher, attribute=attr,
                                     value=str(value))


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError.of(413, codes.BODY_TOO_LARGE, limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError.of(413, codes.BODY_TOO_LARGE, limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _events_of(request: Request, st: SidecarState) -> tuple[str, list[dict[str, Any]], str | None]:
    _check_headers(request, st)
    publisher = _authenticate(request, st)
    body = await _read_body(request, st.config.limits.max_body_bytes)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
    mode, events = read_events(request.headers.get("content-type"), headers, body,
                               max_batch=st.config.limits.max_batch_events)
    _allowed(publisher, events, st)
    return mode, events, publisher


def _state(request: Request) -> SidecarState:
    st: SidecarState = request.app.state.sidecar
    return st


async def post_events(request: Request) -> Response:
    """Ingest: answer after every decision of every event is delivered or dead-lettered."""
    st = _state(request)
    try:
        if st.pipeline.closing:
            raise IngestError.of(503, codes.SHUTTING_DOWN, {"Retry-After": "1"})
        mode, events, _ = await _events_of(request, st)
        if st.durable is not None:
            stored, duplicates = await st.durable.publish(events)
            st.metrics.events_received.labels("http").inc(len(events))
            return JSONResponse({"mode": mode, "events": len(events), "stored": stored, "duplicates": duplicates},
                                status_code=202)
        if st.tracing is None and st.dedup is None:
            res, duplicates = await _submit(st, events), 0
        else:
            from rules_engine.serve.jobs import run_job

            res, duplicates = await _traced_deduplicated(run_job(
                events, "http", lambda evs: _submit(st, evs), tracer=st.tracing, dedup=st.dedup,
                headers=request.headers), st)
    except IngestError as e:
        return _refuse(e, st.metrics)
    return _summary(res, mode, st, duplicates)


async def _submit(st: SidecarState, events: Sequence[dict[str, Any]]) -> JobResult:
    """Route ``events`` as one job now: 429 when the queue is full, 504 past ``ack_timeout``."""
    fut = st.pipeline.try_submit(events, "http")
    if fut is None:
        ra = st.config.queue.retry_after
        raise IngestError.of(429, codes.QUEUE_FULL, {"Retry-After": str(ra)}, size=st.pipeline.size, retry_after=ra)
    timeout = st.config.ack_timeout
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(fut)
    except TimeoutError:
        raise IngestError.of(504, codes.ACK_TIMEOUT, timeout=timeout) from None


async def _traced_deduplicated(job: Awaitable[tuple[JobResult, int]], st: SidecarState) -> tuple[JobResult, int]:
    """Await ``job``; the dedup store failing is a 503 (E679) the producer retries, never a 500."""
    try:
        res, duplicates = await job
    except IngestError:
        raise
    except Exception as e:  # noqa: BLE001 - Redis unreachable or failing: nothing was routed unchecked
        raise IngestError.of(503, codes.DEDUP_UNAVAILABLE, {"Retry-After": "1"}, store="Redis",
                             detail=str(e) or type(e).__name__) from None
    if duplicates:
        st.metrics.events_duplicate.labels("http").inc(duplicates)
    return res, duplicates


def _summary(res: JobResult, mode: str, st: SidecarState, duplicates: int = 0) -> Response:
    body: dict[str, Any] = {"mode": mode, **res.to_dict()}
    if st.dedup is not None:
        body["duplicates"] = duplicates
    if res.ok:
        return JSONResponse(body, status_code=200)
    diag = codes.NOT_DELIVERED.at(None, failed=res.failed)
    st.metrics.events_rejected.labels(diag.code).inc()
    return JSONResponse({**error_body(503, diag), "summary": body}, status_code=503, headers={"Retry-After": "1"})


async def post_dry_run(request: Request, *, explain: bool = False) -> Response:
    """Dry run (``POST /evaluate``): the decisions (with payloads) each event would produce, nothing delivered;
    with ``explain`` (``POST /explain``) also, for every rule, matched or the first condition that failed."""
    st = _state(request)
    try:
        mode, events, _ = await _events_of(request, st)
    except IngestError as e:
        return _refuse(e, st.metrics)
    rs = st.live.current
    results = []
    for ev in events:
        one: dict[str, Any] = {"id": ev.get("id")}
        if explain:
            one["rules"] = [v.to_dict() for v in rs.explain(ev)]
        one["decisions"] = [d.to_dict() for d in rs.evaluate(ev)]
        results.append(one)
    return JSONResponse({"version": rs.version, "mode": mode, "events": results})


async def post_reload(request: Request) -> Response:
    """Reload the rules now: 200 with the new version, or 422 with the diagnostics (the old set serves on)."""
    st = _state(request)
    try:
        _check_headers(request, st)
        _authenticate(request, st)
    except IngestError as e:
        return _refuse(e, st.metrics)
    try:
        async with asyncio.timeout(st.config.ack_timeout):
            attempt = await asyncio.to_thread(st.live.reload, "http")
    except TimeoutError:
        return _refuse(IngestError.of(504, codes.ACK_TIMEOUT, timeout=st.config.ack_timeout), st.metrics)
    status, body = reload_body(attempt, st.live.status)
    if attempt.ok:
        return JSONResponse(body)
    diag = codes.RELOAD_REFUSED.at(None, version=st.live.current.version)
    return JSONResponse({**error_body(status, diag), **body}, status_code=status)


async def get_rules(request: Request) -> Response:
    """The serving rule set (its rules and targets) and the reload status."""
    st = _state(request)
    rs = st.live.current
    return JSONResponse({
        **rules_body(st.live.status),
        "version": rs.version,
        "rule_list": [{"name": r.name, "file": r.file, "line": r.span.line, "targets": [t.name for t in r.targets]}
                      for r in rs.rules],
        "target_list": [{"name": t.name, "type": t.type} for t in rs.targets],
    })


async def get_livez(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=_default))


def _health(value: Any) -> tuple[bool, Any]:
    ok = getattr(value, "ok", None)
    if ok is None:
        ok = getattr(value, "healthy", bool(value))
    return bool(ok), _jsonable(value)


async def get_readyz(request: Request) -> Response:
    """Ready when rules are loaded, the sidecar is not shutting down, and required targets are reachable."""
    st = _state(request)
    rs = st.live.current
    required = st.config.readiness.targets
    names = [t.name for t in rs.targets] if required is None else list(required)
    health = st.dispatcher.health()
    targets: dict[str, Any] = {}
    ready = not st.pipeline.closing
    for name in names:
        if name not in health:
            targets[name] = {"ok": False, "detail": "not opened"}
            ready = False
            continue
        ok, detail = _health(health[name])
        targets[name] = {"ok": ok, "health": detail}
        ready = ready and ok
    body = {"ready": ready, "version": rs.version, "closing": st.pipeline.closing, "targets": targets}
    return JSONResponse(body, status_code=200 if ready else 503)


async def get_metrics(request: Request) -> Response:
    st = _state(request)
    st.metrics.queue_depth.set(st.pipeline.depth())
    return Response(st.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


ROUTES = [
    Route("/events", post_events, methods=["POST"]),
    Route("/evaluate", post_dry_run, methods=["POST"]),
    Route("/explain", functools.partial(post_dry_run, explain=True), methods=["POST"]),
    Route("/-/reload", post_reload, methods=["POST"]),
    Route("/rules", get_rules, methods=["GET"]),
    Route("/livez", get_livez, methods=["GET"]),
    Route("/readyz", get_readyz, methods=["GET"]),
    Route("/metrics", get_metrics, methods=["GET"]),
]


def create_app(config: SidecarConfig, live: LiveRules, dispatcher: DispatcherPort, *,
               metrics: Metrics | None = None, tokens: Mapping[str, str] | None = None,
               services: Sequence[Service] = (), tracer_provider: Any = None) -> Starlette:
    """The sidecar app over a live rule set and a dispatcher (built with ``observer=DeliveryObserver(metrics)``).

    ``tracer_provider``: with ``tracing.enabled``, the OpenTelemetry provider to use instead of the one the
    config describes (an embedding application's, or a test's in-memory exporter).

    ``tokens`` maps bearer tokens to publisher names (``config.read_tokens``); none means no authentication
    (refused at start when publishers are configured but no tokens were given).
    """
    metrics = metrics or Metrics()
    tokens = dict(tokens or {})
    if config.auth.publishers and not tokens:
        raise RuleError([codes.SIDECAR_SECRET.at(None, where="auth.publishers", detail="no token was read")])
    extra: list[Service] = []
    tracing: Any = None
    if config.tracing.enabled:
        tracing = _tracing(config, tracer_provider)
        extra.append(tracing)
        dispatcher = tracing.wrap(dispatcher)
    pipeline = Pipeline(live, dispatcher, metrics, size=config.queue.size, workers=config.queue.workers)
    state = SidecarState(config, live, dispatcher, metrics, pipeline, tokens,
                         {p.name: p for p in config.auth.publishers}, tracing=tracing)
    if config.dedup is not None:
        from rules_engine.serve.dedup import RedisDedup

        state.dedup = RedisDedup(config.dedup, lease=config.ack_timeout)
        extra.append(state.dedup)
    switch = RuleSwitch(live, pipeline, dispatcher, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rs = live.current
        metrics.serving(rs.version, len(rs.rules))
        switch.attach()
        await dispatcher.start()
        await pipeline.start()
        started: list[Service] = []
        try:
            for s in [*extra, *services, *_sources(config, state)]:
                await s.start()
                started.append(s)
            log.info("sidecar started", extra={"version": rs.version, "rules": len(rs.rules)})
            yield
        finally:
            # Sources stop first (no new work), then accepted work drains, then targets flush and close.
            for s in reversed(started):
                try:
                    await s.stop()
                except Exception:  # noqa: BLE001 - keep shutting the rest down
                    log.exception("stopping a service failed")
            await pipeline.stop(config.drain_timeout)
            await switch.cancel()
            await dispatcher.close(timeout=max(config.drain_timeout, 1.0))
            log.info("sidecar stopped")

    app = Starlette(routes=list(ROUTES), lifespan=lifespan)
    app.state.sidecar = state
    if config.console.enabled:
        app.router.routes.extend(console_routes(app))
    return app


def _tracing(config: SidecarConfig, provider: Any) -> Any:
    """serve/tracing.py's ``Tracing`` (the otel extra, imported only when tracing is on)."""
    try:
        from rules_engine.serve.tracing import Tracing
    except ImportError as e:
        raise RuleError([codes.SIDECAR_BAD_VALUE.at(
            None, where="tracing.enabled",
            detail=f"traces need the otel extra (pip install 'rules-engine[otel]'): {e}")]) from None
    return Tracing(config.tracing, provider)


def _sources(config: SidecarConfig, state: SidecarState) -> list[Service]:
    """The broker sources and durable ingest of the config (each client library, nats-py, redis,
    aio-pika or aiomqtt, is an optional extra, imported only when configured).  Durable ingest starts before
    the source that drains it."""
    if not config.sources and config.durable_ingest is None:
        return []
    out: list[Service] = []
    sources = list(config.sources)
    if config.durable_ingest is not None:
        from rules_engine.serve.durable import DurableIngest

        state.durable = DurableIngest(config.durable_ingest, timeout=config.ack_timeout)
        out.append(state.durable)
        sources.append(config.durable_ingest.source())
    for s in sources:
        if s.type == "jetstream":
            from rules_engine.serve.jetstream import JetStreamSource

            source: SourceBase = JetStreamSource(s, state.pipeline, state.metrics, drain_timeout=config.drain_timeout)
        elif s.type == "redis":
            from rules_engine.serve.redis_source import RedisSource

            source = RedisSource(s, state.pipeline, state.metrics, drain_timeout=config.drain_timeout)
        elif s.type == "amqp":
            from rules_engine.serve.amqp_source import AmqpSource

            source = AmqpSource(s, state.pipeline, state.metrics, drain_timeout=config.drain_timeout)
        else:
            from rules_engine.serve.mqtt_source import MqttSource

            source = MqttSource(s, state.pipeline, state.metrics, drain_timeout=config.drain_timeout)
        source.tracer, source.dedup = state.tracing, state.dedup
        out.append(source)
    return out
