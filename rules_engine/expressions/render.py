"""Text forms: expressions back to source text (the parser's inverse), values for messages.

Position in the pipeline::

    IR expression ──**render_expr**──▶ canonical source text
    JSON value    ──**show**─────────▶ 'FR', 950, ['US', 'CA'], missing

    (used by check_expr's diagnostics, by explain_expr, and by the tests of
     the law ``parse_expression(render_expr(e)) == e``)

The text is canonical: minimal parentheses (docs/expressions.md, "Precedence"),
double-quoted strings with JSON escapes, and a ``$`` root wherever a bare first
key could be read as a keyword or a variable.

:func:`show` writes a JSON value the way diagnostics and explanations quote
it (``'FR'``, ``950``, ``['US', 'CA']``, ``missing``), cut to a readable length.

Pure: no I/O, no evaluation; depends only on the IR and value formatting.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rules_engine.expressions.shape import children
from rules_engine.model import ir
from rules_engine.model.values import MISSING, is_array, is_number, is_object, number_text


def render_expr(expr: ir.Expr) -> str:
    """``expr`` as source text in canonical form (minimal parentheses, double-quoted strings).

    ``parse_expression(render_expr(e))`` gives back ``e`` (spans aside).  A
    ``Cel`` node renders as its CEL source text, which is not part of the
    expression language.
    """
    try:
        # An event field named like a quantifier variable of the same expression is written from
        # `$` everywhere, since a bare name there is refused as the variable out of scope (E332).
        return _render(expr, _quantifier_vars(expr))
    except RecursionError:
        return "<expression nested too deeply>"


def _quantifier_vars(expr: ir.Expr) -> frozenset[str]:
    out: set[str] = set()
    stack: list[ir.Expr] = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, ir.Quantifier):
            out.add(e.var)
        stack.extend(children(e))
    return frozenset(out)


def render_scoped(expr: ir.Expr, bound: frozenset[str]) -> str:
    """:func:`render_expr` where the quantifier variables ``bound`` are in scope.

    An event path whose first key is one of them is written from ``$``.  Unlike
    :func:`render_expr` this lets ``RecursionError`` through: the caller (an
    explanation, say) guards its whole walk at once.
    """
    return _render(expr, bound)


# --- the walk ----------------------------------------------------------------------------------------

# Binding strength, lowest first (docs/expressions.md, "Precedence").
_COND, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _ATOM = range(9)

_STRING_OPS = {
    "starts_with": "starts with",
    "ends_with": "ends with",
    "contains": "contains",
    "matches": "matches",
    "like": "like",
}

KEYWORDS = frozenset(
    {
        "and", "or", "not", "in", "true", "false", "null", "if", "then", "else", "exists", "any",
        "all", "cidr", "starts", "ends", "with", "contains", "matches", "like",
    }
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _level(e: ir.Expr) -> int:
    if isinstance(e, ir.Conditional):
        return _COND
    if isinstance(e, ir.Or):
        return _OR if len(e.items) > 1 else _level(e.items[0]) if e.items else _ATOM
    if isinstance(e, ir.And):
        return _AND if len(e.items) > 1 else _level(e.items[0]) if e.items else _ATOM
    if isinstance(e, ir.Unary):
        return _NOT if e.op == "not" else _NEG
    if isinstance(e, (ir.Compare, ir.In, ir.CidrTest)):
        return _CMP
    if isinstance(e, ir.StringTest):
        return _ATOM if e.op == "equals_ignore_case" else _CMP
    if isinstance(e, ir.Arith):
        return _ADD if e.op in "+-" else _MUL
    if (
        isinstance(e, ir.Literal)
        and isinstance(e.value, (int, float))
        and not isinstance(e.value, bool)
        and _number_literal(e.value).startswith("-")
    ):
        return _NEG
    if isinstance(e, ir.Cel):
        return _COND  # foreign text: always parenthesised inside a larger expression
    return _ATOM


def _number_literal(v: int | float) -> str:
    if isinstance(v, float):
        if v != v:
            return "(0.0 / 0.0)"
        if v in (float("inf"), float("-inf")):
            return "1e999" if v > 0 else "-1e999"
        return repr(v)
    return number_text(v)


_SURROGATE = re.compile("[\ud800-\udfff]")


def string_literal(s: str) -> str:
    """A double-quoted string literal with JSON escapes (lone surrogates escaped too)."""
    text = json.dumps(s, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _key_is_plain(key: str) -> bool:
    return _IDENT.fullmatch(key) is not None and key not in KEYWORDS


def render_path(path: ir.Path, var: str | None = None, bound: frozenset[str] = frozenset()) -> str:
    """A field path as written: ``data.items[0].price``, ``$["detail-type"]``, ``item.price``.

    An event path whose first key is a variable in scope, a keyword or not an
    identifier starts from ``$`` so it cannot be mistaken for something else.
    """
    out: list[str] = []
    if var is not None:
        out.append(var)
    elif not path:
        return "$"
    elif isinstance(path[0], str) and _key_is_plain(path[0]) and path[0] not in bound:
        out.append(path[0])
        path = path[1:]
    else:
        out.append("$")
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif _key_is_plain(step):
            out.append(f".{step}")
        else:
            out.append(f"[{string_literal(step)}]")
    return "".join(out)


def _render(e: ir.Expr, bound: frozenset[str]) -> str:
    """``e`` as source text; ``bound`` names the quantifier variables in scope."""
    if isinstance(e, ir.Literal):
        return _render_literal(e.value)
    if isinstance(e, ir.Field):
        return render_path(e.path, e.var, bound)
    if isinstance(e, ir.ListExpr):
        return "[" + ", ".join(_render(x, bound) for x in e.items) + "]"
    if isinstance(e, ir.ObjectExpr):
        keys = (k if _key_is_plain(k) else string_literal(k) for k, _ in e.items)
        return "{" + ", ".join(f"{k}: {_render(x, bound)}" for k, (_, x) in zip(keys, e.items, strict=True)) + "}"
    if isinstance(e, ir.Unary):
        if e.op == "not":
            return "not " + _sub(e.operand, _NOT, bound)
        inner = _sub(e.operand, _NEG, bound)
        # "- -x" keeps the two minus signs apart; "--x" might lex as something else.
        return "-" + (" " + inner if inner.startswith("-") else inner)
    if isinstance(e, ir.Arith):
        lvl = _ADD if e.op in "+-" else _MUL
        # Left-associative: the right operand needs strictly tighter binding.
        return f"{_sub(e.left, lvl, bound)} {e.op} {_sub(e.right, lvl + 1, bound)}"
    if isinstance(e, ir.Compare):
        return f"{_sub(e.left, _CMP + 1, bound)} {e.op} {_sub(e.right, _CMP + 1, bound)}"
    if isinstance(e, (ir.And, ir.Or)):
        return _render_junction(e, bound)
    if isinstance(e, ir.In):
        word = " not in " if e.negated else " in "
        return _sub(e.item, _CMP + 1, bound) + word + _sub(e.collection, _CMP + 1, bound)
    if isinstance(e, ir.Exists):
        return f"exists({_render(e.field, bound)})"
    if isinstance(e, ir.StringTest):
        if e.op == "equals_ignore_case":
            return f"equals_ignore_case({_render(e.left, bound)}, {_render(e.right, bound)})"
        return f"{_sub(e.left, _CMP + 1, bound)} {_STRING_OPS[e.op]} {_sub(e.right, _CMP + 1, bound)}"
    if isinstance(e, ir.CidrTest):
        word = " not in " if e.negated else " in "
        return f"{_sub(e.item, _CMP + 1, bound)}{word}cidr({string_literal(e.network)})"
    if isinstance(e, ir.Call):
        return f"{e.name}(" + ", ".join(_render(a, bound) for a in e.args) + ")"
    if isinstance(e, ir.Quantifier):
        coll = _render(e.collection, bound)
        pred = _render(e.predicate, bound | {e.var})
        return f"{e.kind}({e.var} in {coll}: {pred})"
    if isinstance(e, ir.Conditional):
        return (
            f"if {_sub(e.cond, _OR, bound)} then {_sub(e.then, _OR, bound)} else {_render(e.otherwise, bound)}"
        )
    if isinstance(e, ir.Template):
        return _render_template(e, bound)
    if isinstance(e, ir.Cel):
        return e.source
    return "<?>"


def _sub(x: ir.Expr, minimum: int, bound: frozenset[str]) -> str:
    """An operand: parenthesised when it binds less tightly than ``minimum``."""
    text = _render(x, bound)
    return f"({text})" if _level(x) < minimum else text


def _render_literal(v: ir.Scalar) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return string_literal(v)
    return _number_literal(v)


def _render_junction(e: ir.And | ir.Or, bound: frozenset[str]) -> str:
    if not e.items:
        return "true" if isinstance(e, ir.And) else "false"
    word, lvl = (" and ", _AND) if isinstance(e, ir.And) else (" or ", _OR)
    if len(e.items) == 1:
        return _render(e.items[0], bound)
    # A nested `and` inside `and` (or `or` inside `or`) is written flat: the parser
    # flattens it too, and the meaning is the same.
    flat: list[ir.Expr] = []
    for x in e.items:
        if type(x) is type(e) and len(x.items) > 1:
            flat.extend(x.items)
        else:
            flat.append(x)
    return word.join(_sub(x, lvl + 1, bound) for x in flat)


def _render_template(e: ir.Template, bound: frozenset[str]) -> str:
    out = ['f"']
    for p in e.parts:
        if isinstance(p, str):
            out.append(string_literal(p)[1:-1].replace("{", "{{").replace("}", "}}"))
        else:
            inner = _render(p, bound)
            # "{{" / "}}" would read as escaped braces: an object literal needs parentheses.
            if inner.startswith("{") or inner.endswith("}"):
                inner = f"({inner})"
            out.append("{" + inner + "}")
    out.append('"')
    return "".join(out)


# --- values in messages -------------------------------------------------------------------------------

_SHOW_LIMIT = 80


def show(value: Any, limit: int = _SHOW_LIMIT) -> str:
    """A value for a message: ``'FR'``, ``950``, ``['US', 'CA']``, ``missing``; cut at ``limit``."""
    out: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, _Text):
            piece = item.text
        elif item is MISSING:
            piece = "missing"
        elif item is None:
            piece = "null"
        elif isinstance(item, bool):
            piece = "true" if item else "false"
        elif is_number(item):
            piece = number_text(item)
        elif isinstance(item, str):
            piece = repr(item[: limit + 1])
        elif is_array(item):
            pending: list[Any] = [_Text("[")]
            for i, v in enumerate(item):
                if i:
                    pending.append(_Text(", "))
                pending.append(v)
                if i > limit:
                    break  # the output is cut long before this
            pending.append(_Text("]"))
            stack.extend(reversed(pending))
            continue
        elif is_object(item):
            pending = [_Text("{")]
            for i, (k, v) in enumerate(item.items()):
                if i:
                    pending.append(_Text(", "))
                pending.append(_Text(repr(str(k)[: limit + 1]) + ": "))
                pending.append(v)
                if i > limit:
                    break
            pending.append(_Text("}"))
            stack.extend(reversed(pending))
            continue
        else:
            piece = "?"
        out.append(piece)
        size += len(piece)
    text = "".join(out)
    return text if len(text) <= limit and not stack else text[:limit] + "…"


class _Text:
    """Literal output on :func:`show`'s work stack."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text
