"""The dispatcher: decisions in, confirmed deliveries (or dead letters) out.

Position in the pipeline::

    RuleSet.evaluate ─▶ [Decision] ─▶ **Dispatcher.dispatch** ─▶ one lane per target ─▶ Adapter.send(batch)
                                            ▲                         │ retry (backoff) / dead letter
                                            └──── DispatchResult ◀────┘ (every message settled)

Guarantees (docs/delivery.md):

* at-least-once: ``dispatch`` returns only when every decision of the event is
  confirmed by its target, or was dead-lettered and the dead letter confirmed;
  anything else is ``failed`` in the result (and logged, and counted) — never
  silently dropped;
* backpressure: each lane admits at most ``max_in_flight`` unconfirmed
  messages; ``dispatch`` waits for room, so a slow target slows its callers
  instead of filling memory;
* ``ordered: true``: a message waits until the previous message with the same
  partition key to the same target is settled.

Invariants: a lane's queue holds only messages that own one of the lane's
permits, or dead letters of messages that own a permit somewhere else, so its
bound (``max_in_flight`` plus every permit that can dead-letter into it) is
never reached and ``put_nowait`` cannot fail.  Every task is owned by its lane
and cancelled by ``close``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from rules_engine.deliver.base import Adapter, AdapterUnavailable, Health, Message, SendResult, permanent, transient
from rules_engine.deliver.policy import TargetSettings, settings_of
from rules_engine.deliver.registry import AdapterRegistry
from rules_engine.model import codes, ir
from rules_engine.route.router import H_ERROR, H_ERROR_CODE, H_RULE, H_TARGET, Decision

__all__ = ["DeliveryObserver", "DispatchResult", "Dispatcher", "Outcome"]

log = logging.getLogger("rules_engine.deliver")

# Dead-letter headers (beside the router's x-rules-engine-error-code, -error, -rule, -target):
# the model is EventBridge's ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN, RETRY_ATTEMPTS and
# EXHAUSTED_RETRY_CONDITION.  CloudEvents targets carry them as extension attributes named
# without dashes (``rulesengineattempts``…; see adapters/http.py).
H_ATTEMPTS: Final = "x-rules-engine-attempts"
H_FIRST_ATTEMPT: Final = "x-rules-engine-first-attempt"
H_LAST_ATTEMPT: Final = "x-rules-engine-last-attempt"
H_EXHAUSTED: Final = "x-rules-engine-exhausted"
H_VERSION: Final = "x-rules-engine-version"

Status = Literal["delivered", "dead_lettered", "failed"]


class DeliveryObserver(Protocol):
    """Told about every delivery outcome (serve/ counts them with prometheus-client)."""

    def delivered(self, target: str, rule: str, seconds: float) -> None: ...

    def retried(self, target: str, reason: str) -> None: ...

    def dead_lettered(self, target: str, rule: str, code: str, reason: str, message: Message) -> None: ...

    def failed(self, target: str, rule: str, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one decision ended.  ``target`` is where it was meant to go; ``code`` is the E6xx
    code of a dead letter or failure, and ``detail`` the receiver's last answer."""

    rule: str
    target: str
    status: Status
    attempts: int = 1
    code: str = ""
    detail: str = ""
    dead_letter: str | None = None
    message: str = ""  # the E6xx diagnostic's message, for logs and summaries


@dataclass(frozen=True)
class DispatchResult:
    delivered: int
    dead_lettered: int
    failed: int
    outcomes: tuple[Outcome, ...]

    @property
    def ok(self) -> bool:
        """Nothing was lost (every decision confirmed or dead-lettered)."""
        return self.failed == 0


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True, eq=False)
class _Item:
    message: Message
    done: asyncio.Future[Outcome]
    permit: asyncio.Semaphore | None  # released when settled; None for dead letters (the origin owns one)
    origin: _Item | None = None  # for a dead letter: the message it stands for
    attempts: int = 0
    first: float = 0.0  # wall-clock times, for the dead-letter headers
    last: float = 0.0
    started: float = 0.0  # monotonic, for max_age
    result: SendResult | None = field(default=None)
    diagnostic: str = ""  # why it was dead-lettered (the E6xx message)


_HEALTHY: Final = Health(True)


