"""Run-time helpers of compiled rule sets: reading event values and exact per-value tests.

Position in the pipeline::

    codegen ──▶ generated match(event) ──calls──▶ **runtime** (slow paths, leaves, predicates)

The generated code handles the common shape inline (objects all the way down,
one scalar at the end); everything else comes here.  Every test defers to the
reference leaf predicates (``patterns.evaluate.value_matches``, ``expressions.evaluate.compare``
and friends), so semantics live in one place.

Value of an EventBridge name, as the generated code holds it::

    MISSING      no leaf value at the name      {"a": {}}       for "a.b"
    a scalar     exactly one, reached through objects only      {"a": {"b": 1}}
    Vals         several, or any through an array               {"a": [{"b": 1}, {"b": 2}]}

Per-event memo ``m`` (a plain dict, created only when a candidate needs
checking): ``pid -> bool`` for atoms, negative keys for values read
(``-1 - 2*i`` EventBridge name ``i``, ``-2 - 2*j`` expression path ``j``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

from rules_engine.compile import expr_codegen
from rules_engine.compile.cel_codegen import compile_cel
from rules_engine.compile.cesql_codegen import compile_cesql
from rules_engine.compile.walk import (
    _UNSET,
    EMPTY,
    SCALARS,
    UNSET,
    UNUSUAL,
    Vals,
    eb_below,
    eb_values,
    step,
)
from rules_engine.expressions.evaluate import cidr_test, compare, member, string_test, truth, wildcard_match
from rules_engine.expressions.shape import split_wildcard
from rules_engine.model import ir
from rules_engine.model.values import MISSING, get_path
from rules_engine.patterns.evaluate import match_pattern, value_matches
from rules_engine.patterns.operands import NUMERIC_LIMIT, ip_value, looks_like_ip

Pred = Callable[[Any, dict[int, Any]], bool]


def ip_key(text: str) -> tuple[int, int] | None:
    """The address an IP-looking string stands for (exact IP patterns match any spelling)."""
    return ip_value(text) if looks_like_ip(text) else None


def wildcard_pieces(pattern: str) -> tuple[str, ...]:
    """An EventBridge wildcard as its literal pieces between stars: ``"a*b\\*c"`` -> ``("a", "b*c")``
    (a backslash before anything but ``*`` or ``\\`` is itself, as ``patterns.evaluate`` reads patterns)."""
    pieces = split_wildcard(pattern, strict=False)
    assert pieces is not None  # only strict splitting refuses a pattern
    return pieces


def wildcard_leaf(pattern: str) -> Callable[[Any], bool]:
    """``patterns.evaluate.wildcard_matches`` as linear scans (``expressions.evaluate.wildcard_match``: first piece a
    prefix, last a suffix, each middle piece at its leftmost place, which is always a best choice
    when ``*`` is the only wildcard).  Same verdicts, tested against the reference leaf."""
    pieces = wildcard_pieces(pattern)
    first, last = pieces[0], pieces[-1]

    def leaf(x: Any) -> bool:
        return isinstance(x, str) and x.startswith(first) and x.endswith(last) and wildcard_match(pieces, x)

    return leaf


_ORDER: Final = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}
_LIMIT: Final = NUMERIC_LIMIT


def _plain(x: Any) -> bool:
    """A value whose type the shortcuts below decide: the JSON scalars, and arrays / objects."""
    t = type(x)
    return t is str or t is bool or x is None or t is float or t is int or t is list or t is dict


def matcher_leaf(m: ir.Matcher) -> Callable[[Any], bool]:
    """``value_matches(m, x)`` with shortcuts for the common matchers on plain JSON values.

    Each shortcut answers only for the types it names and defers every other
    value (subclasses, Decimals, …) to the reference leaf; the differential
    tests hold them to the reference on every JSON type.
    """

    def slow(x: Any) -> bool:
        return value_matches(m, x)

    if isinstance(m, ir.MWildcard):
        return wildcard_leaf(m.pattern)
    if isinstance(m, ir.MExact):
        v = m.value
        if isinstance(v, str) and ip_value(v) is None:
            return lambda x: x == v and isinstance(x, str)
        if v is None or isinstance(v, bool):
            return lambda x: x is v
        if isinstance(v, (int, float)) and not isinstance(v, bool) and -_LIMIT <= v <= _LIMIT:

            def exact_number(x: Any) -> bool:
                t = type(x)
                if t is float or t is int:
                    return bool(x == v)
                return False if _plain(x) else slow(x)

            return exact_number
        return slow
    if isinstance(m, (ir.MPrefix, ir.MSuffix)) and not m.ignore_case:
        affix, prefix = m.value, isinstance(m, ir.MPrefix)

        def affix_leaf(x: Any) -> bool:
            if type(x) is str:
                return x.startswith(affix) if prefix else x.endswith(affix)
            return False if _plain(x) else slow(x)

        return affix_leaf
    if isinstance(m, ir.MNumeric):
        # One comparison or a range of two: the validation allows no other shape (patterns/lower.py).
        conds = tuple((_ORDER[op], v) for op, v in m.conditions)
        f1, v1 = conds[0]
        if len(conds) == 1:

            def numeric(x: Any) -> bool:
                t = type(x)
                if t is float or t is int:
                    return -_LIMIT <= x <= _LIMIT and bool(f1(x, v1))
                return False if _plain(x) else slow(x)

            return numeric
        f2, v2 = conds[1]

        def numeric_range(x: Any) -> bool:
            t = type(x)
            if t is float or t is int:
                return -_LIMIT <= x <= _LIMIT and bool(f1(x, v1)) and bool(f2(x, v2))
            return False if _plain(x) else slow(x)

        return numeric_range
    if isinstance(m, (ir.MPrefix, ir.MSuffix, ir.MEqualsIgnoreCase)) and m.value.isascii():
        return _ignore_case_leaf(m, slow)  # the case-sensitive affixes were taken above
    if isinstance(m, ir.MAnythingBut) and all(_plain_inner(i) for i in m.inner):
        return _anything_but_leaf(m.inner, slow)
    return slow


def _ignore_case_leaf(
    m: ir.MPrefix | ir.MSuffix | ir.MEqualsIgnoreCase, slow: Callable[[Any], bool]
) -> Callable[[Any], bool]:
    """Java's per-character ``equalsIgnoreCase`` on ASCII text against an ASCII pattern is ``lower()``
    equality; any other string goes to the reference (the Kelvin sign equals ``k`` ignoring case)."""
    low, n = m.value.lower(), len(m.value)
    prefix, suffix = isinstance(m, ir.MPrefix), isinstance(m, ir.MSuffix)

    def ignore_case(x: Any) -> bool:
        if type(x) is str:
            if not x.isascii():
                return slow(x)
            if prefix:
                return x[:n].lower() == low
            if suffix:
                return len(x) >= n and x[len(x) - n :].lower() == low
            return x.lower() == low
        return False if _plain(x) else slow(x)

    return ignore_case


def _plain_inner(i: ir.Matcher) -> bool:
    """An ``anything-but`` value the shortcut decides: a string, an affix, an ASCII ignore-case value."""
    if isinstance(i, ir.MExact):
        return isinstance(i.value, str)
    if isinstance(i, (ir.MPrefix, ir.MSuffix)):
        return not i.ignore_case or i.value.isascii()
    return isinstance(i, ir.MEqualsIgnoreCase) and i.value.isascii()


def _anything_but_leaf(inner: tuple[ir.Matcher, ...], slow: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``anything-but`` strings, prefixes, suffixes and ASCII ignore-case values: a present non-string
    scalar matches (none of those takes it); a string matches when none of them does."""
    excluded = frozenset(i.value for i in inner if isinstance(i, ir.MExact))
    pre = tuple(i.value for i in inner if isinstance(i, ir.MPrefix) and not i.ignore_case)
    suf = tuple(i.value for i in inner if isinstance(i, ir.MSuffix) and not i.ignore_case)
    low_eq = frozenset(i.value.lower() for i in inner if isinstance(i, ir.MEqualsIgnoreCase))
    low_pre = tuple(i.value.lower() for i in inner if isinstance(i, ir.MPrefix) and i.ignore_case)
    low_suf = tuple(i.value.lower() for i in inner if isinstance(i, ir.MSuffix) and i.ignore_case)
    caseless = bool(low_eq or low_pre or low_suf)

    def anything_but(x: Any) -> bool:
        t = type(x)
        if t is str:
            if x in excluded or x.startswith(pre) or x.endswith(suf):
                return False
            if caseless:
                if not x.isascii():
                    return slow(x)
                y = x.lower()
                return not (y in low_eq or y.startswith(low_pre) or y.endswith(low_suf))
            return True
        return True if (t is bool or x is None or t is float or t is int) else slow(x)

    return anything_but


