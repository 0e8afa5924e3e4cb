"""CESQL text → :mod:`.ast` tree, or one syntax problem (a ParseError in CESQL's terms).

Where it sits: the first step of the dialect.  CESQL text ──**parse**──▶ Expr ──▶ check / evaluate.
The grammar is ``grammar/cesql.lark`` (shipped as ``rules_engine._grammar``); this module
owns every Lark object of the dialect, so nothing past it sees a Lark tree or exception.

Pure: :func:`parse` reads nothing but its argument and never raises for any input text.
Limits (so that every later stage may recurse): at most :data:`MAX_DEPTH` levels of
nesting and :data:`MAX_LENGTH` characters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.tree import Meta

from rules_engine.cesql import ast
from rules_engine.cesql.values import INT_MAX, INT_MIN
from rules_engine.model.resources import grammar_text

MAX_DEPTH = 200
MAX_LENGTH = 64 * 1024


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """Why a text is not CESQL, where (0-based offsets, end exclusive), and hints."""

    message: str
    start: int
    end: int
    notes: tuple[str, ...] = ()
    too_deep: bool = False


@functools.cache
def _parser() -> Lark:
    return Lark(grammar_text("cesql.lark"), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True)


def _unquote(token: str) -> str:
    quote = token[0]
    return token[1:-1].replace("\\" + quote, quote)


class _Problem(Exception):
    def __init__(self, problem: SyntaxProblem) -> None:
        self.problem = problem


_OPS = {"<>": "!="}


@v_args(meta=True)
class _Build(Transformer_NonRecursive[Token, Any]):
    """Lark tree → ast nodes; methods are named after the grammar's aliases.  ``meta`` holds
    the rule's character offsets (``propagate_positions``)."""

    def __default__(self, data: object, children: list[object], meta: object) -> object:
        raise AssertionError(f"unhandled CESQL grammar rule {data}")

    def binary(self, m: Meta, items: list[Any]) -> ast.Expr:
        left, op, right = items
        text = str(op).upper()
        return ast.Binary(cast(ast.BinaryOp, _OPS.get(text, text)), left, right, m.start_pos, m.end_pos)

    def in_set(self, m: Meta, items: list[Any]) -> ast.Expr:
        return ast.In(items[0], items[2], False, m.start_pos, m.end_pos)

    def not_in_set(self, m: Meta, items: list[Any]) -> ast.Expr:
        return ast.In(items[0], items[2], True, m.start_pos, m.end_pos)

    def set_expr(self, m: Meta, items: list[ast.Expr]) -> tuple[ast.Expr, ...]:
        return tuple(items)

    def like(self, m: Meta, items: list[Any]) -> ast.Expr:
        return ast.Like(items[0], _unquote(str(items[2])), False, m.start_pos, m.end_pos)

    def not_like(self, m: Meta, items: list[Any]) -> ast.Expr:
        return ast.Like(items[0], _unquote(str(items[2])), True, m.start_pos, m.end_pos)

    def not_(self, m: Meta, items: list[Any]) -> ast.Expr:
        return ast.Not(items[1], m.start_pos, m.end_pos)

    def negate(self, m: Meta, items: list[Any]) -> ast.Expr:
        operand = items[1]
        # `-2147483648` is one integer literal (integer-literal ::= ('+'|'-')? digit+), so the
        # sign folds into a non-negative literal before the range check; `--10` stays a negation.
        if isinstance(operand, ast.Literal) and type(operand.value) is int and operand.value >= 0:
            return ast.Literal(-operand.value, m.start_pos, m.end_pos)
        return ast.Negate(operand, m.start_pos, m.end_pos)

    def integer(self, m: Meta, items: list[Token]) -> ast.Expr:
        return ast.Literal(int(str(items[-1])), m.start_pos, m.end_pos)

    def string(self, m: Meta, items: list[Token]) -> ast.Expr:
        return ast.Literal(_unquote(str(items[0])), m.start_pos, m.end_pos)

    def true(self, m: Meta, items: list[Token]) -> ast.Expr:
        return ast.Literal(True, m.start_pos, m.end_pos)

    def false(self, m: Meta, items: list[Token]) -> ast.Expr:
        return ast.Literal(False, m.start_pos, m.end_pos)

    def exists(self, m: Meta, items: list[Token]) -> ast.Expr:
        return ast.Exists(str(items[1]).lower(), m.start_pos, m.end_pos)

    def attribute(self, m: Meta, items: list[Token]) -> ast.Expr:
        return ast.Attribute(str(items[0]).lower(), m.start_pos, m.end_pos)

    def call(self, m: Meta, items: list[Any]) -> ast.Expr:
        args = tuple(a for a in items[1:] if a is not None)
        return ast.Call(str(items[0]).upper(), args, m.start_pos, m.end_pos)


