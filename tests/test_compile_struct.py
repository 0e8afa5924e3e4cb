"""``match_struct``: the generated match reading msgspec's structs (compile/codegen_struct.py).

It answers plain events itself, arrays included; msgspec's types refuse what a name's leaf cannot hold as
it is (an object, an integer beyond int64) and a name's dotted spelling (``"a.b"``), and the full decoder
takes those; a value only a check reads that is not plain is handed back to the dict path.  Either way the
verdict is the reference's.  The property tests of
``test_compile_props.py`` run it on every raw event they generate; these pin the hand-over cases.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rules_engine
from rules_engine.compile.compiled import compile_ruleset
from rules_engine.model import ir
from rules_engine.model.errors import RuleError
from rules_engine.model.events import decode_event
from rules_engine.reference import matching_rules


def _rs(*filters: dict[str, Any] | str) -> ir.RuleSetIR:
    """Rules from EventBridge patterns, expressions and (``cel:``) CEL, through a YAML rule file."""
    lines = ["targets: {out: {type: stdout}}", "rules:"]
    for i, f in enumerate(filters):
        if isinstance(f, dict):
            lines.append(f"  - {{name: r{i}, match: {json.dumps(f)}, targets: [out]}}")
        elif f.startswith("cel:"):
            lines.append(f"  - {{name: r{i}, cel: {json.dumps(f[4:])}, targets: [out]}}")
        else:
            lines.append(f"  - {{name: r{i}, when: {json.dumps(f)}, targets: [out]}}")
    return rules_engine.loads("\n".join(lines) + "\n", engine="reference").ir


RULES = (
    {"a": {"b": ["x"]}},
    {"a": {"b": [{"anything-but": ["y"]}]}, "n": [{"numeric": [">", 2]}]},
    {"big": [1e30]},
    {"flag": [True], "none": [None]},
    "a.c == 'z' and n < 10",
    "cel:has(event.d) && event.d.e == 1",
)

# (raw event, whether match_struct answers it itself; None: msgspec's types refuse it, the full decoder decodes)
EVENTS = [
    pytest.param(b'{"a": {"b": "x"}, "n": 3}', True, id="plain"),
    pytest.param(b'{"a": {"b": "q", "c": "z"}, "n": 1}', True, id="plain-expression"),
    pytest.param(b'{"flag": true, "none": null}', True, id="booleans-and-null"),
    pytest.param(b'{"a": {"b": ["x", "y"]}}', True, id="array-value"),
    pytest.param(b'{"a": [{"b": "x"}]}', True, id="array-on-the-way"),
    pytest.param(b'{"a": [{"b": "y"}, [{"b": "x"}]], "n": 3}', True, id="nested-arrays-on-the-way"),
    pytest.param(b'{"a": [1, {"b": "q", "c": "z"}], "n": 1}', True, id="array-on-an-expression-path"),
    pytest.param(b'{"a": [{"b.c": "x", "b": {"c": 1}}]}', True, id="dotted-key-below-an-array"),
    pytest.param(b'{"a": [{"b": "x"}], "d": [{"e": 1}]}', False, id="array-only-a-check-reads"),
    pytest.param(b'{"a": [{"b": "x"}], "n": [1, 2]}', False, id="arrays-on-the-way-and-at-a-leaf"),
    pytest.param(b'{"a": [[[[[[[[{"b": "x"}]]]]]]]]}', None, id="array-nested-beyond-ARRAY_DEPTH"),
    pytest.param(b'{"a.b": "x"}', None, id="dotted-key"),
    pytest.param(b'{"a": {"b": "x"}, "a.b": "y"}', None, id="dotted-key-beside"),
    pytest.param(b'{"big": 1000000000000000000000000000000}', None, id="integer-beyond-orjson"),
    pytest.param(b'{"big": 18446744073709551615}', None, id="integer-beyond-int64-within-orjson"),
    pytest.param(b'{"big": 1e30}', True, id="float"),
    pytest.param(b'{"a": {"b": {"deep": 1}}}', None, id="object-value"),
    pytest.param(b'{"a": {"b": [{"deep": 1}, "x"]}}', True, id="array-of-an-object-and-a-value"),
    pytest.param(b'{"d": {"e": 1}, "a": {"b": "x"}}', False, id="object-only-a-check-reads"),
    pytest.param(b'{"d": 5, "a": {"b": "x"}}', True, id="scalar-only-a-check-reads"),
    pytest.param(b'{"z": 1}', True, id="nothing-read"),
]


@pytest.mark.parametrize(("raw", "itself"), EVENTS)
def test_struct_match_agrees_with_the_reference(raw: bytes, itself: bool | None) -> None:
    rs = _rs(*RULES)
    compiled = compile_ruleset(rs, prefilter=None)
    assert compiled.match_struct is not None
    expected = [r.name for r in matching_rules(rs, decode_event(raw))]
    assert [r.name for r in compiled.matching_raw(raw)] == expected
    assert [[r.name for r in m] for m in compiled.matching_raw_many([raw, raw])] == [expected, expected]
    assert compiled.decoder.struct_decode is not None
    try:
        s = compiled.decoder.struct_decode(raw)
    except msgspec.ValidationError:  # msgspec's types expect an object there: the full decoder takes it
        assert itself is None
        return
    answer = compiled.match_struct(s)
    assert (answer is not None) == itself
    if answer is not None:
        assert [r.name for r in answer] == expected


def test_the_types_name_leaves_and_refused_spellings() -> None:
    """Typed NAME_LEAF: key paths read only as names' leaves (``n`` is also an expression's, ``a`` a prefix);
    typed REFUSED: a name's dotted spelling nothing else reads."""
    compiled = compile_ruleset(_rs(*RULES), prefilter=None)
    assert compiled.decoder.name_leaves == {("a", "b"), ("big",), ("flag",), ("none",)}
    assert compiled.decoder.refused == {("a.b",)}
    assert compile_ruleset(_rs({"a": {"b": ["x"]}}, "cel:event['a.b'] == 'x'"), prefilter=None).decoder.refused == set()


