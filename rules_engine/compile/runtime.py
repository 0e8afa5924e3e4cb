"""Run-time helpers of compiled rule sets: reading event values and exact per-value tests.

Position in the pipeline::

    codegen ──▶ generated match(event) ──calls──▶ **runtime** (slow paths, leaves, predicates)

The generated code handles the common shape inline (objects all the way down,
one scalar at the end); everything else comes here.  Every test defers to the
reference leaf predicates (``eval_pattern.value_matches``, ``eval_expr.compare``
and friends), so semantics live in one place.

Value of an EventBridge name, as the generated code holds it::

    MISSING      no leaf value at the name      {"a": {}}       for "a.b"
    a scalar     exactly one, reached through objects only      {"a": {"b": 1}}
    Vals         several, or any through an array               {"a": [{"b": 1}, {"b": 2}]}

Per-event memo ``m`` (a plain dict, created only when a candidate needs
checking): ``pid -> bool`` for atoms, negative keys for values read
(``-1 - 2*i`` EventBridge name ``i``, ``-2 - 2*j`` expression path ``j``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .. import ir
from ..eval_expr import cidr_test, compare, member, string_test, truth
from ..eval_pattern import ip_value, looks_like_ip, match_pattern, value_matches
from ..values import MISSING, get_path

Probe = Callable[[Any, list[int]], None]
Pred = Callable[[Any, dict[int, Any]], bool]


class Unusual:
    """The sentinel for "the fast path cannot tell": an array, a non-dict mapping on the way."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNUSUAL"


UNUSUAL: Final = Unusual()
_UNSET: Final = object()
SCALARS: Final = frozenset({str, int, float, bool, type(None)})


class Vals(list[Any]):
    """Several leaf values of one EventBridge name; ``arrays``: some came through an array."""

    __slots__ = ("arrays",)

    def __init__(self, items: list[Any], arrays: bool) -> None:
        super().__init__(items)
        self.arrays = arrays


EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
"""An absent object on the way to a key: ``.get`` works on it and finds nothing."""


def step(node: Any, key: str, default: Any) -> Any:
    """One key below ``node`` when the fast ``.get`` chain failed (some node has no ``.get``).

    Below an array or UNUSUAL: UNUSUAL (arrays are transparent to EventBridge
    names, and not walked by expression paths: the slow paths decide); below
    a scalar or nothing: ``default`` (EMPTY on the way, MISSING at a leaf).
    """
    if node is UNUSUAL or isinstance(node, (list, tuple)):
        return UNUSUAL
    if isinstance(node, Mapping):
        return node.get(key, default)
    return default


def eb_values(event: Any, name: str) -> Any:
    """All leaf values at the dotted ``name`` (MISSING, a scalar, or :class:`Vals`).

    The same walk as ``eval_pattern.field_values`` (keys holding dots included,
    arrays transparent, objects are not values) without the memberships: it
    only records whether an array was crossed.  Exact type tests go first
    (``isinstance`` against ``Mapping`` is slow); subclasses take the long way.
    """
    found: list[Any] = []
    arrays = False
    stack: list[tuple[Any, str | None]] = [(event, name)]
    pop, push = stack.pop, stack.append
    while stack:
        node, rest = pop()
        t = type(node)
        if t is list or t is tuple or (t is not dict and t not in SCALARS and isinstance(node, (list, tuple))):
            arrays = True
            if rest is None:
                for x in node:
                    if type(x) in SCALARS:
                        found.append(x)
                    else:
                        push((x, None))
            elif "." not in rest:  # an array of objects holding the last key: read them in place
                for x in node:
                    if type(x) is dict:
                        y = x.get(rest, _UNSET)
                        if y is _UNSET:
                            continue
                        if type(y) in SCALARS:
                            found.append(y)
                        else:
                            push((y, None))
                    else:
                        push((x, rest))
            else:
                for x in node:
                    push((x, rest))
        elif rest is None:
            if t in SCALARS or (t is not dict and not isinstance(node, Mapping)):
                found.append(node)
        elif t is dict or (t not in SCALARS and isinstance(node, Mapping)):
            if "." not in rest:  # one key can continue the name: the common case
                x = node.get(rest, _UNSET) if t is dict else (node[rest] if rest in node else _UNSET)
                if x is _UNSET:
                    continue
                if type(x) in SCALARS:
                    found.append(x)
                else:
                    push((x, None))
                continue
            cut = len(rest)
            while cut != -1:
                key = rest[:cut]
                if key in node:
                    push((node[key], rest[cut + 1 :] if cut < len(rest) else None))
                cut = rest.rfind(".", 0, cut)
    if not found:
        return MISSING
    if len(found) == 1 and not arrays:
        return found[0]
    return Vals(found, arrays)


def ip_key(text: str) -> tuple[int, int] | None:
    """The address an IP-looking string stands for (exact IP patterns match any spelling)."""
    return ip_value(text) if looks_like_ip(text) else None


