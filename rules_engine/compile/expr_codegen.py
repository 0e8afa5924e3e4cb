"""Expressions compiled: an IR expression turned once into nested Python closures.

Position in the pipeline::

    ir.Expr ──**compile_value / compile_predicate**──▶ closures
                     │                                  ├─ compiled rule index: non-indexable ``when:`` filters
                     │                                  └─ transform.py: ``set`` values, payloads, partition keys
                     └─ agrees with expressions.evaluate (evaluate, truth) on every case (tests/test_expr_codegen.py)

The contract is *exactly* the reference evaluator's meaning (``expressions.evaluate``,
``docs/expressions.md``): ``MISSING`` for a missing field, a wrong type or a
failed operation; comparisons with ``MISSING`` are false (``!=`` and
``not in`` included); a filter holds only on the boolean ``true``.  The tree
is walked once, at compile time; what is left per event is one closure call
per node, with the constant parts decided in advance:

* a field path of plain keys reads nested dicts directly (anything unusual —
  a list, a dict subclass, a missing key part way — takes ``get_path``);
* a comparison, membership or string test against a literal is specialised
  for the literal's type (``data.total > 1000`` is one ``type()`` test and one
  ``>``), regular expressions, ``like`` patterns and CIDR blocks are compiled once;
* library functions are looked up once; a call of an unknown function or
  with the wrong number of arguments is the constant ``MISSING``;
* CEL nodes use ``compile/cel_codegen.py`` (``compile_cel`` for verdicts,
  ``compile_cel_value`` for values), with the reference's mapping of CEL
  results onto JSON values.

This module walks the tree; the work is shared with three modules beside it::

    expr_closures.py  the closure shapes (``ValueFn``, ``Predicate``, ``Bindings``) and constants
    expr_consts.py    operators specialised on a literal operand (arithmetic, comparison, ``in``, string tests)
    expr_cel.py       the bridge to compiled CEL for ``cel("...")`` nodes

Invariants: the closures never raise on any event (as the reference); they
never return a shared mutable object (lists and objects are built fresh on
every call, so a caller may keep or change what it gets); no module-level
mutable state.  An expression nested deeper than :data:`MAX_DEPTH` is not
compiled: the reference evaluator runs it (such trees only come from tools,
the parsers stop at 64 levels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from rules_engine.compile.expr_cel import cel_node_predicate, cel_node_value
from rules_engine.compile.expr_closures import ALWAYS_MISSING, FALSE, Bindings, Predicate, ValueFn, constant
from rules_engine.compile.expr_consts import arith_const, compare_const, found_in_constants, string_test_const
from rules_engine.expressions.evaluate import (
    arith,
    compare,
    evaluate,
    member,
    parse_address,
    parse_network,
    string_test,
    truth,
)
from rules_engine.expressions.functions import FUNCTIONS
from rules_engine.expressions.shape import children
from rules_engine.model import ir
from rules_engine.model.values import MISSING, finite_number, get_path, is_array, is_number, to_text

__all__ = ["MAX_DEPTH", "compile_predicate", "compile_value", "depth"]

_Verdict = Callable[[Any, Bindings], bool]

MAX_DEPTH: Final = 200
"""Deeper trees are evaluated by the reference evaluator (compiling them would recurse too deep)."""

_NO_BINDINGS: Final[Bindings] = {}


# --- public API -----------------------------------------------------------------------------------


def compile_value(expr: ir.Expr) -> ValueFn:
    """``expr`` as ``fn(event, bindings) -> value``, with ``expressions.evaluate.evaluate``'s exact meaning.

    ``bindings`` gives values to quantifier variables (pass ``{}`` when there are none).
    """
    if depth(expr) > MAX_DEPTH:
        def reference(event: Any, bindings: Bindings) -> Any:
            return evaluate(expr, event, bindings)

        return reference
    return _value(expr)


def compile_predicate(expr: ir.Expr) -> Predicate:
    """``expr`` as a filter ``fn(event) -> bool``, with ``expressions.evaluate.truth``'s exact meaning."""
    if depth(expr) > MAX_DEPTH:
        def reference(event: Any) -> bool:
            return truth(expr, event)

        return reference
    if isinstance(expr, ir.Cel):
        return cel_node_predicate(expr.source)
    v = _verdict(expr)

    def predicate(event: Any) -> bool:
        return v(event, _NO_BINDINGS)

    return predicate


