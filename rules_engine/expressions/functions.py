"""The function library of the expression language (``lower(x)``, ``length(x)`` …).

Position in the pipeline::

    IR ``Call(name, args)`` ──check_expr──▶ arity / argument-type diagnostics
                            └─expressions.evaluate / compiled engine──▶ ``FUNCTIONS[name].impl(*values)``

Every implementation is a pure, total function of already-evaluated argument
values: it never raises, and answers ``MISSING`` when an argument is missing
or of the wrong type (``lower(5)`` is ``MISSING``, which makes a comparison
using it false).  ``params``/``returns`` describe the JSON types involved so
that ``check_expr`` can reject calls that can never produce a value.

The semantics of each function is documented, with checked examples, in
``docs/expressions.md``.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rules_engine.model.values import (
    MAX_BUILT_STRING,
    MISSING,
    finite_number,
    is_array,
    is_number,
    is_object,
    number_text,
    to_text,
    type_name,
)

Types = frozenset[str] | None
"""The JSON type names a value may have (``None``: any type, statically unknown)."""

STRING: frozenset[str] = frozenset({"string"})
NUMBER: frozenset[str] = frozenset({"number"})
ARRAY: frozenset[str] = frozenset({"array"})
OBJECT: frozenset[str] = frozenset({"object"})


@dataclass(frozen=True, slots=True)
class Function:
    """One library function.

    ``max_args`` is ``None`` for a variadic function.  ``params[i]`` is the set
    of JSON types argument ``i`` accepts (the last entry covers any further
    arguments; ``None`` accepts everything); ``returns`` the types a present
    result can have.
    """

    name: str
    min_args: int
    max_args: int | None
    impl: Callable[..., Any]
    doc: str
    params: tuple[Types, ...] = ()
    returns: Types = None

    def accepts_count(self, n: int) -> bool:
        return n >= self.min_args and (self.max_args is None or n <= self.max_args)

    def param(self, index: int) -> Types:
        """Accepted types of the 0-based argument ``index``."""
        if not self.params:
            return None
        return self.params[min(index, len(self.params) - 1)]

    def arity_text(self) -> str:
        """``"1 argument"``, ``"1 to 2 arguments"``, ``"at least 1 argument"``."""
        lo, hi = self.min_args, self.max_args

        def n(k: int) -> str:
            return f"{k} argument" + ("" if k == 1 else "s")

        if hi is None:
            return f"at least {n(lo)}"
        if lo == hi:
            return n(lo)
        return f"{lo} to {n(hi)}"


# --- helpers -------------------------------------------------------------------------------------


def _integral(v: Any) -> int | None:
    """An integral number (``2`` or ``2.0``) as ``int``, else ``None``."""
    if not is_number(v):
        return None
    if isinstance(v, float):
        if not math.isfinite(v) or not v.is_integer():
            return None
        return int(v)
    return int(v)


# --- strings -------------------------------------------------------------------------------------


def _lower(s: Any) -> Any:
    return s.lower() if isinstance(s, str) else MISSING


def _upper(s: Any) -> Any:
    return s.upper() if isinstance(s, str) else MISSING


def _trim(s: Any) -> Any:
    return s.strip() if isinstance(s, str) else MISSING


def _length(v: Any) -> Any:
    if isinstance(v, str) or is_array(v) or is_object(v):
        return len(v)
    return MISSING


def _string(v: Any) -> Any:
    return MISSING if v is MISSING else to_text(v)


# Decimal text, JSON-like but lenient on a sign, leading zeros and a bare fraction (" +007", ".5").
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _number(v: Any) -> Any:
    if is_number(v):
        return finite_number(v)
    if not isinstance(v, str):
        return MISSING
    text = v.strip()
    # fullmatch on ASCII digits only: str.isdigit-style Unicode digits and "nan"/"inf" are refused.
    if not _NUMBER_TEXT.fullmatch(text) or not text.isascii():
        return MISSING
    try:
        if any(c in text for c in ".eE"):
            return finite_number(float(text))
        return finite_number(int(text))
    except ValueError:  # an integer longer than Python's digit limit
        return MISSING


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    if not isinstance(s, str):
        return MISSING
    lo = _integral(start)
    hi = len(s) if end is None else _integral(end)
    if lo is None or hi is None:
        return MISSING
    return s[lo:hi]


def _replace(s: Any, old: Any, new: Any) -> Any:
    if not (isinstance(s, str) and isinstance(old, str) and isinstance(new, str)):
        return MISSING
    if old == "":
        # Python would insert `new` between every character; nothing to replace is the useful reading.
        return s
    if len(s) + s.count(old) * (len(new) - len(old)) > MAX_BUILT_STRING:
        return MISSING
    return s.replace(old, new)


def _split(s: Any, sep: Any) -> Any:
    if not (isinstance(s, str) and isinstance(sep, str)):
        return MISSING
    if sep == "":
        return list(s)
    return s.split(sep)


def _join(items: Any, sep: Any) -> Any:
    if not (is_array(items) and isinstance(sep, str)):
        return MISSING
    parts: list[str] = []
    for v in items:
        if isinstance(v, str):
            parts.append(v)
        elif is_number(v):
            parts.append(number_text(v))
        else:
            return MISSING
    if sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0) > MAX_BUILT_STRING:
        return MISSING
    return sep.join(parts)


# --- numbers -------------------------------------------------------------------------------------


def _abs(v: Any) -> Any:
    return finite_number(abs(v)) if is_number(v) else MISSING


def _floor(v: Any) -> Any:
    if not is_number(v) or finite_number(v) is MISSING:
        return MISSING
    return math.floor(v)


def _ceil(v: Any) -> Any:
    if not is_number(v) or finite_number(v) is MISSING:
        return MISSING
    return math.ceil(v)


# Enough precision for any finite double at any clamped number of digits.
_ROUND_CONTEXT = decimal.Context(prec=1200, rounding=decimal.ROUND_HALF_UP, Emax=5000, Emin=-5000)


def _round(v: Any, digits: Any = 0) -> Any:
    """Half away from zero, on the number as written (``round(2.675, 2) == 2.68``)."""
    d = _integral(digits)
    if not is_number(v) or finite_number(v) is MISSING or d is None:
        return MISSING
    if isinstance(v, int):
        if d >= 0:
            return v
        q = 10 ** min(-d, 5000)
        sign = -1 if v < 0 else 1
        return finite_number(sign * ((abs(v) + q // 2) // q) * q)
    # A double has at most ~340 meaningful decimal places either side of the point.
    d = max(-400, min(d, 400))
    try:
        exact = decimal.Decimal(repr(v))
        rounded = exact.quantize(decimal.Decimal(1).scaleb(-d), context=_ROUND_CONTEXT)
    except decimal.DecimalException:
        return MISSING
    if d <= 0:
        return finite_number(int(rounded))
    return finite_number(float(rounded))


def _extreme(pick: Callable[[list[Any]], Any], args: tuple[Any, ...]) -> Any:
    values: Any = args
    if len(args) == 1 and is_array(args[0]):
        values = args[0]
    if not values:
        return MISSING
    if all(is_number(v) for v in values) or all(isinstance(v, str) for v in values):
        return pick(list(values))
    return MISSING


def _min(*args: Any) -> Any:
    return _extreme(min, args)


def _max(*args: Any) -> Any:
    return _extreme(max, args)


def _sum(items: Any) -> Any:
    if not is_array(items) or not all(is_number(v) for v in items):
        return MISSING
    total: Any = 0
    try:
        # Left to right, exactly like a chain of `+`: the compiled engine must give the same float.
        for v in items:
            total = total + v
    except OverflowError:
        return MISSING
    return finite_number(total)


# --- any value -------------------------------------------------------------------------------------


def _coalesce(*args: Any) -> Any:
    for v in args:
        if v is not MISSING and v is not None:
            return v
    return MISSING


def _default(v: Any, fallback: Any) -> Any:
    return fallback if v is MISSING else v


def _keys(obj: Any) -> Any:
    # Sorted, never in the event's order: key order must not change any verdict.
    return sorted(obj.keys()) if is_object(obj) else MISSING


def _values(obj: Any) -> Any:
    return [obj[k] for k in sorted(obj.keys())] if is_object(obj) else MISSING


def _type(v: Any) -> Any:
    return type_name(v)


_ANY: Types = None
_TEXTUAL: frozenset[str] = frozenset({"string", "array", "object"})

_TABLE: tuple[Function, ...] = (
    Function("lower", 1, 1, _lower, "the string in lower case", (STRING,), STRING),
    Function("upper", 1, 1, _upper, "the string in upper case", (STRING,), STRING),
    Function("trim", 1, 1, _trim, "the string without leading and trailing white space", (STRING,), STRING),
    Function("length", 1, 1, _length, "characters of a string, elements of an array, keys of an object",
             (_TEXTUAL,), NUMBER),
    Function("string", 1, 1, _string, "any value as text (as in a template)", (_ANY,), STRING),
    Function("number", 1, 1, _number, "a number, or a string holding a decimal number, as a number",
             (STRING | NUMBER,), NUMBER),
    Function("abs", 1, 1, _abs, "absolute value", (NUMBER,), NUMBER),
    Function("floor", 1, 1, _floor, "largest integer not above the number", (NUMBER,), NUMBER),
    Function("ceil", 1, 1, _ceil, "smallest integer not below the number", (NUMBER,), NUMBER),
    Function("round", 1, 2, _round, "rounded to `digits` decimal places (default 0), halves away from zero",
             (NUMBER, NUMBER), NUMBER),
    Function("min", 1, None, _min, "smallest of the arguments (or of one array): numbers or strings",
             (_ANY,), NUMBER | STRING),
    Function("max", 1, None, _max, "largest of the arguments (or of one array): numbers or strings",
             (_ANY,), NUMBER | STRING),
    Function("sum", 1, 1, _sum, "sum of an array of numbers", (ARRAY,), NUMBER),
    Function("substring", 2, 3, _substring, "characters from `start` up to `end` (negative: from the end)",
             (STRING, NUMBER, NUMBER), STRING),
    Function("replace", 3, 3, _replace, "every occurrence of `old` replaced by `new`",
             (STRING, STRING, STRING), STRING),
    Function("split", 2, 2, _split, "the string cut at every separator", (STRING, STRING), ARRAY),
    Function("join", 2, 2, _join, "array of strings/numbers joined with a separator", (ARRAY, STRING), STRING),
    Function("coalesce", 1, None, _coalesce, "the first argument that is present and not null", (_ANY,), None),
    Function("default", 2, 2, _default, "the value, or the fallback when the value is missing",
             (_ANY, _ANY), None),
    Function("keys", 1, 1, _keys, "the keys of an object, sorted", (OBJECT,), ARRAY),
    Function("values", 1, 1, _values, "the values of an object, in sorted key order", (OBJECT,), ARRAY),
    Function("type", 1, 1, _type, "the type name: string, number, boolean, null, array, object or missing",
             (_ANY,), STRING),
)

FUNCTIONS: Mapping[str, Function] = MappingProxyType({f.name: f for f in _TABLE})
"""Every library function by name (read-only)."""

SYNTAX_NAMES: frozenset[str] = frozenset({"exists", "any", "all", "cidr", "equals_ignore_case"})
"""Names that look like calls but are syntax (offered in "did you mean" notes)."""
