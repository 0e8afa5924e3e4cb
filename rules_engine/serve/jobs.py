"""One ingest job on its way to the pipeline, with the optional steps around it: traces and deduplication.

Position in the pipeline::

    POST /events, SourceBase.route ──**run_job**──▶ [Tracing.begin] ─▶ [RedisDedup.route_once] ─▶ Pipeline
                                                  ◀── JobResult, duplicates ── [spans ended] ◀──┘

Both steps are optional extras (serve/tracing.py needs opentelemetry, serve/dedup.py redis); they are
imported only when configured, and this module speaks to them through the Protocols below, so with neither
configured a job costs two ``is None`` checks more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from rules_engine.serve.pipeline import JobResult

__all__ = ["Dedup", "EventTracer", "Submit", "run_job"]

Submit = Callable[[Sequence[dict[str, Any]]], Awaitable[JobResult]]
"""Routes a list of events as one job and returns its result (the pipeline, reached one way or another)."""


class OpenSpans(Protocol):
    def end(self, result: JobResult | None) -> None: ...


class EventTracer(Protocol):
    """serve/tracing.py's ``Tracing``: opens one span per event of a job."""

    def begin(self, events: Sequence[Mapping[str, Any]], source: str,
              headers: Mapping[str, str] | None = None) -> OpenSpans: ...


class Dedup(Protocol):
    """serve/dedup.py's ``RedisDedup``: routes only the events no replica has claimed."""

    async def route_once(self, events: Sequence[dict[str, Any]], route: Submit) -> tuple[JobResult, int]: ...


async def run_job(events: Sequence[dict[str, Any]], source: str, submit: Submit, *,
                  tracer: EventTracer | None = None, dedup: Dedup | None = None,
                  headers: Mapping[str, str] | None = None) -> tuple[JobResult, int]:
    """Route ``events`` through ``submit``; returns the result (indexes into ``events``) and how many were
    duplicates (acknowledged, not routed).  Whatever ``submit`` raises is raised here, spans ended first."""
    spans = tracer.begin(events, source, headers) if tracer is not None else None
    res: JobResult | None = None
    try:
        if dedup is not None:
            res, duplicates = await dedup.route_once(events, submit)
        else:
            res, duplicates = await submit(events), 0
        return res, duplicates
    finally:
        if spans is not None:
            spans.end(res)
