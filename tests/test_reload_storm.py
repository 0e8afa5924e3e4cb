"""Reload storm: 100 reloads, alternating valid and invalid rule sets (some large), while 100,000
events stream through the real :class:`~rules_engine.deliver.Dispatcher` to in-process targets.
Afterwards every event was delivered by exactly one complete version, nothing was lost, every valid
version served, no invalid version ever did.

Each version ``i`` routes every event to its own two targets ``t-<i>-0`` and ``t-<i>-1`` (two rules,
both matching), of the in-process type ``storm-memory`` (``reload_helpers.MemorySink``, installed as
a plugin), so each delivered message names the version that made it, and a mix of versions within
one event would show as targets of two versions.

The loop mirrors the sidecar (serve/app.py, serve/pipeline.py): workers take the routing rule set
once per event, evaluate, and ``dispatch`` the decisions; a reload runs in a worker thread
(``LiveRuleSet.areload``) while events flow, and a new set routes only once the dispatcher has its
targets.  Its old targets are dropped (drained, closed) once the events it routed have settled.
Reloads and events advance in lockstep (bounded waits): reload m starts when event m*STEP is
queued and is done before event (m+1)*STEP is, so every valid version routes events.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from rules_engine.deliver import AdapterRegistry, Dispatcher, DispatchResult
from rules_engine.model import ir
from rules_engine.model.source import Source
from rules_engine.reload import LiveRuleSet, ReloadAttempt
from rules_engine.ruleset import RuleSet, content_version
from tests.reload_helpers import MemorySink, install_memory_sink, write

RELOADS = 100
EVENTS = 100_000
STEP = EVENTS // (RELOADS + 1)  # events between two reloads; the last STEP+ events see the final version
LARGE = {10, 11, 40, 43, 70, 75}  # reload numbers with 400 extra (non-matching) rules
WORKERS = 8  # events in flight at once
WAIT_S = 60.0  # a stuck side fails the test instead of hanging it
EVENT = {"type": "order", "detail": {"n": 5}}
KIND = "storm-memory"


def version_text(i: int, extra: int, fault: str | None = None) -> str:
    out = ["targets:\n", *(f"  t-{i}-{k}: {{type: {KIND}}}\n" for k in range(2)), "rules:\n"]
    for k in range(2):
        out.append(f"  - name: m{k}\n    match: {{type: [order], detail: {{n: [{{numeric: ['>=', {k}]}}]}}}}\n"
                   f"    targets: [t-{i}-{k}]\n")
    for k in range(extra):
        out.append(f"  - name: x{k}\n    match: {{type: [other-{k}], source: [s{k % 17}]}}\n    targets: [t-{i}-{k % 2}]\n")
    if fault == "E102":  # YAML syntax, at the very end of the file
        out.append("  - {name: broken, targets: [t-0-0]\n")
    elif fault == "E302":  # a semantic error: the file parses, the check fails
        out.append(f"  - name: lost\n    match: {{type: [order]}}\n    targets: [t-{i}-9]\n")
    elif fault == "E201":  # schema
        out.append("  - name: typo\n    match: {type: [order]}\n    tragets: [t-0-0]\n")
    return "".join(out)


FAULTS = ("E102", "E302", "E201")


def plan() -> list[tuple[int, str, str | None]]:
    """(version index, text, expected error code or None) for reloads 1..RELOADS (index 0 is the first load)."""
    out = []
    for n in range(1, RELOADS + 1):
        extra = 400 if n in LARGE else 0
        fault = None if n % 2 == 0 else FAULTS[(n // 2) % len(FAULTS)]
        out.append((n, version_text(n, extra, fault), fault))
    return out


def _union(new: tuple[ir.Target, ...], old: tuple[ir.Target, ...]) -> list[ir.Target]:
    names = {t.name for t in new}
    return [*new, *(t for t in old if t.name not in names)]


class Storm:
    """The router under test: a live rule set, a dispatcher, and the set that routes."""

    def __init__(self, live: LiveRuleSet, dispatcher: Dispatcher) -> None:
        self.live = live
        self.dispatcher = dispatcher
        self.routing: RuleSet = live.current
        self.in_flight: Counter[str] = Counter()  # events being routed, by version
        self.cond = asyncio.Condition()
        self.queued = 0
        self.reloads = 0
        self.results: dict[int, tuple[str, DispatchResult]] = {}

    async def wait(self, pred: Callable[[], bool], what: str) -> None:
        async with self.cond:
            try:
                await asyncio.wait_for(self.cond.wait_for(pred), WAIT_S)
            except TimeoutError:
                raise AssertionError(f"stuck waiting for {what}: queued {self.queued}, reloads {self.reloads}") from None

    async def notify(self) -> None:
        async with self.cond:
            self.cond.notify_all()

    async def switch(self, rs: RuleSet) -> None:
        """The new set routes once the dispatcher has its targets; the old set's targets go once
        the events it routed have settled (their lanes are drained, then closed)."""
        old = self.routing
        await self.dispatcher.update_targets(_union(rs.targets, old.targets))
        self.routing = rs
        await self.wait(lambda: not self.in_flight[old.version], f"events of {old.version} to settle")
        await self.dispatcher.update_targets(rs.targets)

    async def worker(self, queue: asyncio.Queue[int | None]) -> None:
        while (j := await queue.get()) is not None:
            rs = self.routing  # one version for the whole routing of this event
            self.in_flight[rs.version] += 1
            try:
                ev = {**EVENT, "id": j}
                self.results[j] = (rs.version, await self.dispatcher.dispatch(rs.evaluate(ev), event=ev,
                                                                              version=rs.version))
            finally:
                self.in_flight[rs.version] -= 1
                if not self.in_flight[rs.version]:
                    await self.notify()

    async def produce(self, queue: asyncio.Queue[int | None]) -> None:
        for j in range(EVENTS):
            if j % STEP == 0:
                need = min(j // STEP, RELOADS)  # reload m-1 done before event m*STEP is queued
                await self.wait(lambda: self.reloads >= need, f"reloads before event {j}")  # noqa: B023 - called at once
            await queue.put(j)
            if j % STEP == 0:
                self.queued = j
                await self.notify()
        for _ in range(WORKERS):
            await queue.put(None)

    async def reload_all(self, path: Path, steps: list[tuple[int, str, str | None]]) -> list[ReloadAttempt]:
        attempts = []
        for i, (_, text, _) in enumerate(steps):
            await self.wait(lambda: self.queued >= i * STEP, f"events before reload {i}")  # noqa: B023 - called at once
            write(path, text)
            attempt = await self.live.areload("storm")  # loads in a thread while events flow
            attempts.append(attempt)
            if attempt.ok:
                await self.switch(self.live.current)
            self.reloads += 1
            await self.notify()
        return attempts


async def test_reload_storm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins, rules = tmp_path / "plugins", tmp_path / "rules"
    plugins.mkdir()
    rules.mkdir()
    install_memory_sink(plugins, monkeypatch)
    f = rules / "rules.yaml"
    write(f, version_text(0, 0))
    live = LiveRuleSet([str(rules)])
    steps = plan()
    index_of = {live.version: 0}
    invalid_versions: set[str] = set()
    for n, text, fault in steps:
        v = content_version([Source(str(f), text)])
        (invalid_versions.add(v) if fault else index_of.setdefault(v, n))
    assert len(index_of) == RELOADS // 2 + 1 and not invalid_versions & index_of.keys()

    dispatcher = Dispatcher(live.current.targets, registry=AdapterRegistry(plugins=True))
    await dispatcher.start()
    storm = Storm(live, dispatcher)
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=WORKERS * 4)
    try:
        async with asyncio.timeout(WAIT_S * 2):
            *_, attempts = await asyncio.gather(
                *(storm.worker(queue) for _ in range(WORKERS)), storm.produce(queue), storm.reload_all(f, steps))
        assert set(dispatcher.health()) == {f"t-{RELOADS}-0", f"t-{RELOADS}-1"}  # old targets were dropped
    finally:
        await dispatcher.close()

    # the reloads: every valid set published, every invalid one refused with its diagnostics
    assert len(attempts) == RELOADS
    for (n, _, fault), a in zip(steps, attempts, strict=True):
        if fault is None:
            assert a.ok and a.changed and index_of[a.version or ""] == n, (n, a.message)
        else:
            assert not a.ok and fault in {d.code for d in a.diagnostics if d.is_error}, (n, a.message, a.rendered)
    assert dict(live.status.reloads) == {"success": RELOADS // 2, "failure": RELOADS // 2}
    assert index_of[live.version] == RELOADS
    # every target's adapter was opened once and closed once (a version's two, plus the first set's)
    assert MemorySink.opened == MemorySink.closed == 2 * (RELOADS // 2 + 1)

    # the events: each dispatched once, each decision confirmed, by one valid version
    assert len(storm.results) == EVENTS
    for j, (version, res) in storm.results.items():
        assert version not in invalid_versions and res.ok and res.delivered == 2, (j, version, res)
    # what the targets received: each event exactly once at each target of the version that routed it
    received: dict[int, list[tuple[str, str]]] = {}
    for target, version, j in MemorySink.delivered:
        received.setdefault(j, []).append((target, version))
    assert len(MemorySink.delivered) == 2 * EVENTS and received.keys() == set(range(EVENTS))
    served_by: dict[int, int] = {}
    for j, got in received.items():
        version = storm.results[j][0]
        i = index_of[version]
        assert sorted(got) == [(f"t-{i}-0", version), (f"t-{i}-1", version)], (j, got)
        served_by[j] = i
    assert set(served_by.values()) == set(index_of.values())  # every valid version routed some events
    # lockstep: event j (m = j // STEP) is queued once versions 1..m were tried and the valid ones route,
    # so it is routed by the newest valid version up to m or a later one; it waits in the queue (at most
    # WORKERS * 4 events) while version m+1 or m+2 is tried, but no longer: version m+3 is tried only
    # once event (m+2) * STEP is queued, far behind it
    valid = sorted(index_of.values())
    for j, i in served_by.items():
        m = min(j // STEP, RELOADS)
        newest = max(n for n in valid if n <= m)
        assert newest <= i <= min(m + 2, RELOADS), (j, i, m)
