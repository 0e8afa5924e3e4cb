"""The raw-byte prefilter (compile/prefilter.py): the literals it derives, and no false negative.

* a table of the literals each operator leaves in the text;
* a table of spellings that could hide a literal (escapes, the Kelvin sign, a key spelled like the
  value, whitespace, arrays, dotted keys, repeated keys) and bad input that must still raise;
* property: on rule sets made only of operators that give literals (so that a prefilter is built),
  events written with escapes, ``\\u`` spellings, surrogate pairs, ``\\/``, odd whitespace, number
  spellings and repeated keys get the reference evaluator's answer, per event and in batches, with
  Hyperscan and with the pure-Python scanner.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rules_engine.compile import literals, prefilter, scanners
from rules_engine.compile.compiled import compile_ruleset
from rules_engine.compile.normalize import normalise
from rules_engine.model import ir
from rules_engine.model.errors import RuleError
from rules_engine.model.events import decode_event
from rules_engine.patterns.lower import parse_pattern_json
from rules_engine.reference import matching_rules

try:  # the optional fast scanner (extra "fast"); where it has no wheel, the pure-Python scanner is tested alone
    import hyperscan  # noqa: F401

    BACKENDS = ["hyperscan", "python"]
except ImportError:
    BACKENDS = ["python"]


def _rs(*patterns: dict[str, Any] | ir.Expr) -> ir.RuleSetIR:
    rules = []
    for i, p in enumerate(patterns):
        if isinstance(p, dict):
            lowered, diags = parse_pattern_json(json.dumps(p))
            assert lowered is not None, diags
            rules.append(ir.Rule(f"r{i}", (ir.Filter("match", lowered),)))
        else:
            rules.append(ir.Rule(f"r{i}", (ir.Filter("when", p),)))
    return ir.RuleSetIR(rules=tuple(rules))


def _literals(p: dict[str, Any] | ir.Expr) -> list[tuple[bytes, bool]] | None:
    n = normalise(_rs(p))
    got = literals.rule_literals(n, 0, {})
    if got is None:
        return None
    return sorted((lit.text, lit.caseless) for alt in got for lit in alt)


F = ir.Field


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param({"a": ["v1"]}, [(b'"a":"v1"', False)], id="exact"),
        pytest.param({"a": ["v1", "v2"]}, [(b'"a":"v1"', False), (b'"a":"v2"', False)], id="exact-or"),
        pytest.param({"a": [{"prefix": "pre"}]}, [(b'"a":"pre', False)], id="prefix"),
        pytest.param({"a": [{"suffix": "fix"}]}, [(b'"a":fix"', False)], id="suffix"),
        pytest.param({"a": [{"equals-ignore-case": "MiX"}]}, [(b'"a":"mix"', True)], id="equals-ignore-case"),
        pytest.param({"a": [{"prefix": {"equals-ignore-case": "Abc"}}]}, [(b'"a":"abc', True)], id="prefix-ignore-case"),
        pytest.param({"a": [{"suffix": {"equals-ignore-case": "Abc"}}]}, [(b'"a":abc"', True)], id="suffix-ignore-case"),
        pytest.param({"a": [{"equals-ignore-case": "st"}]}, [(b'"a":"st"', True)], id="ignore-case-short-bound"),
        pytest.param({"a": [{"wildcard": "ab*cde*fg"}]}, [(b'"a":"ab*cde*fg"', False)], id="wildcard"),
        pytest.param({"a": [{"wildcard": "*"}]}, [(b'"a":"*"', False)], id="wildcard-star"),
        pytest.param({"a": [{"wildcard": "2*0*1*7"}]}, [(b'"a":"2*0*1*7"', False)], id="wildcard-one-character-pieces"),
        pytest.param({"a": [{"prefix": "2"}]}, [(b'"a":"2', False)], id="prefix-one-character"),
        pytest.param({"a": ["2"]}, [(b'"a":"2"', False)], id="exact-one-character"),
        pytest.param({"a": [""]}, [(b'"a":""', False)], id="exact-empty"),
        pytest.param({"a": ["x"], "b": [{"numeric": [">", 1]}]}, [(b'"a":"x"', False)], id="and-keeps-the-literal"),
        pytest.param({"a": ["x"], "b": ["y"]}, [(b'"a":"x"', False), (b'"b":"y"', False)], id="and-both"),
        pytest.param({"b": {"c": ["x"]}}, [(b'"b.c":"x"', False)], id="nested"),
        pytest.param({"a": ["x", 1]}, None, id="number-alternative"),
        pytest.param({"a": ["10.0.0.1"]}, None, id="ip-spellings"),
        pytest.param({"a": [{"equals-ignore-case": "Straße"}]}, None, id="non-ascii-ignore-case"),
        pytest.param({"a": ["Straße"]}, [('"a":"Straße"'.encode(), False)], id="non-ascii-exact"),
        pytest.param({"a": ['q"uote']}, None, id="needs-escape"),
        pytest.param({"a": ["x\ud800"]}, None, id="lone-surrogate-value"),
        pytest.param({"k\udc00": ["v"]}, [(b'"v"', False)], id="lone-surrogate-key-only-the-value"),
        pytest.param({'q"k': ["v"]}, [(b'"v"', False)], id="key-needs-escape-free-literal"),
        pytest.param({'q"k': [{"wildcard": "v*w"}]}, None, id="key-needs-escape-wildcard"),
        pytest.param({"a": [{"anything-but": "x"}]}, None, id="anything-but"),
        pytest.param({"a": [{"exists": True}]}, None, id="exists"),
        pytest.param({"$or": [{"a": ["x"]}, {"b": [{"prefix": "yz"}]}]}, [(b'"a":"x"', False), (b'"b":"yz', False)],
                     id="or"),
        pytest.param({"$or": [{"a": ["x"]}, {"b": [{"numeric": ["<", 3]}]}]}, None, id="or-without-literal"),
        pytest.param(ir.Compare("==", F(("a",)), ir.Literal("v")), [(b'"v"', False)], id="expr-eq"),
        pytest.param(ir.StringTest("contains", F(("a",)), ir.Literal("mid")), [(b"mid", False)], id="expr-contains"),
        pytest.param(ir.StringTest("contains", F(("a",)), ir.Literal("m")), None, id="expr-contains-short"),
        pytest.param(ir.Unary("not", ir.Compare("==", F(("a",)), ir.Literal("v"))), None, id="expr-not"),
        pytest.param(ir.Compare("==", F(("a",)), ir.Literal(1)), None, id="expr-number"),
    ],
)
def test_literals_of_each_operator(pattern: dict[str, Any] | ir.Expr, expected: list[tuple[bytes, bool]] | None) -> None:
    assert _literals(pattern) == expected


@pytest.mark.parametrize(
    ("name", "keys", "others"),
    [
        ("a", ['"a"'], ['"xa"', '"a.a"', '"A"']),
        ("a.b", ['"a.b"', '"b"'], ['"ab"', '"a.bb"', '"b."']),
        ("a.b.c", ['"a.b.c"', '"b.c"', '"c"'], ['"bc"', '"c.a"', '"a.b"']),
        ('q"k', None, []),
    ],
)
def test_bound_literals_take_every_key_a_dotted_name_can_have(name: str, keys: list[str] | None, others: list[str]) -> None:
    """``field_values`` reads the name ``a.b.c`` from the keys ``a.b.c``, ``b.c`` or ``c`` (the name's suffixes
    after a dot): the literal's key matches each of them (and, looser, any key ending in ``.c``), never a key
    whose last segment differs."""
    regex = literals._key_regex(name)
    if keys is None:
        assert regex is None
        return
    assert regex is not None
    for key in keys:
        assert re.search(regex, key.encode()), key
    for key in others:
        assert not re.search(regex, key.encode()), key


def test_quick_screen_only_for_bound_literals_of_few_keys() -> None:
    """One ``re`` search per key, when every literal is bound; a conjunction asks the scanner which hit."""
    quick = compile_ruleset(_rs({"a": ["v1"]}, {"b": {"c": [{"prefix": "p"}]}}), prefilter="python").prefilter
    assert quick is not None and quick.quick is not None and len(quick.quick) == 2 and quick.single
    both = compile_ruleset(_rs({"a": ["v1"], "k": ["v2"]}), prefilter="python").prefilter
    assert both is not None and both.quick is not None and not both.single
    assert both.rejects(b'{"a": "v1", "k": "v3"}') and both.screen(b'{"a": "v1", "k": "v3"}')
    assert not both.screen(b'{"a": "v1", "k": "v2"}')
    free = compile_ruleset(_rs(ir.Compare("==", F(("a",)), ir.Literal("v1"))), prefilter="python").prefilter
    assert free is not None and free.quick is None
    keys = [{f"k{i}": ["v"]} for i in range(scanners.MAX_QUICK_KEYS + 1)]
    many = compile_ruleset(_rs(*keys), prefilter="python").prefilter
    assert many is not None and many.quick is None


def test_a_rule_without_literals_turns_the_prefilter_off() -> None:
    assert compile_ruleset(_rs({"a": ["x"]}, {"b": [{"numeric": [">", 1]}]})).prefilter is None
    assert compile_ruleset(_rs({"a": ["x"]}), prefilter="python").prefilter is not None
    assert compile_ruleset(_rs({"a": ["x"]}), prefilter=None).prefilter is None


def test_too_many_literals_turn_the_prefilter_off() -> None:
    """Compiling the scanner costs per literal; many rules leave few events without a hit anyway."""
    many = [{"a": [f"v{i}"]} for i in range(prefilter.MAX_LITERALS + 1)]
    assert compile_ruleset(_rs(*many[:-1]), prefilter="python").prefilter is not None
    assert compile_ruleset(_rs(*many), prefilter="python").prefilter is None


SPELLINGS = [
    pytest.param(b'{"a": "v1"}', ["r0"], id="plain"),
    pytest.param(b'{"a":"v1"}', ["r0"], id="no-space"),
    pytest.param(b'{"a" :\n\t"v1"\r\n}', ["r0"], id="whitespace"),
    pytest.param(b'{"a": "\\u00761"}', ["r0"], id="unicode-escape"),
    pytest.param(b'{"a": "v\\u0031"}', ["r0"], id="unicode-escape-last"),
    pytest.param(b'{"v1": "a"}', [], id="key-spelled-like-the-value"),
    pytest.param(b'{"a": ["x", "v1"]}', ["r0"], id="array"),
    pytest.param(b'{"a": "v2", "a": "v1"}', ["r0"], id="repeated-key-last-wins"),
    pytest.param(b'{"a": "v1", "a": "v2"}', [], id="repeated-key-first-loses"),
    pytest.param(b'{"b": {"c": "p\\/q"}}', ["r1"], id="escaped-slash"),
    pytest.param(b'{"b.c": "p/q"}', ["r1"], id="dotted-key"),
    pytest.param(b'{"d": "\\u212aKk"}', ["r2"], id="kelvin-ignore-case"),
    pytest.param('{"d": "\u212aKk"}'.encode(), ["r2"], id="kelvin-raw-utf8"),
    pytest.param(b'{"d": "KkK"}', ["r2"], id="ignore-case-ascii"),
    pytest.param(b'{"e": "sure\\"ly"}', ["r3"], id="escaped-quote"),
    pytest.param(b'{"e": "surely"}', ["r3"], id="prefix"),
    pytest.param(b'{"e": "su"}', [], id="prefix-too-short"),
    pytest.param(b'{"e":"sur"}', ["r3"], id="prefix-exact-length"),
    pytest.param(b'{"e": "surely", "f": 1}', ["r3"], id="prefix-then-more"),
    pytest.param(b'  {"a": "v1"}  ', ["r0"], id="outer-whitespace"),
    pytest.param(b'{"b": [{"c": "x"}, {"c": "p/q"}]}', ["r1"], id="array-along-the-path"),
    pytest.param(b'{"b": {"c": ["x", ["p/q"]]}}', ["r1"], id="nested-arrays-at-the-key"),
    pytest.param(b'{"c": "p/q", "b": {"c": "x"}}', [], id="same-key-elsewhere"),
    pytest.param(b'{"x": {"b.c": "p/q"}}', [], id="dotted-key-under-another-name"),
    pytest.param(b'{"b.c" : "p/q"}', ["r1"], id="dotted-key-spaced"),
    pytest.param(b'{"a": {"a": "v1"}}', [], id="key-and-value-one-level-too-deep"),
    pytest.param(b'{"a": "x", "k": "v1"}', [], id="value-under-another-key"),
    pytest.param(b'{"d": "kkk", "d": "x"}', [], id="ignore-case-repeated-key"),
]
SPELLING_RULES = ({"a": ["v1"]}, {"b": {"c": ["p/q"]}}, {"d": [{"equals-ignore-case": "kkk"}]}, {"e": [{"prefix": "sur"}]})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("raw", "expected"), SPELLINGS)
def test_spellings_that_could_hide_a_literal(backend: str, raw: bytes, expected: list[str]) -> None:
    rs = _rs(*SPELLING_RULES)
    compiled = compile_ruleset(rs, prefilter=backend)
    assert compiled.prefilter is not None and compiled.prefilter.quick is not None
    assert [r.name for r in matching_rules(rs, decode_event(raw))] == expected
    assert [r.name for r in compiled.matching_raw(raw)] == expected
    assert [r.name for r in _without_quick(compiled).matching_raw(raw)] == expected
    assert [r.name for r in compiled.matching_raw(raw.decode())] == expected
    assert [[r.name for r in m] for m in compiled.matching_raw_many([raw, b'{"z": 1}', raw])] == [expected, [], expected]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'"v1"', b"", b'{"a": "v1"', b"{" + b" " * (1 << 20) + b"}", b'{"z": "\xff"}', None,
     # bytes.strip() also strips \x0b and \x0c; JSON does not, so such text goes to the decoder (E501)
     b'\x0b{"a": "v2"}', b'{"a": "v2"}\x0c', b'\x0c{"z": 1}\x0b'],
)
def test_bad_input_still_raises(backend: str, raw: Any) -> None:
    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter=backend)
    with pytest.raises(RuleError):
        compiled.matching_raw(raw)
    with pytest.raises(RuleError):
        compiled.matching_raw_many([b'{"a": "v1"}', raw])


def test_empty_and_never_matching_rule_sets_reject_every_object() -> None:
    for rs in (ir.RuleSetIR(rules=()), _rs(ir.Literal(False))):
        compiled = compile_ruleset(rs)
        assert compiled.prefilter is not None and compiled.prefilter.literals == ()
        assert compiled.prefilter.rejects(b'{"a": 1}')
        assert compiled.matching_raw(b'{"a": 1}') == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_batches_larger_than_one_scan(backend: str) -> None:
    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter=backend)
    filler = b'{"pad": "' + b"x" * 5000 + b'"}'
    raws = [filler] * 300 + [b'{"a": "v1"}'] + [filler] * 300 + [b'{"e": "sure"}']
    got = compiled.matching_raw_many(raws)
    assert [k for k, m in enumerate(got) if m] == [300, 601]


# --- property: adversarial spellings -------------------------------------------------------------------

KEYS = ["a", "b", "a.b", "k"]
STRINGS = ["", "v", "ab", "abc", "abcd", "A", "AB", "aBc", "Straße", "STRASSE", "ſ", "s", "K", "\u212a", "k",
           "10.0.0.1", "héllo", "😀", "x/y", "a*b", "q\"t", "b\\s", "1", "st", "ST", "\u0130", "i"]  # fmt: skip
values = st.recursive(
    st.one_of(st.sampled_from(STRINGS), st.integers(-3, 3), st.sampled_from([1.5, 2.0, 1e30]), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=8,
)
events = st.dictionaries(st.sampled_from(KEYS), values, max_size=4)

literal_matchers = st.one_of(
    st.sampled_from([s for s in STRINGS if s]),
    st.builds(lambda s: {"prefix": s}, st.sampled_from([s for s in STRINGS if s])),
    st.builds(lambda s: {"suffix": s}, st.sampled_from([s for s in STRINGS if s])),
    st.builds(lambda s: {"equals-ignore-case": s}, st.sampled_from([s for s in STRINGS if s])),
    st.builds(lambda s: {"prefix": {"equals-ignore-case": s}}, st.sampled_from([s for s in STRINGS if s])),
    st.builds(lambda s: {"suffix": {"equals-ignore-case": s}}, st.sampled_from([s for s in STRINGS if s])),
    st.builds(lambda s: {"wildcard": s}, st.sampled_from(["a*", "*b", "ab*cd", "abc*", "*bcd", "S*E", "a\\*b", "x*/y"])),
)


def _pattern_objects(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaf: st.SearchStrategy[Any] = st.lists(literal_matchers, min_size=1, max_size=2)
    if depth > 0:
        leaf = st.one_of(leaf, st.deferred(lambda: _pattern_objects(depth - 1)))
    base = st.dictionaries(st.sampled_from(KEYS), leaf, min_size=1, max_size=2)
    if depth == 0:
        return base
    ors = st.lists(st.deferred(lambda: _pattern_objects(depth - 1)), min_size=2, max_size=2)
    return st.one_of(base, st.builds(lambda o, alts: {**o, "$or": alts}, base, ors))


@st.composite
def literal_patterns(draw: st.DrawFn) -> ir.Filter:
    raw = draw(_pattern_objects(1))
    pattern, _ = parse_pattern_json(json.dumps(raw))
    assume(pattern is not None)
    assert pattern is not None
    return ir.Filter("match", pattern)


expr_filters = st.builds(
    lambda op, key, s: ir.Filter("when", ir.StringTest(op, F((key,)), ir.Literal(s)) if op != "==" else
                                 ir.Compare("==", F((key,)), ir.Literal(s))),
    st.sampled_from(["==", "starts_with", "ends_with", "contains", "equals_ignore_case"]),
    st.sampled_from(KEYS), st.sampled_from([s for s in STRINGS if len(s) >= 1]),
)


@st.composite
def literal_rule_sets(draw: st.DrawFn) -> ir.RuleSetIR:
    rules = []
    for i in range(draw(st.integers(1, 5))):
        fs = draw(st.lists(st.one_of(literal_patterns(), expr_filters), min_size=1, max_size=2))
        rules.append(ir.Rule(f"r{i}", tuple(fs), on_match=draw(st.sampled_from(["continue", "continue", "stop"]))))
    return ir.RuleSetIR(rules=tuple(rules))


def _spell_string(s: str, draw: st.DrawFn) -> str:
    out = []
    for c in s:
        how = draw(st.sampled_from(["plain", "plain", "u", "U"]))
        if c in '"\\' or ord(c) < 0x20:
            out.append(json.dumps(c)[1:-1] if how == "plain" else f"\\u{ord(c):04x}")
        elif c == "/" and how != "plain":
            out.append("\\/")
        elif how == "plain":
            out.append(c)
        elif ord(c) > 0xFFFF:  # a surrogate pair
            v = ord(c) - 0x10000
            out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04X}")
        else:
            out.append(f"\\u{ord(c):04x}" if how == "u" else f"\\u{ord(c):04X}")
    return '"' + "".join(out) + '"'


def _spell(v: Any, draw: st.DrawFn) -> str:
    ws = draw(st.sampled_from(["", " ", "\n\t"]))
    if isinstance(v, str):
        return _spell_string(v, draw)
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, int):
        return draw(st.sampled_from([str(v), f"{v}.0", f"{v}e0", f"{v}.00E+0"]))
    if isinstance(v, float):
        return draw(st.sampled_from([repr(v), f"{v:e}"]))
    if isinstance(v, list):
        return "[" + ws + ("," + ws).join(_spell(x, draw) for x in v) + ws + "]"
    parts = []
    for k, x in v.items():
        if draw(st.booleans()) and draw(st.booleans()):  # a decoy under the same key first: the last one counts
            parts.append(_spell_string(k, draw) + ":" + ws + _spell(draw(st.sampled_from(STRINGS)), draw))
        parts.append(_spell_string(k, draw) + ws + ":" + ws + _spell(x, draw))
    return "{" + ws + ("," + ws).join(parts) + ws + "}"


@st.composite
def spelled_events(draw: st.DrawFn) -> bytes:
    return _spell(draw(events), draw).encode("utf-8")


def _names(rules: list[ir.Rule]) -> list[str]:
    return [r.name for r in rules]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(literal_rule_sets(), st.lists(spelled_events(), min_size=1, max_size=6))
def test_prefilter_equals_reference_on_adversarial_spellings(rs: ir.RuleSetIR, raws: list[bytes]) -> None:
    covered, literals = prefilter.coverage(normalise(rs))
    assume(covered == len(rs.rules))  # most do: a short `contains` leaves none
    # Over MAX_LITERALS no prefilter is built (by design, and asserted in its own test): the property
    # is about the ones that are, so the set must fit (key-bound literals count one per key spelling).
    assume(literals <= prefilter.MAX_LITERALS)
    expected = [_names(matching_rules(rs, decode_event(raw))) for raw in raws]
    for backend in BACKENDS:
        compiled = compile_ruleset(rs, prefilter=backend)
        assert compiled.prefilter is not None
        for variant in (compiled, _without_quick(compiled)):
            assert [_names(variant.matching_raw(raw)) for raw in raws] == expected, (backend, raws)
            assert [_names(m) for m in variant.matching_raw_many(raws)] == expected, (backend, raws)


def _without_quick(compiled: Any) -> Any:
    """The same compiled set with the scanner deciding every event (no quick ``re`` screen)."""
    return dataclasses.replace(compiled, prefilter=dataclasses.replace(compiled.prefilter, quick=None))


# --- the CLI ----------------------------------------------------------------------------------------------

CLI_RULES = """\
targets:
  out: {type: stdout}
