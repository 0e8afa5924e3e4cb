"""CEL text -> cel-python parse tree, within limits; the names a CEL filter may use.

Position in the pipeline::

    ir.Cel(source) ──**parse_cel**──▶ lark tree ──▶ cel/check.py (load time), cel/evaluate.py (reference),
                                                     compile/cel_translate.py (fast path)

Shared by the checker, the reference evaluator and the compiled translation, so
all three agree on what parses and on the variables a filter sees (docs/cel.md,
"Variables").  Invariant: :func:`parse_cel` raises only ``CELParseError`` or
:class:`CelTooDeep`, both in bounded time.
"""

from __future__ import annotations

from typing import Any, Final

from celpy.celparser import CELParseError, CELParser
from celpy.evaluation import base_functions, celstr
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from rules_engine.model.source import Source

# CloudEvents 1.0 context attributes plus ``data``, then the EventBridge envelope.
ENVELOPE: Final = frozenset(
    {
        "id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data",
        "version", "account", "region", "resources", "detail",
    }
)
DECLARED: Final[frozenset[str]] = ENVELOPE | {"event"}
"""Variable names a CEL filter may use (macro variables come on top, in their scope)."""

MAX_NESTING: Final = 32
"""Brackets ``( [ {`` nested deeper than this are refused before parsing."""

MAX_TREE_DEPTH: Final = 400
"""Depth of cel-python's parse tree.  Its evaluator recurses about five Python
frames per level under a recursion limit of 2500 (which ``celpy.Environment``
sets), and a parenthesis costs ten levels: 400 keeps a safe margin for callers."""

# Macros are recognised by name in ``member.name(...)`` position; they bind a variable.
MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
_EXTENSION_MACROS: Final = frozenset({"reduce", "min"})  # cel-python extensions
FUNCTIONS: Final = frozenset(n for n in base_functions if n.isidentifier())
"""Functions (and methods) cel-python knows: ``size``, ``int``, ``startsWith`` …"""


# --- parsing ------------------------------------------------------------------------------------------


class CelTooDeep(ValueError):
    """The expression is nested deeper than :data:`MAX_NESTING` or :data:`MAX_TREE_DEPTH`."""

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__(f"CEL expression is nested deeper than {limit} levels")
        self.offset = offset
        self.limit = limit


def bracket_nesting(text: str) -> int:
    """Offset where brackets first nest deeper than MAX_NESTING, or -1.

    A cheap scan that skips string literals and comments, so that a 5,000-deep
    expression is refused before the parser builds a 50,000-level tree.
    """
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "([{":
            depth += 1
            if depth > MAX_NESTING:
                return i
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n" and len(quote) == 1:
                    break  # unterminated: the parser will say so
                i += 1
            i += len(quote) - 1
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
        i += 1
    return -1


def tree_depth(tree: Tree[Any]) -> int:
    """Depth of a lark tree, computed without recursion."""
    best = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, d + 1))
    return best


def parse_cel(text: str) -> Tree[Any]:
    """cel-python's parse tree for ``text``.

    Raises :class:`CelTooDeep` or ``celpy.CELParseError``; :func:`check_cel`
    turns both into diagnostics.
    """
    off = bracket_nesting(text)
    if off >= 0:
        raise CelTooDeep(off, MAX_NESTING)
    tree: Tree[Any] = CELParser().parse(text)
    if tree_depth(tree) > MAX_TREE_DEPTH:
        raise CelTooDeep(0, MAX_TREE_DEPTH)
    return tree




# Grammar rules that merely pass one child through (``expr → conditionalor → … → primary``).
_PASS_THROUGH: Final = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary",
     "member", "primary", "paren_expr"}
)


def simple_ident(node: Any) -> str | None:
    """The name when ``node`` is nothing but an identifier (``x``), else None."""
    while isinstance(node, Tree) and node.data in _PASS_THROUGH and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "ident":
        return str(node.children[0])
    return None


def string_literal(node: Any) -> str | None:
    """The value when ``node`` is nothing but a string literal, else None."""
    while isinstance(node, Tree) and node.data in _PASS_THROUGH and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "literal":
        tok = node.children[0]
        if isinstance(tok, Token) and tok.type in ("STRING_LIT", "MLSTRING_LIT"):
            try:
                return str(celstr(tok))
            except Exception:
                return None
    return None


def _terminal_text(name: str) -> str | None:
    parser = CELParser.CEL_PARSER
    friendly = {"IDENT": "a name", "INT_LIT": "a number", "STRING_LIT": "a string"}
    if name in friendly:
        return friendly[name]
    if parser is None:
        return None
    try:
        term = parser.get_terminal(name)
    except Exception:
        return None
    if type(term.pattern).__name__ == "PatternStr":
        return repr(term.pattern.value)
    return None


def _expected_note(expected: Any) -> tuple[str, ...]:
    names = sorted(str(e) for e in (expected or ()))
    if not names:
        return ()
    if "IDENT" in names and "INT_LIT" in names:
        return ("expected an expression",)
    shown = [t for t in (_terminal_text(n) for n in names) if t]
    if not shown or len(shown) > 8:
        return ()
    return ("expected one of: " + ", ".join(sorted(set(shown))),)


def syntax_detail(
    text: str, err: CELParseError
) -> tuple[str, tuple[int, int, int | None, int | None], tuple[str, ...]]:
    """(detail, (line, column, end_line, end_column), notes) of a parse error."""
    cause = err.__context__
    if isinstance(cause, UnexpectedToken):
        tok = cause.token
        notes = _expected_note(cause.expected)
        if tok.type == "$END":
            # Point just past the last character, where something is missing.
            line, col = Source("", text).position(len(text.rstrip()))
            return "unexpected end of expression", (line, col, None, None), notes
        where = (tok.line or 1, tok.column or 1, tok.end_line, tok.end_column)
        return f"unexpected {str(tok)!r}", where, notes
    if isinstance(cause, UnexpectedCharacters):
        pos = cause.pos_in_stream if cause.pos_in_stream is not None else 0
        char = text[pos] if 0 <= pos < len(text) else "?"
        detail = "string literal is not closed" if char in "\"'" else f"unexpected character {char!r}"
        return detail, (cause.line, cause.column, None, None), ()
    first = str(err.args[0]).strip().splitlines()[0] if err.args else "invalid expression"
    return first, (err.line or 1, err.column or 1, None, None), ()


OPAQUE_CONSTRUCTORS: Final = frozenset({"timestamp", "duration", "bytes"})
"""CEL functions whose values JSON cannot hold (an event is JSON, so it holds none)."""


def makes_opaque_values(tree: Tree[Any]) -> bool:
    """Can the expression make a value JSON cannot hold: a bytes literal, or a call of
    ``timestamp``/``duration``/``bytes`` (as a function or a method)?  Decided on the parse tree."""
    for node in tree.iter_subtrees():
        if node.data == "ident_arg" and str(node.children[0]) in OPAQUE_CONSTRUCTORS:
            return True
        if node.data == "member_dot_arg" and len(node.children) > 1 and str(node.children[1]) in OPAQUE_CONSTRUCTORS:
            return True
    return any(True for _ in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "BYTES_LIT"))
