"""The one error type, the diagnostics collector and the renderers.

Every stage reports problems as :class:`Diagnostic` values (code, message,
span, notes) and keeps going where it can, so a run shows all problems at
once.  :class:`RuleError` carries the sorted diagnostics of a failed load,
together with the sources, so ``str(err)`` renders them like a compiler::

    sample-rules/alerts.yaml:14:13: error[E302]: unknown target 'slack-ops'
       14 |     targets: [slack-ops]
          |               ^^^^^^^^^
       = note: known targets: pagerduty, webhook
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rules_engine.model.source import Source, Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: a stable ``code``, a ``message``, where it is, and notes."""

    code: str
    message: str
    span: Span | None = None
    severity: str = "error"
    notes: tuple[str, ...] = ()

    @property
    def file(self) -> str | None:
        return self.span.file if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_dict(self) -> dict[str, object]:
        """The JSON form (``validate --format json``): every key always present, so tools need no
        special cases (``null`` where a diagnostic has no position, ``[]`` without notes)."""
        sp = self.span
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": sp.end_line if sp is not None else None,
            "end_column": sp.end_column if sp is not None else None,
            "notes": list(self.notes),
        }


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, line, column, code; exact duplicates removed."""
    seen: set[Diagnostic] = set()
    out: list[Diagnostic] = []
    for d in sorted(diags, key=Diagnostic.sort_key):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


class RuleError(Exception):
    """Raised when rules (or a pattern, or an event) cannot be accepted.

    ``diagnostics`` holds every problem found, sorted by position; ``sources``
    maps file names to their text so the error can render source lines.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: Mapping[str, Source] | None = None) -> None:
        self.diagnostics: list[Diagnostic] = sort_diagnostics(diagnostics)
        self.sources: dict[str, Source] = dict(sources or {})
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(render_text(self.diagnostics, self.sources) if first else "invalid rules")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


@dataclass
class Collector:
    """Accumulates diagnostics during one phase; never raises by itself."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sort_diagnostics(self.items)


# --- rendering -------------------------------------------------------------------


def _expand_tabs(text: str) -> tuple[str, list[int]]:
    """Replace tabs by single spaces so carets line up; returns the column map."""
    return text.replace("\t", " "), []


def render_one(diag: Diagnostic, sources: Mapping[str, Source]) -> str:
    head = f"{diag.severity}[{diag.code}]: {diag.message}"
    if diag.span is None:
        lines = [head]
    else:
        lines = [f"{diag.span}: {head}"]
        src = sources.get(diag.span.file)
        if src is not None:
            text = src.line_text(diag.span.line)
            if text or diag.span.line <= src.line_count:
                shown, _ = _expand_tabs(text)
                gutter = str(diag.span.line)
                pad = " " * len(gutter)
                start = max(diag.span.column, 1)
                if diag.span.end_line == diag.span.line:
                    width = max(diag.span.end_column - diag.span.column, 1)
                else:
                    width = max(len(shown) - start + 1, 1)
                # keep the caret within the line (plus one column for end-of-line errors)
                width = max(1, min(width, len(shown) - start + 2))
                if len(shown) > 200:
                    # very long lines (minified files): show a window around the column
                    lo = max(0, start - 60)
                    shown = ("…" if lo else "") + shown[lo : lo + 120] + "…"
                    start = start - lo + (1 if lo else 0)
                    width = min(width, 120)
                lines.append(f"   {gutter} | {shown}")
                lines.append(f"   {pad} | {' ' * (start - 1)}{'^' * width}")
    for note in diag.notes:
        lines.append(f"   = note: {note}")
    return "\n".join(lines)


def render_text(diags: Sequence[Diagnostic], sources: Mapping[str, Source] | None = None) -> str:
    srcs = sources or {}
    return "\n".join(render_one(d, srcs) for d in diags)


def render_json(diags: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_dict() for d in diags], ensure_ascii=False, indent=2)


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diags: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: ``::error file=…,line=…,col=…::message``."""
    out = []
    for d in diags:
        kind = "error" if d.is_error else "warning"
        msg = f"[{d.code}] {d.message}"
        if d.notes:
            msg += "\n" + "\n".join(f"note: {n}" for n in d.notes)
        if d.span is None:
            out.append(f"::{kind} title={d.code}::{_gh_escape(msg)}")
        else:
            s = d.span
            props = (
                f"file={_gh_escape(s.file, True)},line={s.line},col={s.column},"
                f"endLine={s.end_line},endColumn={s.end_column},title={d.code}"
            )
            out.append(f"::{kind} {props}::{_gh_escape(msg)}")
    return "\n".join(out)
