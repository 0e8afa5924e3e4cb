"""The compiled rule set answers exactly as the reference evaluator, table by table.

Each case is a small rule file (YAML) and events with the rule names expected
to match, in order.  Every case also runs through the reference evaluator
and through raw JSON bytes (partial decoding), so one table checks three
paths.  The property tests (test_compile_props.py) and the corpora
(test_compile_corpus.py) do the same at scale.
"""

from __future__ import annotations

import json
from collections import UserDict
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rules_engine
from rules_engine.compile import codegen_checks, negative, tables
from rules_engine.compile.compiled import compile_ruleset
from rules_engine.compile.runtime import matcher_leaf, wildcard_leaf
from rules_engine.model import ir
from rules_engine.model.errors import RuleError
from rules_engine.patterns.evaluate import value_matches, wildcard_matches
from rules_engine.reference import matching_rules


def _rules(body: str) -> str:
    return "targets:\n  out: {type: stdout}\nrules:\n" + body


def _check(text: str, event: Any, expected: list[str]) -> None:
    compiled = rules_engine.loads(text)
    reference = rules_engine.loads(text, engine="reference")
    assert reference.match(event) == expected, "the table disagrees with the reference evaluator"
    assert compiled.match(event) == expected
    raw = json.dumps(event).encode()
    assert compiled.match(raw) == reference.match(raw) == expected
    assert compiled.match(raw.decode()) == expected


def _yaml_rule(name: str, body: str, extra: str = "") -> str:
    return f"  - name: {name}\n{body}{extra}    targets: [out]\n"


