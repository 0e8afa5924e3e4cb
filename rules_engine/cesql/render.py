"""CESQL tree → canonical CESQL text: the debug printer of the dialect, and the key under which
the compiled engine shares a CESQL part between rules.

Where it sits: beside :mod:`.parse`; ``parse(render(tree))`` gives ``tree`` back (tested with
hypothesis), for every tree the parser builds.  Keywords and function names upper case,
attributes lower case, strings single-quoted, an operand parenthesised whenever it is not an
atom, so the text never depends on precedence.
"""

from __future__ import annotations

from rules_engine.cesql import ast
from rules_engine.cesql.values import render as render_value


def _string(s: str) -> str:
    if "'" not in s and not s.endswith("\\"):
        return "'" + s + "'"
    if '"' not in s and not s.endswith("\\"):
        return '"' + s + '"'
    return "'" + s.replace("'", "\\'") + "'"


def _atomic(e: ast.Expr) -> bool:
    return isinstance(e, (ast.Attribute, ast.Exists, ast.Call)) or (
        isinstance(e, ast.Literal) and not (type(e.value) is int and e.value < 0))


def _operand(e: ast.Expr) -> str:
    text = render(e)
    return text if _atomic(e) else f"({text})"


def render(e: ast.Expr) -> str:
    if isinstance(e, ast.Literal):
        return _string(e.value) if isinstance(e.value, str) else render_value(e.value).upper() \
            if isinstance(e.value, bool) else render_value(e.value)
    if isinstance(e, ast.Attribute):
        return e.name
    if isinstance(e, ast.Exists):
        return f"EXISTS {e.name}"
    if isinstance(e, ast.Not):
        return f"NOT {_operand(e.operand)}"
    if isinstance(e, ast.Negate):
        inner = render(e.operand)
        return f"-{inner}" if _atomic(e.operand) or inner.startswith("-") else f"-({inner})"
    if isinstance(e, ast.Binary):
        return f"{_operand(e.left)} {e.op} {_operand(e.right)}"
    if isinstance(e, ast.Like):
        return f"{_operand(e.operand)} {'NOT LIKE' if e.negated else 'LIKE'} {_string(e.pattern)}"
    if isinstance(e, ast.In):
        items = ", ".join(render(i) for i in e.items)
        return f"{_operand(e.operand)} {'NOT IN' if e.negated else 'IN'} ({items})"
    return f"{e.name}({', '.join(render(a) for a in e.args)})"
