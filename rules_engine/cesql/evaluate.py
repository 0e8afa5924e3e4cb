"""The CESQL reference evaluator: a direct reading of the specification, kept as the oracle.

Where it sits: Expr (from :mod:`.parse`) + event ──**evaluate**──▶ (value, error list).
The compiled engine must agree with it on every expression and event (tests/test_cesql_*.py).

The error model (sections 3.2, 3.3, 3.4 and 3.7 of the CESQL 1.0.0 specification):

* every expression yields a value *and* a list of errors; evaluation never raises;
* an operator or function first evaluates its operands.  If an operand's evaluation
  reported errors, the operator does not compute: it returns the zero value of its own
  return type together with those errors.  This is how ``1 / missing`` is ``0`` with a
  MissingAttributeError and no MathError, and how ``true AND (1 != 1 / 0)`` is ``false``
  with a MathError: "the subexpression referencing the missing attribute MUST evaluate to
  the zero value for the return type of the subexpression" (3.2);
* a failed implicit cast of an operand is the operator's own CastError: the operator goes
  on with the cast's value (the zero value) and reports the error, as ``INT('ABC')`` is
  ``0`` with a CastError (3.7);
* an error the operator or function raises itself comes with the value the specification
  gives it (``5 / 0`` is ``0``, ``LEFT('abc', -2)`` is ``'abc'``, each with its error);
* a bare attribute that the event lacks is ``false`` with a MissingAttributeError (3.2:
  "In cases where the return type of the subexpression cannot be determined ... Boolean");
* AND and OR short-circuit (3.4.2): a right operand that is not evaluated reports nothing.

A filter matches an event when the value is ``true`` and the error list is empty (1.2).
"""

from __future__ import annotations

import functools
import re

import re2  # type: ignore[import-untyped]

from rules_engine.cesql import ast
from rules_engine.cesql.functions import lookup
from rules_engine.cesql.values import (
    ErrorKind,
    Errors,
    EvalError,
    Result,
    Type,
    Value,
    attribute,
    cast,
    saturate,
    to_string,
    type_of,
)


def matches(expr: ast.Expr, event: object) -> bool:
    """The filter verdict: true without errors (section 1.2)."""
    value, errors = evaluate(expr, event)
    return value is True and not errors


def evaluate(expr: ast.Expr, event: object) -> Result:
    """Evaluate ``expr`` against ``event`` (a CloudEvent in JSON form: a dict)."""
    return _eval(expr, event)


def _err(kind: ErrorKind, message: str, node: ast.Expr) -> EvalError:
    return EvalError(kind, message, node.start, node.end)


def _cast(value: Value, target: Type, node: ast.Expr) -> tuple[Value, Errors]:
    out, reason = cast(value, target)
    return out, (() if reason is None else (_err(ErrorKind.CAST, reason, node),))


class LikePattern:
    """A compiled LIKE pattern, run by RE2: linear in the text, never backtracking, so no event can make
    a filter such as ``x LIKE '%a%a%a%a%a%a%a%a%a%a%a%a%b'`` take exponential time.

    ``fullmatch`` answers ``None`` or a match, like ``re``'s; text RE2 cannot take (a lone surrogate,
    which no JSON text decodes to) does not match.
    """

    __slots__ = ("_fullmatch",)

    def __init__(self, regex: str) -> None:
        options = re2.Options()
        options.log_errors = False  # keep RE2's C++ logger off stderr
        options.never_capture = True
        options.dot_nl = True  # `_` and `%` take line breaks too
        self._fullmatch = re2.compile(regex, options).fullmatch

    def fullmatch(self, value: str) -> object | None:
        try:
            found: object | None = self._fullmatch(value)
            return found
        except (ValueError, UnicodeEncodeError):
            return None


