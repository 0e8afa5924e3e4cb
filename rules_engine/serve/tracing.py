"""OpenTelemetry traces of the sidecar (the ``otel`` extra): one span per event, one child span per delivery.

Position in the pipeline::

    POST /events, broker sources ──**EventTracer.begin**──▶ Pipeline ──▶ **TracingDispatcher** ──▶ Dispatcher
          (one span per event, its parent the event's traceparent)        (one child span per decision)

* an event's span continues the W3C trace context the event carries: its CloudEvents distributed-tracing
  extension (``traceparent``, ``tracestate`` attributes) or else, over HTTP, the request's ``traceparent`` and
  ``tracestate`` headers; without either it starts a new trace;
* the event span runs from ingest to the moment every decision of its job is settled (so it includes the
  wait in the ingest queue); each delivery span runs from the event's dispatch until its decisions are
  settled (the dispatcher reports them together), with the target, rule, outcome, attempts and code;
* off unless ``tracing.enabled``; this module (and opentelemetry) is imported only then, so the core and
  the sidecar without tracing run without the package.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rules_engine.route.router import Decision
from rules_engine.serve.config import TracingConfig
from rules_engine.serve.pipeline import JobResult
from rules_engine.serve.ports import DispatcherPort, DispatchOutcome

__all__ = ["EventSpans", "TracingDispatcher", "Tracing"]

_PROPAGATOR = TraceContextTextMapPropagator()


def _carrier(event: Mapping[str, Any], fallback: Mapping[str, str]) -> Mapping[str, str]:
    """The W3C trace context of ``event``: its own extension attributes, else ``fallback`` (HTTP headers)."""
    tp = event.get("traceparent")
    if isinstance(tp, str):
        ts = event.get("tracestate")
        return {"traceparent": tp, "tracestate": ts} if isinstance(ts, str) else {"traceparent": tp}
    return fallback


class Tracing:
    """The tracer of one app and the spans of the events in flight (keyed by the event object's id).

    Invariant: an entry of ``_open`` lives from :meth:`begin` to :meth:`EventSpans.end` of its job and holds
    the event itself, so the id cannot be reused by another object meanwhile.
    """

    def __init__(self, cfg: TracingConfig, provider: trace.TracerProvider | None = None) -> None:
        self._owned: TracerProvider | None = None
        if provider is None and cfg.exporter == "global":
            provider = trace.get_tracer_provider()
        if provider is None:
            provider = self._owned = _provider(cfg)
        self.tracer = provider.get_tracer("rules_engine.serve")
        self._open: dict[int, tuple[Any, Span]] = {}

    def begin(self, events: Sequence[Mapping[str, Any]], source: str,
              headers: Mapping[str, str] | None = None) -> EventSpans:
        """Open one span per event (``headers``: the HTTP request's trace context, for events without one)."""
        fallback: Mapping[str, str] = {}
        if headers:
            fallback = {k: v for k in ("traceparent", "tracestate") if (v := headers.get(k)) is not None}
        spans = []
        for ev in events:
            parent = _PROPAGATOR.extract(_carrier(ev, fallback), context=Context())
            attrs: dict[str, Any] = {"rules_engine.source": source}
            for key in ("id", "source", "type"):
                v = ev.get(key)
                if isinstance(v, str):
                    attrs[f"cloudevents.event_{key}"] = v
            span = self.tracer.start_span("rules-engine event", context=parent, kind=SpanKind.CONSUMER,
                                          attributes=attrs)
            self._open[id(ev)] = (ev, span)
            spans.append((ev, span))
        return EventSpans(self, spans)

    def wrap(self, dispatcher: DispatcherPort) -> DispatcherPort:
        """``dispatcher`` with a child span per decision of a traced event (typed as the port, so mypy
        checks that the wrapper has every method the pipeline calls)."""
        return TracingDispatcher(dispatcher, self)

    def span_of(self, event: Any) -> Span | None:
        entry = self._open.get(id(event))
        return entry[1] if entry is not None and entry[0] is event else None

    async def stop(self) -> None:
        """Flush what the app's own provider holds (a provider handed in belongs to its owner)."""
        if self._owned is not None:
            self._owned.shutdown()

    async def start(self) -> None:
        return None


class EventSpans:
    """The spans one job opened; :meth:`end` closes them with the job's result."""

    __slots__ = ("_spans", "_tracing")

    def __init__(self, tracing: Tracing, spans: list[tuple[Any, Span]]) -> None:
        self._tracing = tracing
        self._spans = spans

    def end(self, result: JobResult | None) -> None:
        failed = set(result.failed_events) if result is not None else None
        for i, (ev, span) in enumerate(self._spans):
            self._tracing._open.pop(id(ev), None)
            if result is not None:
                span.set_attribute("rules_engine.version", result.version)
            if failed is None or i in failed:
                span.set_status(Status(StatusCode.ERROR, "not every decision was delivered or dead-lettered"))
            span.end()


class TracingDispatcher:
    """A ``DispatcherPort`` that adds one child span per decision to the span of the event dispatched."""

    def __init__(self, inner: DispatcherPort, tracing: Tracing) -> None:
        self.inner = inner
        self.tracing = tracing

    async def start(self) -> None:
        await self.inner.start()

    async def dispatch(self, decisions: Sequence[Decision], *, event: Any, version: str) -> DispatchOutcome:
        started = time.time_ns()
        out = await self.inner.dispatch(decisions, event=event, version=version)
        self._spans(decisions, event, out, started)
        return out

    async def dispatch_many(self, batch: Iterable[tuple[Sequence[Decision], Any]], *,
                            version: str) -> Sequence[DispatchOutcome]:
        batch = list(batch)
        started = time.time_ns()
        outs = await self.inner.dispatch_many(batch, version=version)
        for (decisions, event), out in zip(batch, outs, strict=True):
            self._spans(decisions, event, out, started)
        return outs

    def _spans(self, decisions: Sequence[Decision], event: Any, out: DispatchOutcome, started: int) -> None:
        """One child span per settled decision, under the span of ``event`` (none if it is not traced)."""
        parent = self.tracing.span_of(event)
        if parent is None:  # not an event this app traced (a source's own dead letter)
            return
        parent.set_attribute("rules_engine.decisions", len(decisions))
        ctx = trace.set_span_in_context(parent)
        tracer = self.tracing.tracer
        for o in out.outcomes:
            span = tracer.start_span(f"deliver {o.target}", context=ctx, kind=SpanKind.PRODUCER, start_time=started,
                                     attributes={"rules_engine.target": o.target, "rules_engine.rule": o.rule,
                                                 "rules_engine.outcome": o.status, "rules_engine.attempts": o.attempts})
            if o.code:
                span.set_attribute("rules_engine.code", o.code)
            if o.status == "failed":
                span.set_status(Status(StatusCode.ERROR, o.message or o.code))
            span.end()

    async def update_targets(self, targets: Sequence[Any]) -> None:
        await self.inner.update_targets(targets)

    def health(self) -> Mapping[str, Any]:
        return self.inner.health()

    async def close(self, timeout: float = 10.0) -> None:
        await self.inner.close(timeout)


def _provider(cfg: TracingConfig) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": cfg.service_name}))
    if cfg.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=cfg.endpoint)))
    else:
        # standard output as it is now (the exporter's default is the one at its import)
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
    return provider
