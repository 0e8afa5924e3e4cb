"""CEL filters at load time: syntax, names, arities and regular expressions -> diagnostics.

Position in the pipeline::

    rule file ──lower (syntax/)──▶ ir.Cel(source) ──**check_cel**──▶ diagnostics

Called by the lowering of both rule formats, so a CEL filter is checked where it
is written and its positions map back into the rule file.  Nothing here
evaluates: this module imports no evaluator.
"""

from __future__ import annotations

from typing import Any, Final

import re2  # type: ignore[import-untyped]
from celpy.celparser import CELParseError, CELParser
from lark import Token, Tree

from rules_engine.cel.parse import (
    DECLARED,
    ENVELOPE,
    FUNCTIONS,
    MACROS,
    MAX_NESTING,
    MAX_TREE_DEPTH,
    bracket_nesting,
    simple_ident,
    string_literal,
    syntax_detail,
    tree_depth,
)
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Embedded

_UNDECLARED_NOTE: Final = (
    'write event.{name} or event["{name}"]: a CEL filter sees the whole event as `event`, '
    "and by their own names only the envelope fields {envelope}"
)



def regex_problem(pattern: str) -> str | None:
    """RE2's complaint about ``pattern`` (what ``matches()`` uses), or None."""
    options = re2.Options()
    options.log_errors = False  # keep RE2's C++ logger off stderr
    try:
        re2.compile(pattern, options)
    except re2.error as ex:
        detail = ex.args[0] if ex.args else ex
        return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    except Exception as ex:
        return str(ex)
    return None


def _args(node: Any) -> list[Any]:
    """Argument trees of an ``exprlist`` (or none)."""
    if isinstance(node, Tree) and node.data == "exprlist":
        return list(node.children)
    return []


