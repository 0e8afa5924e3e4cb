"""Raw JSON text with positions: where each value and key of a JSON document sits.

Position in the pipeline::

    raw JSON text (a pattern for ``test-pattern``, an event) ──**pattern_json**──▶
        decoded value + JsonLocator ──▶ pattern.lower_pattern (spans for its diagnostics)

``json.loads`` forgets positions and keeps only the last of duplicated keys.
:func:`json_spans` re-reads a text that ``json.loads`` has already accepted and
records, for every JSON pointer, the span of its value and of its key; for a
duplicated key it records the *last* occurrence, the one the decoded value holds
(``{"a": [1], "a": [2]}``: pointer ``("a",)`` points at ``[2]``).

:func:`too_deep_at` is a guard to run before decoding: it finds over-deep
nesting without recursion, so hostile input never reaches the recursive decoder.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rules_engine.model.source import Locator, Pointer, Source, Span

__all__ = ["JsonLocator", "json_spans", "loads_strict", "too_deep_at"]


class JsonLocator(Locator):
    """Spans of every value and key of a JSON text (a duplicated key: its last occurrence)."""

    def __init__(self, source: Source, table: dict[Pointer, tuple[Span, Span | None]]) -> None:
        super().__init__(source.name)
        self.source = source
        self.table = table

    def value(self, pointer: Pointer) -> Span:
        p = tuple(pointer)
        while True:
            entry = self.table.get(p)
            if entry is not None:
                return entry[0]
            if not p:
                return Span(self.file, 1, 1, 1, 2)
            p = p[:-1]

    def key(self, pointer: Pointer) -> Span:
        entry = self.table.get(tuple(pointer))
        if entry is not None and entry[1] is not None:
            return entry[1]
        return self.value(pointer)


_WS = " \t\r\n"
_SCALAR_END = re.compile(r"[^\s,\]}]*")


def _string_end(text: str, i: int) -> int:
    """Offset just past the JSON string that starts at ``text[i] == '"'``."""
    i += 1
    while text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def too_deep_at(text: str, limit: int) -> int | None:
    """Offset of the bracket that nests deeper than ``limit``, if any (strings are skipped)."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
            if depth > limit:
                return i
        elif c in "]}":
            depth -= 1
        i += 1
    return None


def json_spans(source: Source) -> dict[Pointer, tuple[Span, Span | None]]:
    """Pointer -> (value span, key span) for a text ``json.loads`` has accepted.  Iterative."""
    text = source.text
    table: dict[Pointer, tuple[Span, Span | None]] = {}
    # frame: [pointer, is_object, start offset, next index, pending key, pending key span]
    stack: list[list[Any]] = []
    i, n = 0, len(text)
    pending: tuple[Pointer, Span | None] = ((), None)
    while i < n:
        c = text[i]
        if c in _WS or c in ",:":
            i += 1
            continue
        if c in "]}":
            ptr, _, start, _, _, key_span = stack.pop()
            table[ptr] = (source.span(start, i + 1), key_span)
            i += 1
            continue
        if stack and stack[-1][1] and stack[-1][4] is None:
            end = _string_end(text, i)
            stack[-1][4] = json.loads(text[i:end])
            stack[-1][5] = source.span(i, end)
            i = end
            continue
        if stack:
            top = stack[-1]
            if top[1]:
                pending = (top[0] + (top[4],), top[5])
                top[4] = None
            else:
                pending = (top[0] + (top[3],), None)
                top[3] += 1
        ptr, key_span = pending
        if c in "[{":
            stack.append([ptr, c == "{", i, 0, None, key_span])
            i += 1
            continue
        if c == '"':
            end = _string_end(text, i)
        else:
            scalar = _SCALAR_END.match(text, i)
            end = scalar.end() if scalar else i + 1
        table[ptr] = (source.span(i, end), key_span)
        i = end
    return table


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_strict(text: str) -> Any:
    """``json.loads`` without Python's extensions: ``NaN`` and ``Infinity`` are rejected.

    Raises ``json.JSONDecodeError`` for a syntax error (it carries line and
    column) and ``ValueError`` for a rejected constant.  Call
    :func:`too_deep_at` first: the decoder recurses once per bracket.
    """
    return json.loads(text, parse_constant=_reject_constant)
