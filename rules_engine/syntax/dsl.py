"""The rule language's front door: the Lark parser, its error messages, and token decoding.

Position in the pipeline::

    rule text ──**dsl: parse**──▶ parse tree ──lower_dsl, lower_expr──▶ IR ──check──▶ diagnostics

This module is the only one that builds a Lark parser.  It turns the text of a
``.rules`` file, of an expression or of a field path into a tree of
:class:`Node` (a large file a piece at a time), and every Lark error into a
:class:`~rules_engine.errors.Diagnostic` worded for a user ("expected an
expression, `)` or `and`", never "Expected one of: RPAR").  The public functions
hand the tree to :mod:`rules_engine.syntax.lower_dsl` (files) or
:mod:`rules_engine.syntax.lower_expr` (expressions, paths).

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
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.grammar import Rule, Terminal
from lark.lark import PostLex
from lark.lexer import PatternStr
from lark.parse_tree_builder import ParseTreeBuilder
from lark.parsers.lalr_interactive_parser import InteractiveParser

from .. import codes
from ..errors import Diagnostic
from ..resources import grammar_text
from ..source import Embedded, Source, Span

if TYPE_CHECKING:
    from ..ir import Expr, Path, RuleSetIR

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPRESSION_CHARS",
    "MAX_SYNTAX_ERRORS",
    "FileSpans",
    "Node",
    "ShiftedSpans",
    "Spans",
    "decode_escape",
    "decode_string",
    "parse_expression",
    "parse_path",
    "parse_rules",
    "parse_tree",
]

MAX_DEPTH = 64
"""Deepest bracket nesting the pre-scan lets through, and deepest expression the lowering builds."""

MAX_EXPRESSION_CHARS = 100_000
"""Longest expression or path text accepted."""

MAX_SYNTAX_ERRORS = 20
"""A file stops being re-parsed after this many syntax errors."""


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
def _parser() -> Lark:
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


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """Terminal names -> the symbol a user reads: the literal text, or a named token kind."""

    symbol: dict[str, str]

    def of(self, terminal: str) -> str:
        return self.symbol.get(terminal, terminal)


@functools.cache
def _vocabulary() -> _Vocabulary:
    table = {}
    for t in _parser().terminals:
        table[t.name] = t.pattern.value if isinstance(t.pattern, PatternStr) else t.name
    return _Vocabulary(table)


# Named token kinds in words.  Literal terminals read as themselves: `)`, `and`.
_KIND_WORDS = {
    "NAME": "a name",
    "LABEL": "a name",
    "BACKTICK": "a name",
    "STRING": "a string",
    "TEMPLATE": "a template string",
    "NUMBER": "a number",
    "COMP_OP": "a comparison operator",
    "$END": "end of input",
}

_EXPR_CORE = frozenset(
    {
        "NAME",
        "BACKTICK",
        "$",
        "STRING",
        "TEMPLATE",
        "NUMBER",
        "true",
        "false",
        "null",
        "(",
        "[",
        "{",
        "-",
        "exists",
        "any",
        "all",
    }
)
_TRANSFORM_KEYWORDS = frozenset({"set", "rename", "drop", "keep", "payload", "input", "envelope"})


@dataclass(frozen=True, slots=True)
class _Group:
    """Several expected symbols said in one phrase, when at least ``core`` is expected."""

    words: str
    core: frozenset[str]
    members: frozenset[str]
    lead: bool = (
        True  # said before the single symbols ("an expression or `)`") or after ("`)` or an operator")
    )


_GROUPS = (
    _Group("an expression", _EXPR_CORE, _EXPR_CORE | {"not", "if"}),
    _Group("a field", frozenset({"NAME", "BACKTICK", "$"}), frozenset({"NAME", "BACKTICK", "$"})),
    _Group(
        "an operator",
        frozenset({"+", "*"}),
        frozenset(
            {
                "+",
                "-",
                "*",
                "/",
                "%",
                "COMP_OP",
                "in",
                "not",
                "starts",
                "ends",
                "contains",
                "matches",
                "like",
                ".",
                "[",
                "(",
            }
        ),
        lead=False,
    ),
    _Group(
        "a rule statement",
        frozenset({"description", "when", "cel", "route", "on", "disabled"}),
        frozenset({"description", "when", "match", "cel", "route", "on", "disabled"}) | _TRANSFORM_KEYWORDS,
        lead=False,
    ),
    _Group("a transform statement", _TRANSFORM_KEYWORDS, _TRANSFORM_KEYWORDS | {"partition"}, lead=False),
)

# Words that start a top-level item (a file is re-parsed from a line that starts with one).
_ITEM_KEYWORDS = ("rule", "target", "default", "deduplicate", "metadata")
# Words that start an operand, so they cannot be used as a bare field name there.
_OPERAND_KEYWORDS = frozenset({"if", "exists", "any", "all"})
_COMPARISON_WORDS = frozenset({"COMP_OP", "in", "not", "starts", "ends", "contains", "matches", "like"})

_CHAR_NOTES = {
    "&": "use `and` to combine conditions",
    "|": "use `or` for alternatives",
    "!": "use `not` to negate, `!=` to compare",
    ";": "statements need no `;`: each one starts with its keyword",
}


def _words(symbol: str) -> str:
    return _KIND_WORDS.get(symbol, f"`{symbol}`")


def _join(items: list[str]) -> str:
    if not items:
        return "something else"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def expected_words(terminals: Iterable[str]) -> str:
    """The set of acceptable terminals as a short phrase: groups first, then single symbols."""
    voc = _vocabulary()
    symbols = {voc.of(t) for t in terminals}
    lead: list[str] = []
    trail: list[str] = []
    for g in _GROUPS:
        if g.core <= symbols:
            (lead if g.lead else trail).append(g.words)
            symbols -= g.members
    end = ["end of input"] if "$END" in symbols else []
    singles: list[str] = []
    for w in sorted(_words(s) for s in symbols - {"$END"}):
        if w not in singles:  # NAME and LABEL read the same
            singles.append(w)
    return _join(lead + singles + trail + end)


def _found_words(tok: Token) -> str:
    symbol = _vocabulary().of(tok.type)
    text = str(tok.value)
    if len(text) > 40:
        text = text[:37] + "..."
    if symbol in ("NAME", "LABEL", "BACKTICK"):
        return f"name `{text.strip('`')}`"
    if symbol == "STRING":
        return f"string {text}"
    if symbol == "TEMPLATE":
        return f"template string {text}"
    if symbol == "NUMBER":
        return f"number {text}"
    return f"`{text}`"


# --- pre-scan ----------------------------------------------------------------------------------

# Strings, quoted names and comments are skipped whole (an unclosed one runs to
# the end of its line, as in the grammar); brackets are counted.
_SCAN = re.compile(
    r"""f?"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|f?'[^'\\\n]*(?:\\.[^'\\\n]*)*'?|`[^`\n]*`?|\#[^\n]*|[\[\](){}]"""
)