def depth(expr: ir.Expr) -> int:
    """Nesting depth of an expression tree (a leaf is 1); iterative."""
    best = 0
    stack: list[tuple[ir.Expr, int]] = [(expr, 1)]
    while stack:
        e, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in children(e))
    return best


# --- verdicts -----------------------------------------------------------------------------------------

# Nodes whose value is always a bool: their verdict is their value.
_BOOLEAN_NODES = (ir.Compare, ir.And, ir.Or, ir.In, ir.Exists, ir.StringTest, ir.CidrTest, ir.Quantifier)


def _verdict(e: ir.Expr) -> _Verdict:
    """``expressions.evaluate._verdict``: CEL's own truth for a CEL node, else "the value is ``true``"."""
    if isinstance(e, ir.Cel):
        pred = cel_node_predicate(e.source)

        def cel_verdict(ev: Any, b: Bindings) -> bool:
            return pred(ev)

        return cel_verdict
    if isinstance(e, _BOOLEAN_NODES) or (isinstance(e, ir.Unary) and e.op == "not"):
        return _value(e)
    if isinstance(e, ir.Literal):
        const = e.value is True

        def literal_verdict(ev: Any, b: Bindings) -> bool:
            return const

        return literal_verdict
    f = _value(e)

    def is_true(ev: Any, b: Bindings) -> bool:
        return f(ev, b) is True

    return is_true


# --- values ---------------------------------------------------------------------------------------------


def _value(e: ir.Expr) -> ValueFn:
    if isinstance(e, ir.Literal):
        return constant(e.value)  # scalars only: nothing mutable is shared
    if isinstance(e, ir.Field):
        return _field(e)
    if isinstance(e, ir.ListExpr):
        return _list(e)
    if isinstance(e, ir.ObjectExpr):
        return _object(e)
    if isinstance(e, ir.Unary):
        return _unary(e)
    if isinstance(e, ir.Arith):
        return _arith(e)
    if isinstance(e, ir.Compare):
        return _compare(e)
    if isinstance(e, ir.And):
        return _and(e)
    if isinstance(e, ir.Or):
        return _or(e)
    if isinstance(e, ir.In):
        return _in(e)
    if isinstance(e, ir.Exists):
        f = _field(e.field)

        def exists(ev: Any, b: Bindings) -> bool:
            return f(ev, b) is not MISSING

        return exists
    if isinstance(e, ir.StringTest):
        return _string_test(e)
    if isinstance(e, ir.CidrTest):
        return _cidr(e)
    if isinstance(e, ir.Call):
        return _call(e)
    if isinstance(e, ir.Quantifier):
        return _quantifier(e)
    if isinstance(e, ir.Conditional):
        return _conditional(e)
    if isinstance(e, ir.Template):
        return _template(e)
    if isinstance(e, ir.Cel):
        return cel_node_value(e.source)
    return ALWAYS_MISSING  # not an expression node (as the reference)


# -- fields --


def _field(f: ir.Field) -> ValueFn:
    path = f.path
    if f.var is not None:
        var = f.var

        def bound(ev: Any, b: Bindings) -> Any:
            # get_path(MISSING, ...) is MISSING: an unbound variable has no value.
            return get_path(b.get(var, MISSING), path)

        return bound
    if not path:
        def root(ev: Any, b: Bindings) -> Any:
            return ev

        return root
    if not all(type(k) is str for k in path):
        def indexed(ev: Any, b: Bindings) -> Any:
            return get_path(ev, path)

        return indexed
    # Plain keys: read exact dicts directly; anything else (a list on the way, a Mapping
    # that is not a dict, a missing part) is left to get_path from the start.
    if len(path) == 1:
        (k0,) = path

        def key1(ev: Any, b: Bindings) -> Any:
            if type(ev) is dict:
                return ev.get(k0, MISSING)
            return get_path(ev, path)

        return key1
    if len(path) == 2:
        k0, k1 = path

        def key2(ev: Any, b: Bindings) -> Any:
            if type(ev) is dict:
                v = ev.get(k0, MISSING)
                if type(v) is dict:
                    return v.get(k1, MISSING)
            return get_path(ev, path)

        return key2
    if len(path) == 3:
        k0, k1, k2 = path

        def key3(ev: Any, b: Bindings) -> Any:
            if type(ev) is dict:
                v = ev.get(k0, MISSING)
                if type(v) is dict:
                    v = v.get(k1, MISSING)
                    if type(v) is dict:
                        return v.get(k2, MISSING)
            return get_path(ev, path)

        return key3

    def keys(ev: Any, b: Bindings) -> Any:
        cur = ev
        for k in path:
            if type(cur) is not dict:
                return get_path(ev, path)
            cur = cur.get(k, MISSING)
        return cur

    return keys


