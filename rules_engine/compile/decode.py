"""Decode only what rules read: raw JSON bytes -> the part of the event a compiled rule set looks at.

Position in the pipeline::

    event bytes ──**EventDecoder.decode**──▶ event (dict, only the keys rules read) ──▶ match
                 └─ shape does not fit ──▶ events.decode_event (full orjson decode)

From the set of key paths a rule set reads, :func:`plan_decoder` builds msgspec
``Struct`` types that name exactly those keys (``msgspec.field(name=...)``
for keys that are not identifiers); msgspec skips everything else without
building Python objects.  A key path read as a value (``detail.state``) is
decoded whole, whatever it holds.  For the paths ``properties.MAPBLKLOT`` and
``geometry.type``::

    {"type": "Feature", "properties": {"MAPBLKLOT": "1613035", "STREET": "MANSELL"},
     "geometry": {"type": "Polygon", "coordinates": [[...900 bytes...]]}}
    -> {"properties": {"MAPBLKLOT": "1613035"}, "geometry": {"type": "Polygon"}}

An EventBridge name ``a.b`` is read under every way of splitting it into keys
(``a`` -> ``b`` and ``"a.b"``), as event-ruler matches both.

An array where the types expect an object (an array on the way to a key read)
is decoded whole (:data:`ARRAY_ITEM`), and ``match`` walks it as in the full
event.  When the event does not fit the generated types otherwise (a scalar
where an object was expected, a non-object event, an array nested deeper than
:data:`ARRAY_DEPTH` or holding an integer beyond int64), or the partial decoder
fails for any reason, the event is decoded fully by ``events.decode_event``,
which also raises the proper E5xx error for bad input.  Values are exactly what the
full decoder gives: integers outside orjson's range [-2**63, 2**64) become
floats as orjson makes them, non-ASCII input is UTF-8-validated first.

One difference remains, by design: a number literal beyond the double range
(``1e400``) in a part of the event *no rule reads* makes the full decoder
fail but is skipped here.  Every event both accept gets the same verdict.

The full event stays available through ``events.decode_event`` (``RuleSet.evaluate`` uses it,
because transforms need the whole event).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from rules_engine.compile.emit import Lines, load
from rules_engine.compile.runtime import MISSING
from rules_engine.model.events import MAX_EVENT_BYTES, decode_event

MAX_NAME_SPLITS = 8
"""A dotted EventBridge name with more segments than this is read by decoding the event fully."""

_DEPTH = 1000  # below orjson's nesting limit (1,024)
SHALLOW = min(2 * _DEPTH, MAX_EVENT_BYTES)
"""No text this long can be nested deeper than orjson allows (or be over the size limit)."""
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
"""orjson's integer range: beyond it the full decoder gives a float (or, past the float range, its error)."""
MSGSPEC_REFUSED = (msgspec.DecodeError, OverflowError, RecursionError)
"""What msgspec (or converting its value) raises for text the generated types do not fit: decode fully."""


_SCALAR: Any = Annotated[int, msgspec.Meta(ge=INT_MIN, le=2**63 - 1)] | float | str | bool | None
"""A JSON scalar whose integer, if it is one, fits int64 (within orjson's range: no conversion needed)."""


def _array_item(depth: int) -> Any:
    """A JSON value nested at most ``depth`` deep whose integers fit int64 (within orjson's range)."""
    item = _SCALAR
    for _ in range(depth):
        item = _SCALAR | list[item] | dict[str, item]  # type: ignore[valid-type]  # built at run time
    return item


# GeoJSON multipolygons need 3; the types grow as 2**depth (50 objects read below: decoder built in 38 ms at
# depth 4, 137 ms at 6, 20 ms with no array type)
ARRAY_DEPTH = 4
ARRAY_ITEM: Any = _array_item(ARRAY_DEPTH)
"""What an array holds where the generated types expect an object (an array on the way to a key read).

Decoded whole, as the full decoder would, and handed to ``match``, which walks arrays in the dict as in
the full event.  msgspec refuses (and the full decoder decodes) an array nested deeper than
:data:`ARRAY_DEPTH` or holding an integer beyond int64, so converting it needs no walk.
"""