rules:
  - name: created
    match: {type: ["order.created"]}
    targets: [out]
  - name: cancel
    match: {type: [{prefix: "order.cancel"}]}
    targets: [out]
"""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param([], ["prefilter rules covered          2 of 2", "prefilter literals               2",
                          "events rejected before decoding  2 of 3 (66.7%)"], id="text"),
        pytest.param(["--format", "json"], ['"prefilter_rules": 2', '"events": 3', '"events_rejected_before_decoding": 2'],
                     id="json"),
    ],
)
def test_cli_stats_show_coverage_and_rejected_events(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    from rules_engine.cli.main import main

    (tmp_path / "r.yaml").write_text(CLI_RULES)
    (tmp_path / "ev.jsonl").write_text('{"type": "order.created"}\n{"type": "other"}\n\n{"type": "ping"}\n')
    argv = [*argv, "--events", str(tmp_path / "ev.jsonl")]
    assert main(["compile", "--rules", str(tmp_path / "r.yaml"), "--show", "stats", *argv]) == 0
    out = capsys.readouterr().out
    for piece in expected:
        assert piece in out, (piece, out)


def test_cli_stats_events_file_missing(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from rules_engine.cli.main import main

    (tmp_path / "r.yaml").write_text(CLI_RULES)
    assert main(["compile", "--rules", str(tmp_path / "r.yaml"), "--events", str(tmp_path / "none.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err


# --- the gate: scanning paused where it does not pay ------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [False, True])
def test_gate_pauses_a_scan_that_rejects_too_few_and_answers_stay_the_same(backend: str, batch: bool) -> None:
    """Two events of three hold a literal (a third rejected, under ``Gate.MIN_SHARE``): after one window the
    scan pauses, and every answer is still the reference's; a selective scan is never paused."""
    rs = _rs({"a": ["v1"]})
    raws = [b'{"a": "v1"}', b'{"a": "v1", "b": 2}', b'{"a": "v2"}'] * (prefilter.Gate.WINDOW // 2 + 1)
    expected = [_names(matching_rules(rs, decode_event(raw))) for raw in raws]
    compiled = compile_ruleset(rs, prefilter=backend)
    assert compiled.prefilter is not None
    got = compiled.matching_raw_many(raws) if batch else [compiled.matching_raw(raw) for raw in raws]
    assert [_names(m) for m in got] == expected
    assert compiled.prefilter.gate.skip > 0
    assert [_names(m) for m in compiled.matching_raw_many(raws)] == expected  # paused: every event decoded
    assert [_names(compiled.matching_raw(raw)) for raw in raws] == expected
    assert compiled.prefilter.to_decode(raws, adaptive=False) == [k for k, e in enumerate(expected) if e]

    selective = compile_ruleset(rs, prefilter=backend)
    assert selective.prefilter is not None
    raws = [b'{"a": "v2"}'] * (prefilter.Gate.WINDOW * 3) + [b'{"a": "v1"}']
    got = selective.matching_raw_many(raws) if batch else [selective.matching_raw(raw) for raw in raws]
    assert [k for k, m in enumerate(got) if m] == [len(raws) - 1]
    assert selective.prefilter.gate.skip == 0


def test_without_hyperscan_the_quick_screen_is_the_prefilter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the extra ``fast`` has no wheel: bound literals of few keys still get a prefilter (``re``)."""

    def missing(*_args: Any) -> None:
        raise ImportError("hyperscan")

    monkeypatch.setattr(scanners.HyperscanScanner, "__init__", missing)
    rs = _rs(*SPELLING_RULES)
    compiled = compile_ruleset(rs)
    assert compiled.prefilter is not None and compiled.prefilter.backend == "python"
    raws = [raw for raw, _ in (p.values for p in SPELLINGS)]
    assert [_names(compiled.matching_raw(raw)) for raw in raws] == [_names(matching_rules(rs, decode_event(raw)))
                                                                    for raw in raws]
    assert compile_ruleset(_rs(ir.Compare("==", F(("a",)), ir.Literal("v1")))).prefilter is None


def test_gate_below_zero_scans_again() -> None:
    """Threads share the gate without a lock; a count taken below zero by a race means "scan", not "pause"."""
    compiled = compile_ruleset(_rs({"a": ["v1"]}), prefilter="python")
    assert compiled.prefilter is not None
    compiled.prefilter.gate.skip = -3
    assert compiled.prefilter.screen(b'{"a": "v2"}')
    assert compiled.prefilter.to_decode([b'{"a": "v2"}', b'{"a": "v1"}']) == [1]
    assert compiled.prefilter.gate.skip == -3


@pytest.mark.parametrize("backend", BACKENDS)
def test_joined_batch_with_parts_that_are_not_plain(backend: str) -> None:
    """A batch is scanned joined only when every newline separates "}" from "{"; a part with its own
    newlines, outer whitespace, non-ASCII text or an unfinished object sends the parts one by one."""
    rs = _rs(*SPELLING_RULES)
    compiled = compile_ruleset(rs, prefilter=backend)
    parts = [b'{"a": "v1"}', b'{"a":\n"v1"}', b'{"z": 1,\n"a": "v1"}', b' {"a": "v1"} ', b'{"d": "\xe2\x84\xaakk"}',
             b'{"a": "v2"}', b'{"e":\n"surely"}', b'{"e": "su"}']
    for raws in (parts, parts[::-1], [parts[0], parts[1]], [parts[5], parts[2]]):
        expected = [_names(matching_rules(rs, decode_event(raw))) for raw in raws]
        assert [_names(m) for m in compiled.matching_raw_many(raws)] == expected, raws
    with pytest.raises(RuleError):
        compiled.matching_raw_many([b'{"a": "v1"}', b'{"a": "v1"'])


@pytest.mark.parametrize("backend", BACKENDS)
def test_joined_batch_finds_each_part_by_its_length(backend: str) -> None:
    """A match counts for the part it ends in, found from the parts' lengths, never from the newlines
    of the joined buffer: a part that holds ``}\\n{`` itself (not JSON, decoded to its error) shifts
    nothing, and every part with a backslash is decoded, however many it holds."""
    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter=backend)
    pf = compiled.prefilter
    assert pf is not None
    assert 1 in pf.to_decode([b'{"x": 1}\n{"y": 2}', b'{"a": "v1"}', b'{"a": "v2"}'], adaptive=False)
    raws = [b'{"p": "\\\\\\\\"}', b'{"a": "v2"}', b'{"q": "a\\"b", "r": "\\u0041\\/"}', b'{"a": "v2"}',
            b'{"a": "v\\u0031"}', b'{"a": "v2"}']  # fmt: skip
    assert pf.to_decode(raws, adaptive=False) == [0, 2, 4]
    rs = _rs(*SPELLING_RULES)
    assert [_names(m) for m in compiled.matching_raw_many(raws)] == [
        _names(matching_rules(rs, decode_event(raw))) for raw in raws
    ] == [[], [], [], [], ["r0"], []]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_of_mixed_text_types(backend: str) -> None:
    """bytes, bytearray, memoryview and str in one batch: each is read as ``matching_raw`` reads it."""
    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter=backend)
    raws: list[Any] = [b'{"a": "v2"}', bytearray(b'{"a": "v1"}'), '{"a": "v1"}', memoryview(b'{"a":"v1"}'),
                       b'{"a": "v1"}', '{"a": "v2"}', "{\"d\": \"\u212akk\"}"]  # fmt: skip
    assert [_names(m) for m in compiled.matching_raw_many(raws)] == [
        _names(compiled.matching_raw(raw)) for raw in raws
    ] == [[], ["r0"], ["r0"], ["r0"], ["r0"], [], ["r2"]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_joined_batch_of_bytes_like_parts(backend: str) -> None:
    """bytearray and memoryview parts join like bytes; a memoryview of two-byte items (its ``len`` half its
    size) holding a literal cannot be told apart by length, so its buffer's parts are all decoded: the answers
    are ``matching_raw``'s either way."""
    import array

    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter=backend)
    pf = compiled.prefilter
    assert pf is not None
    wide = array.array("h")
    wide.frombytes(b'{"a":"v1"}')  # ten bytes, five items
    plain: list[Any] = [bytearray(b'{"a": "v2"}'), memoryview(b'{"a": "v1"}'), b'{"e": "surely"}', b'{"a": "v2"}']
    odd: list[Any] = [b'{"a": "v2"}', memoryview(wide), b'{"a": "v2"}', bytearray(b'{"x": 1}')]
    joined = backend == "hyperscan"  # the pure-Python scanner takes the parts one by one: only [1] holds a literal
    for raws, kept in ((plain, [1, 2]), (odd, [0, 1, 2, 3] if joined else [1])):
        assert pf.to_decode(raws, adaptive=False) == kept
        assert [_names(m) for m in compiled.matching_raw_many(raws)] == [
            _names(compiled.matching_raw(bytes(raw))) for raw in raws
        ]


