"""The parse tree of the rule language: its nodes, their positions, and the one Lark parser that builds them.

Position in the pipeline::

    rule text ──dsl: parse──▶ **parse tree (dsl_tree)** ──lower_dsl, lower_expr──▶ IR ──check──▶ diagnostics

This is the only module that builds a Lark parser.  :func:`lark_parser` is
LALR with a contextual lexer, and it builds light :class:`Node` trees through
Lark's reduction callbacks instead of Lark's own ``Tree`` and
``propagate_positions``.  :class:`Spans` maps the parser's (line, column)
positions to spans in the user's file.  The parse drivers live in
:mod:`rules_engine.syntax.dsl`; the wording of Lark's errors in
:mod:`rules_engine.syntax.dsl_errors`.

Invariants:
  * positions are 1-based, ``end_column`` exclusive, and equal to those Lark's
    ``propagate_positions`` would give (``tests/test_dsl.py`` compares them);
  * a node is positioned while the parser reduces, and not changed after;
  * the parser is built once per process (:func:`functools.cache`) and never
    mutated after it is returned.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from lark import Lark, Token
from lark.grammar import Rule, Terminal
from lark.lark import PostLex
from lark.parse_tree_builder import ParseTreeBuilder

from rules_engine.model.resources import grammar_text
from rules_engine.model.source import Span

__all__ = [
    "ITEM_KEYWORDS",
    "FileSpans",
    "Node",
    "ShiftedSpans",
    "Spans",
    "lark_parser",
    "token_span",
]

# Words that start a top-level item: a broken file is re-parsed from a line
# that starts with one, and a large file is cut into pieces before one.
ITEM_KEYWORDS = ("rule", "target", "default", "deduplicate", "metadata")

# --- positions -------------------------------------------------------------------------------


class Spans(Protocol):
    """Turns a 1-based (line, column) range of the parsed text into a span in the user's file."""

    def span(self, line: int, column: int, end_line: int, end_column: int) -> Span: ...


@dataclass(frozen=True, slots=True)
class FileSpans:
    """The parsed text is (a tail of) a file that starts at line ``line_offset + 1``."""

    file: str
    line_offset: int = 0

    def span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        off = self.line_offset
        return Span(self.file, line + off, column, end_line + off, end_column)


@dataclass(frozen=True, slots=True)
class ShiftedSpans:
    """A one-line fragment (a template's ``{...}`` part) starting at ``line``:``column`` of ``outer``."""

    outer: Spans
    line: int
    column: int

    def span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        # Fragments never span lines (template tokens are one line), so only columns move.
        shift = self.column - 1
        return self.outer.span(self.line, column + shift, self.line, end_column + shift)


def token_span(spans: Spans, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + 1
    return spans.span(line, col, end_line, end_col)


# --- the parser --------------------------------------------------------------------------------


class _NamesEverywhere(PostLex):
    """Keeps NAME in every lexer state.

    Lark's contextual lexer only tries the terminals the parser can accept, and a
    keyword literal is matched as a plain prefix: without NAME, ``x innocent``
    would lex as ``x in nocent``.  With NAME always present a whole word is read
    first and only then turned into a keyword, so keywords end at word boundaries.
    """

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


class Node:
    """A node of the parse tree: the grammar rule (or ``-> alias``) that matched, its children, its position.

    Children are nodes, tokens, and None for an absent optional part.  The
    position (1-based lines and columns, ``end_column`` exclusive) runs from the
    node's first token to its last, counting keywords and brackets that are not
    kept as children; ``line == 0`` means the node holds no token at all.  A rule
    inlined into its parent (``?rule`` with one child, ``"(" expr ")"``) becomes
    that child and keeps the child's position; its *outer* position, brackets
    included, is what the parent's position is made of.  These are the rules of
    Lark's ``propagate_positions``, done here without Lark's per-node ``Meta``.
    Nodes are made and positioned while the parser reduces, and not changed after.
    """

    __slots__ = (
        "children",
        "column",
        "data",
        "end_column",
        "end_line",
        "line",
        "outer_column",
        "outer_end_column",
        "outer_end_line",
        "outer_line",
    )

    data: str
    # Which child is a node, a token or None is fixed by the grammar; the lowering states it (as_tree, as_token).
    children: list[Any]
    line: int
    column: int
    end_line: int
    end_column: int
    outer_line: int
    outer_column: int
    outer_end_line: int
    outer_end_column: int

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data = data
        self.children = children
        self.line = 0  # no position until the builder sets one (and none if it holds no token)

    def __repr__(self) -> str:
        return f"Node({self.data!r}, {self.children!r})"


_Build = Callable[[list[Any]], Any]


def _with_position(build: _Build) -> _Build:
    """Wrap Lark's node builder for one rule so the node gets its position.

    ``children`` are the symbols the rule matched, tokens Lark filters out
    included; ``build`` filters them and makes the node (or returns the one child
    a ``?rule`` inlines).
    """

    def reduce(children: list[Any]) -> Any:
        node = build(children)
        if type(node) is not Node:
            return node
        for c in children:
            kind = type(c)
            if kind is Token:
                line, column = c.line, c.column
                break
            if kind is Node and c.line:
                line, column = c.outer_line, c.outer_column
                break
        else:
            return node  # nothing with a position: the node has none either
        for c in reversed(children):
            kind = type(c)
            if kind is Token:
                end_line, end_column = c.end_line, c.end_column
                break
            if kind is Node and c.line:
                end_line, end_column = c.outer_end_line, c.outer_end_column
                break
        if not node.line:  # a new node; an inlined one keeps its own position
            node.line, node.column, node.end_line, node.end_column = line, column, end_line, end_column
        node.outer_line, node.outer_column = line, column
        node.outer_end_line, node.outer_end_column = end_line, end_column
        return node

    return reduce


def _passes_its_child(rule: Rule) -> bool:
    """A ``?rule: other`` link of a precedence chain, which hands its one child up unchanged.

    Lark's node builder and ``propagate_positions`` would change nothing here
    either; skipping them matters because an operand climbs about ten such links.
    """
    (sym,) = rule.expansion if len(rule.expansion) == 1 else (None,)
    return (
        sym is not None
        and rule.options.expand1
        and not rule.alias
        and not rule.options.keep_all_tokens
        and not rule.options.empty_indices
        and not (isinstance(sym, Terminal) and sym.filter_out)
        and not sym.name.startswith("_")
    )


@functools.cache
def lark_parser() -> Lark:
    """The one Lark parser (LALR, contextual lexer), built on first use.

    It builds :class:`Node` trees: Lark's own node builders (which drop
    punctuation, inline ``?rule`` and ``_rule``, and put None for an absent
    ``[optional]``) wrapped by :func:`_with_position`, installed in place of
    Lark's ``propagate_positions``, which cost about half of the parsing time.
    ``tests/test_dsl.py`` checks that the positions are Lark's own.
    """
    lark = Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=False,
        maybe_placeholders=True,
        start=["rules_file", "expr_only", "path_only"],
        postlex=_NamesEverywhere(),
    )
    tree_builder = ParseTreeBuilder(lark.rules, Node, maybe_placeholders=True)  # type: ignore[no-untyped-call]
    plain = tree_builder.create_callback(None)  # type: ignore[no-untyped-call]
    builders = {
        rule: operator.itemgetter(0) if _passes_its_child(rule) else _with_position(build)
        for rule, build in plain.items()
    }
    callbacks = lark.parser.parser_conf.callbacks  # the table the LALR parser calls on each reduction
    assert callbacks.keys() == builders.keys()
    callbacks.update(builders)
    return lark
