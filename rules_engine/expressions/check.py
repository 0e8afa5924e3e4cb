"""Static checks of one expression: mistakes that can be seen before any event arrives.

Position in the pipeline::

    IR expression ──**check_expr**──▶ diagnostics (E304 … E353)
                   (called by check.py for every ``when:`` filter and transform value)

What is reported: unknown functions (with a "did you mean" note), wrong
argument counts and provably wrong argument types, invalid literal regular
expressions, wildcard patterns and CIDR blocks, regular expressions that are
not literals, quantifier variables used outside their quantifier, and
operations whose operand types make them never true (``"abc" > 3``) or never
a value (``"a" * 2``).

The pattern of ``matches`` must be a string literal (E353) that RE2 can run
(E354 for a construct only a backtracking engine has, E304 for an invalid one):
patterns run on RE2, linear in the text, so no event can stall the engine.

Type reasoning is deliberately modest: a node's *static types* are the JSON
types its present values can have, known only for literals, built values,
operators and library calls; an event field is "any type".  A diagnostic is
issued only when the types *prove* the problem, so the checker never rejects
an expression that could match some event.

Pure: no I/O; the result lists diagnostics in the order found (callers sort).
"""

from __future__ import annotations

import difflib
import ipaddress

from rules_engine.expressions.functions import FUNCTIONS, SYNTAX_NAMES, Types
from rules_engine.expressions.regex import regex_problem
from rules_engine.expressions.render import render_expr, string_literal
from rules_engine.expressions.shape import children, parse_wildcard
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.values import type_name

_BOOL: frozenset[str] = frozenset({"boolean"})
_NUM: frozenset[str] = frozenset({"number"})
_STR: frozenset[str] = frozenset({"string"})
_ORDERED = ("number", "string")


