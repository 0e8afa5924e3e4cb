"""The live rule set: one reference that swaps atomically, and the record of every reload.

Position in the pipeline::

    rule files ──load + check + compile (aside)──▶ RuleSet ──swap one reference──▶ **LiveRuleSet.current**
                                                                                   └──▶ readers: evaluate / match

Invariants:

* Readers never lock.  ``current`` reads one attribute that holds an immutable
  pair (rule set, status); a reload builds the whole new :class:`RuleSet` aside
  and publishes it with one attribute store.  A reader that took ``current``
  finishes on that rule set, whatever happens meanwhile.
* All or nothing.  Nothing is published unless the whole rule set loaded,
  checked and compiled; a rule set read while the files were changing (a
  ``git checkout`` half done) is detected by re-reading the files' content hash
  after the load, and loaded again instead of being served or reported.
* Last known good.  A failed reload keeps the serving rule set, and is recorded
  (``status.last_attempt``) with its diagnostics; :meth:`LiveRuleSet.reload`
  returns that attempt, so a manual reload that fails says so.  It never
  raises :class:`RuleError`.
* Reloads are serialised by one writers' lock; subscribers are called in the
  reloading thread, in the order the reloads happened.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from rules_engine import RuleError, RuleSet, load
from rules_engine.model.errors import Diagnostic, render_text
from rules_engine.reload.snapshot import fingerprint

__all__ = ["LiveRuleSet", "OnFailure", "OnReload", "ReloadAttempt", "ReloadStatus", "Result"]

log = logging.getLogger("rules_engine.reload")

Result = Literal["success", "failure"]
RESULTS: Final[tuple[Result, ...]] = ("success", "failure")

# A load whose files changed under it is loaded again, this many times at most.
MAX_TORN_LOADS: Final = 5
TORN_BACKOFF_S: Final = 0.05


@dataclass(frozen=True, slots=True)
class ReloadAttempt:
    """One reload attempt and its outcome.

    ``version`` is the version serving after the attempt when it succeeded
    (``None`` when it failed); ``previous`` the one serving before.  ``changed``
    is true when a new version was published.  ``diagnostics`` are the errors of
    a failed attempt, or the warnings of a successful one; ``rendered`` is the
    same rendered like a compiler (file:line:col, source line, caret).
    """

    at: datetime
    trigger: str
    ok: bool
    version: str | None
    previous: str
    changed: bool
    duration_s: float
    diagnostics: tuple[Diagnostic, ...] = ()
    rendered: str = ""
    message: str = ""

    @property
    def result(self) -> Result:
        return "success" if self.ok else "failure"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (GET /rules, POST /-/reload)."""
        return {
            "at": self.at.isoformat(),
            "trigger": self.trigger,
            "result": self.result,
            "version": self.version,
            "previous": self.previous,
            "changed": self.changed,
            "duration_s": round(self.duration_s, 6),
            "message": self.message,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "rendered": self.rendered,
        }


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """What is serving and how the reloads went; immutable, replaced on every attempt.

    ``loaded_at`` is when the serving version was published; ``last_success_at``
    when a reload last succeeded (an unchanged reload counts).  ``reloads``
    counts attempts by result (``"success"``, ``"failure"``), the initial load
    excluded.
    """

    version: str
    loaded_at: datetime
    paths: tuple[str, ...]
    rule_count: int
    target_count: int
    last_success_at: datetime
    last_attempt: ReloadAttempt | None = None
    reloads: Mapping[str, int] = field(default_factory=lambda: MappingProxyType(dict.fromkeys(RESULTS, 0)))

    @property
    def last_reload_successful(self) -> bool:
        """False from a failed reload until the next successful one (the initial load counts as one)."""
        return self.last_attempt is None or self.last_attempt.ok

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (GET /rules)."""
        return {
            "version": self.version,
            "loaded_at": self.loaded_at.isoformat(),
            "paths": list(self.paths),
            "rules": self.rule_count,
            "targets": self.target_count,
            "last_reload_successful": self.last_reload_successful,
            "last_success_at": self.last_success_at.isoformat(),
            "reloads": dict(self.reloads),
            "last_attempt": self.last_attempt.to_dict() if self.last_attempt is not None else None,
        }


OnReload = Callable[[RuleSet, ReloadAttempt], None]
OnFailure = Callable[[ReloadAttempt], None]


@dataclass(frozen=True, slots=True)
class _State:
    """The serving rule set and its status, published together so readers see them agree."""

    ruleset: RuleSet
    status: ReloadStatus


class _TornLoad(Exception):
    """The rule files kept changing while they were being loaded."""


class LiveRuleSet:
    """A rule set loaded from ``paths`` that can be reloaded while it serves.

    The first load happens here and raises :class:`RuleError` when the rules are
    invalid (there is no last good set to keep yet).  Afterwards :meth:`reload`
    never raises for bad rules: it records and returns the failed attempt.
    """

    def __init__(
        self,
        paths: Sequence[str],
        *,
        engine: str = "compiled",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(paths, str):
            raise TypeError("paths must be a sequence of paths, not one string")
        self._paths = tuple(str(p) for p in paths)
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()  # writers only; readers never take it
        self._on_reload: tuple[OnReload, ...] = ()
        self._on_failure: tuple[OnFailure, ...] = ()
        rs = self._load()
        now = self._now()
        self._state = _State(
            rs,
            ReloadStatus(rs.version, now, self._paths, len(rs.rules), len(rs.targets), now),
        )

    # --- readers (lock-free) -------------------------------------------------------------

    @property
    def current(self) -> RuleSet:
        """The serving rule set.  Keep the reference for the whole of one evaluation."""
        return self._state.ruleset

    @property
    def status(self) -> ReloadStatus:
        return self._state.status

    @property
    def version(self) -> str:
        return self._state.ruleset.version

    @property
    def paths(self) -> tuple[str, ...]:
        return self._paths

    # --- writers ------------------------------------------------------------------------

    def subscribe(self, on_reload: OnReload | None = None, on_failure: OnFailure | None = None) -> None:
        """Call ``on_reload(ruleset, attempt)`` after every successful reload (``attempt.changed``
        says whether a new version was published) and ``on_failure(attempt)`` after every failed one.

        Callbacks run in the reloading thread, in reload order, while reloads are held off; they
        should be quick and must not call :meth:`reload` (hand work to your own thread or event
        loop, e.g. ``loop.call_soon_threadsafe``).  An exception in one is logged and does not
        affect the reload or the other callbacks.
        """
        with self._lock:
            if on_reload is not None:
                self._on_reload += (on_reload,)
            if on_failure is not None:
                self._on_failure += (on_failure,)

    def reload(self, trigger: str = "manual") -> ReloadAttempt:
        """Load, check and compile the rule files aside; publish the result only if it is valid.

        Blocking (reads files, compiles): from asyncio call :meth:`areload`.  Returns the
        attempt; a failure keeps the serving rule set and carries the diagnostics.
        """
        with self._lock:
            started = time.perf_counter()
            at = self._now()
            old = self._state
            new_rs: RuleSet | None = None
            diags: tuple[Diagnostic, ...] = ()
            rendered = ""
            try:
                new_rs = self._load()
            except RuleError as e:
                diags = tuple(e.diagnostics)
                rendered = render_text(e.diagnostics, e.sources)
                message = f"rules invalid ({len(e.errors)} error{'s' if len(e.errors) != 1 else ''}); " \
                          f"still serving {old.ruleset.version}"
            except _TornLoad as e:
                message = f"{e}; still serving {old.ruleset.version}"
            duration = time.perf_counter() - started
            prev = old.status
            counts = dict(prev.reloads)
            if new_rs is None:
                attempt = ReloadAttempt(at, trigger, False, None, old.ruleset.version, False, duration,
                                        diags, rendered, message)
                counts["failure"] = counts.get("failure", 0) + 1
                self._state = _State(old.ruleset, replace(prev, last_attempt=attempt, reloads=MappingProxyType(counts)))
                log.warning("rule reload (%s) failed: %s\n%s", trigger, message, rendered)
                self._notify_failure(attempt)
                return attempt
            changed = new_rs.version != old.ruleset.version
            serving = new_rs if changed else old.ruleset  # unchanged: keep the very same object
            warnings = tuple(new_rs.warnings)
            attempt = ReloadAttempt(
                at, trigger, True, serving.version, old.ruleset.version, changed, duration, warnings,
                render_text(warnings, new_rs.sources) if warnings else "",
                f"loaded {serving.version}" if changed else f"unchanged, serving {serving.version}",
            )
            counts["success"] = counts.get("success", 0) + 1
            status = ReloadStatus(
                serving.version,
                at if changed else prev.loaded_at,
                self._paths,
                len(serving.rules),
                len(serving.targets),
                at,
                attempt,
                MappingProxyType(counts),
            )
            self._state = _State(serving, status)  # the one atomic publication
            if changed:
                log.info("rule reload (%s): %s -> %s in %.3f s", trigger, old.ruleset.version, serving.version,
                         duration)
            self._notify_reload(serving, attempt)
            return attempt

    async def areload(self, trigger: str = "manual") -> ReloadAttempt:
        """:meth:`reload` in a worker thread, so the event loop keeps serving meanwhile."""
        return await asyncio.to_thread(self.reload, trigger)

    # --- internals ----------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _load(self) -> RuleSet:
        """Load the files, and load again when they changed while being read (a torn read).

        After a successful load the files' content hash must equal the loaded version
        (the same files, the same bytes); after a failed one the hash must not have
        moved during the load.  Otherwise what was read may mix old and new files.
        """
        for attempt in range(MAX_TORN_LOADS):
            if attempt:
                time.sleep(TORN_BACKOFF_S * attempt)
            before = fingerprint(self._paths)
            try:
                rs = load(*self._paths, engine=self._engine)
            except RuleError:
                if fingerprint(self._paths) == before:
                    raise
                continue
            if fingerprint(self._paths) == rs.version:
                return rs
        raise _TornLoad(f"rule files kept changing while being loaded ({MAX_TORN_LOADS} tries)")

    def _notify_reload(self, rs: RuleSet, attempt: ReloadAttempt) -> None:
        for cb in self._on_reload:
            try:
                cb(rs, attempt)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not break reloading
                log.exception("on_reload callback %r failed", cb)

    def _notify_failure(self, attempt: ReloadAttempt) -> None:
        for cb in self._on_failure:
            try:
                cb(attempt)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not break reloading
                log.exception("on_failure callback %r failed", cb)

