"""CESQL values, types, casts and evaluation errors: the vocabulary of the CESQL dialect.

Where it sits: below :mod:`.evaluate` and :mod:`.check`, above nothing but the standard
library.  Everything here follows the CESQL 1.0.0 specification (cloudevents/spec,
``cesql/spec.md``):

* three primitive types, each with its zero value (section 3.1):
  ``Boolean`` (``false``), ``Integer`` (``0``, 32-bit signed), ``String`` (``""``);
* the casts of section 3.7, each returning a value *and* an optional error, the value
  being the zero value when the cast fails (``INT('ABC')`` is ``0`` plus a CastError);
* the error kinds of section 3.3, named as the conformance kit names them.

Invariant: a CESQL value is a Python ``bool``, an ``int`` within 32 bits or a ``str``;
``bool`` is tested before ``int`` everywhere, since ``True`` is an ``int`` in Python.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

Value = bool | int | str

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


class Type(enum.Enum):
    """The three primitive types; the value is the name the specification uses."""

    BOOLEAN = "Boolean"
    INTEGER = "Integer"
    STRING = "String"

    @property
    def zero(self) -> Value:
        return _ZERO[self]


_ZERO: dict[Type, Value] = {Type.BOOLEAN: False, Type.INTEGER: 0, Type.STRING: ""}


class ErrorKind(enum.Enum):
    """The error types every engine must support (section 3.3); values are the TCK's names."""

    PARSE = "parse"
    MATH = "math"
    CAST = "cast"
    MISSING_FUNCTION = "missingFunction"
    FUNCTION_EVALUATION = "functionEvaluation"
    MISSING_ATTRIBUTE = "missingAttribute"
    GENERIC = "generic"

    @property
    def spec_name(self) -> str:
        """The specification's name: ``CastError``, ``MissingAttributeError``, ..."""
        return self.value[0].upper() + self.value[1:] + "Error"


@dataclass(frozen=True, slots=True)
class EvalError:
    """One entry of the error list: its kind, a message, and the expression part that raised it
    (0-based character offsets into the expression text, end exclusive)."""

    kind: ErrorKind
    message: str
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


Errors = tuple[EvalError, ...]
Result = tuple[Value, Errors]
"""What evaluating any CESQL expression gives: a value and the (possibly empty) error list."""


def type_of(value: Value) -> Type:
    if isinstance(value, bool):
        return Type.BOOLEAN
    if isinstance(value, int):
        return Type.INTEGER
    return Type.STRING


def render(value: Value) -> str:
    """A value as CESQL text would write it: ``true``, ``-3``, ``'it\\'s'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "\\'") + "'"


def _is_base10(text: str) -> bool:
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit()


def to_integer(value: Value) -> tuple[int, str | None]:
    """Cast to Integer (section 3.7): ``(value, None)`` or ``(0, reason)``."""
    if isinstance(value, bool):
        return (1 if value else 0), None
    if isinstance(value, int):
        return value, None
    if not _is_base10(value):
        return 0, f"cannot cast {render(value)} to Integer: not a base 10 integer"
    n = int(value)
    if not INT_MIN <= n <= INT_MAX:
        return 0, f"cannot cast {render(value)} to Integer: outside the 32-bit range"
    return n, None


def to_boolean(value: Value) -> tuple[bool, str | None]:
    """Cast to Boolean (section 3.7): strings ``true``/``false`` in any case, integers by ``!= 0``."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        return value != 0, None
    low = value.lower()
    if low == "true":
        return True, None
    if low == "false":
        return False, None
    return False, f"cannot cast {render(value)} to Boolean: only 'true' and 'false' are"


def to_string(value: Value) -> str:
    """Cast to String (section 3.7); it never fails."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cast(value: Value, target: Type) -> tuple[Value, str | None]:
    """Cast ``value`` to ``target``; the reason is None when the cast succeeded."""
    if target is Type.BOOLEAN:
        return to_boolean(value)
    if target is Type.INTEGER:
        return to_integer(value)
    return to_string(value), None


def saturate(n: int) -> tuple[int, str | None]:
    """Clamp an arithmetic result to 32 bits; an overflow is a MathError (as ``ABS`` does, 3.5.2)."""
    if n > INT_MAX:
        return INT_MAX, f"integer overflow: {n} is larger than {INT_MAX}"
    if n < INT_MIN:
        return INT_MIN, f"integer overflow: {n} is smaller than {INT_MIN}"
    return n, None


# Attribute names that are not context attributes in the CloudEvents JSON format.
NOT_ATTRIBUTES = frozenset({"data", "data_base64"})


def attribute(event: object, name: str) -> Value | None:
    """The value of context attribute or extension ``name`` of an event in CloudEvents JSON form,
    or None when the event does not have it.

    Context attributes and extensions sit at the top level of the JSON object; ``data`` and
    ``data_base64`` are the payload, not attributes, and a JSON ``null`` is an absent attribute.
    A value that is not a CESQL primitive is represented as a String (section 3.2): a number
    outside 32 bits or with a fraction by its JSON text, an object or array by its compact JSON.
    """
    if not isinstance(event, dict) or name in NOT_ATTRIBUTES:
        return None
    raw = event.get(name)
    if raw is None:
        return None
    if isinstance(raw, (bool, str)):
        return raw
    if isinstance(raw, int) and INT_MIN <= raw <= INT_MAX:
        return raw
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
