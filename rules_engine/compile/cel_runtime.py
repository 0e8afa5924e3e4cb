"""CEL compiled, run time: the helpers that generated CEL code calls while it reads an event.

Position in the pipeline::

    cel_translate ──emits──▶ def _cel(ev): ...   (exec'd in a copy of RUNTIME)
                                   │ slow paths, calls, macros
                                   ▼
                             this module ──▶ cel-python's own operators and functions

The generated code inlines the common cases; everything else comes here and
is decided by the very function cel-python's evaluator calls, with the same
exception handling as the evaluator's tree node.  Invariants:

* a helper returns a compiled value (cel_values), never a cel-python one;
* an exception cel-python's evaluator would turn into an error value becomes
  a ``CELEvalError`` value; one it lets escape escapes here too;
* where the answer cannot be promised, :class:`~.cel_values.Unsure` is raised
  and the caller asks cel-python for that event.

``RUNTIME`` is the namespace the generated code runs in: its keys are the
names the translator writes into the source.  It is never mutated (each
translation copies it).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import re2  # type: ignore[import-untyped]
from celpy import celtypes
from celpy.evaluation import (
    CELEvalError,
    base_functions,
    bool_eq,
    bool_ge,
    bool_gt,
    bool_le,
    bool_lt,
    bool_ne,
    operator_in,
)
from lark import Tree

from rules_engine.compile.cel_values import (
    EQ_TYPES,
    INT64_MAX,
    INT64_MIN,
    NONE_TYPE,
    Opaque,
    Raised,
    RawFloat,
    RawInt,
    RawList,
    RawStr,
    Uint,
    Unsure,
    big_json_int,
    from_celpy,
    to_celpy,
)

__all__ = ["RUNTIME", "searcher"]

_MISS: Final = object()
# Values that are certainly not maps (field selection on them is an error, not a question).
_NOT_MAPS: Final = frozenset({list, str, int, float, bool, NONE_TYPE, Uint, RawInt, RawFloat, RawStr, RawList})
_NOT_ITERABLE: Final = frozenset({int, float, bool, NONE_TYPE, Uint, RawInt, RawFloat})

# --- slow paths: cel-python's own operations -------------------------------------------------------------

_MESSAGES: Final = {
    TypeError: "no such overload",
    AttributeError: "no such overload",
    ValueError: "return error for overflow",
    OverflowError: "return error for overflow",
    ZeroDivisionError: "modulus or divide by zero",
    KeyError: "no such key",
    IndexError: "invalid_argument",
}
# The exceptions each kind of tree node of cel-python's evaluator turns into error values;
# any other exception escapes the evaluation (and a filter is then false).
_REL: Final = (TypeError,)
_ADD: Final = (TypeError, ValueError, OverflowError)
_MUL: Final = (TypeError, ZeroDivisionError, ValueError, OverflowError)
_UNARY: Final = (TypeError, ValueError)
_CALL: Final = (ValueError, TypeError, AttributeError)
_INDEX: Final = (TypeError, KeyError, IndexError)


def _err(ex: BaseException, tree: Tree[Any] | None = None) -> CELEvalError:
    # ``tree`` is the parse-tree node cel-python's evaluator attaches to the error it makes
    # there: repr() of the error dumps that tree, and cel-python's tree dumper fails on some
    # trees (empty [] and {} literals), which turns a later ``err || err`` into an abort.
    return CELEvalError(_MESSAGES.get(type(ex), "no such overload"), type(ex), ex.args, tree=tree)


def _slow2(
    fn: Callable[[Any, Any], Any], a: Any, b: Any, catch: tuple[type[BaseException], ...],
    tree: Tree[Any] | None = None,
) -> Any:
    ca, cb = to_celpy(a), to_celpy(b)
    try:
        r = fn(ca, cb)
    except catch as ex:
        return _err(ex, tree)
    return from_celpy(r)


def _slow1(fn: Callable[[Any], Any], a: Any, tree: Tree[Any] | None = None) -> Any:
    ca = to_celpy(a)
    try:
        r = fn(ca)
    except _UNARY as ex:
        return _err(ex, tree)
    return from_celpy(r)


def _logic(fn: Callable[[Any, Any], Any], a: Any, b: Any, tree: Tree[Any] | None) -> Any:
    """``||``/``&&`` when neither side is a bool: cel-python's own operator decides (error or abort)."""
    return _slow2(fn, a, b, _REL, tree)


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """A function or method call: the first error argument wins, else cel-python's function."""
    for a in args:
        if type(a) is CELEvalError:
            return a
    cargs = [to_celpy(a) for a in args]
    try:
        r = fn(*cargs)
    except _CALL as ex:
        return _err(ex)
    return from_celpy(r)


def _dot(m: Any, name: str, tree: Tree[Any] | None = None) -> Any:
    """``m.name`` when ``m`` is not a dict (the dict case is inline)."""
    t = type(m)
    if t is CELEvalError:
        return m
    if t in _NOT_MAPS or (t is Opaque and not isinstance(m.value, (celtypes.MapType, Mapping))):
        return CELEvalError(f"{t.__name__} does not support field selection", TypeError, None, tree=tree)
    if t is dict:
        v = m.get(name, _MISS)
        if v is _MISS:
            return CELEvalError(f"no such member in mapping: {name!r}", KeyError, None, tree=tree)
        return v
    raise Unsure(t.__name__)  # a non-dict mapping in the event, a map with odd keys