def _too_deep(text: str, spans: Spans, what: str) -> Diagnostic | None:
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


def _clean(text: str) -> str:
    # A byte-order mark becomes a space: whitespace to the grammar, and columns stay those of the file.
    return " " + text[1:] if text.startswith("\ufeff") else text


# --- parsing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SyntaxError:
    diagnostic: Diagnostic
    offset: int | None  # where parsing can resume from; None at end of input


def _translate(err: UnexpectedInput, text: str, start: str, spans: Spans, what: str) -> _SyntaxError:
    """One Lark error -> one diagnostic in user words."""
    if isinstance(err, UnexpectedCharacters):
        line, col, pos = err.line, err.column, err.pos_in_stream or 0
        ch = text[pos] if 0 <= pos < len(text) else ""
        eol = text.find("\n", pos)
        eol = len(text) if eol == -1 else eol
        to_eol = len(text[pos:eol].rstrip("\r"))
        span = spans.span(line, col, line, col + max(1, to_eol))
        if ch in "\"'":
            return _SyntaxError(codes.DSL_UNTERMINATED_STRING.at(span), pos)
        if ch == "`":
            return _SyntaxError(codes.DSL_UNTERMINATED_NAME.at(span), pos)
        char_notes = [_CHAR_NOTES[ch]] if ch in _CHAR_NOTES else []
        if ch.isalpha() and not ch.isascii():
            char_notes.append("names are ASCII letters, digits and `_`; write other names in backticks")
        diag = codes.DSL_UNEXPECTED_CHAR.at(spans.span(line, col, line, col + 1), char_notes, char=ch)
        return _SyntaxError(diag, pos)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        at_end = tok.type == "$END"
        replay = _replay(text, start, None if at_end else tok.start_pos)
        accepts: set[str] = set(err.expected)
        if replay is not None:
            acceptable: Callable[[], set[str]] = replay.accepts  # (untyped in lark)
            accepts = acceptable()
        expected = expected_words(accepts)
        if at_end:
            # Lark gives end of input the position of the last token: point just past it.
            line = tok.end_line or 1
            col = tok.end_column or 1
            span = spans.span(line, col, line, col + 1)
            return _SyntaxError(codes.DSL_UNEXPECTED_EOF.at(span, what=what, expected=expected), None)
        notes = _notes(_vocabulary().of(tok.type), accepts, expected, replay)
        diag = codes.DSL_UNEXPECTED_TOKEN.at(
            token_span(spans, tok), notes, found=_found_words(tok), expected=expected
        )
        return _SyntaxError(diag, tok.start_pos)
    # Other UnexpectedInput kinds are not raised by the LALR parser; kept so none escapes as a traceback.
    line = getattr(err, "line", 1) or 1
    col = getattr(err, "column", 1) or 1
    pos = getattr(err, "pos_in_stream", 0) or 0
    diag = codes.DSL_UNEXPECTED_CHAR.at(spans.span(line, col, line, col + 1), char=text[pos : pos + 1])
    return _SyntaxError(diag, pos)


