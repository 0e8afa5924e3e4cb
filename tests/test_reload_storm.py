"""Reload storm: 100 reloads, alternating valid and invalid rule sets (some large), while 100,000
events are evaluated.  Afterwards every event was routed by exactly one complete version, nothing
was lost, every valid version served, no invalid version ever did.

Each version ``i`` routes to its own targets ``t-<i>-0..2`` (three rules, all matching the event),
so a decision names the version that made it, and a mix of versions within one event would show.
Reloads and events advance in lockstep (bounded waits): reload m runs while events m*STEP.. are
evaluated, and it is done before event (m+1)*STEP, so every reload happens while events flow and every
valid version evaluates events.
The dispatcher is not used here: delivery is checked in deliver/'s tests; this is about which rule
set evaluates each event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from rules_engine.model.source import Source
from rules_engine.reload import LiveRuleSet, ReloadAttempt
from rules_engine.ruleset import content_version
from tests.reload_helpers import write

RELOADS = 100
EVENTS = 100_000
STEP = EVENTS // (RELOADS + 1)  # events between two reloads; the last STEP+ events see the final version
LARGE = {10, 11, 40, 43, 70, 75}  # reload numbers with 400 extra (non-matching) rules
WAIT_S = 60.0  # a stuck side fails the test instead of hanging it
EVENT = {"type": "order", "detail": {"n": 5}}


def version_text(i: int, extra: int, fault: str | None = None) -> str:
    out = ["targets:\n", *(f"  t-{i}-{k}: {{type: stdout}}\n" for k in range(3)), "rules:\n"]
    for k in range(3):
        out.append(f"  - name: m{k}\n    match: {{type: [order], detail: {{n: [{{numeric: ['>=', {k}]}}]}}}}\n"
                   f"    targets: [t-{i}-{k}]\n")
    for k in range(extra):
        out.append(f"  - name: x{k}\n    match: {{type: [other-{k}], source: [s{k % 17}]}}\n    targets: [t-{i}-{k % 3}]\n")
    if fault == "E102":  # YAML syntax, at the very end of the file
        out.append("  - {name: broken, targets: [t-0-0]\n")
    elif fault == "E302":  # a cross-file/semantic error: every file parses, the check fails
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


def test_reload_storm(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    write(f, version_text(0, 0))
    live = LiveRuleSet([str(tmp_path)])
    steps = plan()
    index_of = {live.version: 0}
    invalid_versions: set[str] = set()
    for n, text, fault in steps:
        v = content_version([Source(str(f), text)])
        (invalid_versions.add(v) if fault else index_of.setdefault(v, n))
    assert len(index_of) == RELOADS // 2 + 1 and not invalid_versions & index_of.keys()

    cond = threading.Condition()
    progress = {"events": 0, "reloads": 0}
    attempts: list[ReloadAttempt] = []
    errors: list[BaseException] = []

    def wait(pred: Callable[[], bool], what: str) -> None:
        with cond:
            if not cond.wait_for(lambda: pred() or bool(errors), WAIT_S):
                raise AssertionError(f"stuck waiting for {what}: {progress}")

    def reloader() -> None:
        try:
            for i, (_, text, _) in enumerate(steps):
                need = i * STEP
                wait(lambda: progress["events"] >= need, f"events before reload {i}")  # noqa: B023 - called at once
                write(f, text)
                attempts.append(live.reload("storm"))
                with cond:
                    progress["reloads"] += 1
                    cond.notify_all()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
            with cond:
                cond.notify_all()

    thread = threading.Thread(target=reloader, name="storm-reloader")
    thread.start()
    records: list[tuple[str, frozenset[str], frozenset[str]]] = []
    try:
        for j in range(EVENTS):
            if j % STEP == 0:
                with cond:
                    progress["events"] = j
                    cond.notify_all()
                # reload m-1 done before event m*STEP; reload m runs while events m*STEP.. flow
                need = min(j // STEP, RELOADS)
                wait(lambda: progress["reloads"] >= need, f"reloads before event {j}")  # noqa: B023 - called at once
            rs = live.current  # one version for the whole evaluation of this event
            ds = rs.evaluate({**EVENT, "id": j})
            records.append((rs.version, frozenset(d.target for d in ds), frozenset(d.version for d in ds)))
        with cond:
            progress["events"] = EVENTS
            cond.notify_all()
    finally:
        thread.join(WAIT_S)
    assert not errors, errors
    assert not thread.is_alive()

    # the reloads: every valid set published, every invalid one refused with its diagnostics
    assert len(attempts) == RELOADS
    for (n, _, fault), a in zip(steps, attempts, strict=True):
        if fault is None:
            assert a.ok and a.changed and index_of[a.version or ""] == n, (n, a.message)
        else:
            assert not a.ok and fault in {d.code for d in a.diagnostics if d.is_error}, (n, a.message, a.rendered)
    assert dict(live.status.reloads) == {"success": RELOADS // 2, "failure": RELOADS // 2}
    assert index_of[live.version] == RELOADS

    # the events: none lost, each routed by one complete valid version, versions only move forward
    assert len(records) == EVENTS
    last = 0
    for version, targets, decision_versions in records:
        assert version not in invalid_versions
        i = index_of[version]
        assert targets == {f"t-{i}-0", f"t-{i}-1", f"t-{i}-2"} and decision_versions == {version}
        assert i >= last
        last = i
    assert {v for v, _, _ in records} == set(index_of)  # every valid version served some events
