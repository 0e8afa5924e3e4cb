"""CEL compiled, the value domain: what a value is in compiled CEL code, and its conversions.

Position in the pipeline::

    cel_translate (emits code over these values) ──▶ generated ``_cel(ev)`` ──▶ cel_runtime helpers
                                                                    │
                                  to_celpy / from_celpy ◀───────────┘  (the slow paths: cel-python's own functions)
                                  to_plain ──▶ JSON values for compile_cel_value (transforms)

Values in compiled code mirror cel-python's run-time values one to one, so
any value can be converted to cel-python's and back (``to_celpy`` and
``from_celpy`` are inverses on everything compiled code can hold)::

    bool ↔ BoolType   int ↔ IntType     float ↔ DoubleType   str ↔ StringType
    None ↔ None       list ↔ ListType   dict (str keys) ↔ MapType
    Uint ↔ UintType   RawInt/RawFloat/RawStr/RawList ↔ plain int/float/str/list
    CELEvalError ↔ CELEvalError (errors are values)      Opaque(x) ↔ x (bytes, types, …)

Invariant: an ``int`` read from an event may lie outside int64 until the
generated code normalises it (``big_json_int``: a double, as ``cel.to_cel``
does for the reference); an ``int`` computed by compiled code never does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from celpy import celtypes
from celpy.adapter import CELJSONEncoder
from celpy.evaluation import CELEvalError

from rules_engine.cel.evaluate import error_text, json_number

__all__ = [
    "EQ_TYPES",
    "INT64_MAX",
    "INT64_MIN",
    "NONE_TYPE",
    "CelFailure",
    "Opaque",
    "Raised",
    "RawFloat",
    "RawInt",
    "RawList",
    "RawStr",
    "Uint",
    "Unsure",
    "big_json_int",
    "from_celpy",
    "to_celpy",
    "to_plain",
]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


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


NONE_TYPE: Final = type(None)

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
# Types whose Python ``==`` between two values of the same type is cel-python's answer.
EQ_TYPES: Final = frozenset({str, int, float, bool, NONE_TYPE})


# --- crossing to cel-python and back ---------------------------------------------------------------------


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


def big_json_int(v: int) -> Any:
    """A JSON integer outside int64, read from the event: a double (see cel.json_number)."""
    return from_celpy(json_number(v))


# --- leaving compiled code: JSON values ----------------------------------------------------------------


def to_plain(v: Any) -> Any:
    """Compiled value -> JSON value; errors become :class:`CelFailure`."""
    t = type(v)
    if v is None or t is bool or t is float or t is str:
        return v
    if t is int:  # an int beyond int64 can only be an event's, not yet read: a double
        return v if INT64_MIN <= v <= INT64_MAX else float(json_number(v))
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