def _replay(text: str, start: str, stop: int | None) -> InteractiveParser | None:
    """The parser just before the token at offset ``stop`` (None: at end of input).

    Lark reports an error after the reductions the bad token triggered, and LALR
    merges states, so the parser has by then forgotten most of what it could
    have accepted (after ``(a == 1`` only `)` would remain).  Parsing again up
    to the bad token, without feeding it, gives the full set.  Linear, and only
    done once per reported error.
    """
    ip = _parser().parse_interactive(text, start)
    try:
        for tok in ip.iter_parse():
            if stop is not None and tok.start_pos is not None and tok.start_pos >= stop:
                break
    except UnexpectedInput:
        pass  # the lexer failed at the bad token: nothing of it was fed
    return ip


def _notes(symbol: str, accepts: set[str], expected: str, replay: InteractiveParser | None) -> list[str]:
    """Hints for common slips, judged from the unexpected symbol and what was acceptable."""
    voc = _vocabulary()
    symbols = {voc.of(t) for t in accepts}
    notes: list[str] = []
    if symbol == "=" and "COMP_OP" in symbols:
        notes.append("use `==` to compare values")
    if symbol in _ITEM_KEYWORDS and "}" in symbols:
        notes.append("is the `}` that closes the item above missing?")
    if symbol in _COMPARISON_WORDS and "COMP_OP" not in symbols and "+" in symbols:
        notes.append("comparisons do not chain: write `a < b and b < c`")
    # The last value the parser shifted is still a raw token until it is reduced.
    stack = replay.parser_state.value_stack if replay is not None else []
    prev = stack[-1] if stack and isinstance(stack[-1], Token) else None
    word = voc.of(prev.type) if prev is not None else ""
    if word in _OPERAND_KEYWORDS or (word == "not" and expected.startswith("an expression")):
        notes.append(f"`{word}` is a reserved word here; write `` `{word}` `` for a field of that name")
    return notes


def _lark_parse(text: str, start: str, spans: Spans, what: str) -> tuple[Node | None, _SyntaxError | None]:
    try:
        return cast(Node, _parser().parse(text, start=start)), None
    except UnexpectedInput as err:
        return None, _translate(err, text, start, spans, what)


def parse_tree(text: str, start: str, spans: Spans, what: str) -> tuple[Node | None, list[Diagnostic]]:
    """Pre-scan and parse ``text`` from rule ``start`` (``expr_only`` or ``path_only``); first error only.

    Used for expressions, paths and the ``{...}`` parts of template strings.
    """
    text = _clean(text)
    if len(text) > MAX_EXPRESSION_CHARS:
        end = text.find("\n")
        diag = codes.DSL_TOO_LONG.at(
            spans.span(1, 1, 1, 1 + (end if end > 0 else 1)),
            what=what,
            size=len(text),
            limit=MAX_EXPRESSION_CHARS,
        )
        return None, [diag]
    deep = _too_deep(text, spans, what)
    if deep is not None:
        return None, [deep]
    tree, err = _lark_parse(text, start, spans, what)
    return tree, ([err.diagnostic] if err else [])


# A line whose first word starts a top-level item: where a broken file is re-parsed from.
_ITEM_START = re.compile(r"^[ \t]*(?:" + "|".join(_ITEM_KEYWORDS) + r")(?=[ \t\"'])", re.MULTILINE)


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


def _pieces(text: str) -> Iterator[tuple[int, int]]:
    """Consecutive (start, end) offsets covering ``text``; each piece but the last ends where a line starts an item."""
    start = 0
    while len(text) - start > PIECE_CHARS:
        m = _ITEM_START.search(text, start + PIECE_CHARS)
        if m is None:
            break
        yield start, m.start()
        start = m.start()
    yield start, len(text)