CASES: list[Any] = [
    # --- EventBridge: equality and friends
    pytest.param('    match: {a: ["x", 3, null, true]}\n', {"a": "x"}, True, id="exact-string"),
    pytest.param('    match: {a: ["x", 3, null, true]}\n', {"a": 3.0}, True, id="exact-number-int-float"),
    pytest.param('    match: {a: ["x", 3, null, true]}\n', {"a": 1}, False, id="exact-true-is-not-1"),
    pytest.param('    match: {a: ["x", 3, null, true]}\n', {"a": True}, True, id="exact-true"),
    pytest.param('    match: {a: ["x", 3, null, true]}\n', {"a": None}, True, id="exact-null"),
    pytest.param('    match: {a: ["x", 3, null, true]}\n', {}, False, id="exact-missing"),
    pytest.param('    match: {a: [5000000001]}\n', {"a": 5000000001}, True, id="exact-beyond-numeric-range"),
    pytest.param('    match: {a: [5000000001]}\n', {"a": 5000000001.0}, False, id="exact-beyond-range-type-matters"),
    pytest.param('    match: {a: ["10.0.0.1"]}\n', {"a": "::ffff:a00:1"}, True, id="exact-ip-other-spelling"),
    pytest.param('    match: {a: ["2001:db8::1"]}\n', {"a": "2001:0db8:0:0:0:0:0:1"}, True, id="exact-ipv6-spelling"),
    pytest.param('    match: {a: ["x"]}\n', {"a": ["y", "x"]}, True, id="array-any-element"),
    pytest.param('    match: {a: ["x"]}\n', {"a": [["y"], [["x"]]]}, True, id="nested-arrays"),
    pytest.param('    match: {a: {b: ["x"]}}\n', {"a": [{"b": "y"}, {"b": "x"}]}, True, id="array-of-objects"),
    pytest.param('    match: {a: {b: ["x"]}}\n', {"a.b": "x"}, True, id="dotted-event-key"),
    pytest.param('    match: {a.b: ["x"]}\n', {"a": {"b": "x"}}, True, id="dotted-pattern-key"),
    pytest.param('    match: {a: {b: {c: ["x"]}}}\n', {"a": {"b.c": "x"}}, True, id="dotted-inner-key"),
    pytest.param('    match: {a: {b: ["x"]}}\n', {"a": {"b": {"c": "x"}}}, False, id="object-is-not-a-value"),
    pytest.param('    match: {a: {b: ["x"]}}\n', {"a": "x"}, False, id="scalar-on-the-way"),
    # --- prefixes, suffixes, case
    pytest.param('    match: {a: [{prefix: "ab"}]}\n', {"a": "abc"}, True, id="prefix"),
    pytest.param('    match: {a: [{prefix: "ab"}]}\n', {"a": "a"}, False, id="prefix-shorter"),
    pytest.param('    match: {a: [{prefix: ""}]}\n', {"a": 3}, False, id="empty-prefix-needs-a-string"),
    pytest.param('    match: {a: [{prefix: ""}]}\n', {"a": ""}, True, id="empty-prefix"),
    pytest.param('    match: {a: [{suffix: "bc"}]}\n', {"a": "abc"}, True, id="suffix"),
    pytest.param('    match: {a: [{suffix: "bc"}]}\n', {"a": "c"}, False, id="suffix-longer-than-value"),
    pytest.param('    match: {a: [{prefix: {equals-ignore-case: "AB"}}]}\n', {"a": "abX"}, True, id="prefix-ignore-case"),
    pytest.param('    match: {a: [{suffix: {equals-ignore-case: "Bc"}}]}\n', {"a": "xBC"}, True, id="suffix-ignore-case"),
    pytest.param('    match: {a: [{equals-ignore-case: "k"}]}\n', {"a": "\u212a"}, True, id="ignore-case-kelvin-sign"),
    pytest.param('    match: {a: [{equals-ignore-case: "\u212a"}]}\n', {"a": "K"}, True, id="ignore-case-non-ascii-pattern"),
    pytest.param('    match: {a: [{equals-ignore-case: "straße"}]}\n', {"a": "STRASSE"}, False, id="ignore-case-per-char"),
    pytest.param('    match: {a: [{prefix: {equals-ignore-case: "s"}}]}\n', {"a": "ſx"}, True, id="prefix-ignore-case-long-s"),
    # --- wildcards
    pytest.param('    match: {a: [{wildcard: "a*c"}]}\n', {"a": "ac"}, True, id="wildcard-star-is-zero-or-more"),
    pytest.param('    match: {a: [{wildcard: "*.png"}]}\n', {"a": "x.png"}, True, id="wildcard-suffix"),
    pytest.param('    match: {a: [{wildcard: "*a*"}]}\n', {"a": "bab"}, True, id="wildcard-middle"),
    pytest.param('    match: {a: [{wildcard: "a\\\\*b"}]}\n', {"a": "a*b"}, True, id="wildcard-escaped-star"),
    pytest.param('    match: {a: [{wildcard: "a\\\\*b"}]}\n', {"a": "axb"}, False, id="wildcard-escaped-star-literal"),
    # --- numbers
    pytest.param('    match: {a: [{numeric: [">", 0, "<=", 5]}]}\n', {"a": 5}, True, id="range-upper-inclusive"),
    pytest.param('    match: {a: [{numeric: [">", 0, "<=", 5]}]}\n', {"a": 0}, False, id="range-lower-exclusive"),
    pytest.param('    match: {a: [{numeric: [">=", 0, "<", 5]}]}\n', {"a": 0.0}, True, id="range-lower-inclusive"),
    pytest.param('    match: {a: [{numeric: [">", 0, "<=", 5]}]}\n', {"a": "3"}, False, id="range-string-is-not-number"),
    pytest.param('    match: {a: [{numeric: [">", 0, "<=", 5]}]}\n', {"a": True}, False, id="range-bool-is-not-number"),
    pytest.param('    match: {a: [{numeric: ["<", 10]}]}\n', {"a": -6e9}, False, id="range-outside-comparable"),
    pytest.param('    match: {a: [{numeric: ["=", 3]}]}\n', {"a": 3.0}, True, id="numeric-equal"),
    pytest.param('    match: {a: [{cidr: "10.0.0.0/24"}]}\n', {"a": "10.0.0.7"}, True, id="cidr"),
    pytest.param('    match: {a: [{cidr: "10.0.0.0/24"}]}\n', {"a": "10.0.1.7"}, False, id="cidr-outside"),
    # --- exists, anything-but
    pytest.param('    match: {a: [{exists: true}]}\n', {"a": None}, True, id="exists-null"),
    pytest.param('    match: {a: [{exists: true}]}\n', {"a": []}, False, id="exists-empty-array"),
    pytest.param('    match: {a: [{exists: false}]}\n', {"a": {"b": 1}}, True, id="exists-false-object"),
    pytest.param('    match: {a: [{exists: false}, "x"]}\n', {"a": "x"}, True, id="exists-false-or-value"),
    pytest.param('    match: {a: [{anything-but: ["x", "z"]}]}\n', {"a": "y"}, True, id="anything-but"),
    pytest.param('    match: {a: [{anything-but: ["x", "z"]}]}\n', {"a": "z"}, False, id="anything-but-excluded"),
    pytest.param('    match: {a: [{anything-but: [3, 4]}]}\n', {"a": 3.0}, False, id="anything-but-number"),
    pytest.param('    match: {a: [{anything-but: [3, 4]}]}\n', {"a": "3"}, True, id="anything-but-number-string"),
    pytest.param('    match: {a: [{anything-but: ["x", "z"]}]}\n', {"a": None}, True, id="anything-but-null"),
    pytest.param('    match: {a: [{anything-but: ["x", "z"]}]}\n', {}, False, id="anything-but-missing"),
    pytest.param('    match: {a: [{anything-but: ["x"]}]}\n', {"a": ["x", "y"]}, True, id="anything-but-array"),
    pytest.param('    match: {a: [{anything-but: ["10.0.0.1"]}]}\n', {"a": "::ffff:a00:1"}, True,
                 id="anything-but-no-ip-spelling"),
    pytest.param('    match: {a: [{anything-but: {prefix: "ab"}}]}\n', {"a": "abc"}, False, id="anything-but-prefix"),
    pytest.param('    match: {a: [{anything-but: {prefix: "ab"}}]}\n', {"a": 1}, True, id="anything-but-prefix-number"),
    pytest.param('    match: {a: [{anything-but: {suffix: "bc"}}]}\n', {"a": "abc"}, False, id="anything-but-suffix"),
    pytest.param('    match: {a: [{anything-but: {equals-ignore-case: ["X"]}}]}\n', {"a": "x"}, False,
                 id="anything-but-ignore-case"),
    pytest.param('    match: {a: [{anything-but: {equals-ignore-case: ["K"]}}]}\n', {"a": "\u212a"}, False,
                 id="anything-but-ignore-case-kelvin"),
    pytest.param('    match: {a: [{anything-but: {wildcard: "a*"}}]}\n', {"a": "ab"}, False, id="anything-but-wildcard"),
    # --- AND, $or, array consistency
    pytest.param('    match: {a: ["x"], b: ["y"]}\n', {"a": "x", "b": "y"}, True, id="and"),
    pytest.param('    match: {a: ["x"], b: ["y"]}\n', {"a": "x", "b": "z"}, False, id="and-fails"),
    pytest.param('    match: {$or: [{a: ["x"]}, {b: ["y"]}]}\n', {"b": "y"}, True, id="or"),
    pytest.param('    match: {e: {f: ["Anna"], l: ["Jones"]}}\n',
                 {"e": [{"f": "Anna", "l": "Smith"}, {"f": "Peter", "l": "Jones"}]}, False, id="array-consistency"),
    pytest.param('    match: {e: {f: ["Anna"], l: ["Smith"]}}\n',
                 {"e": [{"f": "Anna", "l": "Smith"}, {"f": "Peter", "l": "Jones"}]}, True, id="array-consistency-ok"),
    # --- expressions: one value, arrays are values
    pytest.param('    when: a == "x"\n', {"a": "x"}, True, id="expr-eq"),
    pytest.param('    when: a == 1\n', {"a": 1.0}, True, id="expr-eq-int-float"),
    pytest.param('    when: a == 1\n', {"a": True}, False, id="expr-eq-bool-is-not-1"),
    pytest.param('    when: a == "x"\n', {"a": ["x"]}, False, id="expr-array-is-a-value"),
    pytest.param('    when: a != "x"\n', {}, False, id="expr-ne-missing"),
    pytest.param('    when: a != "x"\n', {"a": ["x"]}, True, id="expr-ne-array"),
    pytest.param('    when: a in ["x", 2]\n', {"a": 2.0}, True, id="expr-in"),
    pytest.param('    when: a not in ["x", 2]\n', {"a": None}, True, id="expr-not-in-null"),
    pytest.param('    when: a in []\n', {"a": 1}, False, id="expr-in-empty"),
    pytest.param('    when: a > 3\n', {"a": 10**30}, True, id="expr-gt-big-int"),
    pytest.param('    when: 3 < a\n', {"a": 4}, True, id="expr-literal-left"),
    pytest.param('    when: a >= "m"\n', {"a": "n"}, True, id="expr-string-order"),
    pytest.param('    when: a >= "m"\n', {"a": 5}, False, id="expr-order-needs-same-types"),
    pytest.param('    when: a starts with "ab"\n', {"a": "abc"}, True, id="expr-starts-with"),
    pytest.param('    when: a ends with ""\n', {"a": 1}, False, id="expr-ends-with-empty-needs-string"),
    pytest.param('    when: equals_ignore_case(a, "STRASSE")\n', {"a": "straße"}, True, id="expr-casefold"),
    pytest.param('    when: a contains "b"\n', {"a": "abc"}, True, id="expr-contains"),
    pytest.param('    when: a matches "^a.c$"\n', {"a": "abc"}, True, id="expr-regex"),
    pytest.param('    when: exists(a.b)\n', {"a": {"b": None}}, True, id="expr-exists-null"),
    pytest.param('    when: a.b == 1\n', {"a": [{"b": 1}]}, False, id="expr-no-array-walk"),
    pytest.param('    when: a[0].b == 1\n', {"a": [{"b": 1}]}, True, id="expr-index"),
    pytest.param('    when: not (a == 1)\n', {}, True, id="expr-not-missing"),
    pytest.param('    when: a + 1 > 2\n', {"a": 2}, True, id="expr-arithmetic"),
    pytest.param('    when: "any(i in a: i > 2)"\n', {"a": [1, 3]}, True, id="expr-quantifier"),
    pytest.param('    when: a == "x" or b > 2\n', {"b": 3}, True, id="expr-or"),
    pytest.param('    when: ip in cidr("10.0.0.0/8")\n', {"ip": "10.1.2.3"}, True, id="expr-cidr"),
    # --- CEL
    pytest.param('    cel: event.a == "x" && event.b > 2\n', {"a": "x", "b": 3}, True, id="cel"),
    pytest.param('    cel: has(event.a)\n', {"b": 1}, False, id="cel-has"),
    # --- several filters
    pytest.param('    match: {a: ["x"]}\n    when: b > 1\n', {"a": "x", "b": 2}, True, id="match-and-when"),
    pytest.param('    match: {a: ["x"]}\n    when: b > 1\n', {"a": "x", "b": 0}, False, id="match-and-when-fails"),
    pytest.param("", {"anything": 1}, True, id="no-filter-matches-all"),
]


