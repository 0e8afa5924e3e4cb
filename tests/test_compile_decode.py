"""Partial decoding (decode.py): the keys rules read, exactly as the full decoder gives them.

The judge is ``events.decode_event`` (orjson): for any JSON text, the partial
decoder's result must equal the full decode restricted to the read key paths,
or both must fail with the same error code.  One documented difference: a
number beyond the double range in a part no rule reads.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine.compile.decode import EventDecoder, name_splits, plan_decoder
from rules_engine.model.errors import RuleError
from rules_engine.model.events import decode_event

KEYS = ["a", "b", "a.b", "", "with space", "é", "class", "0"]


def _at(doc: Any, path: tuple[str, ...]) -> str:
    """The value at ``path`` as exact text (``1``, ``1.0`` and ``True`` differ), or "<absent>"."""
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return "<absent>"
        doc = doc[key]
    return repr(doc)


def _views(raw: Any, paths: list[tuple[str, ...]], decoder: EventDecoder | None = None) -> Any:
    """What rules reading ``paths`` can see: each path's value, or the error code."""
    try:
        doc = decoder.decode(raw) if decoder is not None else decode_event(raw)
    except RuleError as e:
        return ("error", e.diagnostics[0].code)
    return [_at(doc, p) for p in paths]


def _same(raw: Any, paths: list[tuple[str, ...]]) -> None:
    assert _views(raw, paths, plan_decoder(paths)) == _views(raw, paths)


scalars = st.one_of(
    st.text(max_size=4), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
)
values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(KEYS), c, max_size=3), max_leaves=10
)
read_paths = st.lists(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(tuple), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=5), read_paths)
def test_partial_equals_full_on_read_paths(event: dict[str, Any], paths: list[tuple[str, ...]]) -> None:
    _same(json.dumps(event).encode(), paths)


BAD: list[Any] = [
    pytest.param(b'{"a": 1', id="truncated"),
    pytest.param(b'{"b": "\\ud800"}', id="lone-surrogate-unread"),
    pytest.param(b'{"b": "\xff"}', id="invalid-utf8-unread"),
    pytest.param(b'{"b": "\xed\xa0\x80"}', id="utf8-surrogate-unread"),
    pytest.param(b'{"a": NaN}', id="nan-literal"),
    pytest.param(b'{"a": 1e400}', id="infinite-read"),
    pytest.param(b'{"a": 1' + b"0" * 400 + b"}", id="huge-integer-read"),
    pytest.param(b'{"a": [1' + b"0" * 400 + b"]}", id="huge-integer-in-read-array"),
    pytest.param(b'\xef\xbb\xbf{"a": 1}', id="byte-order-mark"),
    pytest.param(b'{"a": 1} x', id="trailing-data"),
    pytest.param(b'[{"a": 1}]', id="array-event"),
    pytest.param(b'"text"', id="string-event"),
    pytest.param(b'{"b": ' + b"[" * 1100 + b"]" * 1100 + b"}", id="too-deep-unread"),
    pytest.param(b'{"b": {"x": 1, }}', id="trailing-comma-unread"),
    pytest.param(b'{"a": 1, "a": {"c": 2}}', id="duplicate-key-last-wins"),
    pytest.param(b'{"a": {"c": 2}, "a": 5}', id="duplicate-key-object-then-scalar"),
    pytest.param(b'{"a": 18446744073709551616, "b": 1}', id="integer-beyond-u64"),
    pytest.param(b'{"a": 18446744073709551615}', id="integer-u64-max"),
    pytest.param(b'{"a": -9223372036854775809}', id="integer-below-i64"),
    pytest.param(b'{"a": {"b": [1, 99999999999999999999999]}}', id="big-integer-nested"),
    pytest.param(b'{"a": -0, "b": -0.0}', id="negative-zero"),
    pytest.param(b'{"a": 0.1e-400}', id="underflow"),
    pytest.param(b'{"a": "\\u00e9\\n", "\xc3\xa9": 1}', id="escapes-and-unicode"),
    pytest.param(b'  {"a": 1}\n', id="whitespace"),
    pytest.param('{"a": "é"}', id="str-input"),
    pytest.param(bytearray(b'{"a": 2}'), id="bytearray"),
    pytest.param(memoryview(b'{"a": 3}'), id="memoryview"),
]


@pytest.mark.parametrize("raw", BAD)
@pytest.mark.parametrize("paths", [pytest.param([("a",)], id="reads-a"), pytest.param([("a", "c")], id="reads-a.c")])
def test_edge_inputs_decode_like_the_full_decoder(raw: Any, paths: list[tuple[str, ...]]) -> None:
    _same(raw, paths)


def test_size_limit_is_the_full_decoders() -> None:
    decoder = plan_decoder([("a",)])
    with pytest.raises(RuleError) as info:
        decoder.decode(b'{"a": "' + b"x" * 100 + b'"}', max_bytes=50)
    assert info.value.diagnostics[0].code == "E504"


def test_documented_difference_out_of_range_number_in_unread_part() -> None:
    """The full decoder rejects 1e400 anywhere; the partial one never looks at unread parts."""
    raw = b'{"a": 1, "b": 1e400}'
    assert plan_decoder([("a",)]).decode(raw) == {"a": 1}
    with pytest.raises(RuleError):
        decode_event(raw)


