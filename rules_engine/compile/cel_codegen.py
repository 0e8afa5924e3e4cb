"""CEL compiled: a CEL filter translated once into a plain Python function.

Position in the pipeline::

    ir.Cel(source) ──compile_cel──▶ CompiledCel.predicate(event) -> bool     (compiled rule set)
                        │
                        └─ any construct not translated: cel.CelProgram (cel-python) for that expression

The translation walks cel-python's own parse tree (``cel.parse_cel``) and
emits Python source, compiled once with :func:`compile`.  The contract is
*exactly cel-python's verdict*, quirks included (docs/cel.md): errors are
values that ``||``/``&&`` absorb, ``1.5 + 1`` is a plain Python float that
compares with an ``int`` although ``1.5 == 1`` is an error, ``true == 1`` holds
but ``1 == true`` is an error, and so on.

How exactness is kept without re-deriving every rule:

* **Values** in compiled code mirror cel-python's run-time values one to one
  (table below), so any value can be converted to cel-python's and back.
* **Fast paths** are emitted inline for the common, simple cases (same-type
  scalar comparison, int arithmetic with int64 overflow, field access on
  dicts, ``str`` methods) whose semantics are verified by the differential
  tests in ``tests/test_cel_codegen.py``.
* **Everything else** converts the operands to cel-python values and calls
  the very function cel-python's evaluator calls, with the same exception
  handling as the evaluator's tree node (``_slow2``, ``_call``).  A few cases
  are beyond that (an error stored inside a map literal, values that are not
  JSON): the compiled code raises :class:`Unsure` and cel-python evaluates that
  event.

Value representation (compiled ↔ cel-python)::

    bool ↔ BoolType   int ↔ IntType     float ↔ DoubleType   str ↔ StringType
    None ↔ None       list ↔ ListType   dict (str keys) ↔ MapType
    Uint ↔ UintType   RawInt/RawFloat/RawStr/RawList ↔ plain int/float/str/list
    CELEvalError ↔ CELEvalError (errors are values)      Opaque(x) ↔ x (bytes, types, …)

An event is read lazily: a value is taken from the event dict only where the
expression looks, and a JSON integer outside int64 becomes a double there, as
``cel.to_cel`` does for the reference.
"""

from __future__ import annotations

import keyword
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import re2  # type: ignore[import-untyped]
from celpy import celtypes
from celpy.adapter import CELJSONEncoder
from celpy.evaluation import (
    CELEvalError,
    base_functions,
    bool_eq,
    bool_ge,
    bool_gt,
    bool_le,
    bool_lt,
    bool_ne,
    celbytes,
    celstr,
    operator_in,
)
from lark import Token, Tree

from ..cel import (
    ENVELOPE,
    MACROS,
    CelProgram,
    error_text,
    json_number,
    parse_cel,
    regex_problem,
    simple_ident,
)

__all__ = ["CelFailure", "CompiledCel", "compile_cel", "compile_cel_value"]

_MIN: Final = -(2**63)
_MAX: Final = 2**63 - 1


# --- the value domain ---------------------------------------------------------------------------------


class Uint(int):
    """A CEL ``uint`` (cel-python's UintType)."""

    __slots__ = ()


class RawInt(int):
    """A plain Python int produced by cel-python (``true + 1``); not a CEL ``int``."""

    __slots__ = ()


class RawFloat(float):
    """A plain Python float produced by cel-python (``1.5 + 1``, ``a * b``); compares with ints."""

    __slots__ = ()


class RawStr(str):
    """A plain Python str produced by cel-python (``"a" + "b"``, ``"abc"[0]``); has no ``contains()``."""

    __slots__ = ()


class RawList(list[Any]):
    """A plain Python list produced by cel-python (``[1] + [2]``); orders like a Python list."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, eq=False)
class Opaque:
    """Any other cel-python value (bytes, timestamps, types, maps with non-string keys)."""

    value: Any

    def __bool__(self) -> bool:
        return bool(self.value)


class Unsure(Exception):
    """Compiled code cannot promise cel-python's answer here: ask cel-python for this event."""


class Raised(Exception):
    """cel-python *raises* this error (an error result in a ``map``/``filter``/``exists_one`` body)."""

    def __init__(self, err: CELEvalError) -> None:
        super().__init__(err)
        self.err = err


@dataclass(frozen=True, slots=True)
class CelFailure:
    """The result of :func:`compile_cel_value` when the CEL expression has no value."""

    message: str