@pytest.mark.parametrize(("body", "event", "matched"), CASES)
def test_single_rule(body: str, event: Any, matched: bool) -> None:
    _check(_rules(_yaml_rule("r", body)), event, ["r"] if matched else [])


ORDER = _rules(
    _yaml_rule("low", '    match: {a: [{exists: true}]}\n')
    + _yaml_rule("high", '    match: {a: ["x"]}\n', "    priority: 5\n")
    + _yaml_rule("stopper", '    when: a == "x"\n', "    priority: 1\n    on_match: stop\n")
    + _yaml_rule("after", '    match: {a: [{prefix: "x"}]}\n')
    + _yaml_rule("off", '    match: {a: ["x"]}\n', "    enabled: false\n")
)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"a": "x"}, ["high", "stopper"], id="priority-then-stop"),
        pytest.param({"a": "xy"}, ["low", "after"], id="file-order"),
        pytest.param({"a": 1}, ["low"], id="only-exists"),
        pytest.param({}, [], id="nothing"),
    ],
)
def test_order_and_stop(event: Any, expected: list[str]) -> None:
    _check(ORDER, event, expected)


def test_events_of_unusual_python_types() -> None:
    """Events built in Python (not decoded JSON): mappings, str subclasses, NaN, tuples."""

    class Text(str):
        pass

    text = _rules(
        _yaml_rule("eq", '    match: {a: {b: ["x"]}}\n')
        + _yaml_rule("num", '    match: {n: [{numeric: [">", 1]}]}\n')
        + _yaml_rule("expr", '    when: s == "x" or n != 2\n')
    )
    compiled, reference = rules_engine.loads(text), rules_engine.loads(text, engine="reference")
    events: list[Any] = [
        {"a": UserDict({"b": "x"})},
        UserDict({"a": {"b": Text("x")}, "s": Text("x")}),
        {"a": ({"b": "x"},), "n": float("nan")},
        {"n": float("inf"), "s": "x"},
        {"a": {"b": ("y", "x")}, "n": (3,)},
    ]
    for event in events:
        assert compiled.match(event) == reference.match(event), event


