"""The console's sandbox: one event against the live rule set, or against the live set plus a draft file.

Position in the pipeline::

    event text (+ draft rule text) ──decode / load aside──▶ RuleSet.explain + RuleSet.evaluate ──▶ SandboxResult

Pure apart from reading nothing: the live :class:`RuleSet` is only read, never replaced; a draft is loaded
into a *new* rule set built from the live sources plus the draft (so a draft rule may route to live
targets), exactly as ``rules-engine dry-run --explain`` and ``POST /evaluate`` compute decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from rules_engine.loader import build, decode, format_of, known_target_types
from rules_engine.model.errors import Diagnostic, RuleError, render_text
from rules_engine.model.events import decode_event
from rules_engine.model.source import Source
from rules_engine.reference import RuleVerdict
from rules_engine.route.router import Decision
from rules_engine.ruleset import RuleSet

DRAFT_NAME = {"yaml": "draft.yaml", "dsl": "draft.rules"}
"""The file name a draft is loaded under: it names the draft's rules in verdicts and diagnostics."""

MAX_SANDBOX_BYTES = 1024 * 1024
"""Largest event or draft text the sandbox accepts (the form is for people, not for load)."""


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """What the sandbox shows.  ``problems`` is the rendered diagnostics (event or draft) when any."""

    version: str
    verdicts: tuple[RuleVerdict, ...] = ()
    decisions: tuple[Decision, ...] = ()
    problems: str = ""
    draft_rules: frozenset[str] = frozenset()
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def matched(self) -> list[str]:
        """Matched rule names in evaluation order."""
        return [v.rule for v in self.verdicts if v.matched]

    def payloads(self) -> list[tuple[Decision, str]]:
        """Each decision with its payload as indented JSON text."""
        return [(d, orjson.dumps(d.payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
                                 default=str).decode()) for d in self.decisions]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "matched": self.matched, "rules": [v.to_dict() for v in self.verdicts],
                "decisions": [d.to_dict() for d in self.decisions], "problems": self.problems,
                "draft_rules": sorted(self.draft_rules)}


def with_draft(live: RuleSet, draft_text: str, draft_format: str) -> tuple[RuleSet | None, str, frozenset[str],
                                                                           tuple[Diagnostic, ...]]:
    """The live rule files plus the draft, loaded together into a new rule set (the live one is untouched).

    Returns the rule set (None when the draft does not load), the rendered diagnostics, the draft's rule
    names, and the diagnostics themselves.
    """
    name = DRAFT_NAME[draft_format]
    src, diags = decode(draft_text.encode("utf-8"), name, MAX_SANDBOX_BYTES)
    if src is None:
        return None, render_text(diags, {}), frozenset(), tuple(diags)
    parts: list[tuple[Source, str]] = []
    for s in live.sources.values():
        fmt = format_of(s.name)
        if fmt is not None and s.name != name:
            parts.append((s, fmt))
    parts.append((src, draft_format))
    result = build(parts, known_target_types())
    if result.ir is None or result.errors:
        return None, render_text(result.diagnostics, result.sources), frozenset(), tuple(result.diagnostics)
    drafted = frozenset(r.name for r in result.ir.rules if r.file == name)
    rs = RuleSet(result.ir, version=f"{live.version}+draft", warnings=result.warnings, sources=result.sources,
                 engine=live.engine)
    return rs, render_text(result.warnings, result.sources) if result.warnings else "", drafted, ()


def run_sandbox(live: RuleSet, event_text: str, draft_text: str = "", draft_format: str = "yaml") -> SandboxResult:
    """Evaluate ``event_text`` (one JSON event) against the live set, or the live set plus a draft."""
    if draft_format not in DRAFT_NAME:
        draft_format = "yaml"
    rs: RuleSet | None = live
    notes = ""
    drafted: frozenset[str] = frozenset()
    if draft_text.strip():
        rs, notes, drafted, diags = with_draft(live, draft_text, draft_format)
        if rs is None:
            return SandboxResult(live.version, problems=notes, diagnostics=diags)
    assert rs is not None
    try:
        event = decode_event(event_text.encode("utf-8"), MAX_SANDBOX_BYTES, name="event")
    except RuleError as e:
        return SandboxResult(rs.version, problems=render_text(e.diagnostics, {}), diagnostics=tuple(e.diagnostics))
    return SandboxResult(rs.version, tuple(rs.explain(event)), tuple(rs.evaluate(event)), notes, drafted)