_MISS: Final = object()
_NONE_T: Final = type(None)

_TO_CELPY: Final[dict[type, Callable[[Any], Any]]] = {
    bool: celtypes.BoolType,
    int: json_number,
    float: celtypes.DoubleType,
    str: celtypes.StringType,
    Uint: celtypes.UintType,
    RawInt: int,
    RawFloat: float,
    RawStr: str,
}
_FROM_CELPY: Final[dict[type, Callable[[Any], Any]]] = {
    celtypes.BoolType: bool,
    celtypes.IntType: int,
    celtypes.DoubleType: float,
    celtypes.StringType: str,
    celtypes.UintType: Uint,
    int: RawInt,
    float: RawFloat,
    str: RawStr,
}
# Values that are certainly not maps (field selection on them is an error, not a question).
_NOT_MAPS: Final = frozenset({list, str, int, float, bool, _NONE_T, Uint, RawInt, RawFloat, RawStr, RawList})
_NOT_ITERABLE: Final = frozenset({int, float, bool, _NONE_T, Uint, RawInt, RawFloat})
_EQ_TYPES: Final = frozenset({str, int, float, bool, _NONE_T})


def to_celpy(v: Any) -> Any:
    """Compiled value -> cel-python value.  Raises :class:`Unsure` for values cel-python never sees."""
    conv = _TO_CELPY.get(type(v))
    if conv is not None:
        return conv(v)
    if v is None:
        return None
    t = type(v)
    if t is list:
        return celtypes.ListType([to_celpy(x) for x in v])
    if t is dict:
        return celtypes.MapType({to_celpy(k): to_celpy(x) for k, x in v.items()})
    if t is CELEvalError:
        return v
    if t is Opaque:
        return v.value
    if t is RawList:
        return [to_celpy(x) for x in v]
    raise Unsure(t.__name__)


def from_celpy(v: Any) -> Any:
    """cel-python value -> compiled value (the inverse of :func:`to_celpy`)."""
    conv = _FROM_CELPY.get(type(v))
    if conv is not None:
        return conv(v)
    if v is None:
        return None
    t = type(v)
    if t is celtypes.ListType:
        return [from_celpy(x) for x in v]
    if t is celtypes.MapType and all(type(k) is celtypes.StringType for k in v):
        return {str(k): from_celpy(x) for k, x in v.items()}
    if t is CELEvalError:
        return v
    if t is list:
        return RawList(from_celpy(x) for x in v)
    return Opaque(v)


def _big(v: int) -> Any:
    """A JSON integer outside int64, read from the event: a double (see cel.json_number)."""
    return from_celpy(json_number(v))


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
    if type(b) is list and ta in _EQ_TYPES:
        failed: TypeError | None = None
        for c in b:
            if type(c) is int and (c > _MAX or c < _MIN):
                c = _big(c)
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
        if type(el) is int and (el > _MAX or el < _MIN):
            el = _big(el)
        if el is x:
            return True
        try:
            if (el == x) if (type(el) is tx and tx in _EQ_TYPES) else _py_eq(el, x):
                return True
        except TypeError as ex:
            return _err(ex)
    return False


def _searcher(pattern: str) -> Callable[[str], Any]:
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


_RUNTIME: Final[dict[str, Any]] = {
    "CELEvalError": CELEvalError,
    "_MISS": _MISS,
    "_big": _big,
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
# (left type, right type) pairs on which Python's operator on the compiled values gives
# cel-python's answer (checked by tests/test_cel_codegen.py); all others take the slow path.
# Same-type scalars compare by value; a double orders against an int but is not == to it;
# plain floats (RawFloat) compare with ints and doubles both ways round except int-first.
_NUMERIC_MIXED: Final = frozenset(
    {(RawFloat, float), (RawFloat, int), (RawFloat, RawFloat), (float, RawFloat)}
)
_STRINGS_MIXED: Final = frozenset({(RawStr, str), (str, RawStr), (RawStr, RawStr)})
_EQ_PAIRS: Final = frozenset((t, t) for t in _EQ_TYPES) | _NUMERIC_MIXED | _STRINGS_MIXED
_ORD_PAIRS: Final = (
    frozenset((t, t) for t in (str, int, float, bool)) | {(float, int)} | _NUMERIC_MIXED | _STRINGS_MIXED
)
_NORMALISE: Final = "if type({v}) is int and ({v} > {max} or {v} < {min}): {v} = _big({v})"


# --- the translator -------------------------------------------------------------------------------------


class _Fallback(Exception):
    """A construct the translator leaves to cel-python (the whole expression falls back)."""


_PASS: Final = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary",
     "member", "primary", "paren_expr"}
)
_RELATIONS: Final = {
    "relation_eq": ("==", "_rel_eq"), "relation_ne": ("!=", "_rel_ne"), "relation_lt": ("<", "_rel_lt"),
    "relation_le": ("<=", "_rel_le"), "relation_gt": (">", "_rel_gt"), "relation_ge": (">=", "_rel_ge"),
}
_NOCONST: Final = object()