@pytest.mark.parametrize(
    "budgets",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"TABLE_BUDGET": 0, "SEGMENT_BUDGET": 0, "MAX_SOURCE_DEPTH": 0}, id="fallback-structures"),
    ],
)
def test_shared_buckets_and_fallback_structures(monkeypatch: pytest.MonkeyPatch, budgets: dict[str, int]) -> None:
    """Many rules sharing keys; with zero budgets the filtered / scanned / closure variants run."""
    for name, value in budgets.items():
        owner = {"MAX_SOURCE_DEPTH": codegen_checks, "TABLE_BUDGET": negative, "SEGMENT_BUDGET": tables}[name]
        monkeypatch.setattr(owner, name, value)
    body = ""
    for i in range(12):
        body += _yaml_rule(f"ab{i}", f'    match: {{a: [{{anything-but: ["v{i % 3}", "w{i}"]}}], b: [{{exists: true}}]}}\n')
        body += _yaml_rule(f"rg{i}", f'    match: {{n: [{{numeric: [">", {i}, "<=", {i + 3}]}}]}}\n')
        body += _yaml_rule(f"ne{i}", f'    when: s != "v{i % 4}" and t not in [{i}, "v{i}"]\n')
    text = _rules(body)
    compiled, reference = rules_engine.loads(text), rules_engine.loads(text, engine="reference")
    for event in [
        {"a": "v1", "b": 1, "n": 4, "s": "v2", "t": 3},
        {"a": 5, "b": None, "n": 0.5, "s": "v0", "t": "v3"},
        {"a": ["v0", "v2"], "b": [1], "n": [1, 9], "s": 1, "t": None},
        {"n": 3.0, "s": ["v0"], "t": 3.0},
    ]:
        assert compiled.match(event) == reference.match(event), event


def test_deep_formula_checked_by_closures() -> None:
    expr: ir.Expr = ir.Compare("==", ir.Field(("a",)), ir.Literal(1))
    for i in range(60):  # deeper than the generated source may nest
        expr = ir.Or((ir.And((expr, ir.Exists(ir.Field(("b",))))), ir.Compare("==", ir.Field(("c",)), ir.Literal(i))))
    rs = ir.RuleSetIR(rules=(ir.Rule("deep", (ir.Filter("when", expr),)),))
    compiled = compile_ruleset(rs)
    assert compiled.generated.closures == 1
    for event in [{"a": 1, "b": 0}, {"c": 59}, {"a": 1}, {"c": 100}]:
        assert [r.name for r in compiled.match(event)] == [r.name for r in matching_rules(rs, event)]


def test_stats_count_sharing() -> None:
    text = _rules(
        _yaml_rule("a", '    match: {t: ["x"], n: [{numeric: [">", 3]}]}\n')
        + _yaml_rule("b", '    match: {t: ["x"]}\n')
        + _yaml_rule("c", '    when: t == "x" and data.total > 3\n')
        + _yaml_rule("d", '    cel: event.t == "x"\n')
    )
    stats = compile_ruleset(rules_engine.loads(text, engine="reference").ir).stats()
    assert (stats.rules, stats.atoms, stats.predicates) == (4, 6, 5)
    assert stats.exact_rules == 1  # b: its anchor decides it
    assert stats.always_candidates == 1  # d: CEL has no index
    assert stats.partial_decode
    assert stats.struct_match  # every prefix the head reads is a field of the decoder's types


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*\\", max_size=6), st.text(alphabet="ab*\\", max_size=8))
def test_wildcard_leaf_is_the_reference_leaf(pattern: str, text: str) -> None:
    assert wildcard_leaf(pattern)(text) == wildcard_matches(pattern, text)


TEXTS = ["", "a", "A", "ab", "aB", "AB", "b", "k", "K", "\u212a", "s", "S", "\u017f", "ss", "ß", "straße", "STRASSE", "i",
         "I", "\u0130", "\u0131", "é", "É", "x1", "9", "9a", "a9", "Mission", "MIS", "sa", "\u017fa", "ka", "\u212aA"]  # fmt: skip
