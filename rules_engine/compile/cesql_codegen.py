"""CESQL → Python closures for the compiled engine, in the specification's "fail fast mode".

Where it sits: compile stage for the CESQL parts the index cannot decide (``OpaqueAtom`` of kind
``"cesql"``): CESQL text ──parse──▶ Expr ──**compile_cesql**──▶ ``match(event) -> bool``.
The reference is :mod:`rules_engine.cesql.evaluate`; tests/test_cesql_compile.py holds the
two equal on the TCK and on generated expressions and events.

Section 4.1 of the CESQL 1.0.0 specification names two evaluation modes; a filter only needs
to know whether the value is ``true`` *and* no error occurred (1.2), so the compiled form
stops at the first error ("fail fast mode": the zero value of the expression's type and that
error) instead of collecting the complete list.  The verdict is the same as the reference's:
evaluation order, short circuits and the point where each error arises are the same, and an
error can never be taken back once raised.

Each node becomes a closure ``f(ev) -> value``; an error travels up as an :class:`Err`
value (not an exception: a missing attribute is an everyday event, not an exceptional one),
checked with one ``type(v) is Err`` after each operand.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rules_engine.cesql import ast
from rules_engine.cesql.evaluate import arith, like_regex
from rules_engine.cesql.functions import lookup
from rules_engine.cesql.parse import parse
from rules_engine.cesql.values import ErrorKind, Type, Value, attribute, cast, saturate, to_boolean, to_string, type_of


@dataclass(frozen=True, slots=True)
class Err:
    """The first error of a fail-fast evaluation."""

    kind: ErrorKind


MISSING = Err(ErrorKind.MISSING_ATTRIBUTE)
CAST = Err(ErrorKind.CAST)
MATH = Err(ErrorKind.MATH)

Fn = Callable[[Any], Any]  # event -> Value | Err


@dataclass(frozen=True, slots=True)
class CompiledCesql:
    """A compiled CESQL expression: ``match`` is the filter verdict, ``run`` the fail-fast value."""

    text: str
    tree: ast.Expr
    run: Fn

    @property
    def attributes(self) -> frozenset[str]:
        """The top-level event members the expression reads (for the partial decoder)."""
        return ast.attributes(self.tree)

    def match(self, event: Any) -> bool:
        return self.run(event) is True

    def evaluate(self, event: Any) -> tuple[Value, ErrorKind | None]:
        """(value, kind of the first error): in fail fast mode the value of a failed evaluation
        is the zero value of the expression's type (``false`` when that type depends on the event)."""
        v = self.run(event)
        if type(v) is Err:
            kind = ast.static_type(self.tree)
            return (kind.zero if kind is not None else False), v.kind
        return v, None


@functools.lru_cache(maxsize=4096)
def compile_cesql(text: str) -> CompiledCesql:
    """Compile checked CESQL text (a parse failure compiles to a filter that never matches)."""
    tree, _ = parse(text)
    if tree is None:
        parse_error = Err(ErrorKind.PARSE)
        return CompiledCesql(text, ast.Literal(False), lambda ev: parse_error)
    return CompiledCesql(text, tree, _compile(tree))


def _attr(name: str) -> Fn:
    def get(ev: Any) -> Any:
        v = ev.get(name) if type(ev) is dict else None
        t = type(v)
        if t is str or t is bool:
            return v
        if v is None:
            return MISSING
        got = attribute(ev, name)
        return MISSING if got is None else got

    if name in ("data", "data_base64"):
        return lambda ev: MISSING
    return get


def _to_bool(v: Any) -> Any:
    if v is True or v is False:
        return v
    b, reason = to_boolean(v)
    return CAST if reason else b


def _to_int(v: Any) -> Any:
    if type(v) is int:
        return v
    n, reason = cast(v, Type.INTEGER)
    return CAST if reason else n