@functools.lru_cache(maxsize=1024)
def like_regex(pattern: str) -> LikePattern:
    """The matcher of a LIKE pattern: ``%`` any run, ``_`` one character, ``\\%`` and
    ``\\_`` the characters themselves; every other character, a backslash before anything else
    included, stands for itself (section 3.4.3)."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return LikePattern("".join(parts))


def like(value: str, pattern: str) -> bool:
    return like_regex(pattern).fullmatch(value) is not None


def _eval(e: ast.Expr, event: object) -> Result:
    if isinstance(e, ast.Literal):
        return e.value, ()
    if isinstance(e, ast.Attribute):
        v = attribute(event, e.name)
        if v is None:
            return False, (_err(ErrorKind.MISSING_ATTRIBUTE, f"the event has no attribute {e.name!r}", e),)
        return v, ()
    if isinstance(e, ast.Exists):
        return attribute(event, e.name) is not None, ()
    if isinstance(e, ast.Not):
        v, errs = _eval(e.operand, event)
        if errs:
            return False, errs
        b, cerrs = _cast(v, Type.BOOLEAN, e.operand)
        return (not b), cerrs
    if isinstance(e, ast.Negate):
        v, errs = _eval(e.operand, event)
        if errs:
            return 0, errs
        n, cerrs = _cast(v, Type.INTEGER, e.operand)
        out, reason = saturate(-int(n))
        return out, cerrs + ((_err(ErrorKind.MATH, reason, e),) if reason else ())
    if isinstance(e, ast.Binary):
        return _binary(e, event)
    if isinstance(e, ast.Like):
        v, errs = _eval(e.operand, event)
        if errs:
            return False, errs
        return like(to_string(v), e.pattern) != e.negated, ()
    if isinstance(e, ast.In):
        return _in(e, event)
    return _call(e, event)


def _binary(e: ast.Binary, event: object) -> Result:
    op = e.op
    if op in ast.LOGIC_OPS:
        lv, errs = _eval(e.left, event)
        if errs:
            return False, errs
        lb, lerrs = _cast(lv, Type.BOOLEAN, e.left)
        if (op == "AND" and lb is False) or (op == "OR" and lb is True):
            return lb, lerrs  # short circuit: the right operand is not evaluated
        rv, errs = _eval(e.right, event)
        if errs:
            return False, lerrs + errs
        rb, rerrs = _cast(rv, Type.BOOLEAN, e.right)
        return (lb != rb if op == "XOR" else bool(rb)), lerrs + rerrs
    zero: Value = 0 if op in ast.ARITH_OPS else False
    lv, lerrs = _eval(e.left, event)
    rv, rerrs = _eval(e.right, event)
    if lerrs or rerrs:
        return zero, lerrs + rerrs
    if op in ast.EQUALITY_OPS:
        # `=` is ambiguous (Boolean, Integer and String overloads): the right operand's type
        # picks the overload and the left operand is cast to it (section 3.7).
        lc, cerrs = _cast(lv, type_of(rv), e.left)
        return (lc == rv) != (op == "!="), cerrs
    a, aerrs = _cast(lv, Type.INTEGER, e.left)
    b, berrs = _cast(rv, Type.INTEGER, e.right)
    cerrs = aerrs + berrs
    x, y = int(a), int(b)
    if op == "<":
        return x < y, cerrs
    if op == "<=":
        return x <= y, cerrs
    if op == ">":
        return x > y, cerrs
    if op == ">=":
        return x >= y, cerrs
    out, reason = arith(op, x, y)
    return out, cerrs + ((_err(ErrorKind.MATH, reason, e),) if reason else ())


def arith(op: str, x: int, y: int) -> tuple[int, str | None]:
    """Integer arithmetic with truncated division (section 3.4.2), 32-bit results."""
    if op in ("/", "%"):
        if y == 0:
            return 0, "division by zero" if op == "/" else "modulo by zero"
        q = abs(x) // abs(y)
        if (x < 0) != (y < 0):
            q = -q
        return saturate(q) if op == "/" else (x - y * q, None)
    if op == "+":
        return saturate(x + y)
    if op == "-":
        return saturate(x - y)
    return saturate(x * y)


def _in(e: ast.In, event: object) -> Result:
    v, errs = _eval(e.operand, event)
    items = [_eval(item, event) for item in e.items]
    errs = errs + tuple(err for _, item_errs in items for err in item_errs)
    if errs:
        return False, errs
    # The left operand's type is the target type of the set's elements (section 3.7).
    target = type_of(v)
    found = False
    cerrs: Errors = ()
    for (iv, _), node in zip(items, e.items, strict=True):
        c, ce = _cast(iv, target, node)
        cerrs += ce
        found = found or c == v
    return found != e.negated, cerrs


def _call(e: ast.Call, event: object) -> Result:
    fn = lookup(e.name, len(e.args))
    if fn is None:
        return False, (_err(ErrorKind.MISSING_FUNCTION, f"no function {e.name}() taking {len(e.args)} "
                            f"argument{'s' if len(e.args) != 1 else ''}", e),)
    values = [_eval(a, event) for a in e.args]
    errs = tuple(err for _, a_errs in values for err in a_errs)
    if errs:
        return fn.returns.zero, errs
    args: list[Value] = []
    cerrs: Errors = ()
    for i, ((v, _), node) in enumerate(zip(values, e.args, strict=True)):
        target = fn.param_type(i)
        if target is None:
            args.append(v)
        else:
            c, ce = _cast(v, target, node)
            args.append(c)
            cerrs += ce
    out, reason = fn.impl(*args)
    return out, cerrs + ((_err(fn.error_kind, reason, e),) if reason else ())