def inner_leaf(m: ir.Matcher) -> Callable[[Any], bool]:
    """Does one value match a matcher inside ``anything-but`` (no IP spelling rule there)?"""
    if isinstance(m, ir.MWildcard):
        return wildcard_leaf(m.pattern)

    def leaf(x: Any) -> bool:
        return value_matches(m, x, ip_exact=False)

    return leaf


def field_leaf(matchers: tuple[ir.Matcher, ...]) -> Callable[[Any], bool]:
    """Does one value satisfy the field (exists matchers aside)?"""
    if any(isinstance(m, ir.MExists) and m.present for m in matchers):
        return lambda x: True  # a value is there
    leaves = tuple(matcher_leaf(m) for m in matchers if not isinstance(m, ir.MExists))
    if len(leaves) == 1:
        return leaves[0]
    return lambda x: any(leaf(x) for leaf in leaves)


def value_leaf(op: str, operand: Any) -> Callable[[Any], bool]:
    """The exact test of an expression atom on the single value ``v`` (MISSING when absent).

    Shortcuts for equality and ordering against a string or a number decide
    the plain JSON types and defer anything else to ``expressions.evaluate.compare``.
    """
    if op == "==" and isinstance(operand, str):
        return lambda v: v == operand and isinstance(v, str)
    if op == "==" and (operand is None or isinstance(operand, bool)):
        return lambda v: v is operand
    numeric = isinstance(operand, (int, float)) and not isinstance(operand, bool)
    if op in ("==", "<", "<=", ">", ">=") and (numeric or isinstance(operand, str)):
        fn = _ORDER["=" if op == "==" else op]

        def ordered(v: Any) -> bool:
            t = type(v)
            if (t is float or t is int) if numeric else t is str:
                return bool(fn(v, operand))
            return False if (_plain(v) or v is MISSING) else compare(op, v, operand)

        return ordered
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return lambda v: compare(op, v, operand)
    if op in ("in", "not in"):
        items = list(operand)
        negated = op == "not in"
        return lambda v: member(v, items, negated)
    if op == "exists":
        return lambda v: v is not MISSING
    if op in ("cidr", "not cidr"):
        negated = op == "not cidr"
        return lambda v: cidr_test(v, operand, negated)
    return lambda v: string_test(op, v, operand)


