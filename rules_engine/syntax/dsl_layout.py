"""The layout of a rule-language file that the IR does not keep: comments and where items end.

Position in the pipeline::

    rule text ──**dsl_layout**──▶ comments + item line ranges ──▶ the formatter (rules_engine.author.fmt)

The formatter prints a file from its IR; this gives it what the IR drops, so
that every comment lands again beside the statement it was written beside.
Comments are found with the same scan that skips strings, quoted names and
templates before the parser runs (``#`` inside a string is no comment); the
line ranges of top-level items come from the parse tree.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from lark.exceptions import UnexpectedInput

from rules_engine.syntax.dsl_tree import Node
from rules_engine.syntax.dsl_tree import lark_parser as _parser

# As dsl._SCAN: strings (and templates), quoted names and comments are taken whole.
_SCAN = re.compile(r"""f?"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|f?'[^'\\\n]*(?:\\.[^'\\\n]*)*'?|`[^`\n]*`?|\#[^\n]*""")


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment: its 1-based line, its text (``#`` included, trailing blanks cut).

    ``own_line``: nothing but blanks before it on its line.  ``blank_after``:
    the line after it is empty (a paragraph break the formatter keeps).
    """

    line: int
    text: str
    own_line: bool
    blank_after: bool


@dataclass(frozen=True, slots=True)
class Item:
    """A top-level item (``rule_def``, ``target_def``, ``default_route``, ``deduplicate``, ``metadata``)."""

    kind: str
    line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class Layout:
    comments: tuple[Comment, ...]
    items: tuple[Item, ...]


def dsl_layout(text: str) -> Layout | None:
    """Comments and item ranges of a file that parses (None if it does not)."""
    clean = " " + text[1:] if text.startswith("\ufeff") else text
    try:
        tree = cast(Node, _parser().parse(clean, start="rules_file"))
    except UnexpectedInput:
        return None
    lines = clean.split("\n")
    comments: list[Comment] = []
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln) + 1)
    import bisect

    for m in _SCAN.finditer(clean):
        if not m.group().startswith("#"):
            continue
        line = bisect.bisect_right(starts, m.start())
        before = clean[starts[line - 1] : m.start()]
        nxt = lines[line].strip() if line < len(lines) else ""
        comments.append(Comment(line, m.group().rstrip(), before.strip() == "", nxt == ""))
    items = tuple(Item(str(n.data), n.line, n.end_line) for n in tree.children if isinstance(n, Node))
    return Layout(tuple(comments), items)