# -- containers (always built fresh) --


def _list(e: ir.ListExpr) -> ValueFn:
    fs = tuple(_value(x) for x in e.items)

    def make_list(ev: Any, b: Bindings) -> Any:
        out = []
        for f in fs:
            v = f(ev, b)
            if v is not MISSING:
                out.append(v)
        return out

    return make_list


def _object(e: ir.ObjectExpr) -> ValueFn:
    items = tuple((k, _value(x)) for k, x in e.items)

    def make_object(ev: Any, b: Bindings) -> Any:
        obj: dict[str, Any] = {}
        for k, f in items:
            v = f(ev, b)
            if v is not MISSING:
                obj[k] = v
            else:
                obj.pop(k, None)  # a later missing duplicate key removes an earlier value
        return obj

    return make_object


# -- operators --


def _unary(e: ir.Unary) -> ValueFn:
    if e.op == "not":
        g = _verdict(e.operand)

        def negation(ev: Any, b: Bindings) -> bool:
            return not g(ev, b)

        return negation
    f = _value(e.operand)

    def minus(ev: Any, b: Bindings) -> Any:
        v = f(ev, b)
        return finite_number(-v) if is_number(v) else MISSING

    return minus


def _arith(e: ir.Arith) -> ValueFn:
    op, lf, rf = e.op, _value(e.left), _value(e.right)
    if isinstance(e.right, ir.Literal) and is_number(e.right.value) and op in "+-*":
        # `data.total * 100`: two exact numbers take the direct route; everything else arith().
        return arith_const(op, lf, e.right.value)

    def arith_any(ev: Any, b: Bindings) -> Any:
        return arith(op, lf(ev, b), rf(ev, b))

    return arith_any


def _compare(e: ir.Compare) -> ValueFn:
    op: str = e.op
    left, right = e.left, e.right
    if isinstance(left, ir.Literal) and isinstance(right, ir.Literal):
        return constant(compare(op, left.value, right.value))
    if isinstance(left, ir.Literal):
        # `1000 < data.total` is `data.total > 1000`: both sides are plain values, so mirroring is exact.
        op, left, right = ir.MIRRORED[op], right, left
    lf = _value(left)
    if isinstance(right, ir.Literal):
        return compare_const(op, lf, right.value)
    rf = _value(right)

    def compare_any(ev: Any, b: Bindings) -> bool:
        return compare(op, lf(ev, b), rf(ev, b))

    return compare_any


def _and(e: ir.And) -> ValueFn:
    vs = tuple(_verdict(x) for x in e.items)
    if not vs:
        return constant(True)
    if len(vs) == 1:
        (v0,) = vs
        return v0  # a verdict is already a bool
    if len(vs) == 2:
        v0, v1 = vs

        def and2(ev: Any, b: Bindings) -> bool:
            return v0(ev, b) and v1(ev, b)

        return and2

    def and_n(ev: Any, b: Bindings) -> bool:
        for v in vs:
            if not v(ev, b):
                return False
        return True

    return and_n


