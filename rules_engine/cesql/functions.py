"""The CESQL built-in functions (sections 3.5 and 3.7 of the CESQL 1.0.0 specification).

Where it sits: a table read by :mod:`.check` (does a call dispatch?), :mod:`.evaluate`
(the reference evaluator) and the compiled engine, which all call the same implementations.

A function is dispatched on its upper-case name and its arity (section 3.5: overloading by
arity only).  Each has fixed parameter types, optionally a variadic tail, and a return type;
the caller casts every argument to its parameter type before the call (section 3.7, implicit
casts), so an implementation receives values of the declared types and returns its value
and an optional FunctionEvaluationError/MathError message (3.5.3: a value always comes back).

``INT``, ``BOOL`` and ``STRING`` are the explicit casts the specification's examples use
(``int(hop) < int(ttl)``); ``IS_BOOL`` and ``IS_INT`` tell whether a cast would succeed.
Their parameter type is None: any value, uncast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rules_engine.cesql.values import INT_MAX, INT_MIN, ErrorKind, Type, Value, to_boolean, to_integer, to_string

Impl = Callable[..., tuple[Value, str | None]]

# Unicode White_Space (TRIM must not strip other characters, such as controls that Python's
# str.isspace counts as space).
_WHITE_SPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
                + "\u2028\u2029\u202f\u205f\u3000")


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    params: tuple[Type | None, ...]
    returns: Type
    impl: Impl
    variadic: Type | None = None  # the type of each extra argument, when the function is variadic
    error_kind: ErrorKind = ErrorKind.FUNCTION_EVALUATION

    def accepts(self, arity: int) -> bool:
        fixed = len(self.params)
        return arity == fixed or (self.variadic is not None and arity > fixed)

    def param_type(self, index: int) -> Type | None:
        return self.params[index] if index < len(self.params) else self.variadic

    @property
    def signature(self) -> str:
        names = [t.value if t else "Any" for t in self.params]
        if self.variadic is not None:
            names.append(f"{self.variadic.value}...")
        return f"{self.name}({', '.join(names)}) -> {self.returns.value}"


def _abs(x: int) -> tuple[Value, str | None]:
    if x == INT_MIN:
        return INT_MAX, f"ABS({INT_MIN}) overflows: the result is {INT_MAX}"
    return abs(x), None


def _left(x: str, y: int) -> tuple[Value, str | None]:
    if y < 0:
        return x, f"LEFT: the length {y} is negative"
    return x[:y], None


def _right(x: str, y: int) -> tuple[Value, str | None]:
    if y < 0:
        return x, f"RIGHT: the length {y} is negative"
    return (x[-y:] if y else ""), None


def _substring_start(x: str, pos: int) -> tuple[int | None, str | None]:
    """0-based start index of SUBSTRING(x, pos, ...), None for the empty result of pos 0."""
    n = len(x)
    if pos > n or pos < -n:
        return None, f"SUBSTRING: position {pos} is outside the string of length {n}"
    if pos == 0:
        return None, None
    return (pos - 1 if pos > 0 else n + pos), None


def _substring(x: str, pos: int) -> tuple[Value, str | None]:
    start, err = _substring_start(x, pos)
    return ("" if start is None else x[start:]), err


def _substring_len(x: str, pos: int, length: int) -> tuple[Value, str | None]:
    start, err = _substring_start(x, pos)
    if err is None and length < 0:
        return "", f"SUBSTRING: the length {length} is negative"
    return ("" if start is None or err else x[start : start + length]), err


def _concat(*xs: str) -> tuple[Value, str | None]:
    return "".join(xs), None


def _concat_ws(sep: str, *xs: str) -> tuple[Value, str | None]:
    return sep.join(xs), None


def _ok(f: Callable[..., Value]) -> Impl:
    return lambda *a: (f(*a), None)


def _cast_int(x: Value) -> tuple[Value, str | None]:
    return to_integer(x)


def _cast_bool(x: Value) -> tuple[Value, str | None]:
    return to_boolean(x)


STR, INT, BOOL = Type.STRING, Type.INTEGER, Type.BOOLEAN

BUILTINS: tuple[Function, ...] = (
    Function("ABS", (INT,), INT, _abs, error_kind=ErrorKind.MATH),
    Function("LENGTH", (STR,), INT, _ok(len)),
    Function("CONCAT", (), STR, _concat, variadic=STR),
    Function("CONCAT_WS", (STR,), STR, _concat_ws, variadic=STR),
    Function("LOWER", (STR,), STR, _ok(str.lower)),
    Function("UPPER", (STR,), STR, _ok(str.upper)),
    Function("TRIM", (STR,), STR, _ok(lambda x: x.strip(_WHITE_SPACE))),
    Function("LEFT", (STR, INT), STR, _left),
    Function("RIGHT", (STR, INT), STR, _right),
    Function("SUBSTRING", (STR, INT), STR, _substring),
    Function("SUBSTRING", (STR, INT, INT), STR, _substring_len),
    Function("INT", (None,), INT, _cast_int, error_kind=ErrorKind.CAST),
    Function("BOOL", (None,), BOOL, _cast_bool, error_kind=ErrorKind.CAST),
    Function("STRING", (None,), STR, _ok(to_string)),
    Function("IS_INT", (None,), BOOL, _ok(lambda x: to_integer(to_string(x))[1] is None)),
    Function("IS_BOOL", (None,), BOOL, _ok(lambda x: to_boolean(to_string(x))[1] is None)),
)

_BY_NAME: dict[str, tuple[Function, ...]] = {}
for _f in BUILTINS:
    _BY_NAME[_f.name] = (*_BY_NAME.get(_f.name, ()), _f)


def lookup(name: str, arity: int) -> Function | None:
    """The built-in ``name`` (any case) taking ``arity`` arguments, or None (a MissingFunctionError)."""
    for f in _BY_NAME.get(name.upper(), ()):
        if f.accepts(arity):
            return f
    return None


def overloads(name: str) -> tuple[Function, ...]:
    return _BY_NAME.get(name.upper(), ())
