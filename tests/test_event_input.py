"""Events through every public entry point: any input gets an answer or a RuleError (issue 9, defects 8 and 15)."""

from __future__ import annotations

from typing import Any

import pytest

import rules_engine
from rules_engine import RuleError

RULES = """
targets:
  out: {type: stdout}
rules:
  - name: r
    match: {type: [a]}
    targets: [out]
"""

NOT_OBJECTS = [
    pytest.param(None, "null", id="none"),
    pytest.param(5, "a number", id="int"),
    pytest.param(1.5, "a number", id="float"),
    pytest.param(True, "a boolean", id="bool"),
    pytest.param([1, 2], "an array", id="list"),
    pytest.param((1, 2), "an array", id="tuple"),
    pytest.param({1, 2}, "a Python set", id="set"),
    pytest.param(object(), "a Python object", id="object"),
]


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize("event,found", NOT_OBJECTS)
@pytest.mark.parametrize("entry", ["match", "evaluate", "explain"])
def test_non_object_event_is_E502_everywhere(engine: str, event: Any, found: str, entry: str) -> None:
    rs = rules_engine.loads(RULES, engine=engine)
    with pytest.raises(RuleError) as ei:
        getattr(rs, entry)(event)
    [d] = ei.value.diagnostics
    assert (d.code, d.message) == ("E502", f"an event must be a JSON object, not {found}")


@pytest.mark.parametrize("entry", ["match", "evaluate", "explain"])
def test_list_as_value_and_as_json_give_the_same_code(entry: str) -> None:
    rs = rules_engine.loads(RULES)
    codes = []
    for ev in ([1, 2], b"[1, 2]", "[1, 2]"):
        with pytest.raises(RuleError) as ei:
            getattr(rs, entry)(ev)
        codes.append([d.code for d in ei.value.diagnostics])
    assert codes == [["E502"]] * 3


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize("raw", [b'\xef\xbb\xbf{"type": "a"}', '\ufeff{"type": "a"}'], ids=["bytes", "str"])
def test_byte_order_mark_before_an_event_is_accepted(engine: str, raw: bytes | str) -> None:
    assert rules_engine.loads(RULES, engine=engine).match(raw) == ["r"]


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize(
    "raw,where,detail",
    [
        pytest.param(b'{"type": "\xff"}', (1, 11), "invalid UTF-8 at byte 10 (0xff)", id="bad-byte"),
        pytest.param(b'{"x": 1,\n "type": "ab\xc3("}', (2, 13), "invalid UTF-8 at byte 21 (0xc3)", id="second-line"),
        pytest.param('{"type": "\udc80"}', (1, 11), "unpaired surrogate U+DC80 at character 10", id="surrogate"),
    ],
)
def test_invalid_utf8_names_the_byte(engine: str, raw: bytes | str, where: tuple[int, int], detail: str) -> None:
    rs = rules_engine.loads(RULES, engine=engine)
    for entry in (rs.match, rs.evaluate, rs.explain):
        with pytest.raises(RuleError) as ei:
            entry(raw)
        [d] = ei.value.diagnostics
        assert (d.code, (d.line, d.column), d.message) == ("E501", where, f"event is not valid JSON: {detail}")
