"""Property: the compiled rule set and the reference evaluator agree on every rule set and event.

Hypothesis writes rule sets (EventBridge patterns with every operator,
``$or``, anything-but, numeric ranges, wildcards, CIDR, exists; expressions
with indexable and opaque parts; CEL) over a small alphabet of keys, so that
rules and events meet often, and events with missing fields, nulls, arrays
of objects, mixed types, unicode, keys holding dots, quotes, backslashes or control
characters, and numbers at the edges
of event-ruler's numeric range.  Each event is matched four ways: compiled
on the decoded event, compiled on raw JSON bytes (partial decoding), and the
reference on each; all must agree, in order.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rules_engine.cesql import ast as cesql_ast
from rules_engine.cesql.render import render as cesql_render
from rules_engine.compile import codegen_checks, negative, tables
from rules_engine.compile.compiled import compile_ruleset
from rules_engine.model import ir
from rules_engine.model.events import decode_event
from rules_engine.patterns.lower import parse_pattern_json
from rules_engine.reference import matching_rules

# Keys a generated struct field cannot be named after (a quote, a backslash, a control character)
# are in the alphabet too: any key JSON can hold must work from raw bytes (issue 9, defect 2).
KEYS = ["a", "b", "c", "a.b", "x", 'q"', "b\\s", "\x01"]
STRINGS = ["", "a", "ab", "abc", "A", "AB", "aBc", "xyz", "x-1", "Straße", "STRASSE", "ſ", "s", "K", "\u212a",
           "k", "10.0.0.1", "10.0.0.255", "::ffff:a00:1", "2001:db8::1", "2001:0db8:0:0:0:0:0:1", "héllo", "😀",
           "a*b", "1", "3", "Polygon", "bc"]  # fmt: skip
NUMBERS = [0, 1, -1, 2, 3, 5, 10, 0.5, 1.0, 3.0, -2.25, 5e9, -5e9, 5000000001, 5000000001.0, 2**63, 2**64, 10**30, 1e300]

scalars = st.one_of(
    st.sampled_from(STRINGS), st.sampled_from(NUMBERS), st.integers(-4, 12), st.booleans(), st.none()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=8,
)
events = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)

# --- EventBridge patterns (as JSON, lowered and validated by pattern.py)

pattern_strings = st.sampled_from([s for s in STRINGS if s])
pattern_numbers = st.sampled_from([0, 1, 2, 3, 5, 0.5, 3.0, -2.25, 5e9, -5e9])
wildcards = st.sampled_from(["a*", "*b", "a*c", "*", "A*", "*1*", "ab", "a\\*b", "*c", "x*z", "1*"])
networks = st.sampled_from(["10.0.0.0/24", "10.0.0.0/8", "2001:db8::/32", "10.0.0.5/30"])


def _numeric() -> st.SearchStrategy[Any]:
    one = st.tuples(st.sampled_from(["<", "<=", ">", ">=", "="]), pattern_numbers).map(list)
    bounds = st.lists(pattern_numbers, min_size=2, max_size=2, unique_by=float).map(sorted)
    two = st.builds(lambda lo, hi, b: [lo, b[0], hi, b[1]], st.sampled_from([">", ">="]), st.sampled_from(["<", "<="]),
                    bounds)
    return st.one_of(one, two).map(lambda c: {"numeric": c})


def _anything_but() -> st.SearchStrategy[Any]:
    return st.one_of(
        pattern_strings,
        pattern_numbers,
        st.lists(pattern_strings, min_size=1, max_size=3),
        st.lists(pattern_numbers, min_size=1, max_size=3),
        st.builds(lambda s: {"prefix": s}, pattern_strings),
        st.builds(lambda s: {"suffix": s}, pattern_strings),
        st.builds(lambda s: {"equals-ignore-case": s}, pattern_strings),
        st.builds(lambda s: {"equals-ignore-case": s}, st.lists(pattern_strings, min_size=1, max_size=2)),
        st.builds(lambda s: {"wildcard": s}, wildcards),
    ).map(lambda v: {"anything-but": v})


matchers = st.one_of(
    pattern_strings,
    pattern_numbers,
    st.booleans(),
    st.none(),
    st.builds(lambda s: {"prefix": s}, st.sampled_from(STRINGS)),
    st.builds(lambda s: {"suffix": s}, st.sampled_from(STRINGS)),
    st.builds(lambda s: {"prefix": {"equals-ignore-case": s}}, pattern_strings),
    st.builds(lambda s: {"suffix": {"equals-ignore-case": s}}, pattern_strings),
    st.builds(lambda s: {"equals-ignore-case": s}, pattern_strings),
    st.builds(lambda s: {"wildcard": s}, wildcards),
    _numeric(),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda s: {"cidr": s}, networks),
    _anything_but(),
)
field_lists = st.lists(matchers, min_size=1, max_size=3)


def _objects(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaf: st.SearchStrategy[Any] = field_lists
    if depth > 0:
        leaf = st.one_of(field_lists, st.deferred(lambda: _objects(depth - 1)))
    base = st.dictionaries(st.sampled_from(KEYS), leaf, min_size=1, max_size=3)
    if depth == 0:
        return base
    ors = st.lists(st.deferred(lambda: _objects(depth - 1)), min_size=2, max_size=3)
    return st.one_of(base, st.builds(lambda o, alts: {**o, "$or": alts}, base, ors))


@st.composite
def patterns(draw: st.DrawFn) -> ir.EventPattern:
    raw = draw(_objects(2))
    pattern, _ = parse_pattern_json(json.dumps(raw))
    assume(pattern is not None)
    assert pattern is not None
    return pattern


# --- expressions (IR built directly)

paths = st.one_of(
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=2).map(tuple),
    st.tuples(st.sampled_from(KEYS), st.integers(-1, 1)),
)
literals = st.builds(ir.Literal, scalars)


def _field(p: tuple[Any, ...]) -> ir.Field:
    return ir.Field(p)


atoms_expr = st.one_of(
    st.builds(lambda op, p, v, flip: ir.Compare(op, v, _field(p)) if flip else ir.Compare(op, _field(p), v),
              st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), paths, literals, st.booleans()),
    st.builds(lambda p, vs, neg: ir.In(_field(p), ir.ListExpr(tuple(vs)), neg),
              paths, st.lists(literals, max_size=3), st.booleans()),
    st.builds(lambda p: ir.Exists(_field(p)), paths),
    st.builds(lambda op, p, s: ir.StringTest(op, _field(p), ir.Literal(s)),
              st.sampled_from(["starts_with", "ends_with", "contains", "equals_ignore_case", "like", "matches"]),
              paths, st.sampled_from(STRINGS + ["^a", "b+", "a*"])),
    st.builds(lambda p, net, neg: ir.CidrTest(_field(p), net, neg), paths, networks, st.booleans()),
    # opaque parts: arithmetic, quantifiers, function calls, field-to-field comparisons
    st.builds(lambda p, v: ir.Compare(">", ir.Arith("+", _field(p), ir.Literal(1)), ir.Literal(v)),
              paths, st.integers(-2, 6)),
    st.builds(lambda p, v: ir.Quantifier("any", "i", _field(p), ir.Compare("==", ir.Field((), "i"), v)),
              paths, literals),
    st.builds(lambda p, q: ir.Compare("==", _field(p), _field(q)), paths, paths),
    st.builds(lambda p, s: ir.Compare("==", ir.Call("lower", (_field(p),)), ir.Literal(s)), paths,
              st.sampled_from(STRINGS)),
    st.builds(ir.Literal, st.sampled_from([True, False, None, 1])),
)
expressions = st.recursive(
    atoms_expr,
    lambda inner: st.one_of(
        st.builds(lambda xs: ir.And(tuple(xs)), st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: ir.Or(tuple(xs)), st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: ir.Unary("not", x), inner),
    ),
    max_leaves=5,
)

filters = st.one_of(
    st.builds(lambda p: ir.Filter("match", p), patterns()),
    st.builds(lambda e: ir.Filter("when", e), expressions),
)


@st.composite
def rule_sets(draw: st.DrawFn, max_rules: int = 6) -> ir.RuleSetIR:
    n = draw(st.integers(1, max_rules))
    rules = []
    for i in range(n):
        fs = draw(st.lists(filters, min_size=0 if i else 1, max_size=2))
        rules.append(
            ir.Rule(
                name=f"r{i}",
                filters=tuple(fs),
                priority=draw(st.sampled_from([0, 0, 1])),
                enabled=draw(st.sampled_from([True, True, True, False])),
                on_match=draw(st.sampled_from(["continue", "continue", "continue", "stop"])),
            )
        )
    return ir.RuleSetIR(rules=tuple(rules))


def _names(rules: list[ir.Rule]) -> list[str]:
    return [r.name for r in rules]


def _agree(rs: ir.RuleSetIR, evs: list[dict[str, Any]]) -> None:
    compiled = compile_ruleset(rs)
    for ev in evs:
        expected = _names(matching_rules(rs, ev))
        assert _names(compiled.match(ev)) == expected, (ev, compiled.source)
        raw = json.dumps(ev).encode()
        decoded = decode_event(raw)  # orjson's view (big integers become floats)
        assert _names(compiled.matching_raw(raw)) == _names(matching_rules(rs, decoded)), (raw, compiled.source)


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rule_sets(), st.lists(events, min_size=1, max_size=5))
def test_compiled_equals_reference(rs: ir.RuleSetIR, evs: list[dict[str, Any]]) -> None:
    _agree(rs, evs)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rule_sets(max_rules=40), st.lists(events, min_size=5, max_size=12))
def test_larger_rule_sets_share_buckets(rs: ir.RuleSetIR, evs: list[dict[str, Any]]) -> None:
    _agree(rs, evs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(max_rules=12), st.lists(events, min_size=1, max_size=6))
def test_fallback_structures_agree(rs: ir.RuleSetIR, evs: list[dict[str, Any]]) -> None:
    """Filtered anything-but tables, scanned ranges and closure checks (all budgets at zero)."""
    saved = negative.TABLE_BUDGET, tables.SEGMENT_BUDGET, codegen_checks.MAX_SOURCE_DEPTH
    negative.TABLE_BUDGET = tables.SEGMENT_BUDGET = codegen_checks.MAX_SOURCE_DEPTH = 0
    try:
        _agree(rs, evs)
    finally:
        negative.TABLE_BUDGET, tables.SEGMENT_BUDGET, codegen_checks.MAX_SOURCE_DEPTH = saved


CEL_TEXTS = ['event.a == "ab"', "has(event.b)", "event.c > 2", 'size(event.x) > 1', 'event.a.startsWith("a")',
             "event.b == null", "a == 1"]  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(CEL_TEXTS), st.one_of(st.none(), patterns())), min_size=1, max_size=3),
    st.lists(events, min_size=1, max_size=4),
)
def test_cel_rules_agree(specs: list[tuple[str, ir.EventPattern | None]], evs: list[dict[str, Any]]) -> None:
    rules = []
    for i, (text, pattern) in enumerate(specs):
        fs = [ir.Filter("cel", ir.Cel(text))]
        if pattern is not None:
            fs.insert(0, ir.Filter("match", pattern))
        rules.append(ir.Rule(f"c{i}", tuple(fs)))
    _agree(ir.RuleSetIR(rules=tuple(rules)), evs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(max_rules=4), events)
def test_key_order_never_changes_a_verdict(rs: ir.RuleSetIR, ev: dict[str, Any]) -> None:
    compiled = compile_ruleset(rs)
    reversed_ev = dict(reversed(list(ev.items())))
    assert _names(compiled.match(ev)) == _names(compiled.match(reversed_ev))


@pytest.mark.parametrize("text", CEL_TEXTS)
def test_cel_fields_are_decoded(text: str) -> None:
    """A CEL rule reads through the partial decoder only what it declares (or everything)."""
    rs = ir.RuleSetIR(rules=(ir.Rule("c", (ir.Filter("cel", ir.Cel(text)),)),))
    compiled = compile_ruleset(rs)
    ev = {"a": "ab", "b": None, "c": 3, "x": [1, 2], "z": {"deep": [1]}}
    assert _names(compiled.matching_raw(json.dumps(ev))) == _names(matching_rules(rs, ev))


# --- CESQL and Knative trigger filters: lowered to shared atoms where exact, else compiled closures

CESQL_NAMES = ["a", "b", "c", "x"]
CESQL_STRINGS = ["", "a", "ab", "A", "1", "3", "-1", "true", "FALSE", "1.0", "[1]", "null", "x-1", "Straße", "a\\"]
cesql_literals = st.one_of(st.sampled_from(CESQL_STRINGS), st.integers(-2, 4), st.booleans()).map(cesql_ast.Literal)
cesql_atoms = st.one_of(cesql_literals, st.sampled_from(CESQL_NAMES).map(cesql_ast.Attribute),
                        st.sampled_from(CESQL_NAMES).map(cesql_ast.Exists))
cesql_patterns = st.sampled_from(["a%", "%b", "a", "%", "1%", "%1", "t%", "%e", "a_", "\\%", "[%", "%]", "", "ab"])


def _cesql_extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        inner.map(cesql_ast.Not),
        st.builds(cesql_ast.Binary, st.sampled_from(["AND", "OR", "XOR", "=", "!=", "<", ">="]), inner, inner),
        st.builds(cesql_ast.Like, inner, cesql_patterns, st.booleans()),
        st.builds(cesql_ast.In, inner, st.lists(inner, min_size=1, max_size=3).map(tuple), st.booleans()),
        st.builds(cesql_ast.Call, st.sampled_from(["LOWER", "LENGTH", "INT"]), inner.map(lambda x: (x,))),
    )


cesql_texts = st.recursive(cesql_atoms, _cesql_extend, max_leaves=6).map(cesql_render)
attribute_tests = st.dictionaries(st.sampled_from(CESQL_NAMES), st.sampled_from(CESQL_STRINGS), min_size=1, max_size=2)


def _subscription_extend(inner: st.SearchStrategy[ir.SubscriptionFilter]) -> st.SearchStrategy[ir.SubscriptionFilter]:
    return st.one_of(
        st.builds(lambda xs: ir.SubscriptionFilter("all", items=tuple(xs)), st.lists(inner, max_size=3)),
        st.builds(lambda xs: ir.SubscriptionFilter("any", items=tuple(xs)), st.lists(inner, max_size=3)),
        inner.map(lambda x: ir.SubscriptionFilter("not", items=(x,))),
    )


subscription_leaves = st.one_of(
    st.builds(lambda d, a: ir.SubscriptionFilter(d, tuple(a.items())), st.sampled_from(["exact", "prefix", "suffix"]),
              attribute_tests),
    cesql_texts.map(lambda t: ir.SubscriptionFilter("cesql", cesql=ir.Cesql(t))),
)
subscriptions = st.recursive(subscription_leaves, _subscription_extend, max_leaves=5)
cesql_events = st.dictionaries(st.sampled_from(CESQL_NAMES), st.one_of(st.sampled_from(CESQL_STRINGS), json_values),
                               max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(cesql_texts.map(lambda t: ir.Filter("cesql", ir.Cesql(t))),
                          subscriptions.map(lambda f: ir.Filter("filters", f))), min_size=1, max_size=4),
       st.lists(cesql_events, min_size=1, max_size=5))
def test_cesql_and_knative_rules_agree(fs: list[ir.Filter], evs: list[dict[str, Any]]) -> None:
    rules = tuple(ir.Rule(f"q{i}", (f,)) for i, f in enumerate(fs))
    _agree(ir.RuleSetIR(rules=rules), evs)


@pytest.mark.parametrize("text", ["a NOT IN ('')", "NOT (a IN (''))", "NOT (NOT (a NOT IN ('')))", "a NOT IN ('1', 'x')",
                                  "NOT (a IN ('true'))", "a NOT IN ('TRUE')"])  # fmt: skip
def test_cesql_not_in_casts_the_set_to_the_attribute_type(text: str) -> None:
    """``IN`` casts the set to the attribute's type: ``0 NOT IN ('')`` is a cast error (no match), while
    ``0 NOT IN ('1')`` and ``'x' NOT IN ('')`` hold.  Found by the property above."""
    rs = ir.RuleSetIR(rules=(ir.Rule("q0", (ir.Filter("cesql", ir.Cesql(text)),)),))
    events: list[dict[str, Any]] = [{"a": 0}, {"a": 1}, {"a": True}, {"a": ""}, {"a": "1"}, {"a": "x"}, {}]
    _agree(rs, events)
    compiled = compile_ruleset(rs)
    assert [bool(compiled.match({"a": v})) for v in (0, "x")] == [
        bool(matching_rules(rs, {"a": v})) for v in (0, "x")
    ]
