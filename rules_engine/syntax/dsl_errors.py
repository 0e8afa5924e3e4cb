"""Lark's syntax errors in a user's words: what was found, what was expected, and hints for common slips.

Position in the pipeline::

    rule text ──dsl: parse──▶ parse tree ──lower──▶ IR ──check──▶ diagnostics
                   │
                   └─ a Lark error ──**dsl_errors: translate**──▶ Diagnostic (E1xx)

:func:`translate` turns one :class:`~lark.exceptions.UnexpectedInput` into one
:class:`~rules_engine.model.errors.Diagnostic` ("expected an expression, `)` or
`and`", never "Expected one of: RPAR") and the offset a broken file can be
re-parsed from; :mod:`rules_engine.syntax.dsl` does the re-parsing.  All the
wording of syntax errors lives here (the message templates are the codes of
:mod:`rules_engine.model.codes`).

Invariants:
  * every terminal reads as its literal text or as a phrase of
    ``_KIND_WORDS``, never as a Lark name like ``RPAR`` or ``__ANON_3``;
  * the expected set is the parser's full set just before the bad token
    (:func:`_replay`), not the reduced set Lark reports;
  * no Lark error escapes as a traceback: every kind maps to a diagnostic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr
from lark.parsers.lalr_interactive_parser import InteractiveParser

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.syntax.dsl_tree import ITEM_KEYWORDS, Spans, lark_parser, token_span

__all__ = ["SyntaxFailure", "expected_words", "translate"]


# --- vocabulary ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """Terminal names -> the symbol a user reads: the literal text, or a named token kind."""

    symbol: dict[str, str]

    def of(self, terminal: str) -> str:
        return self.symbol.get(terminal, terminal)


@functools.cache
def _vocabulary() -> _Vocabulary:
    table = {}
    for t in lark_parser().terminals:
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
        frozenset({"description", "when", "cel", "cesql", "route", "on", "disabled"}),
        frozenset({"description", "when", "match", "cel", "cesql", "route", "on", "disabled"}) | _TRANSFORM_KEYWORDS,
        lead=False,
    ),
    _Group("a transform statement", _TRANSFORM_KEYWORDS, _TRANSFORM_KEYWORDS | {"partition"}, lead=False),
)

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


# --- translation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyntaxFailure:
    """One syntax error in user words, and where parsing can resume."""

    diagnostic: Diagnostic
    offset: int | None  # where parsing can resume from; None at end of input


def translate(err: UnexpectedInput, text: str, start: str, spans: Spans, what: str) -> SyntaxFailure:
    """One Lark error -> one diagnostic in user words."""
    if isinstance(err, UnexpectedCharacters):
        line, col, pos = err.line, err.column, err.pos_in_stream or 0
        ch = text[pos] if 0 <= pos < len(text) else ""
        eol = text.find("\n", pos)
        eol = len(text) if eol == -1 else eol
        to_eol = len(text[pos:eol].rstrip("\r"))
        span = spans.span(line, col, line, col + max(1, to_eol))
        if ch in "\"'":
            return SyntaxFailure(codes.DSL_UNTERMINATED_STRING.at(span), pos)
        if ch == "`":
            return SyntaxFailure(codes.DSL_UNTERMINATED_NAME.at(span), pos)
        char_notes = [_CHAR_NOTES[ch]] if ch in _CHAR_NOTES else []
        if ch.isalpha() and not ch.isascii():
            char_notes.append("names are ASCII letters, digits and `_`; write other names in backticks")
        diag = codes.DSL_UNEXPECTED_CHAR.at(spans.span(line, col, line, col + 1), char_notes, char=ch)
        return SyntaxFailure(diag, pos)
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
            return SyntaxFailure(codes.DSL_UNEXPECTED_EOF.at(span, what=what, expected=expected), None)
        notes = _notes(_vocabulary().of(tok.type), accepts, expected, replay)
        diag = codes.DSL_UNEXPECTED_TOKEN.at(
            token_span(spans, tok), notes, found=_found_words(tok), expected=expected
        )
        return SyntaxFailure(diag, tok.start_pos)
    # Other UnexpectedInput kinds are not raised by the LALR parser; kept so none escapes as a traceback.
    line = getattr(err, "line", 1) or 1
    col = getattr(err, "column", 1) or 1
    pos = getattr(err, "pos_in_stream", 0) or 0
    diag = codes.DSL_UNEXPECTED_CHAR.at(spans.span(line, col, line, col + 1), char=text[pos : pos + 1])
    return SyntaxFailure(diag, pos)


def _replay(text: str, start: str, stop: int | None) -> InteractiveParser | None:
    """The parser just before the token at offset ``stop`` (None: at end of input).

    Lark reports an error after the reductions the bad token triggered, and LALR
    merges states, so the parser has by then forgotten most of what it could
    have accepted (after ``(a == 1`` only `)` would remain).  Parsing again up
    to the bad token, without feeding it, gives the full set.  Linear, and only
    done once per reported error.
    """
    ip = lark_parser().parse_interactive(text, start)
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
    if symbol in ITEM_KEYWORDS and "}" in symbols:
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
