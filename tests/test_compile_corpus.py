"""Judges from outside the project, through the compiled engine: AWS-validated cases and CL2 counts.

* ``../shared/corpus/localstack-event-patterns``: the 117 match / ``_NEG`` cases
  run against real AWS; each runs through the compiled rule set on the
  decoded event and on the raw JSON text (partial decoding), and through
  the reference evaluator.
* ``../shared/corpus/citylots``: event-ruler's 14 CL2 rule sets (70 rules),
  each compiled as one rule set; every rule's match count over all 50,000
  events must be event-ruler's, from raw bytes and from decoded events.

Every test here skips with a clear message when ``../shared`` is absent.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import corpus
import json5
import orjson
import pytest
from corpus import (
    LARGE_PAYLOAD_PATTERNS,
    TEMPLATES,
    case_params,
    duplicate_key_case,
    large_payload,
    load_case,
    require,
)

from rules_engine.compile.compiled import CompiledRuleSet, compile_ruleset
from rules_engine.model import ir
from rules_engine.patterns.lower import parse_pattern_json
from rules_engine.reference import matching_rules


def _one_rule(pattern_text: str, name: str = "p") -> ir.RuleSetIR:
    pattern, diags = parse_pattern_json(pattern_text)
    assert pattern is not None, diags
    return ir.RuleSetIR(rules=(ir.Rule(name, (ir.Filter("match", pattern),)),))


def _verdicts(rs: ir.RuleSetIR, event_text: str) -> tuple[bool, bool, bool]:
    """(compiled on the decoded event, compiled on raw text, reference); the raw path is also taken
    with the raw-byte prefilter's pure-Python scanner, without a prefilter and in a batch, and must agree."""
    compiled = compile_ruleset(rs)
    event = orjson.loads(event_text)
    raw = bool(compiled.matching_raw(event_text.encode()))
    for other in (compile_ruleset(rs, prefilter="python"), compile_ruleset(rs, prefilter=None)):
        assert bool(other.matching_raw(event_text.encode())) == raw
    assert [bool(m) for m in compiled.matching_raw_many([event_text.encode()] * 2)] == [raw, raw]
    return (bool(compiled.match(event)), raw, bool(matching_rules(rs, event)))


@pytest.mark.parametrize("stem", case_params(with_exc=False))
def test_localstack_case(stem: str) -> None:
    pattern, event = load_case(stem)
    expected = not stem.endswith("_NEG")
    verdicts = _verdicts(_one_rule(pattern), event)
    assert verdicts == (expected, expected, expected)


def test_duplicate_key_case_as_raw_text() -> None:
    pattern, event = duplicate_key_case()
    assert _verdicts(_one_rule(pattern), event) == (True, True, True)


@pytest.mark.parametrize("pattern", LARGE_PAYLOAD_PATTERNS)
def test_large_complex_payload(pattern: dict[str, Any]) -> None:
    assert _verdicts(_one_rule(json.dumps(pattern)), large_payload()) == (True, True, True)


def test_all_cases_in_one_rule_set() -> None:
    """All AWS cases as one rule set: each event matches its own rule exactly as the reference says."""
    require(TEMPLATES)
    rules, events = [], []
    for p in sorted(TEMPLATES.glob("*.json5")):
        if p.stem.endswith("_EXC"):
            continue
        case = json5.loads(p.read_text())
        pattern, _ = parse_pattern_json(json.dumps(case["EventPattern"]))
        assert pattern is not None
        rules.append(ir.Rule(p.stem, (ir.Filter("match", pattern),), on_match="stop" if "or" in p.stem else "continue"))
        events.append(case["Event"])
    rs = ir.RuleSetIR(rules=tuple(rules))
    compiled = compile_ruleset(rs)
    for event in events:
        expected = [r.name for r in matching_rules(rs, event)]
        assert [r.name for r in compiled.match(event)] == expected
        assert [r.name for r in compiled.matching_raw(json.dumps(event))] == expected


# --- CL2 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def citylots() -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
    return corpus.citylots()


def _cl2_set(patterns: dict[str, Any], prefilter: str | None = "auto") -> CompiledRuleSet:
    rules = []
    for name, pattern in patterns.items():
        lowered, diags = parse_pattern_json(json.dumps(pattern))
        assert lowered is not None, diags
        rules.append(ir.Rule(name, (ir.Filter("match", lowered),)))
    return compile_ruleset(ir.RuleSetIR(rules=tuple(rules)), prefilter=prefilter)


def test_cl2_every_count_from_raw_bytes(citylots: tuple[dict[str, Any], dict[str, Any], list[bytes]]) -> None:
    rules, expected, lines = citylots
    assert len(lines) == 50_000
    for set_name, patterns in rules.items():
        compiled = _cl2_set(patterns)
        counts = Counter(r.name for line in lines for r in compiled.matching_raw(line))
        assert {n: counts[n] for n in patterns} == expected[set_name], set_name


def test_cl2_every_count_from_decoded_events(citylots: tuple[dict[str, Any], dict[str, Any], list[bytes]]) -> None:
    rules, expected, lines = citylots
    events = [orjson.loads(line) for line in lines]
    for set_name, patterns in rules.items():
        compiled = _cl2_set(patterns)
        counts = Counter(r.name for e in events for r in compiled.match(e))
        assert {n: counts[n] for n in patterns} == expected[set_name], set_name


def test_cl2_all_70_rules_as_one_rule_set(citylots: tuple[dict[str, Any], dict[str, Any], list[bytes]]) -> None:
    """The 14 sets merged: shared names and mixed structures give the same 70 counts."""
    rules, _, lines = citylots
    merged = {name: p for patterns in rules.values() for name, p in patterns.items()}
    compiled = _cl2_set(merged)
    counts = Counter(r.name for line in lines[:5_000] for r in compiled.matching_raw(line))
    # the first 5,000 events: compare each set's counts with the set compiled alone
    for set_name, patterns in rules.items():
        alone = _cl2_set(patterns)
        own = Counter(r.name for line in lines[:5_000] for r in alone.matching_raw(line))
        assert {n: counts[n] for n in patterns} == {n: own[n] for n in patterns}, set_name


def test_cl2_every_count_in_batches_with_the_prefilter(citylots: tuple[dict[str, Any], dict[str, Any], list[bytes]]) -> None:
    """The raw-byte prefilter (compile/prefilter.py), batch entry point: every count of every set where
    the prefilter is built; the pure-Python scanner on the first 10,000 events agrees with no prefilter."""
    rules, expected, lines = citylots
    built = 0
    for set_name, patterns in rules.items():
        compiled = _cl2_set(patterns)
        if compiled.prefilter is None:
            continue  # a rule without literals (numeric, anything-but): the raw path above covers it
        built += 1
        counts = Counter(r.name for m in compiled.matching_raw_many(lines) for r in m)
        assert {n: counts[n] for n in patterns} == expected[set_name], set_name
        python, plain = _cl2_set(patterns, "python"), _cl2_set(patterns, None)
        assert [python.matching_raw(x) for x in lines[:10_000]] == [plain.matching_raw(x) for x in lines[:10_000]]
    # the seven selective sets: EXACT, WILDCARD, PREFIX, SUFFIX and the three ignore-case sets (bound literals)
    assert built == 7
