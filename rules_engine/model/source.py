"""Source text and positions: the first room of the pipeline.

Every later stage speaks of places in the user's files through :class:`Span`.
A :class:`Source` owns one file's text and turns character offsets into
1-based line and column numbers.  An :class:`Embedded` source maps positions
inside a string that sits in a YAML scalar (a ``when:`` expression, a ``cel:``
filter) back to the YAML file, so that errors in the string point at the file.

Invariants:
  * lines and columns are 1-based; columns count Unicode code points;
  * ``end_line``/``end_column`` are exclusive of the last character, and a span
    is never empty for rendering purposes (the renderer draws at least one caret).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A region of one file: ``file:line:column`` up to ``end_line:end_column``."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if self.end_line < self.line or (self.end_line == self.line and self.end_column < self.column):
            object.__setattr__(self, "end_line", self.line)
            object.__setattr__(self, "end_column", self.column + 1)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @staticmethod
    def point(file: str, line: int, column: int) -> Span:
        return Span(file, line, column, line, column + 1)


@dataclass(frozen=True, slots=True)
class Source:
    """One file's text with a table of line starts (offsets are code-point based)."""

    name: str
    text: str
    _starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        text = self.text
        i = text.find("\n")
        while i != -1:
            starts.append(i + 1)
            i = text.find("\n", i + 1)
        object.__setattr__(self, "_starts", tuple(starts))

    def offset(self, line: int, column: int) -> int:
        """0-based character offset of a 1-based (line, column), clamped to the text."""
        start = self._starts[max(0, min(line - 1, len(self._starts) - 1))]
        return max(0, min(start + column - 1, len(self.text)))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a 0-based character offset."""
        offset = max(0, min(offset, len(self.text)))
        idx = bisect.bisect_right(self._starts, offset) - 1
        return idx + 1, offset - self._starts[idx] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        eline, ecol = self.position(max(end, start + 1))
        return Span(self.name, line, col, eline, ecol)

    def line_text(self, line: int) -> str:
        """Text of a 1-based line without its line ending ('' when out of range)."""
        if line < 1 or line > len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._starts)


@dataclass(frozen=True, slots=True)
class Embedded:
    """Maps positions inside an embedded string back to the enclosing file.

    ``line_origins[i]`` is the (file line, file column) where line ``i + 1`` of
    the embedded text starts.  For a one-line scalar that is the column just
    after the opening quote; for a literal block scalar each line has its own
    origin.  Positions past the known lines clamp to the last origin.
    """

    file: str
    text: str
    line_origins: tuple[tuple[int, int], ...]
    # When not empty: the file (line, column) of every character of ``text`` and of the position
    # just past its end.  Used where the text is not a copy of the file's lines: a folded or
    # multi-line plain or quoted YAML scalar, where line breaks became spaces and escapes
    # became characters.
    chars: tuple[tuple[int, int], ...] = ()

    def to_file(self, line: int, column: int) -> tuple[int, int]:
        if self.chars:
            if "\n" in self.text:
                offset = Source(self.file, self.text).offset(line, column)
            else:  # one line: what Source.offset gives, without building its table of lines
                offset = max(0, min(column - 1, len(self.text)))
            return self.chars[min(offset, len(self.chars) - 1)]
        if not self.line_origins:
            return line, column
        idx = max(0, min(line - 1, len(self.line_origins) - 1))
        fline, fcol = self.line_origins[idx]
        return fline, fcol + column - 1

    def span(self, line: int, column: int, end_line: int | None = None, end_column: int | None = None) -> Span:
        """Span in the file of an embedded (1-based) line/column range."""
        if len(self.line_origins) == 1 and not self.chars:  # the usual one-line expression: to_file, inlined
            fl, fc = self.line_origins[0]
            shift = fc - 1
            if end_line is None or end_column is None:
                return Span(self.file, fl, column + shift, fl, column + shift + 1)
            return Span(self.file, fl, column + shift, fl, end_column + shift)
        fl, fc = self.to_file(line, column)
        if end_line is None or end_column is None:
            return Span(self.file, fl, fc, fl, fc + 1)
        el, ec = self.to_file(end_line, end_column)
        return Span(self.file, fl, fc, el, ec)

    def offset_span(self, start: int, end: int) -> Span:
        """Span in the file of a 0-based character range of the embedded text."""
        src = Source(self.file, self.text)
        sl, sc = src.position(start)
        el, ec = src.position(max(end, start + 1))
        return self.span(sl, sc, el, ec)

    @staticmethod
    def plain(file: str, text: str, line: int = 1, column: int = 1) -> Embedded:
        """An embedded text whose lines all start at ``column`` of successive lines."""
        count = text.count("\n") + 1
        origins = tuple((line + i, column if i == 0 else 1) for i in range(count))
        return Embedded(file, text, origins)


Pointer = tuple[str | int, ...]
"""A JSON-pointer-like path into a loaded document: ``("rules", 0, "match", "source")``."""


class Locator:
    """Finds the span of a value (or of its mapping key) in a loaded document.

    The base class knows nothing but the file name and answers with the whole
    document's first position; the YAML loader subclasses it with the real
    node positions.  Missing pointers fall back to the nearest known parent.
    """

    def __init__(self, file: str) -> None:
        self.file = file

    def value(self, pointer: Pointer) -> Span:
        return Span(self.file, 1, 1, 1, 2)

    def key(self, pointer: Pointer) -> Span:
        """Span of the mapping key that holds ``pointer`` (the value span where unknown)."""
        return self.value(pointer)

    def embedded(self, pointer: Pointer, text: str) -> Embedded:
        """Position map for a string value, so errors inside it point into the file."""
        sp = self.value(pointer)
        return Embedded.plain(self.file, text, sp.line, sp.column)