def test_no_struct_match_when_a_prefix_is_read_both_ways() -> None:
    """``a.b`` read as a value and ``a.b.c`` below it: the decoder reads ``a.b`` whole, so the struct
    head could not name ``a.b.c``; the dict path does it all."""
    compiled = compile_ruleset(_rs({"a": {"b": ["x"]}}, {"a": {"b": {"c": ["y"]}}}))
    assert compiled.match_struct is None
    assert [r.name for r in compiled.matching_raw(b'{"a": {"b": {"c": "y"}}}')] == ["r1"]


def test_a_check_needing_the_event_after_probes_that_use_locals() -> None:
    """The probes' own locals (an anything-but suffix table uses ``s`` and ``e``) must not hide the struct
    that a later check converts into the event."""
    rs = _rs({"a": [{"anything-but": {"suffix": "x"}}]}, "cel:has(event.d) && event.d.e == 1")
    compiled = compile_ruleset(rs, prefilter=None)
    assert compiled.match_struct is not None
    for raw in (b'{"a": "ab", "d": {"e": 1}}', b'{"a": "ax", "d": {"e": 2}}', b'{"a": "ab"}'):
        expected = [r.name for r in matching_rules(rs, decode_event(raw))]
        assert [r.name for r in compiled.matching_raw(raw)] == expected, raw


BIG = "1" + "0" * 400  # an integer beyond the float range: the full decoder's error (E501)


@pytest.mark.parametrize(
    ("filters", "text"),
    [
        pytest.param(({"a": [{"anything-but": [1]}]},), f'{{"a": {BIG}}}', id="read-by-the-head"),
        pytest.param(({"a": ["x"]},), f'{{"a": [{BIG}]}}', id="inside-an-array-read"),
        pytest.param(({"c": ["x"]}, "cel:has(event.d)"), f'{{"c": "x", "d": {BIG}}}', id="read-by-a-check"),
        pytest.param(("a + 1 > 4 and c == 'x'", {"z": [{"exists": False}]}), f'{{"a": {BIG}}}',
                     id="read-by-a-check-that-never-runs"),
    ],
)
def test_an_integer_beyond_the_float_range_is_the_decoders_error(filters: tuple[Any, ...], text: str) -> None:
    """Whichever rule reads it, the event raises the error the full decoder gives (found by review: the
    struct path once let OverflowError out, or answered without ever converting the value)."""
    rs = _rs(*filters)
    compiled = compile_ruleset(rs, prefilter=None)
    assert compiled.match_struct is not None
    raw = text.encode()
    with pytest.raises(RuleError):
        matching_rules(rs, decode_event(raw))
    with pytest.raises(RuleError):
        compiled.matching_raw(raw)
    with pytest.raises(RuleError):
        compiled.matching_raw_many([b'{"z": 1}', raw])


@pytest.mark.parametrize("limit", [pytest.param(None, id="default-recursion-limit"),
                                   pytest.param(3000, id="high-recursion-limit"), pytest.param(600, id="low")])
