"""Judges from outside the project: AWS-validated LocalStack cases and event-ruler's CL2 counts.

* ``../shared/corpus/localstack-event-patterns``: 155 cases run against real AWS
  (66 match, 51 ``_NEG``, 38 ``_EXC`` whose exact AWS messages are in the
  snapshot), the duplicate-key case as raw text, and the large payload case.
* ``../shared/corpus/citylots``: event-ruler's CL2 rule sets with the exact number
  of matches over 50,000 events.  The full 70-rule check takes ~40 s with the
  reference matcher, so it lives in ``benchmarks/cl2_reference_check.py``; here
  one rule of every set runs over all 50,000 events (~10 s).
"""

from __future__ import annotations

import json
from typing import Any

import corpus
import orjson
import pytest
from corpus import (
    LARGE_PAYLOAD_PATTERNS,
    LOCALSTACK,
    TEMPLATES,
    case_params,
    duplicate_key_case,
    large_payload,
    load_case,
    require,
)

from rules_engine.model.errors import RuleError
from rules_engine.model.source import Locator
from rules_engine.patterns.api import test_event_pattern
from rules_engine.patterns.evaluate import match_pattern
from rules_engine.patterns.lower import lower_pattern, parse_pattern_json


def _snapshot_messages() -> dict[str, str]:
    """Stem -> AWS's error message, for every ``_EXC`` case of the snapshot."""
    snapshot = json.loads((LOCALSTACK / "test_events_patterns.snapshot.json").read_text())
    out = {}
    for key, entry in snapshot.items():
        if "::test_event_pattern[" not in key:
            continue
        stem = key.split("[", 1)[1][:-1]
        recorded = entry["recorded-content"].get(stem)
        if recorded:
            out[stem] = recorded["exception_message"]["Error"]["Message"]
    return out


def test_corpus_has_the_documented_case_counts() -> None:
    require(TEMPLATES)
    stems = [p.stem for p in TEMPLATES.glob("*.json5")]
    assert len(stems) == 155
    assert sum(s.endswith("_NEG") for s in stems) == 51
    assert sum(s.endswith("_EXC") for s in stems) == 38
    exc = {s for s in stems if s.endswith("_EXC")}
    assert exc <= set(_snapshot_messages())


@pytest.mark.parametrize("stem", case_params())
def test_localstack_case(stem: str) -> None:
    pattern, event = load_case(stem)
    if stem.endswith("_EXC"):
        expected = _snapshot_messages()[stem]
        with pytest.raises(RuleError) as info:
            test_event_pattern(pattern, event)
        messages = [d.message for d in info.value.diagnostics]
        assert expected in messages, f"AWS says {expected!r}; we say {messages!r}"
        assert all(d.code.startswith("E31") and d.span is not None for d in info.value.diagnostics)
    else:
        assert test_event_pattern(pattern, event) is (not stem.endswith("_NEG"))


def test_duplicate_key_last_occurrence_wins() -> None:
    pattern, event = duplicate_key_case()
    assert pattern.count('"location"') == 2, "the case only means something as raw text"
    assert test_event_pattern(pattern, event) is True
    lowered, diags = parse_pattern_json(pattern)
    assert not diags and lowered is not None
    (field,) = lowered.root.fields
    assert field.path == ("detail", "location")
    assert type(field.matchers[0]).__name__ == "MAnythingBut"
    # the kept node's span is the *second* "location" (line 4 of the file)
    assert field.span.line == 4


@pytest.mark.parametrize("pattern", LARGE_PAYLOAD_PATTERNS)
def test_large_complex_payload(pattern: dict[str, Any]) -> None:
    assert test_event_pattern(json.dumps(pattern), large_payload()) is True


def test_escape_characters_in_exact_values() -> None:
    # LocalStack's test_event_pattern_with_escape_characters (AWS-validated): plain exact strings
    event = r'{"id": "1", "detail": {"escape_star": "*", "escape_backslash": "\\"}}'
    pattern = r'{"detail": {"escape_star": ["*"], "escape_backslash": ["\\"]}}'
    assert test_event_pattern(pattern, event) is True


@pytest.mark.parametrize(
    ("pattern", "code", "message"),
    [
        pytest.param("this is valid json but not a dict", "E113", None, id="not-json"),
        pytest.param("{'bad': 'quotation'}", "E113", None, id="single-quotes"),
        pytest.param('{"not": closed mark"', "E113", None, id="unclosed"),
        pytest.param(
            '["not", "a", "dict", "but valid json"]',
            "E311",
            "Event pattern is not valid. Reason: Filter is not an object",
            id="array-pattern",
        ),
    ],
)
def test_invalid_json_patterns(pattern: str, code: str, message: str | None) -> None:
    event = '{"id": "1", "source": "test-source", "detail": {"test": "test"}}'
    with pytest.raises(RuleError) as info:
        test_event_pattern(pattern, event)
    (diag,) = info.value.diagnostics
    assert diag.code == code
    assert diag.line == 1 and diag.column is not None
    if message is not None:
        assert diag.message == message


@pytest.mark.parametrize(
    ("event", "code"),
    [
        pytest.param("plain string", "E501", id="plain-string"),
        pytest.param('["plain string"]', "E502", id="array-event"),
        pytest.param('"just a string"', "E502", id="json-string-event"),
        pytest.param("[" * 10_000, "E503", id="deeply-nested-event"),
    ],
)
def test_invalid_event_payloads(event: str, code: str) -> None:
    with pytest.raises(RuleError) as info:
        test_event_pattern({"body": {"test2": [{"numeric": [">", 100]}]}}, event)
    assert [d.code for d in info.value.diagnostics] == [code]


# --- CL2 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def citylots() -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    rules, expected, lines = corpus.citylots()
    return rules, expected, [orjson.loads(line) for line in lines]


def test_cl2_every_rule_is_valid(citylots: tuple[dict[str, Any], dict[str, Any], list[Any]]) -> None:
    rules, expected, events = citylots
    assert len(events) == 50_000
    assert sum(len(r) for r in rules.values()) == 70
    for ruleset in rules.values():
        for name, pattern in ruleset.items():
            lowered, diags = lower_pattern(pattern, Locator("rules.json"), (name,))
            assert lowered is not None and not diags, (name, diags)


def _one_rule_per_set() -> list[Any]:
    names = [
        "EXACT", "WILDCARD", "PREFIX", "PREFIX_EQUALS_IGNORE_CASE", "SUFFIX", "SUFFIX_EQUALS_IGNORE_CASE",
        "EQUALS_IGNORE_CASE", "NUMERIC", "ANYTHING-BUT", "ANYTHING-BUT-IGNORE-CASE", "ANYTHING-BUT-PREFIX",
        "ANYTHING-BUT-SUFFIX", "ANYTHING-BUT-WILDCARD", "COMPLEX_ARRAYS",
    ]  # fmt: skip
    # rotate through r0..r4 so the subset covers different rules of each kind
    return [pytest.param(s, f"{s}.r{i % 5}", id=f"{s}.r{i % 5}") for i, s in enumerate(names)]


@pytest.mark.parametrize(("ruleset", "rule"), _one_rule_per_set())
def test_cl2_count_over_all_events(
    citylots: tuple[dict[str, Any], dict[str, Any], list[Any]], ruleset: str, rule: str
) -> None:
    rules, expected, events = citylots
    lowered, diags = lower_pattern(rules[ruleset][rule], Locator("rules.json"), ())
    assert lowered is not None, diags
    got = sum(1 for e in events if match_pattern(lowered, e))
    assert got == expected[ruleset][rule]