LEAF_TEXT = st.sampled_from(TEXTS)
LEAF_VALUES = st.one_of(LEAF_TEXT, st.text(max_size=4), st.integers(-2, 2), st.sampled_from([0.5, 1e30]), st.booleans(),
                        st.none(), st.lists(LEAF_TEXT, max_size=2), st.dictionaries(LEAF_TEXT, LEAF_TEXT, max_size=1))  # fmt: skip
_affix = st.sampled_from([ir.MPrefix, ir.MSuffix])
LEAF_INNER = st.one_of(
    st.builds(ir.MExact, LEAF_TEXT),
    st.builds(lambda c, v, ic: c(v, ic), _affix, LEAF_TEXT, st.booleans()),
    st.builds(ir.MEqualsIgnoreCase, LEAF_TEXT),
)
LEAF_MATCHERS = st.one_of(
    st.builds(lambda c, v, ic: c(v, ic), _affix, LEAF_TEXT, st.booleans()),
    st.builds(ir.MEqualsIgnoreCase, LEAF_TEXT),
    st.builds(lambda inner: ir.MAnythingBut(tuple(inner)), st.lists(LEAF_INNER, min_size=1, max_size=3)),
    st.builds(lambda n: ir.MAnythingBut((ir.MExact(n),)), st.integers(-1, 1)),
)


def test_ignore_case_leaves_on_every_pair_of_texts() -> None:
    """Every (pattern, text) pair of the awkward alphabet, exhaustively: ``\u017f`` (long s) upper-cases to
    ``S``, the Kelvin sign lower-cases to ``k``; only the reference decides non-ASCII text."""
    checked = 0
    for v in TEXTS:
        for m in (ir.MPrefix(v, True), ir.MSuffix(v, True), ir.MEqualsIgnoreCase(v), ir.MAnythingBut((ir.MPrefix(v, True),)),
                  ir.MAnythingBut((ir.MEqualsIgnoreCase(v), ir.MSuffix(v, True)))):  # fmt: skip
            leaf = matcher_leaf(m)
            for x in TEXTS:
                assert leaf(x) == value_matches(m, x), (m, x)
                checked += 1
    assert checked == 5 * len(TEXTS) ** 2


@settings(max_examples=600, deadline=None)
@given(LEAF_MATCHERS, LEAF_VALUES)
def test_string_leaf_shortcuts_are_the_reference_leaf(m: ir.Matcher, x: Any) -> None:
    """The compiled leaves for (ignore-case) affixes, equals-ignore-case and anything-but of strings decide
    ASCII text themselves: the same verdict as the reference on every value, Unicode case oddities included."""
    assert matcher_leaf(m)(x) == value_matches(m, x)


