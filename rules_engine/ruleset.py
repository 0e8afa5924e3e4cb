"""The loaded, checked, immutable rule set: what the public API hands out.

Position in the pipeline::

    RuleSetIR ──compile──▶ **RuleSet** ──match / explain──▶ matched rules

A :class:`RuleSet` is immutable and safe to share between threads; reloading
builds a whole new one and swaps a single reference.  ``engine`` selects the
matcher: ``"reference"`` is the plain oracle evaluator (``reference.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from rules_engine.compile import compile_ruleset
from rules_engine.model import ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.events import decode_event
from rules_engine.model.gc_pause import gc_paused
from rules_engine.model.source import Source
from rules_engine.reference import RuleVerdict, explain, matching_rules
from rules_engine.route.router import Decision, compile_router

ENGINES = ("compiled", "reference")

EventInput = Mapping[str, Any] | bytes | bytearray | memoryview | str


class Matcher(Protocol):
    """Matched rules in evaluation order, for a decoded event or for raw JSON."""

    def matching(self, event: Mapping[str, Any]) -> list[ir.Rule]: ...

    def matching_raw(self, raw: bytes | bytearray | memoryview | str) -> list[ir.Rule]: ...

    def matching_raw_many(self, raws: Sequence[bytes | bytearray | memoryview | str]) -> list[Sequence[ir.Rule]]: ...


class ReferenceMatcher:
    """Adapter of ``reference.matching_rules`` to the Matcher protocol (raw JSON fully decoded)."""

    __slots__ = ("_ir",)

    def __init__(self, rs: ir.RuleSetIR) -> None:
        self._ir = rs

    def matching(self, event: Mapping[str, Any]) -> list[ir.Rule]:
        return matching_rules(self._ir, event)

    def matching_raw(self, raw: bytes | bytearray | memoryview | str) -> list[ir.Rule]:
        return matching_rules(self._ir, decode_event(raw))

    def matching_raw_many(self, raws: Sequence[bytes | bytearray | memoryview | str]) -> list[Sequence[ir.Rule]]:
        return [self.matching_raw(raw) for raw in raws]


def content_version(sources: Sequence[Source]) -> str:
    """A short content hash of the rule files, in load order (names excluded, so a
    moved checkout keeps its version)."""
    h = hashlib.sha256()
    for s in sources:
        data = s.text.encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:16]


class RuleSet:
    """Rules loaded together, checked, and ready to evaluate events."""

    __slots__ = ("ir", "version", "warnings", "sources", "engine", "_matcher", "_router")

    def __init__(
        self,
        rs: ir.RuleSetIR,
        *,
        version: str,
        warnings: Sequence[Diagnostic] = (),
        sources: Mapping[str, Source] | None = None,
        engine: str = "compiled",
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
        self.ir = rs
        self.version = version
        self.warnings = tuple(warnings)
        self.sources = dict(sources or {})
        self.engine = engine
        self._matcher: Matcher
        with gc_paused():  # compiling makes many long-lived objects and no garbage (model/gc_pause.py)
            if engine == "reference":
                self._matcher = ReferenceMatcher(rs)
            else:  # one structure for the whole rule set (compile/), answers equal to the reference
                self._matcher = compile_ruleset(rs)
            # Transforms and partition keys are compiled here, once, at load time (route/router.py).
            self._router = compile_router(rs, version)  # every Decision carries the version

    @property
    def rules(self) -> tuple[ir.Rule, ...]:
        return self.ir.rules

    @property
    def targets(self) -> tuple[ir.Target, ...]:
        return self.ir.targets

    def match(self, event: EventInput) -> list[str]:
        """Names of the matched rules, in evaluation order (priority, then file order).

        Raw JSON (bytes or str) is decoded only as far as the rules read it (``decode.py``).
        """
        if isinstance(event, Mapping):
            return [r.name for r in self._matcher.matching(event)]
        return [r.name for r in self._matcher.matching_raw(event)]

    def match_many(self, events: Sequence[bytes | bytearray | memoryview | str]) -> list[list[str]]:
        """``match`` for a batch of raw JSON events: the names matched by each, in order.

        The compiled engine's raw-byte prefilter scans the whole batch at once and decodes only
        the events some rule may match (docs/performance.md); an E5xx ``RuleError`` for bad input
        is raised as ``match`` would.
        """
        return [[r.name for r in rules] for rules in self._matcher.matching_raw_many(events)]

    def evaluate(self, event: EventInput, *, now: datetime | None = None) -> list[Decision]:
        """The routing decisions for one event: matched rules' targets with their payloads.

        In evaluation order; see ``route/router.py`` / docs/transforms.md for deduplication, the
        default route (rule ``"<default>"``) and ``on_error``.  ``now`` is the ingestion time
        transforms may use (``<aws.events.event.ingestion-time>``); this method reads no clock.
        """
        ev = decode_event(event)  # transforms need the whole event, so raw JSON is decoded fully
        return self._router.route(ev, self._matcher.matching(ev), now)

    def explain(self, event: EventInput) -> list[RuleVerdict]:
        """For every rule: matched, or the first failing condition and the value it saw."""
        return explain(self.ir, decode_event(event))

    def __repr__(self) -> str:
        return f"<RuleSet {len(self.ir.rules)} rules, {len(self.ir.targets)} targets, version {self.version}>"