def _or(e: ir.Or) -> ValueFn:
    vs = tuple(_verdict(x) for x in e.items)
    if not vs:
        return FALSE
    if len(vs) == 1:
        return vs[0]
    if len(vs) == 2:
        v0, v1 = vs

        def or2(ev: Any, b: Bindings) -> bool:
            return v0(ev, b) or v1(ev, b)

        return or2

    def or_n(ev: Any, b: Bindings) -> bool:
        for v in vs:
            if v(ev, b):
                return True
        return False

    return or_n


def _in(e: ir.In) -> ValueFn:
    fi = _value(e.item)
    negated = e.negated
    coll = e.collection
    if isinstance(coll, ir.ListExpr) and all(isinstance(x, ir.Literal) for x in coll.items):
        lits = tuple(x.value for x in coll.items)  # type: ignore[union-attr]
        found = found_in_constants(lits)
        if negated:
            def not_in_const(ev: Any, b: Bindings) -> bool:
                a = fi(ev, b)
                return a is not MISSING and not found(a)

            return not_in_const

        def in_const(ev: Any, b: Bindings) -> bool:
            return found(fi(ev, b))

        return in_const
    fc = _value(coll)

    def in_any(ev: Any, b: Bindings) -> bool:
        return member(fi(ev, b), fc(ev, b), negated)

    return in_any


def _string_test(e: ir.StringTest) -> ValueFn:
    op, lf = e.op, _value(e.left)
    if not isinstance(e.right, ir.Literal):
        rf = _value(e.right)

        def string_any(ev: Any, b: Bindings) -> bool:
            return string_test(op, lf(ev, b), rf(ev, b))

        return string_any
    c = e.right.value
    test = string_test_const(op, c) if isinstance(c, str) else None
    if test is None:
        return FALSE

    def string_const(ev: Any, b: Bindings) -> bool:
        a = lf(ev, b)
        return isinstance(a, str) and test(a)

    return string_const


def _cidr(e: ir.CidrTest) -> ValueFn:
    net = parse_network(e.network)
    if net is None:
        return FALSE
    f, negated, version = _value(e.item), e.negated, net.version

    def cidr(ev: Any, b: Bindings) -> bool:
        addr = parse_address(f(ev, b))
        if addr is None:
            return False
        inside = addr.version == version and addr in net
        return not inside if negated else inside

    return cidr


def _call(e: ir.Call) -> ValueFn:
    fn = FUNCTIONS.get(e.name)
    if fn is None or not fn.accepts_count(len(e.args)):
        return ALWAYS_MISSING  # check_expr reports these (E306, E307)
    impl = fn.impl
    args = tuple(_value(a) for a in e.args)
    if len(args) == 1:
        (a0,) = args

        def call1(ev: Any, b: Bindings) -> Any:
            return impl(a0(ev, b))

        return call1
    if len(args) == 2:
        a0, a1 = args

        def call2(ev: Any, b: Bindings) -> Any:
            return impl(a0(ev, b), a1(ev, b))

        return call2

    def call_n(ev: Any, b: Bindings) -> Any:
        return impl(*[a(ev, b) for a in args])

    return call_n


def _quantifier(e: ir.Quantifier) -> ValueFn:
    fc, pred, var = _value(e.collection), _verdict(e.predicate), e.var
    want_any = e.kind == "any"

    def quantifier(ev: Any, b: Bindings) -> bool:
        coll = fc(ev, b)
        if not is_array(coll):
            return False  # `any` and `all` alike
        # One scope per evaluation, rebound per element: no closure keeps it.
        scope = dict(b)
        for item in coll:
            scope[var] = item
            if pred(ev, scope) is want_any:
                return want_any
        return not want_any

    return quantifier


def _conditional(e: ir.Conditional) -> ValueFn:
    cond, then, otherwise = _verdict(e.cond), _value(e.then), _value(e.otherwise)

    def conditional(ev: Any, b: Bindings) -> Any:
        return then(ev, b) if cond(ev, b) else otherwise(ev, b)

    return conditional


def _template(e: ir.Template) -> ValueFn:
    parts: tuple[str | ValueFn, ...] = tuple(p if isinstance(p, str) else _value(p) for p in e.parts)

    def template(ev: Any, b: Bindings) -> str:
        out = []
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            else:
                v = p(ev, b)
                out.append(v if type(v) is str else to_text(v))
        return "".join(out)

    return template


