"""The rule language's parser driver: text of a file, an expression or a path -> parse tree, or diagnostics.

Position in the pipeline::

    rule text ──**dsl: parse**──▶ parse tree ──lower_dsl, lower_expr──▶ IR ──check──▶ diagnostics
    (syntax/language.py runs both steps; this module never imports the lowering)

This module drives the parser: it turns the text of a ``.rules`` file, of an
expression or of a field path into a tree of :class:`Node` (a large file a
piece at a time), re-parses a broken file to report more than one error.  Its neighbours:

  * :mod:`rules_engine.syntax.dsl_tree`: the Lark parser and the :class:`Node`
    trees it builds, with their positions;
  * :mod:`rules_engine.syntax.dsl_errors`: every Lark error as a
    :class:`~rules_engine.model.errors.Diagnostic` worded for a user;
  * :mod:`rules_engine.syntax.dsl_tokens`: decoding of string tokens.

Guarantees for hostile input: no traceback and bounded time.  Bracket nesting is
checked by a linear pre-scan before Lark sees the text (Lark's LALR parser is
iterative, the lowering is not); an expression above a size limit is refused
(file size is the loader's policy, E104; a file parses at about 500 KB/s, see
``benchmarks/parse_bench.py``); a broken file is re-parsed from the next line
that starts an item (``rule``, ``target``, ``default``, ``deduplicate``,
``metadata``), at most :data:`MAX_SYNTAX_ERRORS` times.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import cast

from lark.exceptions import UnexpectedInput

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Source
from rules_engine.syntax.dsl_errors import SyntaxFailure, translate
from rules_engine.syntax.dsl_lalr import fast_parse
from rules_engine.syntax.dsl_tree import (
    ITEM_KEYWORDS,
    FileSpans,
    Node,
    Spans,
)
from rules_engine.syntax.dsl_tree import lark_parser as _parser

__all__ = [
    "CACHED_CHARS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_CHARS",
    "MAX_SYNTAX_ERRORS",
    "PIECE_CHARS",
    "clean_text",
    "parse_file_tree",
    "parse_piece",
    "parse_tree",
    "pieces",
    "too_deep",
]

MAX_DEPTH = 64
"""Deepest bracket nesting the pre-scan lets through, and deepest expression the lowering builds."""

MAX_EXPRESSION_CHARS = 100_000
"""Longest expression or path text accepted."""

MAX_SYNTAX_ERRORS = 20
"""A file stops being re-parsed after this many syntax errors."""


# --- pre-scan ----------------------------------------------------------------------------------

# Strings, quoted names and comments are skipped whole (an unclosed one runs to
# the end of its line, as in the grammar); brackets are counted.
_SCAN = re.compile(
    r"""f?"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|f?'[^'\\\n]*(?:\\.[^'\\\n]*)*'?|`[^`\n]*`?|\#[^\n]*|[\[\](){}]"""
)


def too_deep(text: str, spans: Spans, what: str) -> Diagnostic | None:
    """Linear check that brackets nest at most MAX_DEPTH levels (runs before Lark)."""
    depth = 0
    for m in _SCAN.finditer(text):
        ch = m.group()
        if len(ch) != 1:
            continue
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, m.start()) + 1
                col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
                return codes.TOO_DEEP.at(spans.span(line, col, line, col + 1), what=what, limit=MAX_DEPTH)
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return None


def clean_text(text: str) -> str:
    # A byte-order mark becomes a space: whitespace to the grammar, and columns stay those of the file.
    return " " + text[1:] if text.startswith("\ufeff") else text


# --- parsing -------------------------------------------------------------------------------------


def _lark_parse(text: str, start: str, spans: Spans, what: str) -> tuple[Node | None, SyntaxFailure | None]:
    """Parse with the fast loop (dsl_lalr.py); what it cannot parse, Lark parses again and words the error."""
    tree = fast_parse(text, start)
    if tree is not None:
        return tree, None
    try:
        return cast(Node, _parser().parse(text, start=start)), None
    except UnexpectedInput as err:
        return None, translate(err, text, start, spans, what)