@dataclass(slots=True)
class _Val:
    """A translated sub-expression: Python code naming its value, the event path it is, its constant."""

    code: str
    path: tuple[str, ...] | None = None
    const: Any = _NOCONST


def _tuple(codes: list[str]) -> str:
    """Python source of a tuple of these expressions."""
    return "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"


def _args(node: Any) -> list[Any]:
    if isinstance(node, Tree) and node.data == "exprlist":
        return list(node.children)
    return []


class _Gen:
    """Emits the body of ``def _cel(ev)``: one statement per node, values in numbered locals.

    Evaluation order and completeness follow cel-python's evaluator: both sides
    of ``||``/``&&`` are always evaluated (a crash on the right still ends the
    evaluation), only the chosen branch of ``?:``, every element of a macro.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.ns: dict[str, Any] = dict(_RUNTIME)
        self.count = 0
        self.scopes: list[tuple[str, str]] = []
        self.fields: set[tuple[str, ...]] = set()
        # Variables read at the function's top level, reusable by every later statement.
        self.top_vars: dict[str, str] = {}

    # -- emission helpers --
    def new(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def const(self, value: Any) -> str:
        name = self.new("_k")
        self.ns[name] = value
        return name

    def error(self, message: str, exc: type[BaseException], node: Tree[Any] | None) -> str:
        """A constant error value as cel-python makes it at ``node`` (see _err on the tree)."""
        try:
            return self.const(CELEvalError(message, exc, None, tree=node))
        except AttributeError as ex:  # a node without positions: cel-python itself would fail there
            raise _Fallback("error without position") from ex

    def tree(self, node: Tree[Any]) -> str:
        return self.const(node)

    def lit(self, value: Any) -> str:
        t = type(value)
        if value is None or t is bool or t is str:
            return repr(value)
        if t is int or (t is float and math.isfinite(value)):
            return f"({value!r})"
        return self.const(value)

    def use(self, val: _Val) -> str:
        """The value is consumed whole: the event path it came from is read."""
        if val.path is not None:
            self.fields.add(val.path)
        return val.code

    def bind(self, code: str) -> str:
        """A local name for ``code`` (Python warns about subscripting a literal such as ``(1.5)[k]``)."""
        if code.isidentifier() and not keyword.iskeyword(code):
            return code
        v = self.new()
        self.emit(f"{v} = {code}")
        return v

    def normalise(self, v: str) -> None:
        self.emit(_NORMALISE.format(v=v, max=_MAX, min=_MIN))

    # -- dispatch --
    def node(self, n: Any) -> _Val:
        while isinstance(n, Tree) and n.data in _PASS and len(n.children) == 1:
            n = n.children[0]
        if not isinstance(n, Tree):
            raise _Fallback("token")
        method = getattr(self, "n_" + str(n.data), None)
        if method is None:
            raise _Fallback(str(n.data))
        result: _Val = method(n)
        return result

    # -- logic --
    def n_expr(self, n: Tree[Any]) -> _Val:
        if len(n.children) != 3:
            raise _Fallback("expr")
        c = self.use(self.node(n.children[0]))
        v = self.new()
        err = self.error("found no matching overload for _?_:_", TypeError, n)
        # cel-python evaluates the chosen branch inside its `except TypeError`: a TypeError that
        # aborts the branch (a macro over null) makes the conditional an error value instead.
        for head, branch in (f"if {c}:", n.children[1]), ("else:", n.children[2]):
            self.emit(head)
            self.depth += 1
            self.emit("try:")
            self.depth += 1
            self.emit(f"{v} = {self.use(self.node(branch))}")
            self.depth -= 1
            self.emit(f"except TypeError: {v} = {err}")
            self.depth -= 1
        # A non-bool condition still evaluates the branch its truthiness picks (an abort there counts).
        self.emit(f"if type({c}) is not bool: {v} = {err}")
        return _Val(v)

    def n_conditionalor(self, n: Tree[Any]) -> _Val:
        a = self.use(self.node(n.children[0]))
        b = self.use(self.node(n.children[1]))
        v = self.new()
        tree = self.tree(n)
        self.emit(
            f"{v} = (True if {a} else {b}) if type({a}) is bool else "
            f"((True if {b} else {a}) if type({b}) is bool else _logic(_op_or, {a}, {b}, {tree}))"
        )
        return _Val(v)

    def n_conditionaland(self, n: Tree[Any]) -> _Val:
        a = self.use(self.node(n.children[0]))
        b = self.use(self.node(n.children[1]))
        v = self.new()
        tree = self.tree(n)
        self.emit(
            f"{v} = ({b} if {a} else False) if type({a}) is bool else "
            f"(({a} if {b} else False) if type({b}) is bool else _logic(_op_and, {a}, {b}, {tree}))"
        )
        return _Val(v)

    # -- relations and arithmetic --
    def n_relation(self, n: Tree[Any]) -> _Val:
        op_tree, right = n.children
        kind = str(op_tree.data)
        left = self.node(op_tree.children[0])
        a = self.use(left)
        rv = self.node(right)
        b = self.use(rv)
        v = self.new()
        if kind == "relation_in":
            self.in_(v, a, rv, b)
            return _Val(v)
        py, fn = _RELATIONS[kind]
        slow = f"_slow2({fn}, {a}, {b}, _REL, {self.tree(n)})"
        pairs = _EQ_PAIRS if kind in ("relation_eq", "relation_ne") else _ORD_PAIRS
        const = rv.const
        if const is not _NOCONST and type(const) in (str, int, float, bool, _NONE_T):
            lefts = frozenset(left for left, right in pairs if right is type(const))
            if len(lefts) == 1:
                fast = f"type({a}) is {self.const(next(iter(lefts)))}"
            else:
                fast = f"type({a}) in {self.const(lefts)}"
            self.emit(f"{v} = ({a} {py} {b}) if {fast} else {slow}")
        else:
            self.emit(f"{v} = ({a} {py} {b}) if (type({a}), type({b})) in {self.const(pairs)} else {slow}")
        return _Val(v)

    def in_(self, v: str, a: str, rv: _Val, b: str) -> None:
        const = rv.const
        if type(const) is list and const and len({type(x) for x in const}) == 1 and type(const[0]) in (str, int):
            members = self.const(frozenset(const))
            self.emit(f"{v} = ({a} in {members}) if type({a}) is {type(const[0]).__name__} else _in({a}, {b})")
        else:
            self.emit(f"{v} = _in({a}, {b})")

    def n_addition(self, n: Tree[Any]) -> _Val:
        op_tree, right = n.children
        a = self.use(self.node(op_tree.children[0]))
        b = self.use(self.node(right))
        v = self.new()
        py, fn = ("+", "_op_add") if op_tree.data == "addition_add" else ("-", "_op_sub")
        self.int_op(v, a, b, f"{a} {py} {b}", n)
        self.emit(f"elif type({a}) in _FLOATS and type({b}) in _NUMS: {v} = _RawFloat({a} {py} {b})")
        if py == "+":
            self.emit(f"elif type({a}) is str and type({b}) is str: {v} = _RawStr({a} + {b})")
        self.emit(f"else: {v} = _slow2({fn}, {a}, {b}, _ADD, {self.tree(n)})")
        return _Val(v)

    def int_op(self, v: str, a: str, b: str, expr: str, n: Tree[Any]) -> None:
        overflow = self.error("return error for overflow", ValueError, n)
        self.emit(f"if type({a}) is int and type({b}) is int:")
        self.emit(f"    {v} = {expr}")
        self.emit(f"    if {v} > {_MAX} or {v} < {_MIN}: {v} = {overflow}")

    def n_multiplication(self, n: Tree[Any]) -> _Val:
        op_tree, right = n.children
        a = self.use(self.node(op_tree.children[0]))
        b = self.use(self.node(right))
        v = self.new()
        kind = op_tree.data
        zero = self.error("modulus or divide by zero", ZeroDivisionError, n)
        tree = self.tree(n)
        if kind == "multiplication_mul":
            self.int_op(v, a, b, f"{a} * {b}", n)
            self.emit(f"elif type({a}) in _FLOATS and type({b}) in _NUMS: {v} = _RawFloat({a} * {b})")
            self.emit(f"else: {v} = _slow2(_op_mul, {a}, {b}, _MUL, {tree})")
        elif kind == "multiplication_div":
            # Go-style division truncates toward zero; x / 0.0 is +inf whatever x is (cel-python).
            overflow = self.error("return error for overflow", ValueError, n)
            self.emit(f"if type({a}) is int and type({b}) is int:")
            self.emit(f"    if {b} == 0: {v} = {zero}")
            self.emit("    else:")
            self.emit(f"        {v} = abs({a}) // abs({b})")
            self.emit(f"        if ({a} < 0) != ({b} < 0): {v} = -{v}")
            self.emit(f"        if {v} > {_MAX}: {v} = {overflow}")
            self.emit(f"elif type({a}) is float and type({b}) is float: {v} = _INF if {b} == 0.0 else {a} / {b}")
            self.emit(f"else: {v} = _slow2(_op_div, {a}, {b}, _MUL, {tree})")
        else:
            self.emit(f"if type({a}) is int and type({b}) is int:")
            self.emit(f"    {v} = {zero} if {b} == 0 else (-(abs({a}) % abs({b})) if {a} < 0 else abs({a}) % abs({b}))")
            self.emit(f"else: {v} = _slow2(_op_mod, {a}, {b}, _MUL, {tree})")
        return _Val(v)

    def n_unary(self, n: Tree[Any]) -> _Val:
        op_tree, operand = n.children
        a = self.use(self.node(operand))
        v = self.new()
        if op_tree.data == "unary_not":
            self.emit(f"{v} = (not {a}) if type({a}) is bool else _slow1(_op_not, {a}, {self.tree(n)})")
        else:
            overflow = self.error("return error for overflow", ValueError, n)
            self.emit(
                f"{v} = ((-{a}) if {a} != {_MIN} else {overflow}) if type({a}) is int else "
                f"((-{a}) if type({a}) is float else _slow1(_op_neg, {a}, {self.tree(n)}))"
            )
        return _Val(v)

    # -- members --
    def n_member_dot(self, n: Tree[Any]) -> _Val:
        m = self.node(n.children[0])
        m.code = self.bind(m.code)
        name = str(n.children[1])
        v = self.new()
        missing = self.error(f"no such member in mapping: {name!r}", KeyError, n)
        self.emit(f"if type({m.code}) is dict:")
        self.emit(f"    {v} = {m.code}.get({name!r}, _MISS)")
        self.emit(f"    if {v} is _MISS: {v} = {missing}")
        self.emit("    " + _NORMALISE.format(v=v, max=_MAX, min=_MIN).replace("if ", "elif ", 1))
        self.emit(f"else: {v} = _dot({m.code}, {name!r}, {self.tree(n)})")
        return _Val(v, m.path + (name,) if m.path is not None else None)

    def n_member_index(self, n: Tree[Any]) -> _Val:
        m = self.node(n.children[0])
        m.code = self.bind(m.code)
        k = self.node(n.children[1])
        if m.path is not None and type(k.const) is str:
            path: tuple[str, ...] | None = m.path + (k.const,)
        else:
            self.use(m)
            path = None
        kc = self.use(k)
        v = self.new()
        nokey = self.error("no such key", KeyError, n)
        badindex = self.error("invalid_argument", IndexError, n)
        self.emit(f"if type({m.code}) is dict and type({kc}) is str:")
        self.emit(f"    {v} = {m.code}.get({kc}, _MISS)")
        self.emit(f"    if {v} is _MISS: {v} = {nokey}")
        self.emit(f"elif type({m.code}) is list and type({kc}) is int:")
        self.emit(f"    {v} = {m.code}[{kc}] if -len({m.code}) <= {kc} < len({m.code}) else {badindex}")
        self.emit(f"else: {v} = _slow2(_op_getitem, {m.code}, {kc}, _INDEX, {self.tree(n)})")
        self.normalise(v)
        return _Val(v, path)

    def n_member_dot_arg(self, n: Tree[Any]) -> _Val:
        member, name_tok = n.children[0], n.children[1]
        args = _args(n.children[2]) if len(n.children) > 2 else []
        name = str(name_tok)
        if name in MACROS:
            return self.macro(name, member, args)
        if name not in base_functions or not name.isidentifier():
            raise _Fallback(f"method {name}")
        obj = self.use(self.node(member))
        vals = [self.node(a) for a in args]
        if name == "matches" and len(vals) == 1:
            return self.matches([obj, self.use(vals[0])], vals[0].const)
        return self.call(name, [obj] + [self.use(x) for x in vals])

    def macro(self, name: str, member: Any, args: list[Any]) -> _Val:
        var = simple_ident(args[0]) if len(args) == 2 else None
        if var is None:
            raise _Fallback(f"macro {name}")
        m = self.use(self.node(member))
        v, x, r = self.new(), self.new("x"), self.new("r")
        self.emit(f"if type({m}) is CELEvalError: {v} = {m}")
        self.emit("else:")
        self.depth += 1
        start = {"exists": "False", "all": "True", "exists_one": "0"}.get(name, "[]")
        self.emit(f"{v} = {start}")
        self.emit(f"for {x} in _members({m}):")
        self.depth += 1
        self.normalise(x)
        short_circuit_errors = name in ("exists", "all")
        if short_circuit_errors:
            # exists()/all() keep an error raised inside the body as a value.
            self.emit("try:")
            self.depth += 1
        self.scopes.append((var, x))
        body = self.use(self.node(args[1]))
        self.scopes.pop()
        self.emit(f"{r} = {body}")
        if short_circuit_errors:
            self.depth -= 1
            self.emit(f"except _Raised as _e: {r} = _e.err")
            if name == "exists":
                self.emit(
                    f"{v} = (True if {v} else {r}) if type({v}) is bool else "
                    f"((True if {r} else {v}) if type({r}) is bool else _logic(_op_or, {v}, {r}, None))"
                )
            else:
                self.emit(
                    f"{v} = ({r} if {v} else False) if type({v}) is bool else "
                    f"(({v} if {r} else False) if type({r}) is bool else _logic(_op_and, {v}, {r}, None))"
                )
        else:
            self.emit(f"if type({r}) is CELEvalError: raise _Raised({r})")
            if name == "map":
                self.emit(f"{v}.append({r})")
            elif name == "filter":
                self.emit(f"if {r}: {v}.append({x})")
            else:
                self.emit(f"if {r}: {v} += 1")
        self.depth -= 1
        if name == "exists_one":
            self.emit(f"{v} = {v} == 1")
        self.depth -= 1
        return _Val(v)

    # -- calls --
    def n_ident_arg(self, n: Tree[Any]) -> _Val:
        name = str(n.children[0])
        args = _args(n.children[1]) if len(n.children) > 1 else []
        if name in ("has", "dyn"):
            if len(args) != 1:
                raise _Fallback(name)
            a = self.use(self.node(args[0]))
            if name == "dyn":
                return _Val(a)
            v = self.new()
            self.emit(f"{v} = type({a}) is not CELEvalError")
            return _Val(v)
        if name not in base_functions or not name.isidentifier():
            raise _Fallback(f"function {name}")
        vals = [self.node(a) for a in args]
        if name == "matches" and len(vals) == 2:
            return self.matches([self.use(x) for x in vals], vals[1].const)
        return self.call(name, [self.use(x) for x in vals])

    def call(self, name: str, a: list[str]) -> _Val:
        v = self.new()
        fn = self.const(base_functions[name])
        slow = f"_call({fn}, {_tuple(a)})"
        if len(a) == 1:
            x = a[0]
            fast = {
                "size": f"len({x}) if type({x}) is str or type({x}) is list or type({x}) is dict else {slow}",
                "int": f"{x} if type({x}) is int else {slow}",
                "double": f"{x} if type({x}) is float else (float({x}) if type({x}) is int else {slow})",
                "string": f"{x} if type({x}) is str else (str({x}) if type({x}) is int else {slow})",
            }.get(name)
        elif len(a) == 2:
            x, y = a
            both = f"type({x}) is str and type({y}) is str"
            fast = {
                "startsWith": f"{x}.startswith({y}) if {both} else {slow}",
                "endsWith": f"{x}.endswith({y}) if {both} else {slow}",
                "contains": (
                    f"({y} in {x}) if type({y}) is str and (type({x}) is str or type({x}) is dict) else "
                    f"(_list_contains({x}, {y}) if type({x}) is list else {slow})"
                ),
            }.get(name)
        else:
            fast = None
        self.emit(f"{v} = {fast or slow}")
        return _Val(v)

    def matches(self, a: list[str], pattern: Any) -> _Val:
        if type(pattern) is not str or regex_problem(pattern) is not None:
            return self.call("matches", a)
        search = self.const(_searcher(pattern))
        v = self.new()
        fn = self.const(base_functions["matches"])
        x, y = a
        self.emit(f"{v} = {search}({x}) if type({x}) is str else _call({fn}, ({x}, {y}))")
        return _Val(v)

    # -- primaries --
    def n_ident(self, n: Tree[Any]) -> _Val:
        name = str(n.children[0])
        for cel_name, py_name in reversed(self.scopes):
            if cel_name == name:
                return _Val(py_name)
        if name == "event":
            return _Val("ev", ())
        if name not in ENVELOPE:
            raise _Fallback(f"undeclared {name}")
        if name in self.top_vars:
            return _Val(self.top_vars[name], (name,))
        v = self.new()
        # An absent `type` resolves to cel-python's type() function, any other absent name to an error.
        missing = "_TYPE_FN" if name == "type" else self.error(f"undeclared reference to {name!r}", KeyError, n)
        self.emit(f"{v} = ev.get({name!r}, _MISS)")
        self.emit(f"if {v} is _MISS: {v} = {missing}")
        self.emit("el" + _NORMALISE.format(v=v, max=_MAX, min=_MIN))
        if self.depth == 1:
            self.top_vars[name] = v
        return _Val(v, (name,))

    def n_literal(self, n: Tree[Any]) -> _Val:
        tok = n.children[0]
        if not isinstance(tok, Token):
            raise _Fallback("literal")
        kind, text = tok.type, str(tok)
        value: Any
        try:
            if kind == "FLOAT_LIT":
                value = celtypes.DoubleType(text)
            elif kind == "INT_LIT":
                value = celtypes.IntType(text)
            elif kind == "UINT_LIT" and text[-1:] in ("u", "U"):
                value = celtypes.UintType(text[:-1])
            elif kind in ("STRING_LIT", "MLSTRING_LIT"):
                value = celstr(tok)
            elif kind == "BYTES_LIT":
                value = celbytes(tok)
            elif kind == "BOOL_LIT":
                value = celtypes.BoolType(text.lower() == "true")
            elif kind == "NULL_LIT":
                value = None
            else:
                raise _Fallback(f"literal {kind}")
        except ValueError as ex:  # an int literal out of range is an error value in cel-python
            try:
                value = CELEvalError(ex.args[0] if ex.args else "overflow", type(ex), ex.args, tree=n)
            except AttributeError as missing_position:
                raise _Fallback("literal without position") from missing_position
        plain = from_celpy(value)
        return _Val(self.lit(plain), None, plain)

    def n_list_lit(self, n: Tree[Any]) -> _Val:
        items = [self.node(a) for a in _args(n.children[0])] if n.children else []
        if all(i.const is not _NOCONST and type(i.const) is not CELEvalError for i in items):
            value = [i.const for i in items]
            return _Val(self.const(value), None, value)  # never mutated by compiled code
        codes = [self.use(i) for i in items]
        v = self.new()
        self.emit(f"{v} = _list_lit({_tuple(codes)})")
        return _Val(v)

    def n_map_lit(self, n: Tree[Any]) -> _Val:
        inits = n.children[0].children if n.children else []
        keys: list[str] = []
        values: list[str] = []
        v = self.new()
        if not inits:
            self.emit(f"{v} = {{}}")
            return _Val(v)
        err = self.error("map literal", TypeError, n)
        # cel-python builds a map literal inside `except (ValueError, TypeError)`: an abort of
        # that kind while evaluating a value makes the whole literal an error value.
        self.emit("try:")
        self.depth += 1
        for i in range(0, len(inits), 2):
            key = self.node(inits[i]).const
            if type(key) is not str or key in keys:
                raise _Fallback("map key")  # numeric or duplicate keys: leave to cel-python
            keys.append(key)
            values.append(self.use(self.node(inits[i + 1])))
        self.emit(f"{v} = {{{', '.join(f'{k!r}: {x}' for k, x in zip(keys, values))}}}")
        # cel-python keeps an error inside a map; its later comparisons are beyond this translator.
        cond = " or ".join(f"type({x}) is CELEvalError" for x in values)
        self.emit(f"if {cond}: raise _Unsure('error in map literal')")
        self.depth -= 1
        self.emit(f"except (TypeError, ValueError): {v} = {err}")
        return _Val(v)


# --- public API -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledCel:
    """A CEL filter ready to run: ``predicate(event)`` is True iff cel-python's result is ``true``."""

    text: str
    predicate: Callable[[Mapping[str, Any]], bool]
    is_fallback: bool
    fields: frozenset[tuple[str, ...]] | None
    """Event paths read: the expression reads nothing outside these subtrees (None: unknown)."""
    python: str | None = field(default=None, repr=False, compare=False)
    """The generated Python source (None on fallback), for debugging."""