SHOP = _rules(
    _yaml_rule("cheap", '    match: {type: ["order.created"], data: {total: [{numeric: ["<", 10]}]}}\n')
    + _yaml_rule("any-order", '    match: {type: [{prefix: "order."}]}\n')
    + _yaml_rule("usd", '    cel: data.currency == "USD"\n')
)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--show", "stats"], ["rules                          3", "partial decoding               yes",
                                           "rules decided by the index     1", "compile time",
                                           "  stage normalise", "  stage index", "  stage generate",
                                           "  stage decoder"], id="stats"),
        pytest.param(["--show", "stats", "--format", "json"], ['"rules": 3', '"exact_rules": 1', '"compile_ms"',
                                                               '"stages_ms"', '"normalise"', '"decoder"'],
                     id="stats-json"),
        pytest.param(["--show", "tree"], ["type\n", '● prefix "order."  -> any-order',
                                          "○ < 10  (checked for cheap)", "checked for every event: usd"], id="tree"),
        pytest.param(["--format", "mermaid"], ["flowchart LR", 'ev(("event"))', '["any-order"]', "-.->"], id="mermaid"),
        pytest.param(["--format", "dot"], ["digraph compiled {", "[style=dashed];", 'label="cheap"'], id="dot"),
        pytest.param(["--show", "source"], ["def match(ev):", "return out"], id="source"),
    ],
)
def test_cli_compile_shows_the_structure(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    from rules_engine.cli.main import main

    path = tmp_path / "shop.yaml"
    path.write_text(SHOP)
    assert main(["compile", "--rules", str(path), *argv]) == 0
    out = capsys.readouterr().out
    for piece in expected:
        assert piece in out, (piece, out)


def test_stages_run_in_order_and_are_timed_only_with_a_clock() -> None:
    from rules_engine.compile.compiled import STAGES

    rs = rules_engine.loads(SHOP, engine="reference").ir
    assert compile_ruleset(rs).timings == ()  # pure: no clock read
    ticks = iter(range(100))
    timed = compile_ruleset(rs, clock=lambda: float(next(ticks)))
    assert [name for name, _ in timed.timings] == [s.name for s in STAGES]
    assert all(seconds == 1.0 for _, seconds in timed.timings)  # one tick per stage: each timed once


def test_cli_compile_reports_rule_errors(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from rules_engine.cli.main import main

    path = tmp_path / "bad.yaml"
    path.write_text(_rules(_yaml_rule("bad", "    when: a >\n")))
    assert main(["compile", "--rules", str(path)]) == 1
    assert "error[" in capsys.readouterr().err


def test_every_index_kind_has_a_table_and_a_lane() -> None:
    from rules_engine.compile.kinds import LANES, Kind
    from rules_engine.compile.tables import Table

    # each kind is probed in exactly one lane, and its table class builds and probes it
    assert sorted(k.name for kinds in LANES.values() for k in kinds) == sorted(k.name for k in Kind)
    assert all(issubclass(k.spec.table, Table) for k in Kind)
    assert len({k.tag for k in Kind}) == len(Kind) - 1  # only the two scans share a constant prefix ("SC")


KIND_EVENTS: list[dict[str, Any]] = [
    {}, {"a": "x"}, {"a": "X"}, {"a": "xyz"}, {"a": "zzx"}, {"a": "10.0.0.1"}, {"a": "10.000.0.1"}, {"a": ""},
    {"a": "Straße"}, {"a": "STRASSE"}, {"a": 3}, {"a": 3.0}, {"a": 7}, {"a": -2}, {"a": None}, {"a": True},
    {"a": ["x", 7]}, {"a": {"b": 1}}, {"a": "m"}, {"a": "10.1.2.3"},
]

KIND_CASES: list[Any] = [
    pytest.param("EXACT_STR", '    match: {a: ["x"]}\n', id="exact-string-pattern"),
    pytest.param("EXACT_STR", '    when: a == "x"\n', id="exact-string-expression"),
    pytest.param("IP", '    match: {a: ["10.0.0.1"]}\n', id="ip"),
    pytest.param("ANY_STRING", '    match: {a: [{prefix: ""}]}\n', id="any-string-pattern"),
    pytest.param("ANY_STRING", "    when: a starts with ''\n", id="any-string-expression"),
    pytest.param("PREFIX", '    match: {a: [{prefix: "xy"}]}\n', id="prefix-pattern"),
    pytest.param("PREFIX", "    when: a starts with 'xy'\n", id="prefix-expression"),
    pytest.param("SUFFIX", '    match: {a: [{suffix: "zx"}]}\n', id="suffix-pattern"),
    pytest.param("SUFFIX", "    when: a ends with 'zx'\n", id="suffix-expression"),
    pytest.param("WILD_PREFIX", '    match: {a: [{wildcard: "x*z"}]}\n', id="wildcard-prefix"),
    pytest.param("WILD_SUFFIX", '    match: {a: [{wildcard: "*x"}]}\n', id="wildcard-suffix"),
    pytest.param("ICASE_EQ", '    match: {a: [{equals-ignore-case: "X"}]}\n', id="ignore-case-ascii"),
    pytest.param("ICASE_PREFIX", '    match: {a: [{prefix: {equals-ignore-case: "XY"}}]}\n', id="prefix-ignore-case"),
    pytest.param("ICASE_SUFFIX", '    match: {a: [{suffix: {equals-ignore-case: "ZX"}}]}\n', id="suffix-ignore-case"),
    pytest.param("ICASE_OTHER", '    match: {a: [{equals-ignore-case: "straße"}]}\n', id="ignore-case-non-ascii"),
    pytest.param("CASEFOLD", "    when: equals_ignore_case(a, 'STRASSE')\n", id="casefold-expression"),
    pytest.param("STR_GT", "    when: a > 'l'\n", id="string-gt"),
    pytest.param("STR_GE", "    when: a >= 'm'\n", id="string-ge"),
    pytest.param("STR_LT", "    when: a < 'm'\n", id="string-lt"),
    pytest.param("STR_LE", "    when: a <= 'm'\n", id="string-le"),
    pytest.param("EXACT_NUM", "    match: {a: [3]}\n", id="exact-number-pattern"),
    pytest.param("EXACT_NUM", "    when: a == 3\n", id="exact-number-expression"),
    pytest.param("GT", '    match: {a: [{numeric: [">", 3]}]}\n', id="gt-pattern"),
    pytest.param("GT", "    when: a > 3\n", id="gt-expression"),
    pytest.param("GE", '    match: {a: [{numeric: [">=", 3]}]}\n', id="ge"),
    pytest.param("LT", '    match: {a: [{numeric: ["<", 3]}]}\n', id="lt"),
    pytest.param("LE", "    when: a <= 3\n", id="le-expression"),
    pytest.param("SEGMENT", '    match: {a: [{numeric: [">", 0, "<=", 7]}]}\n', id="segment"),
    pytest.param("EXACT_CONST", "    match: {a: [null, true]}\n", id="exact-const-pattern"),
    pytest.param("EXACT_CONST", "    when: a == true\n", id="exact-const-expression"),
    pytest.param("ANYTHING_BUT", '    match: {a: [{anything-but: ["x", "zzx"]}]}\n', id="anything-but"),
    pytest.param("ANYTHING_BUT", '    match: {a: [{anything-but: {prefix: "x"}}]}\n', id="anything-but-prefix"),
    pytest.param("NOT_EQUAL", '    when: a not in ["x", 3, null]\n', id="not-equal"),
    pytest.param("SCAN", '    match: {a: [{cidr: "10.0.0.0/8"}]}\n', id="scan-pattern"),
    pytest.param("SCAN", "    when: a contains 'y'\n", id="scan-expression"),
    pytest.param("PRESENT", "    match: {a: [{exists: true}]}\n", id="present-pattern"),
    pytest.param("PRESENT", "    when: exists(a)\n", id="present-expression"),
    pytest.param("ABSENT", "    match: {a: [{exists: false}]}\n", id="absent"),
]


@pytest.mark.parametrize(("kind", "body"), KIND_CASES)
def test_every_index_kind_is_built_and_probed(kind: str, body: str) -> None:
    """Each kind is what some operator is indexed as (of both dialects where it is one concept), its
    table is built and probed, and the compiled engine agrees with the reference on every event."""
    from rules_engine.compile.kinds import Kind

    text = _rules(_yaml_rule("r", body))
    compiled, reference = rules_engine.loads(text), rules_engine.loads(text, engine="reference")
    c = compile_ruleset(compiled.ir)
    tables_here = [t for site in (*c.index.names, *c.index.paths) for t in site.tables]
    assert Kind[kind] in tables_here, c.source
    for event in KIND_EVENTS:
        assert compiled.match(event) == reference.match(event), (event, c.source)


def test_every_kind_has_an_operator() -> None:
    from rules_engine.compile.kinds import Kind

    assert {p.values[0] for p in KIND_CASES} == {k.name for k in Kind}


def test_answers_are_fresh_lists_whatever_the_hits_memo_holds() -> None:
    """``match`` remembers the rules of a hit list (``runtime.hits_memo``); the caller still owns each
    answer: emptying one leaves the next one whole."""
    for n in (3, 12):  # hit lists short enough to remember, and longer (sorted each time)
        text = _rules("".join(_yaml_rule(f"r{i}", f"    match: {{a: [{{anything-but: ['q{i}']}}]}}\n")
                              for i in range(n)))
        compiled = rules_engine.loads(text)
        every = [f"r{i}" for i in range(n)]
        first = compiled.match({"a": "x"})
        assert first == every
        first.clear()
        assert compiled.match({"a": "x"}) == every
        assert compiled.match({"a": "q1"}) == [r for r in every if r != "r1"]


def test_hits_memo_is_bounded_and_never_changes_a_value() -> None:
    from rules_engine.compile.runtime import MEMO_ENTRIES, MEMO_KEY, hits_memo

    memo, fill = hits_memo(lambda k: tuple(sorted(set(k))))
    keys = [(i % 7, i, i // 3) for i in range(MEMO_ENTRIES + 500)]
    assert [fill(k) for k in keys] == [tuple(sorted(set(k))) for k in keys]
    assert len(memo) == MEMO_ENTRIES  # full: later keys are computed, not kept
    assert all(memo[k] == tuple(sorted(set(k))) for k in keys[:MEMO_ENTRIES])
    memo2, fill2 = hits_memo(lambda k: len(k))
    assert fill2(tuple(range(MEMO_KEY + 1))) == MEMO_KEY + 1 and not memo2  # too long to keep


@settings(max_examples=60, deadline=None)  # each example compiles a rule set
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4))
def test_hit_lists_in_any_order_give_rules_in_evaluation_order(values: list[str]) -> None:
    """Rules that overlap on several values: the probes produce hit lists with repeats in varying
    orders; every one (remembered or not) answers in the reference's order."""
    body = "".join(
        _yaml_rule(f"r{i}", f"    match: {{k: {json.dumps(sorted(set(vs)))}}}\n")
        for i, vs in enumerate([["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"], ["d"], ["a", "b", "c", "d"]]))
    for i, v in enumerate(values):
        body += _yaml_rule(f"s{i}", f"    when: \"k == '{v}' and n > {i}\"\n")
    text = _rules(body)
    compiled, reference = rules_engine.loads(text), rules_engine.loads(text, engine="reference")
    for v in ("a", "b", "c", "d", "e"):
        for n in (0, 2, 9):
            event = {"k": v, "n": n}
            assert compiled.match(event) == reference.match(event)


_NUMBERS = st.one_of(st.integers(-10, 10), st.floats(-10, 10, allow_nan=False), st.sampled_from([6e9, -6e9, 5e9]),
                     st.sampled_from(["3", True, None, 2**70]))


@settings(max_examples=100, deadline=None)  # each example compiles a rule set
@given(st.lists(st.one_of(_NUMBERS, st.lists(_NUMBERS, max_size=3)), max_size=6),
       st.lists(st.tuples(st.sampled_from([">", ">=", "<", "<="]), st.integers(-10, 10)), min_size=1, max_size=4))
def test_one_sided_ranges_over_arrays_probe_the_extremes(values: list[Any], ranges: list[tuple[str, int]]) -> None:
    """Over several values (an array), a one-sided range is probed once with the least or greatest number
    (``codegen_probes._name_functions``); the answers stay the reference's, whatever else the array holds."""
    body = "".join(_yaml_rule(f"r{i}", f"    match: {{a: {{b: [{{numeric: ['{op}', {t}]}}]}}}}\n")
                   for i, (op, t) in enumerate(ranges))
    body += _yaml_rule("both", "    match: {a: {b: [{numeric: ['>', -3, '<', 3]}]}}\n")
    text = _rules(body)
    compiled, reference = rules_engine.loads(text), rules_engine.loads(text, engine="reference")
    for event in ({"a": [{"b": v} for v in values]}, {"a": {"b": values}}):
        assert compiled.match(event) == reference.match(event)
        raw = json.dumps(event).encode()
        assert compiled.match(raw) == reference.match(raw)


_WILD = st.text(alphabet="ab*", max_size=5).filter(lambda p: "**" not in p)  # "**" is E315


@settings(max_examples=100, deadline=None)  # each example compiles a rule set
@given(st.lists(st.lists(_WILD, min_size=1, max_size=3), min_size=1, max_size=4),
       st.lists(st.one_of(st.text(alphabet="ab", max_size=6), st.integers(0, 3)), min_size=1, max_size=4))
def test_anything_but_wildcards_indexed_by_their_pieces(patterns: list[list[str]], values: list[Any]) -> None:
    """Anything-but wildcards are run only for strings holding their first (or last) literal piece
    (``negative.Negative.ex_wpfx`` / ``ex_wsfx``); every verdict stays the reference's."""
    body = "".join(_yaml_rule(f"r{i}", f"    match: {{k: [{{anything-but: {{wildcard: {json.dumps(ps)}}}}}]}}\n")
                   for i, ps in enumerate(patterns))
    text = _rules(body)
    try:
        compiled = rules_engine.loads(text)
    except RuleError:  # too complex for a wildcard (E315): not a rule set
        assume(False)
    reference = rules_engine.loads(text, engine="reference")
    for event in [{"k": v} for v in values] + [{"k": values}]:
        assert compiled.match(event) == reference.match(event)
        raw = json.dumps(event).encode()
        assert compiled.match(raw) == reference.match(raw)


_AB_TEXT = st.text(alphabet="aBk", max_size=3)
_AB_WILD = st.builds(  # a literal first piece, as indexed (a "*" first leaves the name to the general lines)
    lambda a, rest, star: {"wildcard": "*".join([a, *filter(None, rest)]) + ("*" if star else "")},
    _AB_TEXT.filter(bool), st.lists(_AB_TEXT, min_size=1, max_size=2), st.booleans())  # no "**" (E315)
_AB_INNER = st.one_of(
    st.lists(_AB_TEXT, min_size=1, max_size=3),
    st.lists(st.integers(0, 2), min_size=1, max_size=2),
    st.builds(lambda v: {"prefix": v}, _AB_TEXT.filter(bool)),
    st.builds(lambda v: {"suffix": v}, _AB_TEXT.filter(bool)),
    # the Kelvin sign lower-cases to "k": a non-ASCII pattern is a leaf (the general lines)
    st.builds(lambda v: {"equals-ignore-case": v}, st.lists(st.one_of(_AB_TEXT, st.just("\u212a")), min_size=1,
                                                            max_size=2)),
    _AB_WILD, _AB_WILD,
)


def _pieces(inner: Any) -> list[str]:
    """The strings an anything-but operand is made of (a value built from them meets its edge cases)."""
    if isinstance(inner, list):
        return [v for v in inner if isinstance(v, str)]
    (v,) = inner.values()
    return [p for x in (v if isinstance(v, list) else [v]) for p in str(x).split("*")]


@settings(max_examples=80, deadline=None)  # each example compiles a rule set
@given(st.data())
def test_anything_but_of_strings_per_atom_and_by_lookup(data: st.DataObject) -> None:
    """Up to ``negative.FEW_ATOMS`` anything-but atoms on a name test a string against each atom's own
    exclusions in turn (slices compared, ``Negative._per_atom``); more take the lookups into the set of
    excluding atoms (``_general``).  Both give the reference's verdicts, whatever the exclusions mix;
    the values are built from the operands' own pieces, so prefixes, suffixes and cases meet."""
    inners = data.draw(st.lists(_AB_INNER, min_size=1, max_size=6))
    body = "".join(_yaml_rule(f"r{i}", f"    match: {{k: [{{anything-but: {json.dumps(inner)}}}]}}\n")
                   for i, inner in enumerate(inners))
    try:
        compiled = rules_engine.loads(_rules(body))
    except RuleError:  # a wildcard too complex (E315): not a rule set
        assume(False)
    reference = rules_engine.loads(_rules(body), engine="reference")
    pieces = sorted({p for inner in inners for p in _pieces(inner)} | {"a", "\u212a"})
    piece = st.sampled_from(pieces)
    text = st.lists(st.one_of(piece, piece.map(str.upper), piece.map(str.lower)), max_size=3).map("".join)
    values = data.draw(st.lists(st.one_of(text, st.integers(0, 2), st.none()), min_size=1, max_size=4))
    for event in [{"k": v} for v in values + pieces] + [{"k": values}]:
        assert compiled.match(event) == reference.match(event), event
        raw = json.dumps(event).encode()
        assert compiled.match(raw) == reference.match(raw), event


def test_exact_values_over_an_array_skipped_only_when_none_equals_a_key() -> None:
    """Over several values, a name with only exact tables first asks whether any value equals any key
    (``codegen_probes._exact_keys``: one ``isdisjoint``); an unhashable value in an event built in Python
    leaves it to the per-value loop, which gives the reference's verdict."""
    text = _rules(_yaml_rule("s", '    match: {a: ["x", 2, null]}\n') + _yaml_rule("t", '    match: {a: [true]}\n'))
    compiled, reference = rules_engine.loads(text), rules_engine.loads(text, engine="reference")
    for event in ({"a": [1, "y", False]}, {"a": [1, 2.0]}, {"a": [1, True]}, {"a": [{"b": 1}, None]},
                  {"a": [set(), "y"]}, {"a": [set(), "x"]}, {"a": [[frozenset()], 1]}):
        assert compiled.match(event) == reference.match(event), event