class _Checker:
    """Walks a parse tree once, collecting diagnostics; positions map through ``where``."""

    def __init__(self, where: Embedded) -> None:
        self.where = where
        self.out: list[Diagnostic] = []

    def span_of(self, node: Any) -> Any:
        if isinstance(node, Token) and node.line is not None:
            return self.where.span(node.line, node.column or 1, node.end_line, node.end_column)
        meta = getattr(node, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            return self.where.span(meta.line, meta.column, meta.end_line, meta.end_column)
        return self.where.span(1, 1)

    def name(self, tok: Any, bound: frozenset[str]) -> None:
        name = str(tok)
        if name in bound or name in DECLARED:
            return
        note = _UNDECLARED_NOTE.format(name=name, envelope=", ".join(sorted(ENVELOPE)))
        self.out.append(
            codes.CEL_CHECK.at(self.span_of(tok), notes=(note,), detail=f"undeclared reference to '{name}'")
        )

    def regex(self, node: Any) -> None:
        pattern = string_literal(node)
        if pattern is None:
            return
        problem = regex_problem(pattern)
        if problem is not None:
            self.out.append(codes.BAD_REGEX.at(self.span_of(node), pattern=pattern, detail=problem))

    def arity(self, where: Any, name: str, expected: int, got: int) -> bool:
        if expected == got:
            return True
        plural = "argument" if expected == 1 else "arguments"
        self.out.append(
            codes.CEL_MACRO_ARITY.at(self.span_of(where), name=name, expected=f"{expected} {plural}", got=got)
        )
        return False

    def walk(self, root: Tree[Any]) -> None:
        # Iterative: the tree may be MAX_TREE_DEPTH deep.
        stack: list[tuple[Any, frozenset[str]]] = [(root, frozenset())]
        while stack:
            node, bound = stack.pop()
            if not isinstance(node, Tree):
                continue
            kids = node.children
            kind = node.data
            if kind in ("ident", "dot_ident"):
                self.name(kids[0], bound)
            elif kind == "dot_ident_arg":
                self.name(kids[0], bound)
                stack.extend((a, bound) for a in _args(kids[1] if len(kids) > 1 else None))
            elif kind == "ident_arg":
                fname = str(kids[0])
                args = _args(kids[1] if len(kids) > 1 else None)
                if fname in ("has", "dyn"):
                    self.arity(kids[0], fname, 1, len(args))
                elif fname not in FUNCTIONS:
                    self.out.append(codes.CEL_UNKNOWN_FUNCTION.at(self.span_of(kids[0]), name=fname))
                elif fname == "matches" and len(args) == 2:
                    self.regex(args[1])
                stack.extend((a, bound) for a in args)
            elif kind == "member_dot_arg":
                member, name_tok = kids[0], kids[1]
                args = _args(kids[2] if len(kids) > 2 else None)
                stack.append((member, bound))
                self.method(name_tok, args, bound, stack)
            elif kind == "member_object":
                self.out.append(
                    codes.CEL_UNSUPPORTED.at(self.span_of(node), what="message construction (Type{field: value})")
                )
                stack.extend((c, bound) for c in kids[1:])
            else:
                stack.extend((c, bound) for c in kids)

    def method(self, tok: Any, args: list[Any], bound: frozenset[str], stack: list[tuple[Any, frozenset[str]]]) -> None:
        name = str(tok)
        if name in MACROS or name == "reduce":
            n_vars = 1 if name in MACROS else 2
            if not self.arity(tok, name, n_vars + 1 if name in MACROS else 4, len(args)):
                stack.extend((a, bound) for a in args)
                return
            names = [simple_ident(a) for a in args[:n_vars]]
            if any(v is None for v in names):
                self.out.append(codes.CEL_MACRO_VARIABLE.at(self.span_of(tok), name=name))
                stack.extend((a, bound) for a in args[n_vars:])
                return
            inner = bound | {v for v in names if v is not None}
            if name == "reduce":
                stack.append((args[2], bound))
                stack.append((args[3], inner))
            else:
                stack.append((args[1], inner))
            return
        if name == "min":
            self.arity(tok, name, 0, len(args))
        elif name not in FUNCTIONS:
            self.out.append(codes.CEL_UNKNOWN_FUNCTION.at(self.span_of(tok), name=name))
        elif name == "matches" and len(args) == 1:
            self.regex(args[0])
        stack.extend((a, bound) for a in args)


def check_cel(text: str, where: Embedded) -> list[Diagnostic]:
    """Parse and check a CEL filter at load time.  Pure; never raises.

    Reports syntax errors (CEL_SYNTAX), expressions nested too deeply to
    evaluate (TOO_DEEP), identifiers that are not variables (CEL_CHECK),
    unknown functions, malformed macros and invalid regular expressions in
    ``matches()``, each at its position in the enclosing file.
    """
    try:
        off = bracket_nesting(text)
        if off >= 0:
            return [codes.TOO_DEEP.at(where.offset_span(off, off + 1), what="CEL expression", limit=MAX_NESTING)]
        try:
            tree: Tree[Any] = CELParser().parse(text)
        except CELParseError as ex:
            detail, (line, col, eline, ecol), notes = syntax_detail(text, ex)
            return [codes.CEL_SYNTAX.at(where.span(line, col, eline, ecol), notes=notes, detail=detail)]
        if tree_depth(tree) > MAX_TREE_DEPTH:
            note = "every operator and bracket adds a level; split the expression or use `in [...]`"
            return [
                codes.TOO_DEEP.at(
                    where.offset_span(0, max(1, len(text))), notes=(note,), what="CEL expression",
                    limit=MAX_TREE_DEPTH,
                )
            ]
        checker = _Checker(where)
        checker.walk(tree)
        return sorted(checker.out, key=Diagnostic.sort_key)
    except RecursionError:
        return [codes.TOO_DEEP.at(where.span(1, 1), what="CEL expression", limit=MAX_TREE_DEPTH)]
    except Exception as ex:  # a defect in the checker must not hide the rule file's other problems
        return [codes.CEL_SYNTAX.at(where.span(1, 1), detail=f"cannot be checked: {type(ex).__name__}: {ex}")]