# --- predicates used when a candidate is checked ------------------------------------------------


def field_pred(key: int, name: str, matchers: tuple[ir.Matcher, ...], pid: int | None = None,
               leaf: Callable[[Any], bool] | None = None) -> Pred:
    """An EventBridge atom for candidate checks: the name's values come from (and go to) the memo.

    With ``pid`` (an atom several rules use) the verdict is memoised too; ``leaf`` is the
    atom's per-value test when already built.
    """
    missing_ok = any(isinstance(m, ir.MExists) and not m.present for m in matchers)
    leaf = leaf or field_leaf(matchers)

    def pred(ev: Any, m: dict[int, Any]) -> bool:
        v = m.get(key, _UNSET)
        if v is _UNSET:
            v = m[key] = eb_values(ev, name)
        if v is MISSING:
            return missing_ok
        if type(v) is Vals:
            return any(leaf(x) for x in v)
        return leaf(v)

    def shared(ev: Any, m: dict[int, Any]) -> bool:
        r = m.get(pid)  # type: ignore[arg-type]
        if r is None:
            r = m[pid] = pred(ev, m)  # type: ignore[index]
        return bool(r)

    return pred if pid is None else shared


def value_pred(key: int, path: ir.Path, op: str, operand: Any, pid: int | None = None,
               leaf: Callable[[Any], bool] | None = None) -> Pred:
    leaf = leaf or value_leaf(op, operand)

    def pred(ev: Any, m: dict[int, Any]) -> bool:
        v = m.get(key, _UNSET)
        if v is _UNSET:
            v = m[key] = get_path(ev, path)
        return leaf(v)

    return pred if pid is None else memoised(pid, pred)


def plain_field(key: int, leaf: Callable[[Any], bool], missing_ok: bool,
                matchers: tuple[ir.Matcher, ...]) -> Callable[[dict[int, Any]], bool]:
    """An EventBridge atom on a *plain* memo (``m[key]``: one scalar or MISSING, see ``codegen._Fast``).

    One exact string (not an IP literal) is a comparison: a plain scalar equals it only when it is that str.
    """
    if not missing_ok and len(matchers) == 1:
        (m,) = matchers
        if isinstance(m, ir.MExact) and isinstance(m.value, str) and ip_value(m.value) is None:
            value = m.value
            return lambda memo: bool(memo[key] == value)
    if missing_ok:
        return lambda memo: (x := memo[key]) is MISSING or leaf(x)
    return lambda memo: (x := memo[key]) is not MISSING and leaf(x)