@dataclass(frozen=True, slots=True)
class _Translation:
    program: CelProgram
    function: Callable[[dict[str, Any]], Any] | None
    fields: frozenset[tuple[str, ...]] | None
    python: str | None


def _translate(text: str) -> _Translation:
    try:
        tree = parse_cel(text)
    except Exception:
        return _Translation(CelProgram.build(text), None, None, None)
    program = CelProgram.build(text, tree)
    gen = _Gen()
    try:
        top = gen.node(tree)
        result = gen.use(top)
        source = "def _cel(ev):\n    if type(ev) is not dict: ev = _as_dict(ev)\n"
        source += "\n".join(gen.lines) + f"\n    return {result}\n"
        namespace = dict(gen.ns)
        exec(compile(source, "<cel>", "exec"), namespace)
    except Exception:
        # _Fallback: a construct left to cel-python; SyntaxError: Python's limit of 20 nested
        # blocks (deeply nested macros); anything else is a translator defect, and cel-python
        # is the safe answer to it.
        return _Translation(program, None, None, None)
    return _Translation(program, namespace["_cel"], frozenset(gen.fields), source)


def compile_cel(text: str) -> CompiledCel:
    """Translate ``text`` once.  Never raises; a text that does not parse gives a predicate that is always false."""
    tr = _translate(text)
    program, fn = tr.program, tr.function
    if fn is None:
        return CompiledCel(text, program.truth, True, None)

    def predicate(event: Mapping[str, Any]) -> bool:
        try:
            return fn(event) is True  # type: ignore[arg-type]
        except Unsure:
            return program.truth(event)
        except Exception:
            # cel-python would raise here (an error result of map()/filter(), a macro over a
            # number, int(inf)): the evaluation has no value and the filter does not hold.
            return False

    return CompiledCel(text, predicate, False, tr.fields, tr.python)


