"""The bridge from the expression compiler to compiled CEL: ``cel("...")`` nodes as closures.

Position in the pipeline::

    ir.Cel(source) ──cel_node_predicate──▶ compile_cel(source).predicate, a failure is false
                   ──cel_node_value──────▶ compile_cel_value(source), mapped onto JSON values
                                            (cel-python's own program when the value can be opaque)

Invariant: the reference's meaning (``expressions.evaluate``): a CEL failure is no verdict
(false) and no value (``MISSING``); the closures never raise.
"""

from __future__ import annotations

from typing import Any

from rules_engine.cel.evaluate import CelProgram
from rules_engine.cel.parse import makes_opaque_values, parse_cel
from rules_engine.compile.cel_codegen import compile_cel, compile_cel_value
from rules_engine.compile.cel_values import CelFailure
from rules_engine.compile.expr_closures import Bindings, Predicate, ValueFn
from rules_engine.expressions.evaluate import from_cel
from rules_engine.model.values import MISSING

__all__ = ["cel_node_predicate", "cel_node_value", "json_or_missing"]


def cel_node_predicate(source: str) -> Predicate:
    """A CEL filter's verdict as the reference gives it: true only on CEL's ``true``, false on any failure."""
    pred = compile_cel(source).predicate

    def cel_predicate(event: Any) -> bool:
        try:
            return pred(event) is True
        except Exception:  # noqa: BLE001 - as the reference: a CEL failure is no verdict
            return False

    return cel_predicate


def cel_node_value(source: str) -> ValueFn:
    """A CEL node's value as the reference gives it: a JSON value, ``MISSING`` on any failure.

    cel-python values that JSON cannot hold come only from bytes literals and the
    ``timestamp``/``duration``/``bytes`` constructors (an event is JSON, so it holds none);
    the reference maps them to MISSING, ``compile_cel_value`` to text, so an expression that can
    make one (decided on its parse tree) runs on cel-python's program.
    """
    if makes_opaque_values(parse_cel(source)):
        program = CelProgram.build(source)

        def cel_reference(ev: Any, b: Bindings) -> Any:
            try:
                return from_cel(program.evaluate(ev))
            except Exception:  # noqa: BLE001 - as the reference: a CEL failure is no value
                return MISSING

        return cel_reference
    fn = compile_cel_value(source)

    def cel_value(ev: Any, b: Bindings) -> Any:
        try:
            return json_or_missing(fn(ev))
        except Exception:  # noqa: BLE001 - as the reference: a CEL failure is no value
            return MISSING

    return cel_value


def json_or_missing(value: Any) -> Any:
    """A ``compile_cel_value`` result as the expression language sees it: ``MISSING`` when it
    is or holds a ``CelFailure`` (an error, or a value JSON cannot hold)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is CelFailure:
            return MISSING
        if t is list:
            stack.extend(v)
        elif t is dict:
            stack.extend(v.values())
    return value
