"""Compile stage 4, first half of ``match``: reading the event and probing the index.

Position in the pipeline::

    Index ──**probe_index**──▶ the lines of ``match`` that fill ``h`` with candidate rules
                              (and the memo seeds: the values read on the way)

For every EventBridge name and expression path the index has tables for,
the generated code reads the value once (sharing the reads of common key
prefixes), tests its type once and runs the probes of that *lane*
(``tables.Lane``) in the kinds' declaration order; each table writes its own
probe (``tables.py``), so nothing here knows one operator from another::

    t = type(v0)
    if t is str:
        b = XS5.get(v0)             # EXACT_STR
        if b is not None: h += b
    elif v0 is MISSING: ...
    else:                           # several values, arrays, keys with dots: the slow path
        v0 = _s0(ev, v0, h, None if alt else (n1, n2, ))

Invariants: probes only add rule ordinals to ``h``; a name's value is left in
``v<i>`` and a path's in ``u<i>``, as the memo of the checks holds them
(``codegen_checks.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rules_engine.compile.emit import Writer
from rules_engine.compile.index import Index, NameIndex, PathIndex
from rules_engine.compile.kinds import LANES, Kind, string_groups
from rules_engine.compile.negative import Negative
from rules_engine.compile.tables import Checked, Exact, Lane, Ranges, Table, scan
from rules_engine.model import ir
from rules_engine.patterns.operands import NUMERIC_LIMIT


@dataclass(frozen=True, slots=True)
class Prologue:
    """How ``match`` reads the event before probing (for ``codegen_struct``, which reads the same
    values from msgspec's structs): the key prefixes in reading order and the variable of each, the
    prefixes below which more keys are read, the dotted keys that send an event down the slow path
    (by the prefix they sit under), and the lines ``[start, end)`` of ``match`` that read them."""

    order: tuple[tuple[str, ...], ...]
    var: Mapping[tuple[str, ...], str]
    inner: frozenset[tuple[str, ...]]
    alts: Mapping[tuple[str, ...], frozenset[str]]
    start: int
    end: int
    # a path some probe reads with get_path whatever the prefixes hold (an index in it, or no key)
    reads_event: bool


def name_key(i: int) -> int:
    """Memo key of EventBridge name ``i`` (see ``runtime``)."""
    return -1 - 2 * i


def path_key(i: int) -> int:
    return -2 - 2 * i


def _probe(w: Writer, ind: int, tables: Mapping[Kind, Table], kinds: tuple[Kind, ...], x: str) -> None:
    """The probes of the tables of ``kinds`` present here, in order, on the value in ``x``."""
    for kind in kinds:
        t = tables.get(kind)
        if t is not None:
            t.probe(w, ind, x)


def _negative(w: Writer, ind: int, tables: Mapping[Kind, Table], lane: Lane, x: str) -> None:
    """The anything-but / != probe for a value of ``lane``'s type (a name or a path has one or none)."""
    for kind in LANES[Lane.VALUE]:
        t = tables.get(kind)
        if isinstance(t, Negative):
            t.probe_as(w, ind, x, lane)


def _has_negative(tables: Mapping[Kind, Table]) -> Negative | None:
    found = tables.get(Kind.ANYTHING_BUT) or tables.get(Kind.NOT_EQUAL)
    return found if isinstance(found, Negative) else None


def _value_end(w: Writer, ind: int, tables: Mapping[Kind, Table], lane: Lane, x: str) -> None:
    """Every lane ends with the exclusions and the scans, which hold for values of any type."""
    _negative(w, ind, tables, lane, x)
    _probe(w, ind, tables, (Kind.SCAN,), x)


def _strings(w: Writer, i: int, tables: Mapping[Kind, Table], x: str, ic_ascii: Checked = ()) -> None:
    """The string lane; consecutive ASCII-lane kinds share one ``isascii`` test (others run ``ic_ascii``)."""
    w.emit(i, "pass")
    for lane, kinds in string_groups():
        if lane is Lane.STR:
            _probe(w, i, tables, kinds, x)
        elif any(k in tables for k in kinds):
            w.emit(i, f"if {x}.isascii():")
            w.emit(i + 1, f"y = {x}.lower()")
            _probe(w, i + 1, tables, kinds, "y")
            w.emit(i, "else:")
            w.emit(i + 1, "pass")
            scan(w, i + 1, ic_ascii, x)
    _value_end(w, i, tables, Lane.STR, x)


def _name_str(w: Writer, i: int, ix: NameIndex, x: str) -> None:
    _strings(w, i, ix.tables, x, ix.ic_ascii)


def _name_has_num(ix: NameIndex) -> bool:
    return any(k in ix.tables for k in LANES[Lane.NUM])


def _ranges(ix: NameIndex) -> list[Ranges]:
    """The name's one-sided numeric range tables (``x > t`` and friends)."""
    return [t for k in LANES[Lane.NUM] if isinstance(t := ix.tables.get(k), Ranges)]


def _name_num(w: Writer, i: int, ix: NameIndex, x: str, spread: bool = False) -> None:
    """The number lane; ``spread``: the one-sided ranges are left out, and the value widens ``lo``/``hi``."""
    w.emit(i, "pass")
    neg = _has_negative(ix.tables)
    if _name_has_num(ix) or (neg and (neg.ex_num or neg.ex_leaf)):
        w.emit(i, f"if {-NUMERIC_LIMIT!r} <= {x} <= {NUMERIC_LIMIT!r}:")
        j = i + 1
        w.emit(j, f"f = {x} if t is float else float({x})")
        ranges = _ranges(ix) if spread else []
        kinds = tuple(k for k in LANES[Lane.NUM] if not (ranges and isinstance(ix.tables.get(k), Ranges)))
        _probe(w, j, ix.tables, kinds, "f")
        if ranges:
            w.emit(j, "if f < lo: lo = f")
            w.emit(j, "if f > hi: hi = f")
        _negative(w, j, ix.tables, Lane.NUM, "f")
        if neg:
            w.emit(i, "else:")
            _negative(w, i + 1, ix.tables, Lane.VALUE, x)
    else:
        _negative(w, i, ix.tables, Lane.VALUE, x)
    _probe(w, i, ix.tables, (Kind.SCAN,), x)


def _consts(w: Writer, i: int, tables: Mapping[Kind, Table], x: str) -> None:
    w.emit(i, "pass")
    _probe(w, i, tables, LANES[Lane.CONST], x)
    _value_end(w, i, tables, Lane.CONST, x)


def _name_probe(w: Writer, ind: int, ix: NameIndex, x: str, spread: bool = False) -> None:
    """Lines adding to ``h`` the rules whose anchor on this name one leaf value ``x`` satisfies
    (``spread``: but the one-sided ranges, see ``_name_functions``)."""
    w.emit(ind, f"t = type({x})")
    w.emit(ind, "if t is str:")
    _name_str(w, ind + 1, ix, x)
    w.emit(ind, "elif t is float or t is int:")
    _name_num(w, ind + 1, ix, x, spread)
    w.emit(ind, f"elif {x} is None or t is bool:")
    _consts(w, ind + 1, ix.tables, x)
    w.emit(ind, "else:")
    w.emit(ind + 1, f"generic_probe({w.const(ix.generic, 'GE')}, {x}, h)")


def _path_probe(w: Writer, ind: int, ix: PathIndex, v: str) -> None:
    """Lines adding the rules whose anchor on this expression path the present value ``v`` satisfies."""
    w.emit(ind, f"t = type({v})")
    w.emit(ind, "if t is str:")
    _strings(w, ind + 1, ix.tables, v)
    w.emit(ind, "elif t is float or t is int:")
    i = ind + 1
    w.emit(i, f"if {v} == {v}:")  # NaN (only in events built in Python) equals nothing
    w.emit(i + 1, "pass")
    _probe(w, i + 1, ix.tables, LANES[Lane.NUM], v)
    _negative(w, i + 1, ix.tables, Lane.NUM, v)
    if _has_negative(ix.tables):
        w.emit(i, "else:")
        _negative(w, i + 1, ix.tables, Lane.VALUE, v)
    _probe(w, i, ix.tables, (Kind.SCAN,), v)
    w.emit(ind, f"elif {v} is None or t is bool:")
    _consts(w, ind + 1, ix.tables, v)
    w.emit(ind, "elif t is list or t is dict:")
    w.emit(ind + 1, "pass")
    _value_end(w, ind + 1, ix.tables, Lane.VALUE, v)
    w.emit(ind, "else:")
    w.emit(ind + 1, f"generic_probe({w.const(ix.generic, 'GE')}, {v}, h)")


def _presence(w: Writer, ind: int, tables: Mapping[Kind, Table], kind: Kind) -> None:
    t = tables.get(kind)
    if t is not None:
        t.probe(w, ind, "")


# --- reading the event --------------------------------------------------------------------------


def key_prefix(path: ir.Path) -> tuple[str, ...]:
    """The object keys a path reads before its first array index or wildcard (the whole path if none)."""
    keys: list[str] = []
    for step in path:
        if not isinstance(step, str) or isinstance(step, bool):
            break
        keys.append(step)
    return tuple(keys)


_Info = tuple[tuple[tuple[str, ...], ...], frozenset[tuple[str, ...]], dict[tuple[str, ...], frozenset[str]]]


def _nodes(
    w: Writer, index: Index
) -> tuple[dict[tuple[str, ...], str], set[tuple[str, ...]], str | None, _Info]:
    """Lines reading every object key on the way to a name or path, each prefix once.

    Fast block: ``.get`` down a chain of objects; an absent key below which
    more keys are read gives ``EMPTY`` (an empty read-only mapping), so the
    chain goes on without tests; a leaf gives ``MISSING``.  Anything without
    ``.get`` on the way (an array, a string) raises AttributeError, and the
    careful block recomputes every node with ``step``, which records
    UNUSUAL below arrays (the slow path decides there)::

        {"a": {"b": 1}}   n_a = {"b": 1}   n_ab = 1
        {"a": [{"b": 1}]} n_a = [...]      n_ab = UNUSUAL   -> eb_values(event, "a.b")

    Returns the variable of each key prefix, the prefixes read as values
    that are also on the way to others (they may hold EMPTY), and the name of
    the "some key holds a dot" flag (None when no name can have one).
    """
    prefixes: set[tuple[str, ...]] = set()
    leaves: set[tuple[str, ...]] = set()
    alts: dict[tuple[str, ...], set[str]] = {}
    for name in index.name_ids:  # every name an atom reads: anchors probe them, checks get them seeded
        segs = tuple(name.split("."))
        leaves.add(segs)
        for j in range(1, len(segs) + 1):
            prefixes.add(segs[:j])
        # "a.b.c" may also be the keys "a.b" -> "c", "a" -> "b.c" or "a.b.c": those keys
        # send this event down the slow path
        for j in range(len(segs) - 1):
            for end in range(j + 2, len(segs) + 1):
                alts.setdefault(segs[:j], set()).add(".".join(segs[j:end]))
    for path in index.path_ids:
        keys = key_prefix(path)
        if keys:
            leaves.add(keys)
        for j in range(1, len(keys) + 1):
            prefixes.add(keys[:j])
    inner = {p[:-1] for p in prefixes}
    var: dict[tuple[str, ...], str] = {(): "ev"}
    order = sorted(prefixes, key=lambda p: (len(p), p))
    for p in order:
        var[p] = f"n{len(var)}"
    if order:
        w.emit(1, "try:")
        for p in order:
            default = "EMPTY" if p in inner else "MISSING"
            w.emit(2, f"{var[p]} = {var[p[:-1]]}.get({p[-1]!r}, {default})")
        w.emit(1, "except AttributeError:")
        for p in order:
            default = "EMPTY" if p in inner else "MISSING"
            w.emit(2, f"{var[p]} = step({var[p[:-1]]}, {p[-1]!r}, {default})")
    info = (tuple(order), frozenset(inner), {p: frozenset(k) for p, k in alts.items()})
    if not alts:
        return var, leaves & inner, None, info
    tests: list[str] = []
    for p, alt_keys in sorted(alts.items(), key=lambda kv: (len(kv[0]), kv[0])):
        node = var[p]
        if len(alt_keys) > 3:
            test = f"not {node}.keys().isdisjoint({w.const(frozenset(alt_keys), 'ALT')})"
        else:
            test = " or ".join(f"{k!r} in {node}" for k in sorted(alt_keys))
        tests.append(f"({test})" if p == () else f"(type({node}) is dict and ({test}))")
    w.emit(1, "alt = " + " or ".join(tests))
    return var, leaves & inner, "alt", info


def _name_functions(w: Writer, ix: NameIndex, out: list[str]) -> str:
    """``_s<i>(ev, v, h)``: the slow path of one name (several values, arrays, keys with dots).

    Returns the name's value as the memo holds it (MISSING, a scalar or Vals).
    """
    sub = Writer()
    sub.ns, sub.ids = w.ns, w.ids
    fs = f"_s{ix.id}"
    segs = ix.name.split(".")
    rests = tuple(".".join(segs[j:]) for j in range(len(segs)))
    nm = w.const(ix.name, "NM")
    sub.emit(0, f"def {fs}(ev, v, h, nodes):")
    sub.emit(1, "if type(v) not in SCALARS:")
    sub.emit(2, f"v = eb_values(ev, {nm}) if nodes is None else eb_below(ev, {nm}, {w.const(rests, 'RS')}, nodes)")
    sub.emit(1, "if v is MISSING:")
    _presence(sub, 2, ix.tables, Kind.ABSENT)
    sub.emit(2, "return v")
    _presence(sub, 1, ix.tables, Kind.PRESENT)
    keys = _exact_keys(ix)
    if keys is not None:
        # Only exact lookups here, and a lookup hits only a value equal to its key (equal values hash
        # alike): when no value equals any key, no probe below can add a rule.  One C-level pass.
        sub.emit(1, "if type(v) is Vals:")
        sub.emit(2, "try:")
        sub.emit(3, f"if {w.const(keys, 'XK')}.isdisjoint(v): return v")
        sub.emit(2, "except TypeError:  # an unhashable value (events built in Python): the loop decides")
        sub.emit(3, "pass")
    # One-sided ranges hold for some value iff they hold for the extreme one (x > t for some x iff
    # max x > t): probed once with the least and greatest number among the values, not once per value.
    # Their hits then come after the loop's: fine, as ``match`` orders ``h`` before answering.
    ranges = _ranges(ix)
    if ranges:
        sub.emit(1, f"lo, hi = {w.const(math.inf, 'INF')}, -{w.const(math.inf, 'INF')}")
    sub.emit(1, "for x in (v if type(v) is Vals else (v,)):")
    _name_probe(sub, 2, ix, "x", spread=bool(ranges))
    if ranges:
        sub.emit(1, "if lo <= hi:")
        for table in ranges:
            table.probe(sub, 2, "hi" if table.spec.op in ("gt", "ge") else "lo")
    sub.emit(1, "return v")
    out.append("\n".join(sub.lines) + "\n")
    return fs


_EXACT_KINDS = frozenset({Kind.EXACT_STR, Kind.EXACT_NUM, Kind.EXACT_CONST, Kind.PRESENT, Kind.ABSENT})


def _exact_keys(ix: NameIndex) -> frozenset[object] | None:
    """Every key of the name's exact tables, when those are all its value probes (presence is decided
    before the values are looked at); else None."""
    if not set(ix.tables) <= _EXACT_KINDS:
        return None
    keys: set[object] = set()
    for kind, table in ix.tables.items():
        if kind in (Kind.PRESENT, Kind.ABSENT):
            continue
        if not isinstance(table, Exact) or table.spec.key != "{}":
            return None
        keys.update(table.table)
    return frozenset(keys)


def _path_function(w: Writer, px: PathIndex, out: list[str]) -> str:
    sub = Writer()
    sub.ns, sub.ids = w.ns, w.ids
    fq = f"_q{px.id}"
    sub.emit(0, f"def {fq}(v, h):")
    _path_probe(sub, 1, px, "v")
    out.append("\n".join(sub.lines) + "\n")
    return fq


def probe_index(w: Writer, index: Index, parts: list[str]) -> tuple[list[str], Prologue]:
    """The slow-path functions of every name and path (appended to ``parts``), then the head of
    ``match`` up to the candidates in ``h``; returns the memo seeds (``key: variable`` source) and
    how the head reads the event."""
    slow = {ix.id: _name_functions(w, ix, parts) for ix in index.names}
    path_fn = {px.id: _path_function(w, px, parts) for px in index.paths}
    always = index.always
    w.emit(0, "def match(ev):")
    w.emit(1, f"h = list({w.const(always, 'AL')})" if always else "h = []")
    start = len(w.lines)
    var, both, alt, (order, inner, alts) = _nodes(w, index)
    prologue = Prologue(order, dict(var), inner, alts, start, len(w.lines),
                        any(not key_prefix(px.path) or len(key_prefix(px.path)) != len(px.path)
                            for px in index.paths))
    seeds = [_probe_name(w, ix, var, both, alt, slow[ix.id]) for ix in index.names]
    seeds += [_probe_path(w, px, var, both, path_fn[px.id]) for px in index.paths]
    return seeds + _check_only_seeds(index, var, alt), prologue


def _probe_name(w: Writer, ix: NameIndex, var: dict[tuple[str, ...], str], both: set[tuple[str, ...]],
                alt: str | None, slow: str) -> str:
    """Lines reading name ``ix`` into ``v<id>`` and probing it (one scalar inline, else ``slow``)."""
    segs = tuple(ix.name.split("."))
    leaf, v = var[segs], f"v{ix.id}"
    if alt:
        w.emit(1, f"{v} = UNUSUAL if {alt} else {leaf}")
    else:
        w.emit(1, f"{v} = {leaf}")
    missing = f"{v} is MISSING or {v} is EMPTY" if segs in both else f"{v} is MISSING"
    w.emit(1, f"t = type({v})")
    w.emit(1, "if t is str:")
    _name_str(w, 2, ix, v)
    _presence(w, 2, ix.tables, Kind.PRESENT)
    w.emit(1, f"elif {missing}:")
    w.emit(2, f"{v} = MISSING")
    _presence(w, 2, ix.tables, Kind.ABSENT)
    if _name_has_num(ix):
        w.emit(1, "elif t is float or t is int:")
        _name_num(w, 2, ix, v)
        _presence(w, 2, ix.tables, Kind.PRESENT)
    w.emit(1, "else:")
    chain = "(" + "".join(f"{var[segs[:j]]}, " for j in range(1, len(segs) + 1)) + ")"
    w.emit(2, f"{v} = {slow}(ev, {v}, h, {'None if ' + alt + ' else ' if alt else ''}{chain})")
    return f"{name_key(ix.id)}: {v}"


def _probe_path(w: Writer, px: PathIndex, var: dict[tuple[str, ...], str], both: set[tuple[str, ...]],
                fn: str) -> str:
    """Lines reading path ``px`` into ``u<id>`` and probing it (a string inline, else ``fn``)."""
    v = f"u{px.id}"
    keys = key_prefix(px.path)
    if keys and len(keys) == len(px.path):
        w.emit(1, f"{v} = {var[keys]}")
        w.emit(1, f"if {v} is UNUSUAL: {v} = get_path(ev, {w.const(px.path, 'PA')})")
        if keys in both:
            w.emit(1, f"elif {v} is EMPTY: {v} = MISSING")
    else:
        w.emit(1, f"{v} = get_path(ev, {w.const(px.path, 'PA')})")
    w.emit(1, f"if {v} is not MISSING:")
    _presence(w, 2, px.tables, Kind.PRESENT)
    w.emit(2, f"if type({v}) is str:")
    _strings(w, 3, px.tables, v)
    w.emit(2, "else:")
    w.emit(3, f"{fn}({v}, h)")
    return f"{path_key(px.id)}: {v}"


def _check_only_seeds(index: Index, var: dict[tuple[str, ...], str], alt: str | None) -> list[str]:
    """Memo seeds of the names and paths only checks read (UNSET: the check reads it itself)."""
    seeds: list[str] = []
    anchored_names = {ix.name for ix in index.names}
    for name, i in index.name_ids.items():
        if name in anchored_names:
            continue
        leaf = var[tuple(name.split("."))]
        value = (f"({leaf} if type({leaf}) in SCALARS else MISSING if ({leaf} is MISSING or {leaf} is EMPTY) "
                 f"else UNSET)")
        seeds.append(f"{name_key(i)}: {'UNSET if ' + alt + ' else ' if alt else ''}{value}")
    anchored_paths = {px.path for px in index.paths}
    for path, i in index.path_ids.items():
        keys = key_prefix(path)
        if path in anchored_paths or not keys or len(keys) != len(path):
            continue
        leaf = var[keys]
        seeds.append(f"{path_key(i)}: (UNSET if {leaf} is UNUSUAL else MISSING if {leaf} is EMPTY else {leaf})")
    return seeds