def matcher_leaf(m: ir.Matcher) -> Callable[[Any], bool]:
    def leaf(x: Any) -> bool:
        return value_matches(m, x)

    return leaf


def inner_leaf(m: ir.Matcher) -> Callable[[Any], bool]:
    """Does one value match a matcher inside ``anything-but`` (no IP spelling rule there)?"""

    def leaf(x: Any) -> bool:
        return value_matches(m, x, ip_exact=False)

    return leaf


def field_leaf(matchers: tuple[ir.Matcher, ...]) -> Callable[[Any], bool]:
    """Does one value satisfy the field (exists matchers aside)?"""
    others = tuple(m for m in matchers if not isinstance(m, ir.MExists))
    present = any(isinstance(m, ir.MExists) and m.present for m in matchers)

    def leaf(x: Any) -> bool:
        return present or any(value_matches(m, x) for m in others)

    return leaf


def value_leaf(op: str, operand: Any) -> Callable[[Any], bool]:
    """The exact test of an expression atom on the single value ``v`` (MISSING when absent)."""
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return lambda v: compare(op, v, operand)
    if op in ("in", "not in"):
        items = list(operand)
        negated = op == "not in"
        return lambda v: member(v, items, negated)
    if op == "exists":
        return lambda v: v is not MISSING
    if op in ("cidr", "not cidr"):
        negated = op == "not cidr"
        return lambda v: cidr_test(v, operand, negated)
    return lambda v: string_test(op, v, operand)


# --- predicates used when a candidate is checked ------------------------------------------------


def field_pred(key: int, name: str, matchers: tuple[ir.Matcher, ...]) -> Pred:
    missing_ok = any(isinstance(m, ir.MExists) and not m.present for m in matchers)
    leaf = field_leaf(matchers)

    def pred(ev: Any, m: dict[int, Any]) -> bool:
        v = m.get(key, _UNSET)
        if v is _UNSET:
            v = m[key] = eb_values(ev, name)
        if v is MISSING:
            return missing_ok
        if type(v) is Vals:
            return any(leaf(x) for x in v)
        return leaf(v)

    return pred


def value_pred(key: int, path: ir.Path, op: str, operand: Any) -> Pred:
    leaf = value_leaf(op, operand)

    def pred(ev: Any, m: dict[int, Any]) -> bool:
        v = m.get(key, _UNSET)
        if v is _UNSET:
            v = m[key] = get_path(ev, path)
        return leaf(v)

    return pred


def expr_pred(node: ir.Expr) -> Pred:
    """An opaque expression: compiled by ``expr_codegen`` when present, else evaluated by ``eval_expr``."""
    fn: Callable[[Any], bool] | None = None
    try:
        from . import expr_codegen  # type: ignore[attr-defined,unused-ignore]

        fn = expr_codegen.compile_predicate(node)
    except Exception:  # not written yet, or cannot compile this node: the reference is exact
        fn = None
    if fn is not None:
        compiled = fn
        return lambda ev, m: compiled(ev) is True
    return lambda ev, m: truth(node, ev)


def cel_pred(text: str) -> tuple[Pred, bool]:
    """A CEL filter as compiled Python (``compile_cel``); the flag tells a cel-python fallback."""
    from .cel_codegen import compile_cel

    compiled = compile_cel(text)
    fn = compiled.predicate
    return (lambda ev, m: fn(ev) is True), compiled.is_fallback


def consistent(ev: Any, m: dict[int, Any], pattern: ir.EventPattern, keys: tuple[tuple[int, str], ...]) -> bool:
    """Array consistency of a pattern whose fields each hold (see ``FPattern``).

    Only names whose values came through arrays can disagree on an element;
    with fewer than two of those the verdict stands, else the reference decides.
    """
    through = 0
    for key, name in keys:
        v = m.get(key, _UNSET)
        if v is _UNSET:
            v = m[key] = eb_values(ev, name)
        if type(v) is Vals and v.arrays:
            through += 1
            if through > 1:
                return match_pattern(pattern, ev)
    return True


def memo(m: dict[int, Any], pid: int, fn: Pred, ev: Any) -> bool:
    r = m.get(pid)
    if r is None:
        r = m[pid] = fn(ev, m)
    return bool(r)


def generic_probe(atoms: tuple[tuple[Callable[[Any], bool], tuple[int, ...]], ...], x: Any, h: list[int]) -> None:
    """Index probe for a value of a type the generated code does not special-case."""
    for leaf, rules in atoms:
        if leaf(x):
            h += rules


__all__ = [
    "MISSING",
    "SCALARS",
    "UNUSUAL",
    "Vals",
    "cel_pred",
    "EMPTY",
    "step",
    "consistent",
    "eb_values",
    "expr_pred",
    "field_leaf",
    "field_pred",
    "generic_probe",
    "inner_leaf",
    "get_path",
    "ip_key",
    "matcher_leaf",
    "memo",
    "value_leaf",
    "value_pred",
]