def _members(m: Any) -> Iterable[Any]:
    """What a macro iterates: list elements, map keys, string characters (as cel-python does)."""
    t = type(m)
    if t is list or t is RawList:
        return m  # type: ignore[no-any-return]
    if t is dict:
        return list(m)
    if t is str or t is RawStr:
        return [RawStr(c) for c in m]
    if t in _NOT_ITERABLE:
        # cel-python calls map()/iter() on it and the TypeError escapes its evaluator.
        raise TypeError(f"'{t.__name__}' object is not iterable")
    raise Unsure(t.__name__)


def _py_eq(a: Any, b: Any) -> bool:
    """Python's ``a == b`` on the cel-python values (raises TypeError where cel-python's types do)."""
    return bool(to_celpy(a) == to_celpy(b))


def _in(a: Any, b: Any) -> Any:
    """``a in b`` (cel-python's operator_in: a failed comparison is remembered, not final)."""
    ta = type(a)
    if type(b) is list and ta in EQ_TYPES:
        failed: TypeError | None = None
        for c in b:
            if type(c) is int and (c > INT64_MAX or c < INT64_MIN):
                c = big_json_int(c)
            if type(c) is ta:
                if c == a:
                    return True
                continue
            try:
                if _py_eq(c, a):
                    return True
            except TypeError as ex:
                failed = ex
        return False if failed is None else _err(failed)
    return _slow2(operator_in, a, b, _REL)


def _list_contains(c: Any, x: Any) -> Any:
    """``c.contains(x)`` on a list: Python's ``x in list`` (identity first; a failed comparison ends it)."""
    if type(x) is CELEvalError:
        return x
    tx = type(x)
    for el in c:
        if type(el) is int and (el > INT64_MAX or el < INT64_MIN):
            el = big_json_int(el)
        if el is x:
            return True
        try:
            if (el == x) if (type(el) is tx and tx in EQ_TYPES) else _py_eq(el, x):
                return True
        except TypeError as ex:
            return _err(ex)
    return False


def searcher(pattern: str) -> Callable[[str], Any]:
    """``re2.search(pattern, text) is not None`` for a valid literal pattern, compiled once.

    Same engine and options as cel-python's ``matches()``; where google-re2's
    low-level matcher is available it is called directly (its Python wrapper
    costs ten times the match).  Text that is not UTF-8 encodable is an error
    value, as in cel-python.
    """
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True  # only whether it matches is asked
    rx = re2.compile(pattern, options)
    raw = getattr(rx, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    null = getattr(re2, "_NULL_SPAN", None)
    if raw is None or anchor is None or null is None or not hasattr(raw, "Match"):

        def search_public(text: str) -> Any:
            try:
                return rx.search(text) is not None
            except ValueError as ex:
                return _err(ex)

        return search_public

    match = raw.Match

    def search(text: str) -> Any:
        try:
            data = text.encode("utf-8")
        except ValueError as ex:
            return _err(ex)
        return match(anchor, data, 0, len(data))[0] != null

    return search


def _list_lit(items: tuple[Any, ...]) -> Any:
    for v in items:
        if type(v) is CELEvalError:
            return v
    return list(items)


def _as_dict(ev: Any) -> dict[str, Any]:
    if isinstance(ev, Mapping):
        return dict(ev)
    raise Unsure(type(ev).__name__)


RUNTIME: Final[dict[str, Any]] = {
    "CELEvalError": CELEvalError,
    "_MISS": _MISS,
    "_big": big_json_int,
    "_slow2": _slow2,
    "_slow1": _slow1,
    "_logic": _logic,
    "_op_or": celtypes.logical_or,
    "_op_and": celtypes.logical_and,
    "_call": _call,
    "_dot": _dot,
    "_members": _members,
    "_in": _in,
    "_list_contains": _list_contains,
    "_list_lit": _list_lit,
    "_as_dict": _as_dict,
    "_Raised": Raised,
    "_Unsure": Unsure,
    "_RawFloat": RawFloat,
    "_RawStr": RawStr,
    "_RawList": RawList,
    "_INF": float("inf"),
    "_FLOATS": frozenset({float, RawFloat}),
    "_NUMS": frozenset({float, RawFloat, int}),
    "_REL": _REL,
    "_ADD": _ADD,
    "_MUL": _MUL,
    "_INDEX": _INDEX,
    "_TYPE_FN": Opaque(base_functions["type"]),
    "_op_add": operator.add,
    "_op_sub": operator.sub,
    "_op_mul": operator.mul,
    "_op_div": operator.truediv,
    "_op_mod": operator.mod,
    "_op_neg": operator.neg,
    "_op_getitem": operator.getitem,
    "_op_not": base_functions["!_"],
    "_op_in": operator_in,
    "_rel_eq": bool_eq,
    "_rel_ne": bool_ne,
    "_rel_lt": bool_lt,
    "_rel_le": bool_le,
    "_rel_gt": bool_gt,
    "_rel_ge": bool_ge,
}
