"""The bounded queue between ingest and dispatch, and the workers that drain it.

Position in the pipeline::

    POST /events, broker sources ──submit──▶ **Pipeline** (bounded queue) ──workers──▶
        LiveRuleSet.current.evaluate ──▶ Dispatcher.dispatch_many ──▶ JobResult (the ack)

A job is one request or one broker fetch: a list of events and a future the caller awaits, so a caller
acknowledges its input (HTTP response, broker ack) only after every decision of every event was delivered
or dead-lettered.  Invariants:

* the queue holds at most ``size`` jobs and a job at most ``max_batch_events`` events, so memory is bounded;
  ``try_submit`` refuses at once when full (HTTP answers 429), ``submit`` waits (a broker source stops
  fetching while it waits);
* each event is evaluated on the rule set serving when its job is taken, and stamped with that version;
  after a reload, a new set serves only once the dispatcher has opened its targets;
* the events of one job are dispatched in one ``Dispatcher.dispatch_many`` call, their decisions admitted
  in event order, so a target's ordering by partition key holds within a request;
* ``stop`` refuses new jobs, lets the workers finish what was accepted within the drain timeout, then
  cancels them; a job cancelled that way resolves with every event failed, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rules_engine.route.router import Decision
from rules_engine.ruleset import RuleSet
from rules_engine.serve.metrics import Metrics
from rules_engine.serve.ports import DispatcherPort, LiveRules

log = logging.getLogger("rules_engine.serve")


@dataclass(slots=True)
class JobResult:
    """What happened to one job's events: counts of events and of decisions."""

    events: int = 0
    decisions: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    failed: int = 0
    skipped: int = 0
    version: str = ""
    matched: dict[str, int] = field(default_factory=dict)
    failed_events: list[int] = field(default_factory=list)  # indexes of events with a decision lost

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "decisions": self.decisions, "delivered": self.delivered,
                "dead_lettered": self.dead_lettered, "failed": self.failed, "skipped": self.skipped,
                "version": self.version}


@dataclass(slots=True)
class _Job:
    events: Sequence[dict[str, Any]]
    source: str
    future: asyncio.Future[JobResult]
    enqueued: float


class Pipeline:
    """Owns the queue and its worker tasks (started and cancelled by the app's lifespan)."""

    def __init__(
        self, live: LiveRules, dispatcher: DispatcherPort, metrics: Metrics, *, size: int, workers: int
    ) -> None:
        self.live = live
        # The rule set jobs are routed with: the live one once the dispatcher has its targets (app.py).
        self.rules = live.current
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.size = size
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=size)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._routing: dict[str, int] = {}  # jobs being routed (evaluated or dispatched), by rule-set version
        metrics.queue_capacity.set(size)

    @property
    def closing(self) -> bool:
        return self._closing

    def depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        self._closing = False
        self._tasks = [asyncio.create_task(self._work(), name=f"serve-worker-{i}") for i in range(self._workers)]

    def try_submit(self, events: Sequence[dict[str, Any]], source: str) -> asyncio.Future[JobResult] | None:
        """Enqueue a job now, or ``None`` when the queue is full (the caller answers 429)."""
        fut: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Job(events, source, fut, time.perf_counter()))
        except asyncio.QueueFull:
            return None
        self.metrics.queue_depth.set(self._queue.qsize())
        return fut

    async def submit(self, events: Sequence[dict[str, Any]], source: str, timeout: float) -> asyncio.Future[JobResult]:
        """Enqueue a job, waiting up to ``timeout`` for room (raises ``TimeoutError``)."""
        fut: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout):
            await self._queue.put(_Job(events, source, fut, time.perf_counter()))
        self.metrics.queue_depth.set(self._queue.qsize())
        return fut

    async def settled(self, version: str, timeout: float) -> bool:
        """Wait until no job routed by rule set ``version`` is in flight (True), at most ``timeout`` s (False).

        After a reload the old set's targets are dropped only then (app.py), so no decision it made
        finds its target gone.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._routing.get(version):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def process(self, events: Sequence[dict[str, Any]], source: str) -> JobResult:
        """Evaluate and dispatch ``events`` now (the worker's step; also used without the queue)."""
        rs = self.rules
        version = rs.version
        self._routing[version] = self._routing.get(version, 0) + 1
        try:
            return await self._route(rs, events, source)
        finally:
            left = self._routing[version] - 1
            if left:
                self._routing[version] = left
            else:
                del self._routing[version]

    async def _route(self, rs: RuleSet, events: Sequence[dict[str, Any]], source: str) -> JobResult:
        version = rs.version
        now = datetime.now(UTC)
        res = JobResult(events=len(events), version=version)
        m = self.metrics
        m.events_received.labels(source).inc(len(events))
        batch: list[tuple[Sequence[Decision], Any]] = []
        indexes = []  # the event each entry of the batch belongs to (events without decisions need none)
        evaluate = rs.evaluate
        matched = res.matched
        for i, ev in enumerate(events):
            decisions = evaluate(ev, now=now)
            if not decisions:
                continue
            res.decisions += len(decisions)
            for d in decisions:
                if d.action == "skip":
                    res.skipped += 1
                matched[d.rule] = matched.get(d.rule, 0) + 1
            batch.append((decisions, ev))
            indexes.append(i)
        m.in_flight.inc(len(events))
        try:
            # One call for the whole job: decisions admitted in event order, one wake-up when all settle.
            outcomes = await self.dispatcher.dispatch_many(batch, version=version) if batch else []
        except Exception as e:  # noqa: BLE001 - a dispatcher that raises has lost the job's decisions
            log.error("dispatch failed", extra={"error": repr(e)})
            res.failed += len(indexes)
            res.failed_events.extend(indexes)
            return self._count(res)
        finally:
            m.in_flight.dec(len(events))
        for i, out in zip(indexes, outcomes, strict=True):
            res.delivered += out.delivered
            res.dead_lettered += out.dead_lettered
            res.failed += out.failed
            if out.failed:
                res.failed_events.append(i)
        return self._count(res)

    def _count(self, res: JobResult) -> JobResult:
        m = self.metrics
        for rule, n in res.matched.items():
            m.rule_matched.labels(rule).inc(n)
        return res

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self.metrics.queue_depth.set(self._queue.qsize())
            try:
                if job.future.cancelled():
                    continue
                res = await self.process(job.events, job.source)
                self.metrics.event_seconds.labels(job.source).observe(time.perf_counter() - job.enqueued)
                if not job.future.done():
                    job.future.set_result(res)
            except asyncio.CancelledError:
                if not job.future.done():
                    job.future.set_result(_all_failed(job))
                raise
            except Exception as e:  # noqa: BLE001 - a worker must outlive any one job
                log.exception("job failed")
                if not job.future.done():
                    job.future.set_exception(e)
            finally:
                self._queue.task_done()

    async def stop(self, drain_timeout: float) -> None:
        """Refuse new jobs, finish the accepted ones within ``drain_timeout``, then cancel the workers."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout):
                await self._queue.join()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        while not self._queue.empty():  # accepted but never started: tell the callers
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_result(_all_failed(job))


def _all_failed(job: _Job) -> JobResult:
    n = len(job.events)
    return JobResult(events=n, failed=n, failed_events=list(range(n)))
