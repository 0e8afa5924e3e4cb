"""Expressions and JSON values as rule-language text, for the printers.

Position in the pipeline::

    IR expression / JSON value ──**expr_text / json_text**──▶ text ──parse──▶ the same IR

:func:`rules_engine.render_expr.render_expr` is the expression printer; this
module adds what a file printer needs around it: a CEL value inside an
expression is written as the call ``cel("…")`` that lowers to it, and long
object or list literals (and JSON values) break over several lines.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rules_engine.author.pattern_text import Inexpressible
from rules_engine.expressions.render import render_expr, string_literal
from rules_engine.model import ir

WIDTH = 100
"""Lines longer than this are broken where the printers know how (objects, lists, `and`)."""


def cel_as_call(e: Any) -> Any:
    """The expression with every ``Cel`` node replaced by ``Call("cel", (Literal(text),))``.

    The parser lowers that call back to the ``Cel`` node; ``render_expr`` alone
    would write the bare CEL text, which is no expression.
    """
    if isinstance(e, ir.Cel):
        return ir.Call("cel", (ir.Literal(e.source),))
    if isinstance(e, tuple):
        return tuple(cel_as_call(x) for x in e)
    if dataclasses.is_dataclass(e) and not isinstance(e, type):
        changes = {}
        for f in dataclasses.fields(e):
            if f.name == "span":
                continue
            old = getattr(e, f.name)
            new = cel_as_call(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(e, **changes) if changes else e
    return e


def expr_text(e: ir.Expr) -> str:
    """One-line source text of an expression (CEL values as ``cel("…")``)."""
    return render_expr(cel_as_call(e))


def expr_lines(e: ir.Expr, indent: int, lead: str) -> list[str]:
    """``lead`` + the expression, broken over lines when too long.

    The first line starts at column ``indent`` (the caller indents it); the
    lines after it carry their own indentation.

    An object or list literal puts one item per line; a top-level ``and``
    puts each further condition on a line of its own starting with ``and``.
    Every line but the first is indented by ``indent + 2``.
    """
    one = lead + expr_text(e)
    if indent + len(one) <= WIDTH:
        return [one]
    e = cel_as_call(e)
    if isinstance(e, (ir.ObjectExpr, ir.ListExpr)) and (e.items):
        return _literal_lines(e, indent, lead)
    if isinstance(e, ir.And) and len(e.items) > 1:
        parts = [f"({expr_text(x)})" if isinstance(x, (ir.Or, ir.Conditional)) else expr_text(x)
                 for x in _flat_and(e)]
        pad = " " * (indent + 2)
        return [lead + parts[0]] + [f"{pad}and {p}" for p in parts[1:]]
    return [one]


def _flat_and(e: ir.And) -> list[ir.Expr]:
    out: list[ir.Expr] = []
    for x in e.items:
        if isinstance(x, ir.And) and len(x.items) > 1:
            out.extend(_flat_and(x))
        else:
            out.append(x)
    return out


def _literal_lines(e: ir.ObjectExpr | ir.ListExpr, indent: int, lead: str) -> list[str]:
    pad = " " * (indent + 2)
    out = [lead + ("{" if isinstance(e, ir.ObjectExpr) else "[")]
    n = len(e.items)
    for i, item in enumerate(e.items):
        comma = "," if i < n - 1 else ""
        if isinstance(e, ir.ObjectExpr):
            key, value = item  # type: ignore[misc]
            head = render_expr(ir.ObjectExpr(((key, ir.Literal(0)),)))[1:-len(": 0}")] + ": "
        else:
            value, head = item, ""
        lines = expr_lines(value, indent + 2, head)
        lines[0] = pad + lines[0]
        lines[-1] += comma
        out.extend(lines)
    out.append(" " * indent + ("}" if isinstance(e, ir.ObjectExpr) else "]"))
    return out


# --- JSON values (options, patterns, metadata) ------------------------------------------------------


def json_compact(v: Any) -> str:
    """A JSON value on one line: ``{"a": [1, "x"]}``; strings with JSON escapes."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise Inexpressible("value", f"{v} is not a JSON number")
        return repr(v)
    if isinstance(v, str):
        return string_literal(v)
    if isinstance(v, (dict, ir.FrozenMap)):
        items = v.items if isinstance(v, ir.FrozenMap) else tuple(v.items())
        return "{" + ", ".join(f"{string_literal(str(k))}: {json_compact(x)}" for k, x in items) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(json_compact(x) for x in v) + "]"
    raise Inexpressible("value", f"{type(v).__name__} is not a JSON value")


def json_lines(v: Any, indent: int, lead: str) -> list[str]:
    """``lead`` + a JSON value, objects and lists broken one item per line when too long."""
    one = lead + json_compact(v)
    if indent + len(one) <= WIDTH or not isinstance(v, (dict, ir.FrozenMap, list, tuple)) or not v:
        return [one]
    is_obj = isinstance(v, (dict, ir.FrozenMap))
    items: list[tuple[str, Any]]
    if isinstance(v, ir.FrozenMap):
        items = [(string_literal(k) + ": ", x) for k, x in v.items]
    elif isinstance(v, dict):
        items = [(string_literal(str(k)) + ": ", x) for k, x in v.items()]
    else:
        items = [("", x) for x in v]
    pad = " " * (indent + 2)
    out = [lead + ("{" if is_obj else "[")]
    for i, (head, x) in enumerate(items):
        lines = json_lines(x, indent + 2, head)
        lines[0] = pad + lines[0]
        if i < len(items) - 1:
            lines[-1] += ","
        out.extend(lines)
    out.append(" " * indent + ("}" if is_obj else "]"))
    return out