class _Lane:
    """One target: its adapter, bounded queue, batching worker, retries."""

    def __init__(self, target: ir.Target, adapter: Adapter, settings: TargetSettings, owner: Dispatcher) -> None:
        self.target = target
        self.adapter = adapter
        self.settings = settings
        self.owner = owner
        self.permits = asyncio.Semaphore(settings.max_in_flight)
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()  # bound set by Dispatcher._bound_queues
        # Batches in flight at once: the permits already bound the messages, so this only keeps a
        # trickle of one-message batches from serialising a target that confirms slowly.
        self.batches = asyncio.Semaphore(max(1, min(256, settings.max_in_flight)))
        self.keys: dict[str, asyncio.Future[Outcome]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.opened = False
        self.open_lock = asyncio.Lock()
        self.health = _HEALTHY
        self.worker: asyncio.Task[None] | None = None
        self.inflight = 0  # messages holding a permit (admitted, not yet settled)
        self.admitted: set[_Item] = set()  # those messages, so that close() can settle every one

    # --- admission -------------------------------------------------------------------------
    def start(self) -> None:
        self.worker = asyncio.create_task(self._run(), name=f"deliver:{self.target.name}")

    def enqueue(self, item: _Item) -> None:
        key = item.message.partition_key
        if self.settings.ordered and key is not None and item.origin is None:
            prev = self.keys.get(key)
            self.keys[key] = item.done
            item.done.add_done_callback(functools.partial(self._forget, key))
            if prev is not None and not prev.done():
                prev.add_done_callback(lambda _f: self._release(item))
                return
        self.queue.put_nowait(item)

    def _release(self, item: _Item) -> None:
        self.queue.put_nowait(item)

    def _forget(self, key: str, fut: asyncio.Future[Outcome]) -> None:
        if self.keys.get(key) is fut:
            del self.keys[key]

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    # --- sending ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            first = await self.queue.get()  # idle wait: this task is cancelled by close()
            if self.queue.empty():
                # One turn of the loop lets the producers that are ready add theirs, so a batch is
                # more than one message (fewer, larger writes: a pipeline, one socket send).
                await asyncio.sleep(0)
            batch = [first]
            while len(batch) < self.settings.batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self.batches.acquire()
            self._spawn(self._send(batch))

    async def _ensure_open(self) -> SendResult | None:
        if self.opened:
            return None
        async with self.open_lock:
            if self.opened:
                return None
            try:
                await asyncio.wait_for(self.adapter.open(), self.settings.timeout)
            except AdapterUnavailable as e:
                self.health = Health(False, str(e))
                return permanent("unavailable", str(e))
            except Exception as e:  # noqa: BLE001  # any connect failure is worth another try
                self.health = Health(False, f"cannot connect: {e!r}")
                return transient("connection", f"cannot connect: {e!r}")
            self.opened = True
            return None

    async def _send(self, batch: list[_Item]) -> None:
        try:
            now, mono = time.time(), time.monotonic()
            for it in batch:
                it.attempts += 1
                it.last = now
                if it.attempts == 1:
                    it.first, it.started = now, mono
            failure = await self._ensure_open()
            results: Sequence[SendResult]
            if failure is not None:
                results = [failure] * len(batch)
            else:
                try:
                    results = await asyncio.wait_for(
                        self.adapter.send([it.message for it in batch]), self.settings.timeout
                    )
                    if len(results) != len(batch):
                        results = [transient("adapter", f"{len(results)} results for {len(batch)} messages")] * len(
                            batch
                        )
                except TimeoutError:
                    results = [transient("timeout", f"not confirmed within {self.settings.timeout:g}s")] * len(batch)
                except Exception as e:  # noqa: BLE001  # a broken connection fails the batch, transiently
                    results = [transient("error", repr(e))] * len(batch)
        finally:
            self.batches.release()
        seconds = time.monotonic() - mono
        for it, r in zip(batch, results, strict=True):
            self._settle(it, r, seconds)

    def _settle(self, it: _Item, r: SendResult, seconds: float) -> None:
        it.result = r
        m = it.message
        if r.ok:
            if not self.health.ok:
                self.health = _HEALTHY
            self.owner.observer_delivered(m.target, m.rule, seconds)
            if it.origin is None:
                self._finish(it, Outcome(m.rule, m.target, "delivered", it.attempts))
            else:
                self.owner.dead_letter_confirmed(it)
            return
        if r.code in ("connection", "timeout", "error"):
            self.health = Health(False, r.detail)
        policy = self.settings.retry
        age = time.monotonic() - it.started
        condition = ""
        if not r.retryable:
            condition = "not retryable"
        elif it.attempts >= policy.attempts:
            condition = "attempts"
        else:
            delay = policy.delay(it.attempts, self.owner.rng)
            if r.retry_after is not None:
                delay = max(delay, r.retry_after)
            if age + delay > policy.max_age:
                condition = "max_age"
            else:
                self.owner.observer_retried(m.target, r.code or "error")
                self._spawn(self._retry_later(it, delay))
                return
        self.owner.give_up(self, it, r, condition)

    async def _retry_later(self, it: _Item, delay: float) -> None:
        await asyncio.sleep(delay)
        self.queue.put_nowait(it)

    def _finish(self, it: _Item, outcome: Outcome) -> None:
        if it.permit is not None:
            it.permit.release()
            it.permit = None
            self.inflight -= 1
            self.admitted.discard(it)
        if not it.done.done():
            it.done.set_result(outcome)

    def idle(self) -> bool:
        return self.inflight == 0 and not self.tasks and self.queue.empty()

    async def close(self, timeout: float) -> None:
        if self.worker is not None:
            self.worker.cancel()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*(t for t in [self.worker, *self.tasks] if t is not None), return_exceptions=True)
        # What is still unsettled now never will be: say so to every waiting dispatch() (no hang).
        for it in list(self.admitted):
            m = it.message
            d = codes.DELIVERY_EXHAUSTED.at(None, target=m.target, attempts=it.attempts, condition="shutdown",
                                            detail="the dispatcher closed before the message was confirmed")
            log.error("[%s] %s", d.code, d.message)
            self.owner.observer_failed(m.target, m.rule, "shutdown")
            self._finish(it, Outcome(m.rule, m.target, "failed", it.attempts, d.code, "shutdown", None, d.message))
        if self.opened:
            try:
                await asyncio.wait_for(self.adapter.close(timeout), timeout)
            except Exception as e:  # noqa: BLE001  # closing must not hide the other lanes' closing
                log.warning("closing target %r: %r", self.target.name, e)
            self.opened = False