def parse_tree(text: str, start: str, spans: Spans, what: str) -> tuple[Node | None, list[Diagnostic]]:
    """Pre-scan and parse ``text`` from rule ``start`` (``expr_only`` or ``path_only``); first error only.

    Used for expressions, paths and the ``{...}`` parts of template strings.
    """
    text = clean_text(text)
    if len(text) > MAX_EXPRESSION_CHARS:
        end = text.find("\n")
        diag = codes.DSL_TOO_LONG.at(
            spans.span(1, 1, 1, 1 + (end if end > 0 else 1)),
            what=what,
            size=len(text),
            limit=MAX_EXPRESSION_CHARS,
        )
        return None, [diag]
    deep = too_deep(text, spans, what)
    if deep is not None:
        return None, [deep]
    if len(text) <= CACHED_CHARS:
        tree = _parse_short(text, start)
        if tree is not None:
            return tree, []
    tree, err = _lark_parse(text, start, spans, what)
    return tree, ([err.diagnostic] if err else [])


CACHED_CHARS = 400
"""Expressions and paths up to this long have their parse trees cached (:func:`_parse_short`)."""


@functools.lru_cache(maxsize=16_384)
def _parse_short(text: str, start: str) -> Node | None:
    """The parse tree of a short expression or path, or None when it does not parse.

    Rule sets repeat their conditions and paths (``data.total``, ``type == "order.created"``), and a
    reload parses the unchanged ones again, so the trees are cached by text: positions in a tree are
    relative to the text (the caller's :class:`Spans` maps them into a file), and trees are never
    changed after they are built (dsl_tree.py), so one tree serves every place that text appears.
    Only texts that parse are worth keeping; a failure is parsed again by the caller, which words
    it for its own position.  Bounded: 16,384 texts of at most :data:`CACHED_CHARS` characters.
    """
    return fast_parse(text, start)


# --- recovery and pieces -----------------------------------------------------------------------

# A line whose first word starts a top-level item: where a broken file is re-parsed from.
_ITEM_START = re.compile(r"^[ \t]*(?:" + "|".join(ITEM_KEYWORDS) + r")(?=[ \t\"'])", re.MULTILINE)


def _resume_point(text: str, after: int, chunk_start: int) -> int | None:
    """Start of the first line at or after offset ``after`` whose first word starts an item."""
    line_start = text.rfind("\n", 0, after) + 1
    for m in _ITEM_START.finditer(text, line_start):
        keyword_at = m.end() - len(m.group().lstrip(" \t"))
        if keyword_at >= after and m.start() > chunk_start:
            return m.start()
    return None


PIECE_CHARS = 4_096
"""A file is parsed and lowered in pieces of about this many characters (see :func:`parse_rules`)."""


def pieces(text: str) -> Iterator[tuple[int, int]]:
    """Consecutive (start, end) offsets covering ``text``; each piece but the last ends where a line starts an item."""
    start = 0
    while len(text) - start > PIECE_CHARS:
        m = _ITEM_START.search(text, start + PIECE_CHARS)
        if m is None:
            break
        yield start, m.start()
        start = m.start()
    yield start, len(text)


def parse_piece(text: str) -> Node | None:
    """A piece of a file (see :func:`pieces`); None when it does not parse as whole items."""
    return fast_parse(text, "rules_file")


def parse_file_tree(source: Source) -> tuple[Node | None, list[Diagnostic]]:
    """Parse a whole ``.rules`` file; on errors, keep reporting from the next item on."""
    text = clean_text(source.text)
    whole = FileSpans(source.name)
    deep = too_deep(text, whole, "rule file")
    if deep is not None:
        return None, [deep]
    tree, err = _lark_parse(text, "rules_file", whole, "file")
    if err is None:
        return tree, []
    diags = [err.diagnostic]
    chunk_start = 0
    while err is not None and err.offset is not None and len(diags) < MAX_SYNTAX_ERRORS:
        resume = _resume_point(text, chunk_start + err.offset, chunk_start)
        if resume is None:
            break
        chunk_start = resume
        spans = FileSpans(source.name, text.count("\n", 0, chunk_start))
        _, err = _lark_parse(text[chunk_start:], "rules_file", spans, "file")
        if err is not None:
            diags.append(err.diagnostic)
    if len(diags) >= MAX_SYNTAX_ERRORS:
        last = diags[-1]
        diags[-1] = Diagnostic(
            last.code,
            last.message,
            last.span,
            last.severity,
            last.notes + (f"stopped after {MAX_SYNTAX_ERRORS} syntax errors",),
        )
    return None, diags