NAME_LEAF: Any = _SCALAR | list[ARRAY_ITEM]
"""A value read only as an EventBridge name's leaf: a scalar or an array of plain values, as it is.

An object there holds no value of the name and an integer beyond int64 needs converting: msgspec refuses
both, and the full decoder takes the event (rare shapes), so code reading the structs needs no test for
them (``codegen_struct.py``)."""

REFUSED: Any = Annotated[str, msgspec.Meta(pattern="(?!)")]
"""No JSON value fits (a string matching no pattern, and nothing else): the type of a key spelled with a
dot that stands for several segments of a name (``"a.b"`` for ``a.b.c``).  Such keys are rare and need the
slow walk; msgspec refuses an event holding one, and the full decoder takes it."""

_LIMIT_BOUNDS_MSGSPEC = sys.version_info < (3, 12)
"""On 3.11 C code's recursion checks count against ``sys.getrecursionlimit()``; from 3.12 they follow a
fixed C limit (1,500 in 3.12) that ``setrecursionlimit`` does not move (CPython issue #112282)."""


def nesting_ok(data: bytes, max_bytes: int = MAX_EVENT_BYTES) -> bool:
    """May msgspec be given ``data`` (within ``max_bytes``) without accepting a nesting orjson refuses?

    orjson refuses nesting deeper than 1,024; msgspec, skipping or decoding, raises RecursionError at the
    C recursion limit (the frames below the call count too).  On Python 3.11 that is the interpreter's
    recursion limit, so with it at most ``_DEPTH`` (the default is 1,000) any text does; otherwise (a
    higher limit, or Python 3.12 and later) only text with at most ``_DEPTH`` brackets (each level takes
    two bytes, so a short text always has).
    """
    n = len(data)
    if n > max_bytes:
        return False
    return (n <= 2 * _DEPTH or (_LIMIT_BOUNDS_MSGSPEC and sys.getrecursionlimit() <= _DEPTH)
            or data.count(b"[") + data.count(b"{") <= _DEPTH)


@dataclass(frozen=True, slots=True)
class EventDecoder:
    """Decodes raw events for one rule set.  Immutable; safe to share between threads.

    ``paths`` lists the key paths decoded whole (None: the whole event, no
    partial decoding).  ``source`` is the generated converter, for debugging.
    """

    paths: tuple[tuple[str, ...], ...] | None
    partial: Callable[[Any], dict[str, Any]] | None
    source: str | None = None
    # The generated types, for code that reads them without the dicts (``codegen_struct.py``):
    # every key path's field indices from the root (``s.f2.f0``), the paths whose nodes are structs
    # (objects below which keys are read; the others hold whole values), msgspec alone, and the
    # conversion of its result to the dict ``partial`` gives.
    layout: Mapping[tuple[str, ...], tuple[int, ...]] = field(default_factory=dict)
    structs: frozenset[tuple[str, ...]] = frozenset()
    struct_decode: Callable[[bytes], Any] | None = None
    convert: Callable[[Any], dict[str, Any]] | None = None
    absent: Mapping[tuple[str, ...], Any] = field(default_factory=dict)  # each field's value when its key is absent
    # the leaves typed NAME_LEAF (a scalar, an array or absent, never an object or a wide integer) and the
    # dotted spellings typed REFUSED (always absent: an event holding one is decoded fully)
    name_leaves: frozenset[tuple[str, ...]] = frozenset()
    refused: frozenset[tuple[str, ...]] = frozenset()

    def decode(self, raw: bytes | bytearray | memoryview | str, max_bytes: int = MAX_EVENT_BYTES) -> dict[str, Any]:
        """The event as far as the rules read it; raises ``RuleError`` (E501-E504) like ``decode_event``."""
        partial = self.partial
        # the common case first: ASCII bytes within the size limit that cannot hide a nesting orjson refuses
        if type(raw) is bytes and partial is not None and (len(raw) <= min(SHALLOW, max_bytes) or
                                                           nesting_ok(raw, max_bytes)) and raw.isascii():
            try:
                return partial(raw)
            except MSGSPEC_REFUSED:
                return decode_event(raw, max_bytes)
        if partial is None or not isinstance(raw, (bytes, bytearray, memoryview, str)):
            return decode_event(raw, max_bytes)
        data: Any = raw
        if isinstance(raw, str):
            try:
                data = raw.encode("utf-8")
            except UnicodeEncodeError:
                return decode_event(raw, max_bytes)
        elif isinstance(raw, memoryview):
            data = raw.tobytes()
        if len(data) > max_bytes:
            return decode_event(raw, max_bytes)
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return decode_event(raw, max_bytes)
        if not nesting_ok(data, max_bytes):
            return decode_event(raw, max_bytes)
        try:
            return partial(data)
        except MSGSPEC_REFUSED:
            return decode_event(raw, max_bytes)