def memoised(pid: int, fn: Pred) -> Pred:
    """``fn`` evaluated at most once per event (its verdict kept in the memo under ``pid``)."""

    def pred(ev: Any, m: dict[int, Any]) -> bool:
        r = m.get(pid)
        if r is None:
            r = m[pid] = fn(ev, m)
        return bool(r)

    return pred


def expr_pred(node: ir.Expr) -> tuple[Pred, bool]:
    """An opaque expression compiled by ``expr_codegen``; the flag tells that the reference
    evaluator runs it instead (nested deeper than the translation goes: ``expr_codegen.MAX_DEPTH``).

    Nothing is caught here: the translation handles every expression, and a defect in it must
    fail the tests (the property tests hold it to the reference) rather than hide behind a fallback.
    """
    if expr_codegen.depth(node) > expr_codegen.MAX_DEPTH:
        return (lambda ev, m: truth(node, ev)), True
    compiled = expr_codegen.compile_predicate(node)
    return (lambda ev, m: compiled(ev) is True), False


def cesql_pred(text: str) -> Pred:
    """A CESQL part as compiled closures (``compile_cesql``, fail fast mode): true without error."""
    run = compile_cesql(text).run
    return lambda ev, m: run(ev) is True


def cel_pred(text: str) -> tuple[Pred, bool]:
    """A CEL filter as compiled Python (``compile_cel``); the flag tells a cel-python fallback."""
    compiled = compile_cel(text)
    fn = compiled.predicate
    return (lambda ev, m: fn(ev) is True), compiled.is_fallback


def consistent(ev: Any, m: dict[int, Any], pattern: ir.EventPattern, keys: tuple[tuple[int, str], ...]) -> bool:
    """Array consistency of a pattern whose fields each hold (see ``FPattern``).

    Only names whose values came through arrays can disagree on an element;
    with fewer than two of those the verdict stands, else the reference decides.
    """
    through = 0
    for key, name in keys:
        v = m.get(key, _UNSET)
        if v is _UNSET:
            v = m[key] = eb_values(ev, name)
        if type(v) is Vals and v.arrays:
            through += 1
            if through > 1:
                return match_pattern(pattern, ev)
    return True


def generic_probe(atoms: tuple[tuple[Callable[[Any], bool], tuple[int, ...]], ...], x: Any, h: list[int]) -> None:
    """Index probe for a value of a type the generated code does not special-case."""
    for leaf, rules in atoms:
        if leaf(x):
            h += rules


MEMO_ENTRIES: Final = 4096
"""At most this many hit lists are remembered per rule set (``hits_memo``); more are sorted each time."""
MEMO_KEY: Final = 8
"""A hit list longer than this is never remembered (such lists rarely repeat; ``match`` sorts them)."""


def hits_memo(value: Callable[[tuple[int, ...]], Any]) -> tuple[dict[tuple[int, ...], Any], Callable[[Any], Any]]:
    """A bounded memo of ``value(hits)`` keyed by the index's hit list as the probes produced it
    (``tuple(h)``: ordinals in probe order, possibly repeated), and the function that fills it.

    ``match`` ends with the sorted distinct hits, or the rules they name; events of one shape produce the
    same few hit lists, so one dict lookup replaces ``sorted(set(h))`` and the list of rules.  Invariant:
    an entry's value is ``value(key)``, a pure function of the key, so a concurrent fill is harmless
    (each writes the same value) and the memo never changes an answer; it holds at most
    :data:`MEMO_ENTRIES` keys of at most :data:`MEMO_KEY` hits, then stops growing.
    """
    memo: dict[tuple[int, ...], Any] = {}

    def fill(key: tuple[int, ...]) -> Any:
        got = value(key)
        if len(memo) < MEMO_ENTRIES and len(key) <= MEMO_KEY:
            memo[key] = got
        return got

    return memo, fill


__all__ = [
    "MEMO_ENTRIES",
    "MEMO_KEY",
    "EMPTY",
    "MISSING",
    "SCALARS",
    "UNSET",
    "UNUSUAL",
    "Vals",
    "cel_pred",
    "consistent",
    "eb_below",
    "eb_values",
    "expr_pred",
    "field_leaf",
    "field_pred",
    "generic_probe",
    "get_path",
    "hits_memo",
    "inner_leaf",
    "ip_key",
    "matcher_leaf",
    "memoised",
    "plain_field",
    "step",
    "value_leaf",
    "value_pred",
    "wildcard_leaf",
    "wildcard_pieces",
]
