"""Any key a JSON document can hold works in rules, from decoded events and raw bytes alike
(issue 9, defect 2: the partial decoder's generated structs cannot name fields with ``"``, ``\\``
or control characters; such a subtree is now read whole)."""

from __future__ import annotations

import json

import pytest

import rules_engine

KEYS = ['say "hi"', "back\\slash", "tab\there", "nul\x00", "\x1f", 'both\\"', "plain"]


def _yaml(key: str, nested: bool) -> str:
    field = {"data": {key: ["x"]}} if nested else {key: ["x"]}
    return json.dumps({"targets": {"out": {"type": "stdout"}},
                       "rules": [{"name": "r", "match": field, "targets": ["out"]}]})


@pytest.mark.parametrize("nested", [False, True], ids=["top", "nested"])
@pytest.mark.parametrize("key", KEYS, ids=lambda k: repr(k))
def test_pattern_key_from_bytes_and_values(key: str, nested: bool) -> None:
    text = _yaml(key, nested)
    hit = {"data": {key: "x"}} if nested else {key: "x"}
    miss = {"data": {key: "y", "other": "x"}} if nested else {key: "y", "other": "x"}
    for engine in ("compiled", "reference"):
        rs = rules_engine.loads(text, engine=engine)
        for ev, want in ((hit, ["r"]), (miss, [])):
            for form in (ev, json.dumps(ev), json.dumps(ev, ensure_ascii=False).encode()):
                assert rs.match(form) == want, (engine, form)


def test_rule_language_key_with_backslash() -> None:
    text = 'target out = stdout()\nrule r {\n  when data["back\\\\slash"] == 1 and data["say \\"hi\\""] == 2\n  route to out\n}\n'
    ev = {"data": {"back\\slash": 1, 'say "hi"': 2}}
    for engine in ("compiled", "reference"):
        rs = rules_engine.loads(text, format="dsl", engine=engine)
        assert rs.match(ev) == rs.match(json.dumps(ev).encode()) == ["r"]
        assert rs.match({"data": {"back\\slash": 1}}) == []


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_control_characters_in_conditions_reach_generated_comments_safely(engine: str) -> None:
    """Found by the fuzzer: the compiled rule set comments its generated code with each rule's
    conditions, and a NUL there made Python refuse the source (a raw SyntaxError from loads)."""
    text = json.dumps({"targets": {"out": {"type": "stdout"}}, "rules": [
        {"name": "r", "when": 'x == "\\u0000\\u2028\\ud7ff" and y != "\\u001f"', "targets": ["out"]},
        {"name": "p", "match": {"time": [{"prefix": "2022"}], "detail": {"c": {"\x00": [{"numeric": [">", 0]}]},
                                                                        "d": [{"numeric": ["<", 10]}]}},
         "targets": ["out"]}]})
    rs = rules_engine.loads(text, engine=engine)
    ev = {"x": "\x00\u2028\ud7ff", "y": 1, "time": "2022-07", "detail": {"c": {"\x00": 3}, "d": 1}}
    assert rs.match(ev) == ["r", "p"]