def name_splits(name: str) -> list[tuple[str, ...]] | None:
    """Every key path an EventBridge dotted name can take: ``"a.b"`` -> ``[("a", "b"), ("a.b",)]``."""
    segs = name.split(".")
    if len(segs) > MAX_NAME_SPLITS:
        return None
    out: list[tuple[str, ...]] = []
    for mask in range(1 << (len(segs) - 1)):
        keys: list[str] = []
        cur = segs[0]
        for i, seg in enumerate(segs[1:]):
            if mask & (1 << i):
                cur += "." + seg
            else:
                keys.append(cur)
                cur = seg
        keys.append(cur)
        out.append(tuple(keys))
    return out


class _Node:
    __slots__ = ("absent", "children", "whole")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.whole = False
        self.absent = "MISSING"  # the name of its field's default in the converter's namespace


def plan_decoder(paths: Iterable[tuple[str, ...]] | None, name_leaves: Iterable[tuple[str, ...]] = (),
                 refused: Iterable[tuple[str, ...]] = ()) -> EventDecoder:
    """Build the partial decoder for key paths read whole (None or ``()`` in the set: everything).

    ``name_leaves``: paths among them read only as EventBridge names' leaves (typed :data:`NAME_LEAF`);
    ``refused``: paths among them that are only a name's dotted spellings (typed :data:`REFUSED`)."""
    if paths is None:
        return EventDecoder(None, None)
    leaves, refuse = frozenset(name_leaves), frozenset(refused)
    root = _Node()
    listed: list[tuple[str, ...]] = []
    for p in sorted(set(paths)):
        if not p:
            return EventDecoder(None, None)
        listed.append(p)
        node = root
        for key in p:
            if node.whole:
                break
            node = node.children.setdefault(key, _Node())
        node.whole = True
    if not _nameable(root):
        return EventDecoder(None, None)
    ns: dict[str, Any] = {"MISSING": MISSING, "fix": _fix, "LO": INT_MIN, "HI": INT_MAX}
    defaults: dict[tuple[str, ...], Any] = {}

    def struct(node: _Node, path: tuple[str, ...]) -> tuple[type, Any]:
        """The node's frozen type and its value with every key absent (a leaf absent: MISSING; an object
        absent: that value of its type, so reads below it need no test)."""
        fields: list[tuple[str, Any, Any]] = []
        for i, (key, sub) in enumerate(sorted(node.children.items())):
            p = (*path, key)
            typ: Any = NAME_LEAF if p in leaves else object
            default: Any = MISSING
            if not sub.whole:
                typ, default = struct(sub, p)
                sub.absent = f"ABSENT{len(ns)}"
                ns[sub.absent] = default
                typ = typ | list[ARRAY_ITEM]  # an array on the way: decoded whole (``match`` walks it)
            if p in refuse:
                typ = REFUSED  # never present (its default stays: code reading below it finds nothing)
            defaults[p] = default
            fields.append((f"f{i}", typ, msgspec.field(default=default, name=key)))
        # gc=False: decoded JSON cannot form a reference cycle, so the collector need not track the structs
        # (each event allocates several; tracking them cost ANYTHING-BUT 0.5 µs of its 2.5 µs decode)
        t = msgspec.defstruct(f"Read{len(ns)}", fields, frozen=True, gc=False)
        return t, t()

    root_type, _ = struct(root, ())
    out = Lines()
    out.emit(0, "def partial(data):")
    out.emit(1, "s = decode(data)")  # msgspec: the generated types, everything else skipped
    _convert(root, "s", "d0", 1, out, [0])
    out.emit(1, "return d0")
    out.emit(0, "")
    out.emit(0, "def convert(s):")  # the same, from msgspec's value
    _convert(root, "s", "d0", 1, out, [0])
    out.emit(1, "return d0")
    source = out.text()
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(root_type)
    ns["decode"] = decoder.decode
    load(source, "decoder", ns)
    partial: Callable[[Any], dict[str, Any]] = ns["partial"]
    layout: dict[tuple[str, ...], tuple[int, ...]] = {}
    structs: set[tuple[str, ...]] = {()}
    _layout(root, (), (), layout, structs)
    return EventDecoder(tuple(listed), partial, source, layout, frozenset(structs), decoder.decode, ns["convert"],
                        defaults, frozenset(leaves & layout.keys()) - structs, frozenset(refuse & layout.keys()))