def test_a_memoryview_over_the_size_limit_in_a_large_batch_is_decoded_to_its_error() -> None:
    """A joined buffer over the size limit has its parts' sizes checked, which ``len`` gives only for bytes and
    bytearray: a memoryview of two-byte items over the limit (``len`` under it) goes to the decoder's error,
    as it does alone, instead of being scanned and rejected."""
    import array

    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter="hyperscan")
    text = b'{"pad": "' + b"x" * (prefilter.MAX_EVENT_BYTES + 101) + b'"}'  # an even size: whole items
    wide = array.array("h")
    wide.frombytes(text)
    big = memoryview(wide)
    assert len(big) <= prefilter.MAX_EVENT_BYTES < big.nbytes
    with pytest.raises(RuleError):
        compiled.matching_raw(big)
    with pytest.raises(RuleError):
        compiled.matching_raw_many([b'{"a": "v2"}', big])


@given(st.lists(st.integers(min_value=2, max_value=40), min_size=1, max_size=60), st.data())
def test_a_joined_buffers_parts_found_from_their_lengths(sizes: list[int], data: st.DataObject) -> None:
    """``_Parts.holding`` gives, for every byte of the joined buffer, the part it lies in (the separator
    after a part counted as the part's), and so does the bisection of the ends ``finder`` builds for many
    look-ups; ``after`` gives the offset just past that separator."""
    chunk = [b"{" + b"x" * (n - 2) + b"}" for n in sizes]
    joined = b"\n".join(chunk)
    parts = prefilter._Parts.of(chunk, len(joined))
    assert parts is not None
    owner = [k for k, part in enumerate(chunk) for _ in range(len(part) + 1)][: len(joined)]
    for x in data.draw(st.lists(st.integers(min_value=0, max_value=len(joined) - 1), max_size=30)):
        k = parts.holding(x)
        assert k == owner[x] == parts.finder(0)(x) == parts.finder(len(chunk))(x)
        assert parts.after(k) == sum(len(part) + 1 for part in chunk[: k + 1])
    assert prefilter._Parts.of(chunk, len(joined) + 1) is None


