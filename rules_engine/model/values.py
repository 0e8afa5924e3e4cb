"""Runtime values of the expression language: the ``MISSING`` sentinel, JSON equality, type names.

Position in the pipeline::

    event (decoded JSON) ──▶ expressions.evaluate / functions / compiled engine
                               └── all of them read values through **this module**

A value is plain decoded JSON: ``dict`` (object), ``list`` (array; a ``tuple``
is accepted too), ``str``, ``int``/``float`` (number), ``bool``, ``None``
(null).  ``MISSING`` stands for "no value": a field that is absent, an index
out of range, arithmetic on the wrong types.  It never appears *inside* a
value: arrays and objects built by expressions skip it.

Invariants:
  * nothing here raises on any JSON value, however large or deeply nested:
    every walk over a value is iterative, never recursive;
  * booleans are not numbers, although Python makes ``bool`` a subclass of
    ``int``: every numeric test goes through :func:`is_number`.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from typing import Any, Final

from rules_engine.model.ir import Path


class Missing(enum.Enum):
    """The type of :data:`MISSING` (an enum member, so it is a typed singleton that survives pickling)."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        # "No value" is never a true verdict; making it falsy guards careless `if value:` tests.
        return False


MISSING: Final = Missing.MISSING
"""No value: a missing field, an out-of-range index, a failed operation."""


def is_number(v: Any) -> bool:
    """True for JSON numbers (``int``/``float``), false for booleans."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def finite_number(v: Any) -> Any:
    """``v`` when it is a number that a double can hold, else ``MISSING`` (the overflow rule).

    Arithmetic results and numeric function results pass through here, so
    ``inf``, ``nan`` and integers beyond the double range never escape.
    """
    if isinstance(v, float):
        return v if math.isfinite(v) else MISSING
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            float(v)
        except OverflowError:
            return MISSING
        return v
    return MISSING


MAX_BUILT_STRING: Final = 10_000_000
"""Longest string an operation may build (``+``, ``replace``, ``join``); longer is ``MISSING``.

Reason: ``replace`` and ``join`` multiply lengths, so a few nested calls could
otherwise ask for gigabytes; event strings themselves are not limited here.
"""


def is_array(v: Any) -> bool:
    return isinstance(v, (list, tuple))


def is_object(v: Any) -> bool:
    return isinstance(v, Mapping)


def type_name(v: Any) -> str:
    """The JSON type of a value: string, number, boolean, null, array, object, or missing."""
    if v is MISSING:
        return "missing"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if is_array(v):
        return "array"
    if is_object(v):
        return "object"
    # Not a JSON value (only reachable when a caller hands in Python objects).
    return "unknown"


def kind_of(v: Any) -> str:
    """:func:`type_name` as messages say it: ``a string``, ``an array``, ``an object``; ``null``, ``missing``."""
    name = type_name(v)
    if name in ("null", "missing"):
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name


def get_path(value: Any, path: Path) -> Any:
    """The value at ``path`` inside ``value``, or ``MISSING``.

    A ``str`` step reads an object key, an ``int`` step indexes an array
    (negative counts from the end).  Arrays are *not* flattened: a key step on
    an array is ``MISSING`` (``data.items.price`` needs ``data.items[0].price``).
    """
    cur = value
    for step in path:
        if cur is MISSING:
            return MISSING
        if isinstance(step, bool):
            return MISSING
        if isinstance(step, str):
            if not is_object(cur):
                return MISSING
            if step not in cur:
                return MISSING
            cur = cur[step]
        elif isinstance(step, int):
            if not is_array(cur):
                return MISSING
            n = len(cur)
            i = step + n if step < 0 else step
            if i < 0 or i >= n:
                return MISSING
            cur = cur[i]
        else:
            return MISSING
    return cur


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0``, ``true != 1``, arrays and objects compared deeply.

    ``MISSING`` equals nothing, not even itself (a missing value never matches).
    Iterative, so arbitrarily deep values cannot exhaust the stack.
    """
    stack: list[tuple[Any, Any]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is MISSING or y is MISSING:
            return False
        if isinstance(x, bool) or isinstance(y, bool):
            if not (isinstance(x, bool) and isinstance(y, bool) and x == y):
                return False
        elif is_number(x) or is_number(y):
            if not (is_number(x) and is_number(y) and x == y):
                return False
        elif isinstance(x, str) or isinstance(y, str):
            if not (isinstance(x, str) and isinstance(y, str) and x == y):
                return False
        elif x is None or y is None:
            if not (x is None and y is None):
                return False
        elif is_array(x) and is_array(y):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif is_object(x) and is_object(y):
            if len(x) != len(y):
                return False
            for k, xv in x.items():
                if k not in y:
                    return False
                stack.append((xv, y[k]))
        else:
            return False
    return True


# --- text ----------------------------------------------------------------------------------


def number_text(v: int | float) -> str:
    """A number as text: integral values without ``.0`` (``3.0`` -> ``"3"``), others shortest-repr.

    Reason: ``3 == 3.0``, so equal numbers render the same whatever the event's
    producer wrote.  Non-finite floats (never produced by the evaluator) render as ``null``.
    """
    if isinstance(v, float):
        if not math.isfinite(v):
            return "null"
        if v.is_integer():
            return str(int(v))
        return repr(v)
    try:
        return str(v)
    except ValueError:
        # Python refuses to print ints with more than 4300 digits; show the magnitude instead.
        return repr(float(v)) if abs(v) < 2**1023 else ("1e999" if v > 0 else "-1e999")


def _string_json(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def to_json_text(value: Any) -> str:
    """Compact JSON (``{"a":[1,2]}``), numbers as :func:`number_text`; iterative; ``MISSING`` -> ``""``.

    Object keys are sorted (code-point order): the text must not depend on the
    key order of the event, or ``string(data) == "…"`` could change a verdict.
    Non-JSON leaves render as ``null``.
    """
    out: list[str] = []
    # The work stack holds values still to write and literal output text (as _Raw).
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item.text)
        elif item is MISSING:
            continue
        elif item is None:
            out.append("null")
        elif isinstance(item, bool):
            out.append("true" if item else "false")
        elif is_number(item):
            out.append(number_text(item))
        elif isinstance(item, str):
            out.append(_string_json(item))
        elif is_array(item):
            pending: list[Any] = [_Raw("[")]
            first = True
            for v in item:
                if v is MISSING:
                    continue
                if not first:
                    pending.append(_Raw(","))
                pending.append(v)
                first = False
            pending.append(_Raw("]"))
            stack.extend(reversed(pending))
        elif is_object(item):
            pending = [_Raw("{")]
            first = True
            for k, v in sorted(item.items(), key=lambda kv: str(kv[0])):
                if v is MISSING:
                    continue
                if not first:
                    pending.append(_Raw(","))
                pending.append(_Raw(_string_json(str(k)) + ":"))
                pending.append(v)
                first = False
            pending.append(_Raw("}"))
            stack.extend(reversed(pending))
        else:
            out.append("null")
    return "".join(out)


class _Raw:
    """Literal output text on :func:`to_json_text`'s work stack (distinguishes it from string values)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def to_text(value: Any) -> str:
    """How a value appears inside a template or through ``string()``.

    Strings raw, numbers by :func:`number_text`, ``true``/``false``/``null``,
    arrays and objects as compact JSON, ``MISSING`` as the empty string.
    """
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    return to_json_text(value)