def _parses(text: str) -> Node | None:
    try:
        return cast(Node, _parser().parse(text, start="rules_file"))
    except UnexpectedInput:
        return None


def parse_file_tree(source: Source) -> tuple[Node | None, list[Diagnostic]]:
    """Parse a whole ``.rules`` file; on errors, keep reporting from the next item on."""
    text = _clean(source.text)
    whole = FileSpans(source.name)
    deep = _too_deep(text, whole, "rule file")
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


# --- token decoding ------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


def decode_escape(raw: str, i: int) -> tuple[str | None, int]:
    """Decode the escape that starts with the backslash at ``raw[i]``.

    Returns (text, index after the escape); text is None for an invalid escape.
    JSON escapes plus ``\\'``; a ``\\u`` surrogate pair makes one character and a
    lone surrogate is invalid (it could not be written out as UTF-8).
    """
    c = raw[i + 1] if i + 1 < len(raw) else ""
    if c in _SIMPLE_ESCAPES and c:
        return _SIMPLE_ESCAPES[c], i + 2
    if c != "u" or not _HEX4.fullmatch(raw, i + 2, i + 6):
        return None, i + 2
    code = int(raw[i + 2 : i + 6], 16)
    if 0xD800 <= code <= 0xDBFF and raw.startswith("\\u", i + 6) and _HEX4.fullmatch(raw, i + 8, i + 12):
        low = int(raw[i + 8 : i + 12], 16)
        if 0xDC00 <= low <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), i + 12
    if 0xD800 <= code <= 0xDFFF:
        return None, i + 6
    return chr(code), i + 6


def decode_string(raw: str) -> tuple[str, list[tuple[int, int]]]:
    """The value of a STRING token (quotes included) and the (start, end) offsets of bad escapes."""
    body_end = len(raw) - 1
    out: list[str] = []
    bad: list[tuple[int, int]] = []
    i = 1
    while i < body_end:
        j = raw.find("\\", i, body_end)
        if j == -1:
            out.append(raw[i:body_end])
            break
        out.append(raw[i:j])
        text, i = decode_escape(raw, j)
        i = min(i, body_end)
        if text is None:
            bad.append((j, i))
        else:
            out.append(text)
    return "".join(out), bad


# --- public API ----------------------------------------------------------------------------------
# The lowering imports this module (spans, decoding, sub-parses of template
# parts), so these façades import it when called rather than at import time.


def parse_expression(text: str, where: Embedded) -> tuple[Expr | None, list[Diagnostic]]:
    """An expression string (a YAML ``when:`` value or a transform value).

    Spans in the IR and diagnostics are mapped into the enclosing file via
    ``where.span(line, col, end_line, end_col)``.  The expression is None when
    there is any error.
    """
    from .lower_expr import lower_expression

    tree, diags = parse_tree(text, "expr_only", where, "expression")
    if tree is None:
        return None, diags
    return lower_expression(tree, where)


def parse_path(text: str, where: Embedded) -> tuple[Path | None, list[Diagnostic]]:
    """A field path like ``data.customer.name``, ``data.items[0]`` or `` `detail-type` ``."""
    from .lower_expr import lower_path

    tree, diags = parse_tree(text, "path_only", where, "path")
    if tree is None:
        return None, diags
    return lower_path(tree, where)


def parse_rules(source: Source) -> tuple[RuleSetIR | None, list[Diagnostic]]:
    """A whole rule-language file (extension ``.rules``); the rule set is None when there is any error.

    The file is parsed and lowered a piece at a time (:data:`PIECE_CHARS`, cut
    before a line that starts an item), so only one piece's parse tree is alive
    at once: a 4 MiB file's whole tree would be millions of objects, and the
    garbage collector's passes over them would cost about as much as parsing.
    Cutting there cannot change the meaning: a piece that ends with whole items
    is followed by a new item in the whole file too (no item continues with a
    word), and a cut inside an item leaves a piece that does not parse.  Any
    piece that does not parse sends the whole file down the one-tree path, which
    words the errors (and parses a file whose cut was wrong).
    """
    from .lower_dsl import FileLowerer, lower_file

    text = _clean(source.text)
    deep = _too_deep(text, FileSpans(source.name), "rule file")
    if deep is not None:
        return None, [deep]
    lowering = FileLowerer(source.name)
    line_offset = 0
    for start, end in _pieces(text):
        piece = text[start:end]
        tree = _parses(piece)
        if tree is None:
            break
        lowering.add(tree, FileSpans(source.name, line_offset))
        line_offset += piece.count("\n")
    else:
        return lowering.result()
    tree, diags = parse_file_tree(source)
    if tree is None:
        return None, diags
    return lower_file(tree, source.name)
