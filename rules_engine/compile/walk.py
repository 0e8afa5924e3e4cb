"""Reading an event's values where the generated code's fast path cannot: arrays, keys with dots.

Position in the pipeline::

    generated match(event) ──fast .get chain──▶ one scalar per name       (the common shape, inline)
                           └─▶ **walk** ──────▶ MISSING, a scalar or Vals  (arrays, dotted keys, odd types)

An EventBridge name (``geometry.coordinates.x``) names every leaf value found
by following its keys, arrays being transparent at every level, and a key
holding dots standing for several segments.  :func:`eb_values` is that walk,
the one semantics; :func:`eb_below` starts it below the objects the fast path
already read.  The values' order is not part of the answer: every consumer
asks whether *some* value satisfies a test.

Pure functions of their arguments; no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from rules_engine.model.values import MISSING


class Unusual:
    """The sentinel for "the fast path cannot tell": an array, a non-dict mapping on the way."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNUSUAL"


UNUSUAL: Final = Unusual()
_UNSET: Final = object()
UNSET: Final = _UNSET
"""A memo entry meaning "not read yet" (the generated code seeds it when the fast path cannot tell)."""
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


def eb_below(event: Any, name: str, rests: tuple[str, ...], nodes: tuple[Any, ...]) -> Any:
    """:func:`eb_values`, starting below the objects the fast path already read.

    ``nodes`` are the values the generated code found at each key of the name
    (no key on the way holds a dot: the caller checked).  The walk starts at
    the first array on the way, with the rest of the name::

        {"geometry": {"coordinates": [[{"x": 1}, ...]]}}, "geometry.coordinates.x"
        -> eb_values([[{"x": 1}, ...]], "x")
    """
    for j, node in enumerate(nodes):
        if node is UNUSUAL:
            return eb_values(nodes[j - 1] if j else event, rests[j])
    last = nodes[-1]
    if type(last) is list or type(last) is tuple:
        return eb_values(last, None)
    return eb_values(event, name)


def eb_values(event: Any, name: str | None) -> Any:
    """All leaf values at the dotted ``name`` (MISSING, a scalar, or :class:`Vals`).

    The same walk as ``patterns.evaluate.field_values`` (keys holding dots included,
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
                x = node.get(rest, _UNSET)
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

