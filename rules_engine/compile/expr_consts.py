"""Operators specialised on a literal operand: the constant side decided once, at compile time.

Position in the pipeline::

    expr_codegen._arith / _compare / _in / _string_test, right operand an ``ir.Literal``
        ──▶ arith_const / compare_const / found_in_constants / string_test_const ──▶ closures

``data.total > 1000`` becomes one ``type()`` test and one ``>``; ``x in ["a", "b"]`` a
frozenset lookup; a regular expression or ``like`` pattern is compiled once.

Invariant: each specialisation gives exactly what the general operation of
``expressions.evaluate`` (``arith``, ``compare``, ``member``, ``string_test``) gives for that
literal, on every value; tests/test_expr_codegen.py checks it against the reference evaluator.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from math import isfinite, isnan
from typing import Any, Final

from rules_engine.compile.expr_closures import FALSE, Bindings, ValueFn
from rules_engine.expressions.evaluate import arith, wildcard_match
from rules_engine.expressions.regex import compile_regex
from rules_engine.expressions.shape import parse_wildcard
from rules_engine.model.values import MISSING, finite_number, is_number, json_equal

__all__ = ["arith_const", "compare_const", "found_in_constants", "string_test_const"]


def arith_const(op: str, lf: ValueFn, c: Any) -> ValueFn:
    """``left op c`` for a number ``c``: exact as ``arith`` (same operation, same finite_number)."""

    def fallback(a: Any) -> Any:
        return arith(op, a, c)

    if op == "*":
        def mul_const(ev: Any, b: Bindings) -> Any:
            a = lf(ev, b)
            t = type(a)
            if t is float or t is int:
                try:
                    r = a * c
                except OverflowError:  # an int too large for a float: arith() says MISSING too
                    return MISSING
                return r if type(r) is float and isfinite(r) else finite_number(r)
            return fallback(a)

        return mul_const
    if op == "+":
        def add_const(ev: Any, b: Bindings) -> Any:
            a = lf(ev, b)
            t = type(a)
            if t is float or t is int:
                try:
                    r = a + c
                except OverflowError:  # an int too large for a float: arith() says MISSING too
                    return MISSING
                return r if type(r) is float and isfinite(r) else finite_number(r)
            return fallback(a)

        return add_const

    def sub_const(ev: Any, b: Bindings) -> Any:
        a = lf(ev, b)
        t = type(a)
        if t is float or t is int:
            try:
                r = a - c
            except OverflowError:  # an int too large for a float: arith() says MISSING too
                return MISSING
            return r if type(r) is float and isfinite(r) else finite_number(r)
        return fallback(a)

    return sub_const



_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": lambda a, c: a < c,
    "<=": lambda a, c: a <= c,
    ">": lambda a, c: a > c,
    ">=": lambda a, c: a >= c,
}


def compare_const(op: str, lf: ValueFn, c: Any) -> ValueFn:
    """``left op c`` for a literal ``c`` (a string, number, boolean or null)."""
    if op == "==" or op == "!=":
        eq = _equals_const(c)
        if op == "==":
            def eq_const(ev: Any, b: Bindings) -> bool:
                return eq(lf(ev, b))

            return eq_const

        def ne_const(ev: Any, b: Bindings) -> bool:
            a = lf(ev, b)
            return a is not MISSING and not eq(a)

        return ne_const
    order = _ORDER[op]
    if isinstance(c, str):
        def order_str(ev: Any, b: Bindings) -> bool:
            a = lf(ev, b)
            return isinstance(a, str) and order(a, c)

        return order_str
    if is_number(c):
        def order_num(ev: Any, b: Bindings) -> bool:
            a = lf(ev, b)
            t = type(a)
            if t is int or t is float or is_number(a):
                return order(a, c)
            return False

        return order_num
    return FALSE  # booleans and null have no order


def _equals_const(c: Any) -> Callable[[Any], bool]:
    """``json_equal(a, c)`` for a literal ``c``, specialised on ``c``'s type."""
    if isinstance(c, bool):
        return lambda a: a is c
    if c is None:
        return lambda a: a is None
    if isinstance(c, str):
        return lambda a: isinstance(a, str) and a == c

    def eq_num(a: Any) -> bool:
        t = type(a)
        if t is int or t is float:
            return bool(a == c)
        return is_number(a) and bool(a == c)

    return eq_num


def found_in_constants(lits: tuple[Any, ...]) -> Callable[[Any], bool]:
    """Is ``a`` JSON-equal to one of the literals?  (False for MISSING.)"""
    if all(isinstance(x, str) for x in lits):
        strings = frozenset(lits)
        return lambda a: isinstance(a, str) and a in strings
    if all(is_number(x) and not (isinstance(x, float) and isnan(x)) for x in lits):
        # int and float hash alike when equal (1 == 1.0), exactly as json_equal compares them
        # (NaN is left out: a set finds it by identity, json_equal never equals it).
        numbers = frozenset(lits)
        return lambda a: is_number(a) and a in numbers
    return lambda a: a is not MISSING and any(json_equal(a, x) for x in lits)



def string_test_const(op: str, c: str) -> Callable[[str], bool] | None:
    """The test of a string ``a`` against the literal ``c`` for ``op`` (``a.startswith(c)`` …);
    ``None`` when no string passes (an invalid regular expression or ``like`` pattern, an unknown ``op``)."""
    if op == "starts_with":
        return operator.methodcaller("startswith", c)
    if op == "ends_with":
        return operator.methodcaller("endswith", c)
    if op == "contains":
        return operator.methodcaller("__contains__", c)
    if op == "equals_ignore_case":
        folded = c.casefold()

        def same_folded(a: str) -> bool:
            return a.casefold() == folded

        return same_folded
    if op == "matches":
        rx = compile_regex(c)
        return None if rx is None else rx.search
    if op == "like":
        pieces = parse_wildcard(c)
        return None if pieces is None else functools.partial(wildcard_match, pieces)
    return None
