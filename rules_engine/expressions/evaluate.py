"""The reference evaluator of the expression language: what an expression *means*.

Position in the pipeline::

    IR expression ──▶ **evaluate / truth** (this module: slow, plain, the oracle)
                  └─▶ compile/ (fast) ── tested to agree with this module

It is written to be obviously correct, not fast: a direct walk over the IR,
one branch per node type, following ``docs/expressions.md`` rule by rule.
Its building blocks (:func:`arith`, :func:`compare`, :func:`string_test`,
:func:`children` …) are public: the compiler and the checker reuse them.

Two neighbours build on this module: ``render.py`` writes expressions back as
source text and ``explain.py`` says why a filter did not hold.  A ``cel(...)``
value inside an expression is evaluated by the CEL dialect's reference
evaluator (``rules_engine.cel.evaluate``): the expression language embeds CEL.

Invariants:
  * :func:`evaluate` never raises on any event: a missing field, a value of
    the wrong type or a failed operation is ``MISSING``, and any comparison
    involving ``MISSING`` is false;
  * a filter holds only when its value is the boolean ``true``
    (:func:`truth`); ``and``/``or``/``not`` combine such verdicts;
  * key order inside the event never changes a result.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from rules_engine.cel.evaluate import cel_truth, evaluate_cel
from rules_engine.expressions.functions import FUNCTIONS
from rules_engine.expressions.regex import compile_regex
from rules_engine.expressions.shape import parse_wildcard
from rules_engine.model import ir
from rules_engine.model.values import (
    MAX_BUILT_STRING,
    MISSING,
    finite_number,
    get_path,
    is_array,
    is_number,
    json_equal,
    to_text,
)

Bindings = Mapping[str, Any]
_NO_BINDINGS: Bindings = {}


# --- public API -------------------------------------------------------------------------------------


def evaluate(expr: ir.Expr, event: Any, bindings: Bindings | None = None) -> Any:
    """The value of ``expr`` for ``event``: a JSON value, or ``MISSING``.  Never raises.

    ``bindings`` gives values to quantifier variables (``Field(path, var=...)``).
    """
    try:
        return eval_in(expr, event, bindings if bindings is not None else _NO_BINDINGS)
    except RecursionError:
        # Only an expression nested deeper than the parser allows (E105) gets here.
        return MISSING


def truth(expr: ir.Expr, event: Any) -> bool:
    """The filter verdict: true only when ``expr`` is the boolean ``true``."""
    try:
        return holds_in(expr, event, _NO_BINDINGS)
    except RecursionError:
        return False


# --- evaluation -----------------------------------------------------------------------------------


# eval_in, holds_in and field_value are the unguarded walkers behind evaluate and truth: they let
# RecursionError through, so a caller that walks alongside them (explain_expr) guards once, on top.


def holds_in(expr: ir.Expr, event: Any, b: Bindings) -> bool:
    """Does ``expr`` hold under bindings ``b``?  (``Cel`` nodes use CEL's own notion of truth.)"""
    if isinstance(expr, ir.Cel):
        return _cel_truth(expr.source, event)
    return eval_in(expr, event, b) is True


def eval_in(e: ir.Expr, event: Any, b: Bindings) -> Any:
    """The value of ``e`` under bindings ``b``: :func:`evaluate` without its recursion guard."""
    if isinstance(e, ir.Literal):
        return e.value
    if isinstance(e, ir.Field):
        return field_value(e, event, b)
    if isinstance(e, ir.ListExpr):
        # MISSING never appears inside a value: a missing element is left out.
        items = (eval_in(x, event, b) for x in e.items)
        return [v for v in items if v is not MISSING]
    if isinstance(e, ir.ObjectExpr):
        obj: dict[str, Any] = {}
        for key, x in e.items:
            v = eval_in(x, event, b)
            if v is not MISSING:
                obj[key] = v
            else:
                # A later missing duplicate key must not leave an earlier value behind.
                obj.pop(key, None)
        return obj
    if isinstance(e, ir.Unary):
        if e.op == "not":
            return not holds_in(e.operand, event, b)
        v = eval_in(e.operand, event, b)
        return finite_number(-v) if is_number(v) else MISSING
    if isinstance(e, ir.Arith):
        return arith(e.op, eval_in(e.left, event, b), eval_in(e.right, event, b))
    if isinstance(e, ir.Compare):
        return compare(e.op, eval_in(e.left, event, b), eval_in(e.right, event, b))
    if isinstance(e, ir.And):
        return all(holds_in(x, event, b) for x in e.items)
    if isinstance(e, ir.Or):
        return any(holds_in(x, event, b) for x in e.items)
    if isinstance(e, ir.In):
        return member(eval_in(e.item, event, b), eval_in(e.collection, event, b), e.negated)
    if isinstance(e, ir.Exists):
        return field_value(e.field, event, b) is not MISSING
    if isinstance(e, ir.StringTest):
        return string_test(e.op, eval_in(e.left, event, b), eval_in(e.right, event, b))
    if isinstance(e, ir.CidrTest):
        return cidr_test(eval_in(e.item, event, b), e.network, e.negated)
    if isinstance(e, ir.Call):
        fn = FUNCTIONS.get(e.name)
        if fn is None or not fn.accepts_count(len(e.args)):
            return MISSING  # check_expr reports these (E306, E307)
        return fn.impl(*(eval_in(a, event, b) for a in e.args))
    if isinstance(e, ir.Quantifier):
        coll = eval_in(e.collection, event, b)
        if not is_array(coll):
            return False  # `any` and `all` alike: no array, no verdict to vouch for
        results = (holds_in(e.predicate, event, {**b, e.var: item}) for item in coll)
        return any(results) if e.kind == "any" else all(results)
    if isinstance(e, ir.Conditional):
        return eval_in(e.then if holds_in(e.cond, event, b) else e.otherwise, event, b)
    if isinstance(e, ir.Template):
        return "".join(p if isinstance(p, str) else to_text(eval_in(p, event, b)) for p in e.parts)
    if isinstance(e, ir.Cel):
        return _cel_value(e.source, event)
    return MISSING  # not an expression node: nothing to mean


def field_value(f: ir.Field, event: Any, b: Bindings) -> Any:
    """The value at a field path: in the event, or in the element bound to ``f.var``."""
    if f.var is None:
        return get_path(event, f.path)
    if f.var not in b:
        return MISSING  # an unbound variable (check_expr reports E332)
    return get_path(b[f.var], f.path)


def arith(op: str, a: Any, b: Any) -> Any:
    """``a op b``: numbers (``+`` also joins two strings); anything else, /0 or overflow is MISSING.

    Two ints give an int, except ``/`` (true division, always a float);
    ``%`` takes the sign of the divisor (``-7 % 3 == 2``), as Python does.
    """
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b if len(a) + len(b) <= MAX_BUILT_STRING else MISSING
    if not (is_number(a) and is_number(b)):
        return MISSING
    try:
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op == "/":
            r = a / b if b != 0 else MISSING
        elif op == "%":
            r = a % b if b != 0 else MISSING
        else:
            return MISSING
    except (OverflowError, ZeroDivisionError, ValueError):
        return MISSING
    return finite_number(r)


def compare(op: str, a: Any, b: Any) -> bool:
    """A comparison: false whenever either side is missing.

    ``==``/``!=`` use JSON equality; ordering needs two numbers or two strings
    (code-point order).  ``!=`` is *not* ``not ==``: both sides must be present.
    """
    if a is MISSING or b is MISSING:
        return False
    if op == "==":
        return json_equal(a, b)
    if op == "!=":
        return not json_equal(a, b)
    if is_number(a) and is_number(b):
        pass
    elif not (isinstance(a, str) and isinstance(b, str)):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    return False


def member(item: Any, collection: Any, negated: bool) -> bool:
    """``item in collection`` / ``not in``: both need a present item and an array."""
    if item is MISSING or not is_array(collection):
        return False
    found = any(json_equal(item, x) for x in collection)
    return not found if negated else found


# -- string predicates --


def wildcard_match(pieces: tuple[str, ...], text: str) -> bool:
    """Does ``text`` match the pieces of a ``*`` pattern?

    Linear scans only (no backtracking): the first piece is a prefix, the last
    a suffix, and each middle piece is taken at its leftmost place, which is
    always a best choice when ``*`` is the only wildcard.
    """
    if len(pieces) == 1:
        return text == pieces[0]
    first, last = pieces[0], pieces[-1]
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    pos = len(first)
    for piece in pieces[1:-1]:
        at = text.find(piece, pos, end)
        if at < 0:
            return False
        pos = at + len(piece)
    return True


def string_test(op: str, a: Any, b: Any) -> bool:
    """A string predicate: false unless both sides are strings (and a pattern is valid)."""
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    if op == "starts_with":
        return a.startswith(b)
    if op == "ends_with":
        return a.endswith(b)
    if op == "contains":
        return b in a
    if op == "equals_ignore_case":
        return a.casefold() == b.casefold()
    if op == "matches":
        rx = compile_regex(b)
        return rx is not None and rx.search(a)
    if op == "like":
        pieces = parse_wildcard(b)
        return pieces is not None and wildcard_match(pieces, a)
    return False


# -- CIDR --


@functools.lru_cache(maxsize=256)
def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def parse_address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address held in a string (``None`` for anything else: ints are not addresses here).

    What counts as an address is what EventBridge patterns count (``eval_pattern.ip_value``,
    checked against AWS), so ``cidr`` means one thing in both dialects (docs/expressions.md): IPv4
    is dotted decimal, IPv6 is hex groups without an embedded dotted part, and an IPv4-mapped
    IPv6 address (``::ffff:a00:1``) is its IPv4 address.
    """
    if not isinstance(value, str) or not _IP_SHAPE.fullmatch(value):
        return None
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    return mapped if mapped is not None else addr


_IP_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+|[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def cidr_test(item: Any, network: str, negated: bool) -> bool:
    """``item in cidr(network)``; ``not in`` also needs a valid address (like ``!=``)."""
    addr = parse_address(item)
    net = parse_network(network)
    if addr is None or net is None:
        return False
    inside = addr.version == net.version and addr in net
    return not inside if negated else inside


# -- CEL (another module; imported lazily so this module stays importable alone) --


def _cel_value(source: str, event: Any) -> Any:
    try:
        return from_cel(evaluate_cel(source, event))
    except Exception:
        # CEL errors are reported by the CEL checker; at run time they just mean "no value".
        return MISSING


def from_cel(value: Any) -> Any:
    """A CEL result as a plain JSON value (CEL's own types subclass Python's, bool among ints).

    Values JSON cannot hold (errors, bytes, timestamps, durations) are ``MISSING``;
    so is a container holding one.  Iterative, like every walk over event data.
    """
    root: list[Any] = [None]
    # Work items: (source value, container to store into, key or index).
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        v, into, at = stack.pop()
        if v is None:
            out: Any = None
        elif isinstance(v, bool) or (isinstance(v, int) and type(v).__name__ == "BoolType"):
            # celpy's BoolType subclasses int, not bool; matched by name so that this
            # module needs no import of celpy.
            out = bool(v)
        elif isinstance(v, (bytes, bytearray)):
            return MISSING
        elif isinstance(v, str):
            out = str(v)
        elif isinstance(v, int):
            out = int(v)
        elif isinstance(v, float):
            out = float(v)
        elif isinstance(v, Mapping):
            out = {}
            for k, item in v.items():
                if not isinstance(k, str):
                    return MISSING
                stack.append((item, out, str(k)))
        elif isinstance(v, (list, tuple)):
            out = [None] * len(v)
            stack.extend((item, out, i) for i, item in enumerate(v))
        else:
            return MISSING
        into[at] = out
    return root[0]


def _cel_truth(source: str, event: Any) -> bool:
    try:
        return cel_truth(source, event) is True
    except Exception:
        return False
