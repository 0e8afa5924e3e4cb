"""Static facts about an expression, no evaluation: its children and a ``like`` pattern's pieces.

Position: beside the evaluator (``evaluate.py``), below everything that walks
expressions without running them: the checker (``check.py``), transforms
(``route/transform.py``), the compiler.  EventBridge's ``wildcard`` uses the same
splitter (lenient about backslashes), so there is one reading of ``*``.
"""

from __future__ import annotations

import functools

from rules_engine.model import ir

__all__ = ["children", "parse_wildcard", "split_wildcard"]


def split_wildcard(pattern: str, *, strict: bool) -> tuple[str, ...] | None:
    """A ``*`` pattern as its literal pieces between stars: ``"a*b\\*c"`` -> ``("a", "b*c")``.

    ``\\*`` is a literal star and ``\\\\`` a literal backslash.  Any other backslash
    is invalid when ``strict`` (the expression language's ``like``: ``None``) and
    itself otherwise (EventBridge's ``wildcard``, whose syntax patterns/lower.py checks).
    """
    pieces: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern) and pattern[i + 1] in "*\\":
                cur.append(pattern[i + 1])
                i += 2
                continue
            if strict:
                return None
        if c == "*":
            pieces.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    pieces.append("".join(cur))
    return tuple(pieces)


@functools.lru_cache(maxsize=256)
def parse_wildcard(pattern: str) -> tuple[str, ...] | None:
    """A ``like`` pattern as its literal pieces between ``*`` (``None`` when invalid)."""
    return split_wildcard(pattern, strict=True)


def children(e: ir.Expr) -> tuple[ir.Expr, ...]:
    """The direct sub-expressions of ``e``, in source order."""
    if isinstance(e, (ir.ListExpr, ir.And, ir.Or)):
        return e.items
    if isinstance(e, ir.ObjectExpr):
        return tuple(x for _, x in e.items)
    if isinstance(e, ir.Unary):
        return (e.operand,)
    if isinstance(e, (ir.Arith, ir.Compare, ir.StringTest)):
        return (e.left, e.right)
    if isinstance(e, ir.In):
        return (e.item, e.collection)
    if isinstance(e, ir.Exists):
        return (e.field,)
    if isinstance(e, ir.CidrTest):
        return (e.item,)
    if isinstance(e, ir.Call):
        return e.args
    if isinstance(e, ir.Quantifier):
        return (e.collection, e.predicate)
    if isinstance(e, ir.Conditional):
        return (e.cond, e.then, e.otherwise)
    if isinstance(e, ir.Template):
        return tuple(p for p in e.parts if not isinstance(p, str))
    return ()