def _nesting(text: str) -> int:
    """Offset of the first bracket nested deeper than MAX_DEPTH, or -1 (linear, before Lark)."""
    depth = 0
    quote = ""
    prev = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and prev != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif ch == ")":
            depth -= 1
        prev = ch
    return -1


def _depth(e: ast.Expr) -> int:
    best = 0
    stack = [(e, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in ast.children(node))
    return best


_WORDS = {
    "INTEGER": "an integer", "STRING": "a string", "IDENTIFIER": "an attribute name", "FUNCTION": "a function call",
    "TRUE": "TRUE", "FALSE": "FALSE", "EXISTS": "EXISTS", "NOT": "NOT", "MINUS": "'-'", "PLUS": "'+'",
    "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "LOGIC_OP": "AND, OR or XOR", "CMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/' or '%'", "IN": "IN", "NOT_IN": "NOT IN", "LIKE": "LIKE",
    "NOT_LIKE": "NOT LIKE", "$END": "the end of the expression",
}
_OPERAND_START = {"INTEGER", "STRING", "IDENTIFIER", "FUNCTION", "TRUE", "FALSE", "EXISTS", "NOT", "MINUS", "LPAR"}


def _expected(names: set[str]) -> str:
    names = set(names)
    words = []
    if _OPERAND_START & names and len(_OPERAND_START & names) >= 5:
        words.append("an expression")
        names -= _OPERAND_START | {"PLUS"}
    if {"LOGIC_OP", "CMP_OP", "ADD_OP", "MUL_OP"} <= names:
        words.append("an operator")
        names -= {"LOGIC_OP", "CMP_OP", "ADD_OP", "MUL_OP", "IN", "NOT_IN", "LIKE", "NOT_LIKE"}
    words += sorted(_WORDS.get(n, n) for n in names)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "end of expression"
    return repr(str(tok))


def _translate(text: str, ex: UnexpectedInput) -> SyntaxProblem:
    if isinstance(ex, UnexpectedCharacters):
        pos = ex.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch in "'\"":
            return SyntaxProblem("string is not closed", pos, len(text), (f"close it with {ch}",))
        return SyntaxProblem(f"unexpected character {ch!r}", pos, pos + 1)
    if isinstance(ex, UnexpectedToken):
        tok = ex.token
        pos = tok.start_pos if tok.start_pos is not None else len(text)
        end = tok.end_pos if tok.type != "$END" and tok.end_pos is not None else pos + 1
        expected = set(ex.expected)
        if expected == {"STRING"}:
            return SyntaxProblem("the pattern of LIKE must be a string literal", pos, end,
                                 ("section 3.4.3 of the CESQL specification: the pattern is never cast",))
        if tok.type == "$END":
            return SyntaxProblem(f"unexpected end of expression; expected {_expected(expected)}", len(text),
                                 len(text) + 1)
        notes = ("CESQL compares with a single '=' (and '!=' or '<>')",) if str(tok) == "=" else ()
        return SyntaxProblem(f"unexpected {_found(tok)}; expected {_expected(expected)}", pos, end, notes)
    return SyntaxProblem(str(ex), 0, max(1, len(text)))


def _check_literals(tree: ast.Expr) -> SyntaxProblem | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Literal) and type(node.value) is int and not INT_MIN <= node.value <= INT_MAX:
            return SyntaxProblem(f"integer literal {node.value} is outside the 32-bit range", node.start, node.end,
                                 (f"integers range from {INT_MIN} to {INT_MAX} (section 3.1)",))
    return None


def parse(text: str) -> tuple[ast.Expr | None, SyntaxProblem | None]:
    """Parse CESQL ``text``: ``(tree, None)`` or ``(None, problem)``.  Never raises."""
    if len(text) > MAX_LENGTH:
        return None, SyntaxProblem(f"expression is {len(text)} characters long, more than {MAX_LENGTH}", 0, 1,
                                   too_deep=True)
    if not text.strip():
        return None, SyntaxProblem("empty expression", 0, 1)
    off = _nesting(text)
    if off >= 0:
        return None, SyntaxProblem(f"expression is nested deeper than {MAX_DEPTH} levels", off, off + 1,
                                   too_deep=True)
    try:
        lark_tree = _parser().parse(text)
    except UnexpectedInput as ex:
        return None, _translate(text, ex)
    builder = _Build()
    try:
        tree: ast.Expr = builder.transform(lark_tree)
    except VisitError as ex:  # a defect in the builder: report it rather than raise
        return None, SyntaxProblem(f"cannot be read: {ex.orig_exc}", 0, max(1, len(text)))
    if _depth(tree) > MAX_DEPTH:
        return None, SyntaxProblem(f"expression is nested deeper than {MAX_DEPTH} levels", 0, max(1, len(text)),
                                   ("split a long chain of AND/OR into fewer terms, or use IN (...)",), too_deep=True)
    problem = _check_literals(tree)
    return (None, problem) if problem else (tree, None)