def to_plain(v: Any) -> Any:
    """Compiled value -> JSON value; errors become :class:`CelFailure`."""
    t = type(v)
    if v is None or t is bool or t is float or t is str:
        return v
    if t is int:  # an int beyond int64 can only be an event's, not yet read: a double
        return v if _MIN <= v <= _MAX else float(json_number(v))
    if t is list or t is RawList:
        return [to_plain(x) for x in v]
    if t is dict:
        return {k: to_plain(x) for k, x in v.items()}
    if t is CELEvalError:
        return CelFailure(error_text(v))
    if t in (Uint, RawInt):
        return int(v)
    if t is RawFloat:
        return float(v)
    if t is RawStr:
        return str(v)
    if t is Opaque:
        inner = v.value
        if isinstance(inner, (celtypes.BytesType, celtypes.TimestampType, celtypes.DurationType)):
            return CELJSONEncoder().default(inner)
        if isinstance(inner, celtypes.MapType):
            return CelFailure("a map with non-string keys has no JSON form")
        return CelFailure(f"a {type(inner).__name__} has no JSON form")
    return CelFailure(f"unexpected value {t.__name__}")


def compile_cel_value(text: str) -> Callable[[Mapping[str, Any]], Any]:
    """A value-producing CEL expression (transforms): returns JSON values, or :class:`CelFailure`."""
    tr = _translate(text)
    program, fn = tr.program, tr.function

    def reference(event: Mapping[str, Any]) -> Any:
        try:
            return to_plain(from_celpy(program.evaluate(event)))
        except Exception as ex:
            return CelFailure(f"{type(ex).__name__}: {ex}")

    if fn is None:
        return reference

    def value(event: Mapping[str, Any]) -> Any:
        try:
            r = fn(event)  # type: ignore[arg-type]
        except Unsure:
            return reference(event)
        except Raised as ex:
            r = ex.err
        except Exception as ex:
            return CelFailure(f"{type(ex).__name__}: {ex}")
        return to_plain(r)

    return value