def check_expr(expr: ir.Expr, bound: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Every static problem in ``expr``; ``bound`` names the variables already in scope."""
    out: list[Diagnostic] = []
    try:
        _check(expr, bound, out)
    except RecursionError:
        pass  # nesting that deep is rejected by the parser (E105) before it gets here
    return out


# --- static types --------------------------------------------------------------------------------


def static_types(e: ir.Expr) -> Types:
    """The JSON types a present value of ``e`` can have; ``None`` when unknown.

    An empty set means "never has a value" (for example ``"a" - 1``).
    """
    if isinstance(e, ir.Literal):
        return frozenset({type_name(e.value)})
    if isinstance(e, ir.ListExpr):
        return frozenset({"array"})
    if isinstance(e, ir.ObjectExpr):
        return frozenset({"object"})
    if isinstance(e, ir.Template):
        return _STR
    if isinstance(e, (ir.Compare, ir.And, ir.Or, ir.In, ir.Exists, ir.StringTest, ir.CidrTest, ir.Quantifier)):
        return _BOOL
    if isinstance(e, ir.Unary):
        return _BOOL if e.op == "not" else _NUM
    if isinstance(e, ir.Arith):
        return _arith_types(e.op, static_types(e.left), static_types(e.right))
    if isinstance(e, ir.Call):
        fn = FUNCTIONS.get(e.name)
        return fn.returns if fn is not None else None
    if isinstance(e, ir.Conditional):
        a, b = static_types(e.then), static_types(e.otherwise)
        return None if a is None or b is None else a | b
    return None  # Field, Cel: whatever the event holds


_ALL_TYPES = frozenset({"string", "number", "boolean", "null", "array", "object"})


def _or_all(t: Types) -> frozenset[str]:
    return _ALL_TYPES if t is None else t


def _arith_types(op: str, lt: Types, rt: Types) -> frozenset[str]:
    left, right = _or_all(lt), _or_all(rt)
    result: set[str] = set()
    if "number" in left and "number" in right:
        result.add("number")
    if op == "+" and "string" in left and "string" in right:
        result.add("string")
    return frozenset(result)


def _describe(t: frozenset[str]) -> str:
    """``{"string"}`` -> ``"a string"``; ``{"number", "string"}`` -> ``"a number or a string"``."""
    def one(name: str) -> str:
        return ("an " if name[0] in "aeiou" else "a ") + name

    return " or ".join(one(n) for n in sorted(t))


# --- the walk --------------------------------------------------------------------------------------


def _check(e: ir.Expr, bound: frozenset[str], out: list[Diagnostic]) -> None:
    if isinstance(e, ir.Field):
        if e.var is not None and e.var not in bound:
            out.append(codes.UNKNOWN_VARIABLE.at(e.span, notes=_variable_notes(e.var, bound), name=e.var))
        return
    if isinstance(e, ir.Quantifier):
        _check(e.collection, bound, out)
        _check(e.predicate, bound | {e.var}, out)
        return
    if isinstance(e, ir.Call):
        _check_call(e, out)
    elif isinstance(e, ir.Arith):
        _check_arith(e, out)
    elif isinstance(e, ir.Compare):
        _check_compare(e, out)
    elif isinstance(e, ir.In):
        _check_in(e, out)
    elif isinstance(e, ir.StringTest):
        _check_string_test(e, out)
    elif isinstance(e, ir.CidrTest):
        _check_cidr(e, out)
    elif isinstance(e, ir.ObjectExpr):
        seen: set[str] = set()
        for key, _ in e.items:
            if key in seen:
                out.append(codes.DUPLICATE_OBJECT_KEY.at(e.span, key=key))
            seen.add(key)
    for child in children(e):  # a Quantifier returned above: its predicate has its own scope
        _check(child, bound, out)


def _variable_notes(name: str, bound: frozenset[str]) -> list[str]:
    close = difflib.get_close_matches(name, sorted(bound), n=1)
    if close:
        return [f"did you mean {close[0]!r}?"]
    if bound:
        return [f"variables in scope here: {', '.join(sorted(bound))}"]
    return ["variables exist only inside any(x in list: ...) and all(x in list: ...)"]


def _check_call(e: ir.Call, out: list[Diagnostic]) -> None:
    fn = FUNCTIONS.get(e.name)
    if fn is None:
        candidates = sorted(set(FUNCTIONS) | SYNTAX_NAMES)
        close = difflib.get_close_matches(e.name, candidates, n=1)
        if close:
            notes = [f"did you mean {close[0]!r}?"]
        else:
            notes = [f"known functions: {', '.join(sorted(FUNCTIONS))}"]
        out.append(codes.UNKNOWN_FUNCTION.at(e.span, notes=notes, name=e.name))
        return
    if not fn.accepts_count(len(e.args)):
        out.append(codes.WRONG_ARITY.at(e.span, name=e.name, expected=fn.arity_text(), got=len(e.args)))
        return
    for i, arg in enumerate(e.args):
        accepted, found = fn.param(i), static_types(arg)
        if accepted is None or not found or found & accepted:
            continue
        out.append(
            codes.WRONG_ARG_TYPE.at(
                arg.span, name=e.name, index=i + 1, expected=_describe(accepted), found=_describe(found)
            )
        )


def _check_arith(e: ir.Arith, out: list[Diagnostic]) -> None:
    lt, rt = static_types(e.left), static_types(e.right)
    if (lt is not None and not lt) or (rt is not None and not rt):
        return  # an operand never has a value: already reported there
    if _arith_types(e.op, lt, rt):
        return
    wanted = "two numbers or two strings" if e.op == "+" else "two numbers"
    sides = " and ".join(_describe(_or_all(t)) for t in (lt, rt) if t is not None)
    out.append(
        codes.ARITH_NEVER_VALUE.at(
            e.span,
            left=render_expr(e.left),
            op=e.op,
            right=render_expr(e.right),
            detail=f"{e.op!r} needs {wanted}, here {sides}",
        )
    )


def _never(e: ir.Expr, left: ir.Expr, op: str, right: str, why: str, out: list[Diagnostic]) -> None:
    out.append(codes.TYPE_NEVER_MATCHES.at(e.span, notes=[why], left=render_expr(left), op=op, right=right))


def _check_compare(e: ir.Compare, out: list[Diagnostic]) -> None:
    lt, rt = static_types(e.left), static_types(e.right)
    if (lt is not None and not lt) or (rt is not None and not rt):
        return  # an operand never has a value: already reported there
    right = render_expr(e.right)
    if e.op == "==":
        if lt is not None and rt is not None and not lt & rt:
            why = (
                f"the left side is {_describe(lt)}, the right side {_describe(rt)}, "
                "and values of different types are never equal"
            )
            _never(e, e.left, e.op, right, why, out)
    elif e.op != "!=":
        rule = f"{e.op} compares two numbers or two strings"
        # One side that can never be ordered is enough (`data.x < null`).
        for side, t in ((e.left, lt), (e.right, rt)):
            if t is not None and not any(o in t for o in _ORDERED):
                _never(e, e.left, e.op, right, f"{rule}; {render_expr(side)} is {_describe(t)}", out)
                return
        if lt is not None and rt is not None and not any(o in lt and o in rt for o in _ORDERED):
            why = f"{rule}; here the left side is {_describe(lt)} and the right side {_describe(rt)}"
            _never(e, e.left, e.op, right, why, out)


def _check_in(e: ir.In, out: list[Diagnostic]) -> None:
    op = "not in" if e.negated else "in"
    ct = static_types(e.collection)
    if ct is not None and ct and "array" not in ct:
        why = f"the right side of '{op}' must be an array, here it is {_describe(ct)}"
        _never(e, e.item, op, render_expr(e.collection), why, out)
        return
    if e.negated or not isinstance(e.collection, ir.ListExpr):
        return
    it = static_types(e.item)
    element_types: set[str] = set()
    for x in e.collection.items:
        xt = static_types(x)
        if xt is None:
            return
        element_types |= xt
    if it and not it & element_types:
        what = _describe(frozenset(element_types)) if element_types else "nothing (the list is empty)"
        why = f"the left side is {_describe(it)}, the list holds {what}"
        _never(e, e.item, op, render_expr(e.collection), why, out)


_STRING_WORDS = {
    "starts_with": "starts with",
    "ends_with": "ends with",
    "contains": "contains",
    "matches": "matches",
    "like": "like",
    "equals_ignore_case": "equals_ignore_case",
}


def _check_string_test(e: ir.StringTest, out: list[Diagnostic]) -> None:
    word = _STRING_WORDS[e.op]
    for side in (e.left, e.right):
        t = static_types(side)
        if t and "string" not in t:
            why = f"'{word}' tests two strings; {render_expr(side)} is {_describe(t)}"
            _never(e, e.left, word, render_expr(e.right), why, out)
            return
    if not (isinstance(e.right, ir.Literal) and isinstance(e.right.value, str)):
        if e.op == "matches":
            out.append(codes.REGEX_NOT_LITERAL.at(e.right.span, notes=_REGEX_NOT_LITERAL_NOTES))
        return
    pattern = e.right.value
    if e.op == "matches":
        problem = regex_problem(pattern)
        if problem is not None and problem[0] == "E354":
            out.append(codes.REGEX_NOT_RE2.at(e.right.span, notes=_RE2_NOTES, pattern=pattern, detail=problem[1]))
        elif problem is not None:
            out.append(codes.BAD_REGEX.at(e.right.span, pattern=pattern, detail=problem[1]))
    elif e.op == "like" and parse_wildcard(pattern) is None:
        out.append(
            codes.BAD_WILDCARD.at(
                e.right.span,
                notes=["write \\* for a literal star and \\\\ for a literal backslash"],
                pattern=pattern,
                detail="a backslash must be followed by '*' or '\\'",
            )
        )


_REGEX_NOT_LITERAL_NOTES = (
    "the rule author chooses every pattern, and checks it when the rules load",
    "to compare with a value from the event, use ==, starts with, ends with, contains or like",
)


_RE2_NOTES = (
    "patterns run on RE2, which takes time linear in the text and so has no backreferences, "
    "lookaround, atomic groups or possessive quantifiers",
    "see docs/expressions.md, 'matches: regular expressions', for what to write instead",
)


def _check_cidr(e: ir.CidrTest, out: list[Diagnostic]) -> None:
    try:
        ipaddress.ip_network(e.network, strict=False)
    except ValueError as err:
        out.append(codes.BAD_CIDR.at(e.span, value=e.network, detail=str(err)))
        return
    t = static_types(e.item)
    if t and "string" not in t:
        op = "not in" if e.negated else "in"
        why = f"an address is a string; {render_expr(e.item)} is {_describe(t)}"
        _never(e, e.item, op, f"cidr({string_literal(e.network)})", why, out)

