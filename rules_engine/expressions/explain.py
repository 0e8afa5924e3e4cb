"""Why a filter did not hold: the first failing condition and the values it saw.

Position in the pipeline::

    IR expression + event ──**explain_expr**──▶ "data.total: 950 is not > 1000"
                          (dry runs and ``reference.explain``; built on the expression evaluator's
                           evaluator and render_expr's source text)

An explanation follows the evaluator step by step (:func:`eval_in`,
:func:`holds_in`) so that it can never disagree with the verdict: it names the
sub-condition that failed, the value the event supplied, and, for a missing
value, the first missing field evaluation looked at.

Pure: no I/O; a message is built from the expression and the event alone.
"""

from __future__ import annotations

from typing import Any

from rules_engine.cel.evaluate import explain_cel
from rules_engine.expressions.evaluate import Bindings, eval_in, field_value, holds_in, parse_address, parse_network
from rules_engine.expressions.regex import compile_regex
from rules_engine.expressions.render import render_scoped, show, string_literal
from rules_engine.expressions.shape import children, parse_wildcard
from rules_engine.model import ir
from rules_engine.model.values import MISSING, is_array, is_number, type_name

_NO_BINDINGS: Bindings = {}


def explain_expr(expr: ir.Expr, event: Any) -> str | None:
    """``None`` when the filter holds, else the first failing condition and the value seen.

    Examples: ``"data.total: 950 is not > 1000"``, ``"data.country: missing"``,
    ``"data.country: 'FR' is not in ['US', 'CA']"``; for ``or``:
    ``"none of the alternatives holds: …; …"``.
    """
    try:
        if holds_in(expr, event, _NO_BINDINGS):
            return None
        return _explain(expr, event, _NO_BINDINGS)
    except RecursionError:
        return "the expression is nested too deeply to evaluate"


# --- messages ----------------------------------------------------------------------------------------


def _label(e: ir.Expr, b: Bindings) -> str:
    return render_scoped(e, frozenset(b))


def _missing_reason(e: ir.Expr, event: Any, b: Bindings) -> str:
    """Why ``e`` has no value: the first missing field inside it, when there is one."""
    field = _first_missing_field(e, event, b)
    if field is None:
        return f"{_label(e, b)}: no value"
    if field is e:
        return f"{_label(e, b)}: missing"
    return f"{_label(field, b)}: missing (so {_label(e, b)} has no value)"


def _first_missing_field(e: ir.Expr, event: Any, b: Bindings) -> ir.Field | None:
    # Pre-order, left to right, looking only where evaluation looked.
    stack: list[ir.Expr] = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ir.Field):
            if field_value(x, event, b) is MISSING:
                return x
            continue
        kids: list[ir.Expr]
        if isinstance(x, ir.Conditional):
            kids = [x.cond, x.then if holds_in(x.cond, event, b) else x.otherwise]
        elif isinstance(x, ir.Quantifier):
            kids = [x.collection]  # the predicate sees bound elements, not this scope
        else:
            kids = list(children(x))
        stack.extend(reversed(kids))
    return None


def _is_constant(e: ir.Expr) -> bool:
    """A literal, or a list of literals: its text says all about its value."""
    return isinstance(e, ir.Literal) or (
        isinstance(e, ir.ListExpr) and all(isinstance(x, ir.Literal) for x in e.items)
    )


def _operand(e: ir.Expr, v: Any, b: Bindings) -> str:
    """The right-hand side of a message: the value, plus the expression when it is not a constant."""
    if _is_constant(e):
        return show(v)
    return f"{_label(e, b)} ({show(v)})"


_STRING_FAIL = {
    "starts_with": "does not start with",
    "ends_with": "does not end with",
    "contains": "does not contain",
    "matches": "does not match",
    "like": "is not like",
    "equals_ignore_case": "does not equal (ignoring case)",
}


def _explain(e: ir.Expr, event: Any, b: Bindings) -> str:
    """Why ``e`` does not hold (the caller knows it does not): one explainer per kind of node."""
    if isinstance(e, ir.And):
        for x in e.items:
            if not holds_in(x, event, b):
                return _explain(x, event, b)
        return f"{_label(e, b)} is false"  # unreachable while holds_in and _explain agree
    if isinstance(e, ir.Or):
        if not e.items:
            return "an empty 'or' never holds"
        return "none of the alternatives holds: " + "; ".join(_explain(x, event, b) for x in e.items)
    if isinstance(e, ir.Unary) and e.op == "not":
        return f"{_label(e.operand, b)} holds (negated by 'not')"
    if isinstance(e, ir.Compare):
        return _explain_compare(e, event, b)
    if isinstance(e, ir.In):
        return _explain_in(e, event, b)
    if isinstance(e, ir.Exists):
        return f"{_label(e.field, b)}: missing"
    if isinstance(e, ir.StringTest):
        return _explain_string_test(e, event, b)
    if isinstance(e, ir.CidrTest):
        return _explain_cidr(e, event, b)
    if isinstance(e, ir.Quantifier):
        return _explain_quantifier(e, event, b)
    if isinstance(e, ir.Conditional):
        taken = e.then if holds_in(e.cond, event, b) else e.otherwise
        return _explain(taken, event, b)
    if isinstance(e, ir.Cel):
        return _explain_cel(e, event)
    if isinstance(e, ir.Literal):
        return f"the condition is the constant {_label(e, b)}"
    v = eval_in(e, event, b)
    if v is MISSING:
        return _missing_reason(e, event, b)
    return f"{_label(e, b)}: {show(v)} is not true"