@pytest.mark.parametrize("depth", [10, 900, 1100])
def test_long_events_take_the_struct_path_and_keep_orjsons_nesting_limit(limit: int | None, depth: int) -> None:
    """Events longer than 2,000 bytes go through msgspec too (nothing counts their brackets unless the
    recursion limit is raised above 1,000); nested deeper than orjson allows, they are still its error."""
    import sys

    rs = _rs({"a": {"b": ["x"]}}, {"a": {"b": [{"anything-but": ["y"]}]}})
    compiled = compile_ruleset(rs, prefilter=None)
    pad = b"[" * depth + b"]" * depth
    raw = b'{"pad": ' + pad + b', "fill": "' + b"f" * 2500 + b'", "a": {"b": "x"}}'
    saved = sys.getrecursionlimit()
    if limit is not None:
        sys.setrecursionlimit(limit)
    try:
        try:
            expected: list[str] | None = [r.name for r in matching_rules(rs, decode_event(raw))]
        except RuleError:
            expected = None
        for got in (lambda: compiled.matching_raw(raw), lambda: compiled.matching_raw_many([raw])[0]):
            if expected is None:
                with pytest.raises(RuleError):
                    got()
            else:
                assert [r.name for r in got()] == expected
    finally:
        sys.setrecursionlimit(saved)
    assert (expected is None) == (depth > 1000)


_LEAF = st.one_of(st.sampled_from(["x", "y", "ab", "Polygon"]), st.integers(-3, 3), st.floats(-3, 3),
                  st.booleans(), st.none())
_MATCHER = st.one_of(st.sampled_from(["x", "ab", 1, 2.5]).map(lambda v: [v]),
                     st.sampled_from([{"prefix": "a"}, {"anything-but": ["x"]}, {"anything-but": {"suffix": "b"}},
                                      {"numeric": [">", 0]}, {"numeric": [">", -1, "<=", 2]}, {"exists": False},
                                      {"exists": True}, {"equals-ignore-case": "AB"}]).map(lambda m: [m]))
_NAMES = {"a.b": lambda m: {"a": {"b": m}}, "a.c": lambda m: {"a": {"c": m}}, "d.e.f": lambda m: {"d": {"e": {"f": m}}},
          "n": lambda m: {"n": m}}


def _arrays(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``inner``, or ``inner`` in (nested) arrays, beside other items."""
    return st.recursive(inner, lambda x: st.lists(st.one_of(x, _LEAF), min_size=1, max_size=3), max_leaves=4)


_EVENTS = st.fixed_dictionaries({}, optional={
    "a": _arrays(st.fixed_dictionaries({}, optional={"b": _arrays(_LEAF), "c": _LEAF})),
    "d": _arrays(st.fixed_dictionaries({}, optional={"e": _arrays(st.fixed_dictionaries({}, optional={
        "f": _LEAF}))})),
    "n": _LEAF,
})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(_NAMES)), _MATCHER), min_size=1, max_size=4),
       st.lists(_EVENTS, min_size=1, max_size=4))
def test_arrays_on_the_way_are_walked_from_the_structs(rules: list[tuple[str, Any]], events: list[Any]) -> None:
    """Names below arrays (``{"a": [{"b": 1}, [{"b": 2}]]}`` for ``a.b``): ``match_struct`` reads UNUSUAL
    below the array and the name's slow path walks it; every verdict is the reference's, from the
    structs as from the dict path, and the structs answer every event whose read values are scalars."""
    rs = _rs(*(_NAMES[name](m) for name, m in rules))
    compiled = compile_ruleset(rs, prefilter=None)
    assert compiled.match_struct is not None and compiled.decoder.struct_decode is not None
    for event in events:
        raw = json.dumps(event).encode()
        expected = [r.name for r in matching_rules(rs, decode_event(raw))]
        assert [r.name for r in compiled.matching_raw(raw)] == expected, raw
        try:
            s = compiled.decoder.struct_decode(raw)
        except msgspec.ValidationError:  # arrays nested beyond decode.ARRAY_DEPTH: the full decoder's
            continue
        answer = compiled.match_struct(s)
        leaf_arrays = any(isinstance(x, dict) and isinstance(x.get("b"), list) for x in _objects(event.get("a")))
        if answer is not None or not leaf_arrays:
            assert answer is not None, raw  # only a value that is itself an array goes back
            assert [r.name for r in answer] == expected, raw


def _objects(x: Any) -> list[Any]:
    """The objects in ``x`` and in the arrays it holds, however nested."""
    return [y for item in x for y in _objects(item)] if isinstance(x, list) else [x]