@pytest.fixture
def joined(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every buffer the Hyperscan scanner is given, in order."""
    sizes: list[int] = []
    real = scanners.HyperscanScanner.hits_joined

    def spy(self: Any, data: bytes) -> Any:
        sizes.append(len(data))
        return real(self, data)

    monkeypatch.setattr(scanners.HyperscanScanner, "hits_joined", spy)
    return sizes


def test_large_events_after_many_small_ones(joined: list[int]) -> None:
    """A buffer's event count comes from the sizes seen before (at most ``_MAX_COUNT`` events): large
    events after many small ones land in a larger buffer, every byte scanned, the same answers."""
    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter="hyperscan")
    big = b'{"pad": "' + b"x" * 400_000 + b'"}'
    raws = [b'{"a": "v2"}'] * 5000 + [big] * 40 + [b'{"a": "v1"}']
    got = compiled.matching_raw_many(raws)
    assert [k for k, m in enumerate(got) if m] == [5040]
    assert sum(joined) >= 40 * len(big) + 5000 * 11  # every event went through a joined scan


@pytest.mark.parametrize("backend", BACKENDS)
def test_joined_buffers_over_the_cap_are_split(backend: str, monkeypatch: pytest.MonkeyPatch, joined: list[int]) -> None:
    """A buffer joined over ``_JOIN_CAP`` bytes is scanned in halves (Hyperscan takes at most 4 GiB at
    once, and a batch's large events after small ones would join into more); the answers are the same."""
    monkeypatch.setattr(prefilter, "_JOIN_CAP", 2048)
    rs = _rs(*SPELLING_RULES)
    compiled = compile_ruleset(rs, prefilter=backend)
    big = b'{"pad": "' + b"x" * 900 + b'", "a": "v1"}'
    raws = [b'{"a": "v2"}'] * 300 + [big] * 30 + [b'{"e": "sure"}', b'{"a": "v1"}'] + [big] * 3
    expected = [_names(matching_rules(rs, decode_event(raw))) for raw in raws]
    assert [_names(m) for m in compiled.matching_raw_many(raws)] == expected
    if backend == "hyperscan":
        assert joined and max(joined) <= 2048


def test_a_batch_may_be_any_sequence() -> None:
    compiled = compile_ruleset(_rs(*SPELLING_RULES), prefilter="hyperscan")
    raws = collections.deque([b'{"a": "v2"}', b'{"a": "v1"}', '{"a": "v1"}'])
    assert [_names(m) for m in compiled.matching_raw_many(raws)] == [[], ["r0"], ["r0"]]
