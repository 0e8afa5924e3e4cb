"""The dispatcher: decisions in, confirmed deliveries (or dead letters) out.

Position in the pipeline::

    RuleSet.evaluate ─▶ [Decision] ─▶ **Dispatcher.dispatch(_many)** ─▶ one lane per target ─▶ Adapter.send(batch)
                                                  ▲                         │ retry (backoff) / dead letter
                                                  └── [DispatchResult] ◀────┘ (every message settled)

``dispatch`` takes one event's decisions; ``dispatch_many`` takes many events' decisions at once (a
request's batch, a broker fetch) and answers one ``DispatchResult`` per event, in order.  Both are the
same code: the events of a call share one countdown (``_Group``) that wakes the caller once, and a lane
sends what is queued as one batch through the adapter's batch API, so the per-message cost is a few
attribute writes, not a task, a future and two semaphores.

Guarantees (docs/delivery.md):

* at-least-once: ``dispatch`` returns only when every decision of the event is
  confirmed by its target, or was dead-lettered and the dead letter confirmed;
  anything else is ``failed`` in the result (and logged, and counted) — never
  silently dropped;
* backpressure: each lane admits at most ``max_in_flight`` unconfirmed
  messages; ``dispatch`` waits for room, so a slow target slows its callers
  instead of filling memory;
* ``ordered: true``: a message waits until the previous message with the same
  partition key to the same target is settled;
* reload: a call's decisions all go to the lanes of the moment it was made;
  ``update_targets`` keeps a removed or replaced lane open until the calls made
  before the switch have admitted their decisions and the lane drained (bounded
  by its ``timeout``).

Invariants: a lane's ready queue holds only messages that own one of the
lane's permits (``inflight <= max_in_flight``), or dead letters of messages
that own a permit somewhere else, so it is bounded by construction
(``max_in_flight`` plus every permit that can dead-letter into it).  Every
message is settled exactly once (``_Item.settled``): its outcome lands in its
group's slot, its permit is released and the next message of its partition key
(``ordered``) is let go.  Every task is owned by its lane and cancelled by
``close``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
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


class _Group:
    """The outcomes of one ``dispatch``/``dispatch_many`` call: a slot per decision and one countdown.

    The caller is woken once, when every slot is filled and the group is ``sealed`` (no more
    decisions will be added), instead of once per message.
    """

    __slots__ = ("outcomes", "pending", "sealed", "future")

    def __init__(self) -> None:
        self.outcomes: list[Outcome | None] = []
        self.pending = 0
        self.sealed = False
        self.future: asyncio.Future[None] | None = None

    def add(self) -> int:
        self.outcomes.append(None)
        self.pending += 1
        return len(self.outcomes) - 1

    def settle(self, slot: int, outcome: Outcome) -> None:
        if self.outcomes[slot] is not None:
            return
        self.outcomes[slot] = outcome
        self.pending -= 1
        if self.pending == 0 and self.future is not None and not self.future.done():
            self.future.set_result(None)

    async def wait(self) -> None:
        self.sealed = True
        if self.pending:
            self.future = asyncio.get_running_loop().create_future()
            await self.future


@dataclass(slots=True, eq=False)
class _Item:
    message: Message
    group: _Group
    slot: int
    lane: _Lane | None  # the lane it is queued on (None: a transform dead letter's origin, never queued)
    holds_permit: bool  # True for a message admitted to its lane; False for dead letters and their origins
    origin: _Item | None = None  # for a dead letter: the message it stands for
    attempts: int = 0
    first: float = 0.0  # wall-clock times, for the dead-letter headers
    last: float = 0.0
    started: float = 0.0  # monotonic, for max_age
    result: SendResult | None = field(default=None)
    diagnostic: str = ""  # why it was dead-lettered (the E6xx message)
    settled: bool = False
    successor: _Item | None = None  # ordered: the next message of the same partition key, waiting for this one
    uncertain: bool = False  # an attempt failed without knowing whether the receiver has it (duplicate risk)


_HEALTHY: Final = Health(True)
# Failures after which the receiver may still hold the message (a confirmation lost on the way back):
# a later successful attempt may be a duplicate.
_UNCERTAIN: Final = frozenset({"timeout", "error", "connection"})


class _Lane:
    """One target: its adapter, in-flight bound, ready queue, batching worker, retries."""

    def __init__(self, target: ir.Target, adapter: Adapter, settings: TargetSettings, owner: Dispatcher) -> None:
        self.target = target
        self.adapter = adapter
        self.settings = settings
        self.owner = owner
        self.capacity = settings.max_in_flight
        self.inflight = 0  # messages holding a permit (admitted, not yet settled)
        self.room: deque[asyncio.Future[None]] = deque()  # admissions waiting for a permit, in order
        self.woken = 0  # waiters woken with a permit reserved for them, not yet running
        self.ready: deque[_Item] = deque()  # admitted and due: the worker sends these
        self.bound = settings.max_in_flight  # the ready queue's bound (Dispatcher._bound_queues)
        self.wakeup: asyncio.Future[None] | None = None  # the idle worker waits on this
        # Batches in flight at once.  Few enough that messages arriving while the adapter is busy
        # gather into the next batch (one pipeline, one socket write) instead of leaving one by one;
        # enough that ``max_in_flight`` messages can be in flight in full batches.
        self.max_batches = max(2, -(-settings.max_in_flight // max(1, settings.batch)))
        self.sending = 0
        self.batch_room: asyncio.Future[None] | None = None  # the worker waits on this at max_batches
        self.keys: dict[str, _Item] = {}  # ordered: the last message admitted per partition key
        self.tasks: set[asyncio.Task[Any]] = set()
        self.opened = False
        self.open_lock = asyncio.Lock()
        self.health = _HEALTHY
        self.worker: asyncio.Task[None] | None = None
        self.admitted: set[_Item] = set()  # messages holding a permit, so that close() can settle every one
        self.closed = False

    # --- admission -------------------------------------------------------------------------
    def start(self) -> None:
        self.worker = asyncio.create_task(self._run(), name=f"deliver:{self.target.name}")

    async def admit(self) -> None:
        """Take a permit, waiting in arrival order while ``max_in_flight`` messages are unsettled.

        FIFO: a permit freed for a waiter is reserved for it (``woken``) until it runs, so a newcomer
        cannot take it meanwhile; admission order is the order callers asked in.
        """
        if self.inflight + self.woken < self.capacity and not self.room:
            self.inflight += 1
            return
        loop = asyncio.get_running_loop()
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            self.room.append(fut)
            try:
                await fut
            except BaseException:
                if fut in self.room:
                    self.room.remove(fut)
                elif fut.done() and not fut.cancelled():  # woken but leaving: pass the reserved turn on
                    self.woken -= 1
                    self._wake_room()
                raise
            self.woken -= 1
            if self.inflight < self.capacity or self.closed:  # closed: the caller sees it and gives back
                self.inflight += 1
                self._wake_room()
                return

    def _wake_room(self) -> None:
        """Wake as many waiters as there are free permits not already reserved for woken ones."""
        room = self.room
        while room and (self.closed or self.inflight + self.woken < self.capacity):
            fut = room.popleft()
            if not fut.done():
                fut.set_result(None)
                self.woken += 1

    def release(self) -> None:
        self.inflight -= 1
        if self.room:
            self._wake_room()

    def enqueue(self, item: _Item) -> None:
        key = item.message.partition_key
        if self.settings.ordered and key is not None and item.origin is None:
            prev = self.keys.get(key)
            self.keys[key] = item
            if prev is not None and not prev.settled:
                prev.successor = item  # sent when ``prev`` is settled (Dispatcher._finish)
                return
        self.push(item)

    def push(self, item: _Item) -> None:
        self.ready.append(item)
        w = self.wakeup
        if w is not None and not w.done():
            w.set_result(None)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    # --- sending ---------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        ready = self.ready
        size = self.settings.batch
        while True:
            if not ready:  # idle wait: this task is cancelled by close()
                self.wakeup = loop.create_future()
                await self.wakeup
                self.wakeup = None
                if len(ready) < size:
                    # One turn of the loop lets the producers that are ready add theirs, so a batch is
                    # more than one message (fewer, larger writes: a pipeline, one socket send).
                    await asyncio.sleep(0)
            while self.sending >= self.max_batches:
                self.batch_room = loop.create_future()
                await self.batch_room
                self.batch_room = None
            n = min(size, len(ready))
            batch = [ready.popleft() for _ in range(n)]
            self.sending += 1
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
                    async with asyncio.timeout(self.settings.timeout):
                        results = await self.adapter.send([it.message for it in batch])
                    if len(results) != len(batch):
                        results = [transient("adapter", f"{len(results)} results for {len(batch)} messages")] * len(
                            batch
                        )
                except TimeoutError:
                    results = [transient("timeout", f"not confirmed within {self.settings.timeout:g}s")] * len(batch)
                except Exception as e:  # noqa: BLE001  # a broken connection fails the batch, transiently
                    results = [transient("error", repr(e))] * len(batch)
        finally:
            self.sending -= 1
            w = self.batch_room
            if w is not None and not w.done():
                w.set_result(None)
        seconds = time.monotonic() - mono
        owner = self.owner
        delivered = owner.observer_delivered if owner.observer is not None else None
        many = owner.delivered_many  # the observer's optional batch hook: one call per rule, not per message
        per_rule: dict[str, int] = {}
        for it, r in zip(batch, results, strict=True):
            if r.ok and it.origin is None and not it.settled:  # the common case, inline
                if not self.health.ok:
                    self.health = _HEALTHY
                m = it.message
                if many is not None:
                    per_rule[m.rule] = per_rule.get(m.rule, 0) + 1
                elif delivered is not None:
                    delivered(m.target, m.rule, seconds)
                if it.uncertain:
                    owner.observer_duplicate(m.target, m.rule)
                owner._finish(it, owner.delivered_outcome(m.rule, m.target) if it.attempts == 1
                              else Outcome(m.rule, m.target, "delivered", it.attempts))
            else:
                self._settle(it, r, seconds)
        if many is not None:
            for rule, n in per_rule.items():
                many(self.target.name, rule, seconds, n)

    def _settle(self, it: _Item, r: SendResult, seconds: float) -> None:
        it.result = r
        m = it.message
        if it.settled:  # settled meanwhile (close() gave up on it): nothing more to do
            return
        if r.ok:
            if not self.health.ok:
                self.health = _HEALTHY
            self.owner.observer_delivered(m.target, m.rule, seconds)
            if it.origin is None:
                if it.uncertain:
                    self.owner.observer_duplicate(m.target, m.rule)
                self.owner._finish(it, Outcome(m.rule, m.target, "delivered", it.attempts))
            else:
                self.owner.dead_letter_confirmed(it)
            return
        if r.code in ("connection", "timeout", "error"):
            self.health = Health(False, r.detail)
        if r.code in _UNCERTAIN:
            it.uncertain = True
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
        if not it.settled:
            self.push(it)

    def idle(self) -> bool:
        return self.inflight == 0 and not self.tasks and not self.ready

    async def close(self, timeout: float) -> None:
        self.closed = True
        self._wake_room()  # closed: every admission still waiting wakes and finds the lane closed (no hang)
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
            self.owner._finish(
                it, Outcome(m.rule, m.target, "failed", it.attempts, d.code, "shutdown", None, d.message)
            )
        if self.opened:
            try:
                await asyncio.wait_for(self.adapter.close(timeout), timeout)
            except Exception as e:  # noqa: BLE001  # closing must not hide the other lanes' closing
                log.warning("closing target %r: %r", self.target.name, e)
            self.opened = False


class Dispatcher:
    """Delivers decisions through one lane per target."""

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
        # Reload safety: every ``update_targets`` starts a new generation; ``_calls`` counts, per generation,
        # the dispatch calls still admitting their decisions to the lanes they snapshotted at that generation.
        # A lane removed or replaced by ``update_targets`` stays open until no older call is admitting.
        self._gen = 0
        self._calls: dict[int, int] = {}
        self._delivered: dict[tuple[str, str], Outcome] = {}
        # Optional batch hook of the observer: ``delivered_many(target, rule, seconds, count)`` stands for
        # ``count`` calls of ``delivered(target, rule, seconds)`` (messages of one batch share ``seconds``).
        self.delivered_many: Any = getattr(observer, "delivered_many", None)

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
            lane.bound = lane.settings.max_in_flight + feeders

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

    async def update_targets(self, targets: Sequence[ir.Target], *, timeout: float = 10.0) -> None:
        """Switch to a new target set: unchanged targets keep their lane and connection.

        A removed or replaced lane is closed only once every dispatch call that started before the switch
        (and so resolved its decisions against the old lanes) has admitted its decisions, and every message
        admitted to the lane is settled — waiting at most ``timeout`` seconds for both, then closing it
        anyway (what is still unsettled then is ``failed``, never left waiting).  Calls started after the
        switch see the new lanes only.
        """
        self._gen += 1
        gen = self._gen
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
        if not gone:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (
            any(g < gen for g in self._calls) or not all(lane.idle() for lane in gone)
        ):
            await asyncio.sleep(0.01)
        for lane in gone:
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
        return (await self.dispatch_many(((decisions, event),), version=version))[0]

    async def dispatch_many(
        self, batch: Iterable[tuple[Sequence[Decision], Any]], *, version: str
    ) -> list[DispatchResult]:
        """Deliver many events' decisions at once: ``batch`` holds ``(decisions, event)`` pairs; the answer
        is one :class:`DispatchResult` per pair, in order, once every decision of every event is confirmed,
        dead-lettered or failed.

        The same guarantees as ``dispatch`` for each event.  Decisions are admitted to their lanes in
        order (so ``ordered: true`` holds across the events of a batch as across calls), each waiting for
        room on its target when ``max_in_flight`` messages are unsettled there (backpressure: a batch larger
        than the bound is sent as earlier ones settle).  A lane sends what is queued as one adapter batch.
        """
        group = _Group()
        spans: list[tuple[int, int]] = []
        ids = self._ids
        run_id = self._run_id
        # Every decision of this call goes to the lanes of this moment, even when an earlier one waited for
        # room while update_targets switched targets: the call counts as pending in its generation, which
        # keeps removed and replaced lanes open (update_targets) until it has admitted everything.
        lanes = self._lanes
        gen = self._gen
        calls = self._calls
        calls[gen] = calls.get(gen, 0) + 1
        try:
            for decisions, event in batch:
                start = len(group.outcomes)
                for d in decisions:
                    action = d.action
                    if action == "skip":
                        continue
                    slot = group.add()
                    if action == "dead_letter":
                        self._transform_dead_letter(d, event, version, group, slot, lanes)
                        continue
                    lane = lanes.get(d.target)
                    if lane is None or lane.closed:
                        why = "the target closed before sending" if lane else "no such target in this dispatcher"
                        group.settle(slot, self._lost(d.rule, d.target, why))
                        continue
                    if lane.inflight + lane.woken < lane.capacity and not lane.room:
                        lane.inflight += 1
                    else:
                        await lane.admit()  # backpressure: wait for room on this target
                        if lane.closed:  # closed meanwhile (close(), or update_targets gave up waiting)
                            lane.release()
                            group.settle(slot, self._lost(d.rule, d.target, "the target closed before sending"))
                            continue
                    msg = Message(
                        d.payload, d.partition_key, d.headers, event, d.rule, d.target, d.version or version,
                        f"{run_id}-{next(ids)}",
                    )
                    item = _Item(msg, group, slot, lane, True)
                    lane.admitted.add(item)
                    lane.enqueue(item)
                spans.append((start, len(group.outcomes)))
        finally:
            n = calls[gen] - 1
            if n:
                calls[gen] = n
            else:
                del calls[gen]
        await group.wait()
        out: list[DispatchResult] = []
        outcomes = group.outcomes
        for a, b in spans:
            mine = tuple(o for o in outcomes[a:b] if o is not None)
            delivered = dead = failed = 0
            for o in mine:
                if o.status == "delivered":
                    delivered += 1
                elif o.status == "dead_lettered":
                    dead += 1
                else:
                    failed += 1
            out.append(DispatchResult(delivered, dead, failed, mine))
        return out

    def delivered_outcome(self, rule: str, target: str) -> Outcome:
        """The (immutable, shared) outcome of a message delivered at its first attempt."""
        o = self._delivered.get((rule, target))
        if o is None:
            if len(self._delivered) > 4096:  # bounded: rule and target names come from the rule set
                self._delivered.clear()
            o = self._delivered[(rule, target)] = Outcome(rule, target, "delivered", 1)
        return o

    def _next_id(self) -> str:
        return f"{self._run_id}-{next(self._ids)}"

    def _lost(self, rule: str, target: str, detail: str) -> Outcome:
        d = codes.NO_DEAD_LETTER.at(None, target=target, rule=rule, detail=detail)
        log.error("[%s] %s", d.code, d.message)
        self.observer_failed(target, rule, detail)
        return Outcome(rule, target, "failed", 0, d.code, detail, None, d.message)

    def _transform_dead_letter(
        self, d: Decision, event: Any, version: str, group: _Group, slot: int, lanes: Mapping[str, _Lane]
    ) -> None:
        """A decision the router already marked (``on_error: dead_letter``): its target is the
        dead-letter target, or, when the original target has none, the original target."""
        hdr = dict(d.headers)
        origin_target = hdr.get(H_TARGET, d.target)
        detail = f"transform failed: {hdr.get(H_ERROR, d.error.message if d.error else '')}"
        dl_lane = lanes.get(d.target)
        if d.target == origin_target or dl_lane is None:
            group.settle(slot, self._lost(d.rule, origin_target, detail))
            return
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
        origin = _Item(msg, group, slot, None, False, attempts=0, first=now, last=now)
        origin.result = permanent(hdr.get(H_ERROR_CODE, "transform"), detail)
        origin.diagnostic = detail
        self._send_dead_letter(origin, dl_lane, headers)

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
            self._finish(it, Outcome(m.rule, m.target, "failed", it.attempts, diag.code, r.detail, None, diag.message))
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
        dl_lane.enqueue(_Item(dl, origin.group, origin.slot, dl_lane, False, origin=origin))

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
        self._finish(o, outcome)

    def _finish(self, it: _Item, outcome: Outcome) -> None:
        """Settle ``it`` once: its outcome into its group, its permit back, its ordered successor let go."""
        if it.settled:
            return
        it.settled = True
        lane = it.lane
        if it.holds_permit and lane is not None:
            it.holds_permit = False
            lane.admitted.discard(it)
            lane.release()
        it.group.settle(it.slot, outcome)
        nxt = it.successor
        if nxt is not None:
            it.successor = None
            if not nxt.settled and nxt.lane is not None:
                nxt.lane.push(nxt)
        elif lane is not None and lane.settings.ordered:
            key = it.message.partition_key
            if key is not None and lane.keys.get(key) is it:
                del lane.keys[key]

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

    def observer_duplicate(self, target: str, rule: str) -> None:
        """A message confirmed after an attempt whose outcome was unknown (timeout, broken connection):
        the receiver may hold it twice.  Told to observers that have ``possible_duplicate``."""
        hook = getattr(self.observer, "possible_duplicate", None)
        if hook is not None:
            hook(target, rule)