def _layout(node: _Node, path: tuple[str, ...], at: tuple[int, ...], out: dict[tuple[str, ...], tuple[int, ...]],
            structs: set[tuple[str, ...]]) -> None:
    """The field indices of every key path below ``node`` (the order ``struct`` gave them)."""
    for i, (key, sub) in enumerate(sorted(node.children.items())):
        p = (*path, key)
        out[p] = (*at, i)
        if not sub.whole:
            structs.add(p)
            _layout(sub, p, (*at, i), out, structs)


def _nameable(node: _Node) -> bool:
    """Make every node with a key msgspec cannot name a field after (``"``, ``\\``, a control
    character, a lone surrogate) a node read whole; False when that is the root (decode fully).

    Reading a subtree whole gives the same values, only less lazily, so any key JSON can hold
    works from raw bytes: ``{"say \\"hi\\"": 1}`` is found under the key ``say "hi"``.
    """
    if not node.whole and not all(spelled_plainly(k) for k in node.children):
        node.whole = True
        node.children.clear()
        return False
    for sub in node.children.values():
        _nameable(sub)  # a child made whole is still named by this node
    return True


def spelled_plainly(s: str) -> bool:
    """Does JSON spell ``s`` only one way without a backslash (its characters, in UTF-8)?  Not with a
    quote, a backslash or a control character (escaped), nor a lone surrogate (only ``\\uXXXX`` spells
    one).  msgspec can name a field after such a key; the prefilter can look for such a literal."""
    if any(c in '"\\' or c < " " for c in s):
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _convert(node: _Node, src: str, dst: str, ind: int, out: Lines, n: list[int]) -> None:
    out.emit(ind, f"{dst} = {{}}")
    for i, (key, sub) in enumerate(sorted(node.children.items())):
        n[0] += 1
        v = f"v{n[0]}"
        out.emit(ind, f"{v} = {src}.f{i}")
        out.emit(ind, f"if {v} is not {sub.absent}:")
        if sub.whole:
            # scalars pass as they are; an int beyond orjson's range becomes its float; containers are walked
            out.emit(ind + 1, f"t = type({v})")
            out.emit(ind + 1, "if t is int:")
            out.emit(ind + 2, f"if not LO <= {v} <= HI: {v} = float({v})")
            out.emit(ind + 1, f"elif t is list or t is dict: fix({v})")
            out.emit(ind + 1, f"{dst}[{key!r}] = {v}")
        else:
            out.emit(ind + 1, f"if type({v}) is list:")  # ARRAY_ITEM: every integer in orjson's range
            out.emit(ind + 2, f"{dst}[{key!r}] = {v}")
            out.emit(ind + 1, "else:")
            n[0] += 1
            d = f"d{n[0]}"
            _convert(sub, v, d, ind + 2, out, n)
            out.emit(ind + 2, f"{dst}[{key!r}] = {d}")


def _fix(value: list[Any] | dict[str, Any]) -> None:
    """In place: integers beyond orjson's range become floats (as orjson decodes them)."""
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        items: Iterable[tuple[Any, Any]] = node.items() if type(node) is dict else enumerate(node)
        for k, x in list(items):
            t = type(x)
            if t is int:
                if not INT_MIN <= x <= INT_MAX:
                    node[k] = float(x)  # OverflowError beyond the double range: the caller decodes fully
            elif t is list or t is dict:
                stack.append(x)