def _compile(e: ast.Expr) -> Fn:
    if isinstance(e, ast.Literal):
        value = e.value
        return lambda ev: value
    if isinstance(e, ast.Attribute):
        return _attr(e.name)
    if isinstance(e, ast.Exists):
        name = e.name
        return lambda ev: attribute(ev, name) is not None
    if isinstance(e, ast.Not):
        inner = _compile(e.operand)

        def not_(ev: Any) -> Any:
            v = inner(ev)
            if v is True or v is False:
                return not v
            if type(v) is Err:
                return v
            b = _to_bool(v)
            return b if type(b) is Err else not b

        return not_
    if isinstance(e, ast.Negate):
        inner = _compile(e.operand)

        def negate(ev: Any) -> Any:
            v = inner(ev)
            if type(v) is Err:
                return v
            n = _to_int(v)
            if type(n) is Err:
                return n
            out, reason = saturate(-n)
            return MATH if reason else out

        return negate
    if isinstance(e, ast.Binary):
        return _binary(e)
    if isinstance(e, ast.Like):
        return _like(e)
    if isinstance(e, ast.In):
        return _in(e)
    return _call(e)


def _logic(e: ast.Binary) -> Fn:
    left, right, op = _compile(e.left), _compile(e.right), e.op

    def logic(ev: Any) -> Any:
        a = left(ev)
        if type(a) is Err:
            return a
        a = _to_bool(a)
        if type(a) is Err:
            return a
        if op == "AND" and a is False:
            return False
        if op == "OR" and a is True:
            return True
        b = right(ev)
        if type(b) is Err:
            return b
        b = _to_bool(b)
        if type(b) is Err:
            return b
        return (a != b) if op == "XOR" else b

    return logic


_ORDER: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _binary(e: ast.Binary) -> Fn:
    if e.op in ast.LOGIC_OPS:
        return _logic(e)
    left, right, op = _compile(e.left), _compile(e.right), e.op
    if op in ast.EQUALITY_OPS:
        negated = op == "!="
        if isinstance(e.right, ast.Literal) and isinstance(e.right.value, str):
            lit = e.right.value

            def eq_str(ev: Any) -> Any:
                a = left(ev)
                if type(a) is str:
                    return (a == lit) != negated
                if type(a) is Err:
                    return a
                return (to_string(a) == lit) != negated

            return eq_str

        def eq(ev: Any) -> Any:
            a = left(ev)
            if type(a) is Err:
                return a
            b = right(ev)
            if type(b) is Err:
                return b
            if type(a) is not type(b):
                a, reason = cast(a, type_of(b))
                if reason:
                    return CAST
            return (a == b) != negated

        return eq

    order = _ORDER.get(op)

    def numeric(ev: Any) -> Any:
        a = left(ev)
        if type(a) is Err:
            return a
        b = right(ev)
        if type(b) is Err:
            return b
        x = _to_int(a)
        if type(x) is Err:
            return x
        y = _to_int(b)
        if type(y) is Err:
            return y
        if order is not None:
            return order(x, y)
        out, reason = arith(op, x, y)
        return MATH if reason else out

    return numeric


def _like(e: ast.Like) -> Fn:
    inner, negated = _compile(e.operand), e.negated
    fullmatch = like_regex(e.pattern).fullmatch

    def like(ev: Any) -> Any:
        v = inner(ev)
        if type(v) is not str:
            if type(v) is Err:
                return v
            v = to_string(v)
        return (fullmatch(v) is not None) != negated

    return like


def _in(e: ast.In) -> Fn:
    operand, negated = _compile(e.operand), e.negated
    items = [_compile(i) for i in e.items]

    def in_(ev: Any) -> Any:
        v = operand(ev)
        if type(v) is Err:
            return v
        values = []
        for item in items:
            x = item(ev)
            if type(x) is Err:
                return x
            values.append(x)
        target = type_of(v)
        found = False
        for x in values:
            if type(x) is not type(v):
                x, reason = cast(x, target)
                if reason:
                    return CAST
            found = found or x == v
        return found != negated

    return in_


def _call(e: ast.Call) -> Fn:
    fn = lookup(e.name, len(e.args))
    if fn is None:
        missing = Err(ErrorKind.MISSING_FUNCTION)
        return lambda ev: missing
    args = [_compile(a) for a in e.args]
    targets = [fn.param_type(i) for i in range(len(e.args))]
    impl, failure = fn.impl, Err(fn.error_kind)

    def call(ev: Any) -> Any:
        values = []
        for a in args:
            v = a(ev)
            if type(v) is Err:
                return v
            values.append(v)
        for i, target in enumerate(targets):
            if target is not None:
                c, reason = cast(values[i], target)
                if reason:
                    return CAST
                values[i] = c
        out, reason = impl(*values)
        return failure if reason else out

    return call