def _explain_compare(e: ir.Compare, event: Any, b: Bindings) -> str:
    if _is_constant(e.left) and not _is_constant(e.right):
        # "1000 < data.total" reads better as "data.total: 950 is not > 1000".
        e = ir.Compare(ir.MIRRORED[e.op], e.right, e.left, e.span)
    lv, rv = eval_in(e.left, event, b), eval_in(e.right, event, b)
    if lv is MISSING:
        return _missing_reason(e.left, event, b)
    if rv is MISSING:
        return _missing_reason(e.right, event, b)
    head = f"{_label(e.left, b)}: {show(lv)}"
    if e.op == "!=":
        return f"{head} equals {_operand(e.right, rv, b)}"
    if e.op != "==" and not (
        (is_number(lv) and is_number(rv)) or (isinstance(lv, str) and isinstance(rv, str))
    ):
        return (
            f"{head} ({type_name(lv)}) cannot be ordered against "
            f"{_operand(e.right, rv, b)} ({type_name(rv)})"
        )
    if e.op == "==":
        # "type: 'order.updated' is not 'order.created'" (the same words as patterns use)
        return f"{head} is not {_operand(e.right, rv, b)}"
    return f"{head} is not {e.op} {_operand(e.right, rv, b)}"


def _explain_in(e: ir.In, event: Any, b: Bindings) -> str:
    iv, cv = eval_in(e.item, event, b), eval_in(e.collection, event, b)
    if iv is MISSING:
        return _missing_reason(e.item, event, b)
    if cv is MISSING:
        return _missing_reason(e.collection, event, b)
    if not is_array(cv):
        return f"{_label(e.collection, b)}: {show(cv)} is not an array"
    if _is_constant(e.item) and not _is_constant(e.collection):
        # `"vip" in data.tags`: the collection is what the event supplied.
        word = "contains" if e.negated else "does not contain"
        return f"{_label(e.collection, b)}: {show(cv)} {word} {show(iv)}"
    word = "is in" if e.negated else "is not in"
    return f"{_label(e.item, b)}: {show(iv)} {word} {_operand(e.collection, cv, b)}"


def _explain_string_test(e: ir.StringTest, event: Any, b: Bindings) -> str:
    lv, rv = eval_in(e.left, event, b), eval_in(e.right, event, b)
    for side, v in ((e.left, lv), (e.right, rv)):
        if v is MISSING:
            return _missing_reason(side, event, b)
        if not isinstance(v, str):
            return f"{_label(side, b)}: {show(v)} is a {type_name(v)}, not a string"
    if e.op == "matches" and compile_regex(rv) is None:
        return f"{_label(e.right, b)}: {show(rv)} is not a valid regular expression"
    if e.op == "like" and parse_wildcard(rv) is None:
        return f"{_label(e.right, b)}: {show(rv)} is not a valid wildcard pattern"
    return f"{_label(e.left, b)}: {show(lv)} {_STRING_FAIL[e.op]} {_operand(e.right, rv, b)}"


def _explain_cidr(e: ir.CidrTest, event: Any, b: Bindings) -> str:
    iv = eval_in(e.item, event, b)
    block = f"cidr({string_literal(e.network)})"
    if iv is MISSING:
        return _missing_reason(e.item, event, b)
    if parse_network(e.network) is None:
        return f"{block} is not a valid network"
    if parse_address(iv) is None:
        return f"{_label(e.item, b)}: {show(iv)} is not an IP address"
    word = "is in" if e.negated else "is not in"
    return f"{_label(e.item, b)}: {show(iv)} {word} {block}"


def _explain_quantifier(e: ir.Quantifier, event: Any, b: Bindings) -> str:
    coll = eval_in(e.collection, event, b)
    if coll is MISSING:
        return _missing_reason(e.collection, event, b)
    where = _label(e.collection, b)
    if not is_array(coll):
        return f"{where}: {show(coll)} is not an array"
    pred = render_scoped(e.predicate, frozenset(b) | {e.var})
    if e.kind == "all":
        for i, item in enumerate(coll):
            inner = {**b, e.var: item}
            if not holds_in(e.predicate, event, inner):
                return f"{where}[{i}]: {_explain(e.predicate, event, inner)}"
    if not coll:
        return f"{where}: the array is empty, so no element satisfies {pred}"
    first = _explain(e.predicate, event, {**b, e.var: coll[0]})
    more = f" (first: {where}[0]: {first})"
    return f"no element of {where} satisfies {pred}{more}"


def _explain_cel(e: ir.Cel, event: Any) -> str:
    try:
        why = explain_cel(e.source, event)
    except Exception:
        why = None
    return f"CEL {e.source}: {why}" if isinstance(why, str) else f"CEL condition does not hold: {e.source}"