@pytest.mark.parametrize(
    ("name", "splits"),
    [
        pytest.param("a", [("a",)], id="one"),
        pytest.param("a.b", [("a", "b"), ("a.b",)], id="two"),
        pytest.param("a.b.c", [("a", "b", "c"), ("a.b", "c"), ("a", "b.c"), ("a.b.c",)], id="three"),
    ],
)
def test_name_splits(name: str, splits: list[tuple[str, ...]]) -> None:
    assert sorted(name_splits(name) or []) == sorted(splits)


def test_only_read_keys_are_built() -> None:
    decoder = plan_decoder([("properties", "STREET"), ("geometry", "type")])
    raw = json.dumps({"type": "Feature", "properties": {"STREET": "MASON", "BLKLOT": "1"},
                      "geometry": {"type": "Polygon", "coordinates": [[{"x": 1}]]}})
    assert decoder.decode(raw) == {"properties": {"STREET": "MASON"}, "geometry": {"type": "Polygon"}}
    assert decoder.partial is not None and decoder.paths == (("geometry", "type"), ("properties", "STREET"))


def test_an_array_on_the_way_is_decoded_whole() -> None:
    """Where the types expect an object, an array is decoded whole (``match`` walks it); keys no rule
    reads stay undecoded beside it."""
    decoder = plan_decoder([("a", "b")])
    assert decoder.decode(b'{"a": [{"b": 1, "z": [2.5, "s"]}], "c": 2}') == {"a": [{"b": 1, "z": [2.5, "s"]}]}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"a": [{"b": 9223372036854775808}], "c": 2}', id="integer-beyond-int64"),
        pytest.param(b'{"a": [{"b": 100000000000000000000000}], "c": 2}', id="integer-beyond-orjson"),
        pytest.param(b'{"a": ' + b"[" * 8 + b"1" + b"]" * 8 + b', "c": 2}', id="nested-deeper-than-ARRAY_DEPTH"),
    ],
)
def test_an_array_the_types_refuse_is_the_full_decoders(raw: bytes) -> None:
    """An array holding an integer beyond int64, or nested deeper than ``ARRAY_DEPTH``, is refused by
    msgspec: the whole event comes from the full decoder, with its values (a float beyond orjson's range)."""
    decoder = plan_decoder([("a", "b")])
    assert decoder.decode(raw) == decode_event(raw)
    assert "c" in decoder.decode(raw)


def _through(doc: Any, path: tuple[str, ...]) -> list[str]:
    """Every value at ``path`` with arrays passed through (as EventBridge names read), as exact text."""
    found: list[str] = []

    def go(node: Any, rest: tuple[str, ...]) -> None:
        if isinstance(node, list):
            for x in node:
                go(x, rest)
        elif not rest:
            found.append(repr(node))
        elif isinstance(node, dict) and rest[0] in node:
            go(node[rest[0]], rest[1:])

    go(doc, path)
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=5), read_paths)
def test_partial_equals_full_through_arrays(event: dict[str, Any], paths: list[tuple[str, ...]]) -> None:
    raw = json.dumps(event).encode()
    partial = plan_decoder(paths).decode(raw)
    full = decode_event(raw)
    assert [_through(partial, p) for p in paths] == [_through(full, p) for p in paths]


def test_reading_everything_decodes_fully() -> None:
    assert plan_decoder(None).partial is None
    assert plan_decoder([()]).partial is None
    assert plan_decoder([("a",), ()]).decode(b'{"z": 1}') == {"z": 1}


@pytest.mark.parametrize("limit", [pytest.param(3000, id="high-recursion-limit"), pytest.param(600, id="low")])
def test_nesting_limit_does_not_follow_the_recursion_limit(limit: int) -> None:
    """msgspec's depth limit is the interpreter's recursion limit; orjson's is fixed (1,024)."""
    import sys

    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        for depth in (900, 1100):
            _same(b'{"a": 1, "b": ' + b"[" * depth + b"]" * depth + b"}", [("a",)])
    finally:
        sys.setrecursionlimit(saved)


def test_nesting_is_counted_where_the_recursion_limit_does_not_bound_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    """From Python 3.12 msgspec's depth check follows a fixed C limit (1,500 in 3.12), not
    ``sys.getrecursionlimit()``: a long event's brackets are counted whatever the limit (found by review: the
    shortcut alone let 3.12 answer events nested 1,025-1,499 deep that orjson refuses)."""
    from rules_engine.compile import decode

    deep = b'{"pad": ' + b"[" * 1100 + b"]" * 1100 + b', "a": 1}'
    shallow = b'{"pad": "' + b"x" * 3000 + b'", "a": 1}'
    monkeypatch.setattr(decode, "_LIMIT_BOUNDS_MSGSPEC", False)
    assert not decode.nesting_ok(deep) and decode.nesting_ok(shallow)
    with pytest.raises(RuleError):
        plan_decoder([("a",)]).decode(deep)
    monkeypatch.setattr(decode, "_LIMIT_BOUNDS_MSGSPEC", True)  # 3.11: the limit (1,000 here) bounds msgspec
    if sys.getrecursionlimit() <= 1000:
        assert decode.nesting_ok(deep)  # msgspec itself refuses it: RecursionError, then the full decoder
    with pytest.raises(RuleError):
        plan_decoder([("a",)]).decode(deep)