class Dispatcher:
    """Delivers decisions through one lane per target (INTERFACES.md)."""

    def __init__(
        self,
        targets: Sequence[ir.Target],
        *,
        registry: AdapterRegistry | None = None,
        observer: DeliveryObserver | None = None,
        max_in_flight: int = 256,
        seed: int | None = None,
    ) -> None:
        self.registry = registry or AdapterRegistry()
        self.observer = observer
        self.max_in_flight = max_in_flight
        self.rng = random.Random(seed)
        self._targets = tuple(targets)
        self._lanes: dict[str, _Lane] = {}
        self._ids = itertools.count()
        self._run_id = uuid.uuid4().hex[:12]
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------
    def _make_lane(self, t: ir.Target) -> _Lane:
        options = ir.thaw(t.options)
        adapter = self.registry.create(t.type, t.name, options)
        return _Lane(t, adapter, settings_of(options, self.max_in_flight), self)

    def _bound_queues(self) -> None:
        for lane in self._lanes.values():
            feeders = sum(
                o.settings.max_in_flight for o in self._lanes.values() if o.settings.dead_letter == lane.target.name
            )
            lane.queue._maxsize = lane.settings.max_in_flight + feeders  # type: ignore[attr-defined]

    async def start(self) -> None:
        """Create every target's adapter and open them (a target that cannot connect now is
        tried again before each send; its messages retry meanwhile)."""
        for t in self._targets:
            self._lanes[t.name] = self._make_lane(t)
        self._bound_queues()
        for lane in self._lanes.values():
            lane.start()
        await asyncio.gather(*(lane._ensure_open() for lane in self._lanes.values()))
        self._started = True

    async def update_targets(self, targets: Sequence[ir.Target]) -> None:
        """Switch to a new target set: unchanged targets keep their lane and connection."""
        new = {t.name: t for t in targets}
        old = self._lanes
        keep: dict[str, _Lane] = {}
        for name, t in new.items():
            lane = old.get(name)
            if lane is not None and lane.target.type == t.type and lane.target.options == t.options:
                keep[name] = lane
            else:
                keep[name] = self._make_lane(t)
                keep[name].start()
        gone = [lane for name, lane in old.items() if keep.get(name) is not lane]
        self._lanes = keep
        self._targets = tuple(targets)
        self._bound_queues()
        await asyncio.gather(*(lane._ensure_open() for lane in keep.values() if not lane.opened))
        for lane in gone:
            await self._drain(lane, 10.0)
            await lane.close(5.0)

    def health(self) -> Mapping[str, Health]:
        return {name: lane.health for name, lane in self._lanes.items()}

    async def _drain(self, lane: _Lane, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not lane.idle() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def close(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout``) for unconfirmed messages, then close every adapter."""
        deadline = time.monotonic() + timeout
        for lane in self._lanes.values():
            await self._drain(lane, max(0.0, deadline - time.monotonic()))
        await asyncio.gather(*(lane.close(max(0.1, deadline - time.monotonic())) for lane in self._lanes.values()))
        self._lanes = {}

    # --- dispatching -----------------------------------------------------------------------
    async def dispatch(self, decisions: Sequence[Decision], *, event: Any, version: str) -> DispatchResult:
        """Deliver one event's decisions; return when each is confirmed, dead-lettered or failed."""
        waits: list[asyncio.Future[Outcome]] = []
        settled: list[Outcome] = []
        loop = asyncio.get_running_loop()
        for d in decisions:
            if d.action == "skip":
                continue
            if d.action == "dead_letter":
                waits.append(self._transform_dead_letter(d, event, version, loop))
                continue
            lane = self._lanes.get(d.target)
            if lane is None:
                settled.append(self._lost(d.rule, d.target, "no such target in this dispatcher"))
                continue
            await lane.permits.acquire()  # backpressure: wait for room on this target
            lane.inflight += 1
            msg = Message(
                d.payload, d.partition_key, d.headers, event, d.rule, d.target, d.version or version, self._next_id()
            )
            item = _Item(msg, loop.create_future(), lane.permits)
            lane.admitted.add(item)
            lane.enqueue(item)
            waits.append(item.done)
        if len(waits) == 1 and not settled:  # the common case: one decision, no gather to build
            outcomes = [await waits[0]]
        else:
            outcomes = settled + list(await asyncio.gather(*waits))
        return DispatchResult(
            sum(o.status == "delivered" for o in outcomes),
            sum(o.status == "dead_lettered" for o in outcomes),
            sum(o.status == "failed" for o in outcomes),
            tuple(outcomes),
        )

    def _next_id(self) -> str:
        return f"{self._run_id}-{next(self._ids)}"

    def _lost(self, rule: str, target: str, detail: str) -> Outcome:
        d = codes.NO_DEAD_LETTER.at(None, target=target, rule=rule, detail=detail)
        log.error("[%s] %s", d.code, d.message)
        self.observer_failed(target, rule, detail)
        return Outcome(rule, target, "failed", 0, d.code, detail, None, d.message)

    def _transform_dead_letter(
        self, d: Decision, event: Any, version: str, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[Outcome]:
        """A decision the router already marked (``on_error: dead_letter``): its target is the
        dead-letter target, or, when the original target has none, the original target."""
        hdr = dict(d.headers)
        origin_target = hdr.get(H_TARGET, d.target)
        fut: asyncio.Future[Outcome] = loop.create_future()
        detail = f"transform failed: {hdr.get(H_ERROR, d.error.message if d.error else '')}"
        dl_lane = self._lanes.get(d.target)
        if d.target == origin_target or dl_lane is None:
            fut.set_result(self._lost(d.rule, origin_target, detail))
            return fut
        now = time.time()
        headers = (
            *d.headers,
            (H_ATTEMPTS, "0"),
            (H_FIRST_ATTEMPT, _utc(now)),
            (H_LAST_ATTEMPT, _utc(now)),
            (H_EXHAUSTED, "transform error"),
            (H_VERSION, version),
        )
        msg = Message(event, d.partition_key, headers, event, d.rule, origin_target, version, self._next_id())
        origin = _Item(msg, fut, None, attempts=0, first=now, last=now)
        origin.result = permanent(hdr.get(H_ERROR_CODE, "transform"), detail)
        origin.diagnostic = detail
        self._send_dead_letter(origin, dl_lane, headers)
        return fut

    def give_up(self, lane: _Lane, it: _Item, r: SendResult, condition: str) -> None:
        """``it`` will not be delivered to ``lane``: dead-letter it, or record it as failed."""
        m = it.message
        if it.origin is not None:  # a dead letter that failed: logged and counted, never dropped silently
            o = it.origin
            d = codes.DEAD_LETTER_FAILED.at(
                None, rule=m.rule, target=o.message.target, dead_letter=lane.target.name, detail=f"{r.code}: {r.detail}"
            )
            log.error("[%s] %s", d.code, d.message)
            self.observer_failed(lane.target.name, m.rule, f"dead letter failed: {r.code}")
            self._settle_origin(
                o,
                Outcome(
                    m.rule,
                    o.message.target,
                    "failed",
                    o.attempts,
                    d.code,
                    f"{o.result.detail if o.result else ''}; dead letter: {r.detail}",
                    lane.target.name,
                    d.message,
                ),
            )
            return
        if r.code == "unavailable":
            diag = codes.ADAPTER_UNAVAILABLE.at(None, target=m.target, type=lane.target.type, detail=r.detail)
        elif condition == "not retryable":
            diag = codes.DELIVERY_REJECTED.at(None, target=m.target, detail=f"{r.code}: {r.detail}")
        else:
            diag = codes.DELIVERY_EXHAUSTED.at(
                None, target=m.target, attempts=it.attempts, condition=condition, detail=f"{r.code}: {r.detail}"
            )
        dl_name = lane.settings.dead_letter
        dl_lane = self._lanes.get(dl_name) if dl_name else None
        if dl_lane is None:
            log.error("[%s] %s (no dead_letter target: the message is lost)", diag.code, diag.message)
            self.observer_failed(m.target, m.rule, r.code or "error")
            lane._finish(it, Outcome(m.rule, m.target, "failed", it.attempts, diag.code, r.detail, None, diag.message))
            return
        log.warning("[%s] %s; dead-lettered to %r", diag.code, diag.message, dl_name)
        headers = (
            (H_ERROR_CODE, diag.code),
            (H_ERROR, f"{r.code}: {r.detail}"[:1024]),
            (H_RULE, m.rule),
            (H_TARGET, m.target),
            (H_ATTEMPTS, str(it.attempts)),
            (H_FIRST_ATTEMPT, _utc(it.first)),
            (H_LAST_ATTEMPT, _utc(it.last)),
            (H_EXHAUSTED, condition),
            (H_VERSION, m.version),
        )
        it.diagnostic = diag.message
        self._send_dead_letter(it, dl_lane, headers)

    def _send_dead_letter(self, origin: _Item, dl_lane: _Lane, headers: tuple[tuple[str, str], ...]) -> None:
        m = origin.message
        dl = Message(m.event, m.partition_key, headers, m.event, m.rule, dl_lane.target.name, m.version, m.id + "-dl")
        dl_lane.enqueue(_Item(dl, origin.done, None, origin=origin))

    def dead_letter_confirmed(self, it: _Item) -> None:
        o = it.origin
        assert o is not None
        r = o.result or SendResult(False)
        code = dict(it.message.headers).get(H_ERROR_CODE, "")
        if self.observer is not None:
            self.observer.dead_lettered(o.message.target, o.message.rule, code, r.code, it.message)
        self._settle_origin(
            o,
            Outcome(
                o.message.rule,
                o.message.target,
                "dead_lettered",
                o.attempts,
                code,
                r.detail,
                it.message.target,
                o.diagnostic,
            ),
        )

    def _settle_origin(self, o: _Item, outcome: Outcome) -> None:
        lane = self._lanes.get(o.message.target)
        if lane is not None:
            lane._finish(o, outcome)
        elif not o.done.done():
            o.done.set_result(outcome)

    # --- observer shims (an observer is optional) -------------------------------------------
    def observer_delivered(self, target: str, rule: str, seconds: float) -> None:
        if self.observer is not None:
            self.observer.delivered(target, rule, seconds)

    def observer_retried(self, target: str, reason: str) -> None:
        if self.observer is not None:
            self.observer.retried(target, reason)

    def observer_failed(self, target: str, rule: str, reason: str) -> None:
        if self.observer is not None:
            self.observer.failed(target, rule, reason)
