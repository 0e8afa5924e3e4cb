"""Compile stage 3: the shared index of anchors, one entry per event name or path read.

Position in the pipeline::

    Normalised ──**build_index**──▶ Index (per name / path: hash maps, sorted bounds) ──codegen──▶ match()

Each EventBridge name (``NameIndex``) and each expression path (``PathIndex``)
gets the structures its anchors need, built once and never mutated (the
dicts are read-only by contract: only ``.get`` is ever called on them).
Buckets hold rule ordinals (evaluation order), sorted.  For a name whose
anchors are ``MAPBLKLOT = "1430022"``, ``STREET prefix "AC"`` and
``x > -122.41``::

    xs   {"1430022": (0,)}                  one dict lookup per string value
    pfx  {"AC": (5,)}  pfx_lens (2,)        one slice + lookup per distinct prefix length
    gt   ((-122.41,), (7,))                 bisect: every threshold below x holds

Every structure is exact for its atom: a hit means the atom holds for that
value.  Structures that cannot decide by lookup alone (wildcards, CIDR,
non-ASCII ignore-case) hold ``(leaf, rules)`` pairs and run the exact leaf.

Invariants:
  * an EventBridge probe sees one *leaf value* at a time (``field`` semantics:
    the atom holds when some value holds); ``et``/``ef`` are decided per name;
  * an expression probe sees the single value at its path (``get_path``),
    which may be an array or an object;
  * numeric EventBridge structures are keyed by ``float`` and consulted only
    for values in [-5e9, 5e9] (event-ruler's comparable range).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from rules_engine.compile.formula import FieldAtom, ValueAtom
from rules_engine.compile.normalize import (
    ANY_CASE_ASCII,
    Entry,
    Kind,
    Normalised,
    Store,
    matcher_entries,
    value_entries,
)
from rules_engine.compile.normalize import comparable as _comparable
from rules_engine.compile.runtime import field_leaf, inner_leaf, matcher_leaf, value_leaf
from rules_engine.model import ir

Rules: TypeAlias = tuple[int, ...]  # rule ordinals, sorted
Leaf: TypeAlias = Callable[[Any], bool]
Checked: TypeAlias = tuple[tuple[Leaf, Rules], ...]
Ranges: TypeAlias = tuple[tuple[Any, ...], Rules]  # thresholds (sorted), rule per threshold

SEGMENT_BUDGET = 2_000_000
"""Most (segment, rule) pairs two-sided numeric ranges of one name may expand to; beyond, they scan."""

TABLE_BUDGET = 200_000
"""Most precomputed entries of an anything-but / != table; beyond, the probe filters instead."""


@dataclass(frozen=True, slots=True)
class Negative:
    """``anything-but`` (EventBridge) or ``!=`` / ``not in`` (expressions) anchors of one name or path.

    Such an atom holds for a value unless the value is *excluded* by it.  The
    structures below map a value to the set of atoms (indexes into ``atoms``)
    that exclude it; the rules of every other atom hold::

        {"anything-but": ["FULTON"]}, {"anything-but": {"prefix": "MAS"}}
        ex_str {"FULTON": {0}}   ex_pfx {"MAS": {1}} (lens (3,))   every (0-rules + 1-rules)

    ``table_*`` precompute "rules still holding" per excluded value when the
    only exclusions of that type are exact and the table is small.
    """

    every: Rules
    atoms: tuple[Rules, ...]
    ex_str: dict[str, frozenset[int]] = field(default_factory=dict)
    ex_num: dict[Any, frozenset[int]] = field(default_factory=dict)
    ex_const: dict[Any, frozenset[int]] = field(default_factory=dict)
    ex_lower: dict[str, frozenset[int]] = field(default_factory=dict)
    ex_pfx: dict[str, frozenset[int]] = field(default_factory=dict)
    ex_pfx_lens: tuple[int, ...] = ()
    ex_sfx: dict[str, frozenset[int]] = field(default_factory=dict)
    ex_sfx_lens: tuple[int, ...] = ()
    ex_ic_ascii: tuple[tuple[Leaf, frozenset[int]], ...] = ()  # ex_lower as leaves, for non-ASCII strings
    ex_leaf: tuple[tuple[Leaf, frozenset[int]], ...] = ()  # checked for every value
    table_str: dict[str, Rules] | None = None
    table_num: dict[Any, Rules] | None = None
    table_const: dict[Any, Rules] | None = None

    @property
    def str_by_table(self) -> bool:
        return self.table_str is not None and not (
            self.ex_lower or self.ex_pfx or self.ex_sfx or self.ex_ic_ascii or self.ex_leaf
        )


@dataclass(frozen=True, slots=True)
class NameIndex:
    """Anchors on one EventBridge name (a dotted name; arrays transparent)."""

    id: int
    name: str
    path: tuple[str, ...]
    xs: dict[str, Rules] = field(default_factory=dict)
    ip: dict[tuple[int, int], Rules] = field(default_factory=dict)
    xn: dict[float, Rules] = field(default_factory=dict)
    xc: dict[Any, Rules] = field(default_factory=dict)
    sany: Rules = ()
    pfx: dict[str, Rules] = field(default_factory=dict)
    pfx_lens: tuple[int, ...] = ()
    sfx: dict[str, Rules] = field(default_factory=dict)
    sfx_lens: tuple[int, ...] = ()
    ieq: dict[str, Rules] = field(default_factory=dict)
    ipfx: dict[str, Rules] = field(default_factory=dict)
    ipfx_lens: tuple[int, ...] = ()
    isfx: dict[str, Rules] = field(default_factory=dict)
    isfx_lens: tuple[int, ...] = ()
    ic_ascii: Checked = ()  # the ASCII ignore-case entries as leaves, for non-ASCII values
    ic_other: Checked = ()  # non-ASCII ignore-case patterns: checked for every string
    wpfx: dict[str, Checked] = field(default_factory=dict)
    wpfx_lens: tuple[int, ...] = ()
    wsfx: dict[str, Checked] = field(default_factory=dict)
    wsfx_lens: tuple[int, ...] = ()
    gt: Ranges = ((), ())
    ge: Ranges = ((), ())
    lt: Ranges = ((), ())
    le: Ranges = ((), ())
    seg_bounds: tuple[float, ...] = ()
    segs: tuple[Rules, ...] = ()
    ab: Negative | None = None
    et: Rules = ()
    ef: Rules = ()
    scan: Checked = ()
    generic: Checked = ()  # every anchored atom with its leaf: for values of unusual types
    atoms: tuple[int, ...] = ()  # anchored pids


@dataclass(frozen=True, slots=True)
class PathIndex:
    """Anchors on one expression path (single value; arrays and objects are values)."""

    id: int
    path: ir.Path
    qs: dict[str, Rules] = field(default_factory=dict)
    qn: dict[Any, Rules] = field(default_factory=dict)
    qc: dict[Any, Rules] = field(default_factory=dict)
    sany: Rules = ()
    pfx: dict[str, Rules] = field(default_factory=dict)
    pfx_lens: tuple[int, ...] = ()
    sfx: dict[str, Rules] = field(default_factory=dict)
    sfx_lens: tuple[int, ...] = ()
    cf: dict[str, Rules] = field(default_factory=dict)
    ngt: Ranges = ((), ())
    nge: Ranges = ((), ())
    nlt: Ranges = ((), ())
    nle: Ranges = ((), ())
    sgt: Ranges = ((), ())
    sge: Ranges = ((), ())
    slt: Ranges = ((), ())
    sle: Ranges = ((), ())
    ne: Negative | None = None
    ex: Rules = ()
    scan: Checked = ()
    generic: Checked = ()
    atoms: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Index:
    names: tuple[NameIndex, ...]
    paths: tuple[PathIndex, ...]
    always: Rules  # ordinals of the rules that are candidates for every event
    name_ids: dict[str, int]  # every EventBridge name any atom reads -> id (memo key)
    path_ids: dict[ir.Path, int]  # every expression path any atom reads -> id


# --- building ------------------------------------------------------------------------------------


class _Acc:
    """Mutable accumulator for one name or path while building (discarded afterwards)."""

    def __init__(self) -> None:
        self.maps: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.flat: dict[str, set[int]] = defaultdict(set)
        self.ranges: dict[str, list[tuple[Any, int]]] = defaultdict(list)
        self.checked: dict[str, dict[Any, list[tuple[Leaf, Rules]]]] = defaultdict(lambda: defaultdict(list))
        self.lists: dict[str, list[tuple[Leaf, Rules]]] = defaultdict(list)
        self.segments: list[tuple[tuple[float, bool, float, bool], Rules, Leaf]] = []
        self.negatives: list[tuple[Any, Rules]] = []
        self.atoms: list[int] = []


def _sorted_rules(s: set[int] | list[int]) -> Rules:
    return tuple(sorted(set(s)))


def _dict(m: dict[Any, set[int]]) -> dict[Any, Rules]:
    return {k: _sorted_rules(v) for k, v in m.items()}


def _lens(keys: Any) -> tuple[int, ...]:
    return tuple(sorted({len(k) for k in keys}))


def _ranges(pairs: list[tuple[Any, int]]) -> Ranges:
    pairs = sorted(pairs, key=lambda p: (p[0], p[1]))
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _still(atoms: tuple[Rules, ...], excluded: Collection[int]) -> Rules:
    return _sorted_rules([r for i, rules in enumerate(atoms) if i not in excluded for r in rules])


def _tables(
    atoms: tuple[Rules, ...], every: Rules, *maps: Mapping[Any, Collection[int]]
) -> list[dict[Any, Rules] | None]:
    size = sum(len(m) for m in maps) * max(len(every), 1)
    if size > TABLE_BUDGET:
        return [None for _ in maps]
    return [{k: _still(atoms, ex) for k, ex in m.items()} for m in maps]


def _frozen(m: dict[Any, set[int]]) -> dict[Any, frozenset[int]]:
    return {k: frozenset(v) for k, v in m.items()}


def _anything_but(items: list[tuple[ir.MAnythingBut, Rules]]) -> Negative:
    """EventBridge ``anything-but`` atoms: exclusions by the inner matchers (no IP spelling rule inside)."""
    atoms = tuple(rules for _, rules in items)
    every = _sorted_rules([r for rules in atoms for r in rules])
    ex: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
    ic_ascii: list[tuple[Leaf, frozenset[int]]] = []
    leaves: list[tuple[Leaf, frozenset[int]]] = []
    for i, (ab, _) in enumerate(items):
        me = frozenset((i,))
        for m in ab.inner:
            if isinstance(m, ir.MExact) and isinstance(m.value, str):
                ex["str"][m.value].add(i)
            elif isinstance(m, ir.MExact) and _comparable(m.value):
                ex["num"][float(m.value)].add(i)  # type: ignore[arg-type]
            elif isinstance(m, ir.MPrefix) and not m.ignore_case:
                ex["pfx"][m.value].add(i)
            elif isinstance(m, ir.MSuffix) and not m.ignore_case and m.value:
                ex["sfx"][m.value].add(i)
            elif isinstance(m, ir.MEqualsIgnoreCase) and m.value.isascii():
                ex["lower"][m.value.lower()].add(i)
                ic_ascii.append((inner_leaf(m), me))
            else:
                leaves.append((inner_leaf(m), me))
    t_str, t_num = _tables(atoms, every, ex["str"], ex["num"])
    return Negative(
        every, atoms, ex_str=_frozen(ex["str"]), ex_num=_frozen(ex["num"]), ex_lower=_frozen(ex["lower"]),
        ex_pfx=_frozen(ex["pfx"]), ex_pfx_lens=_lens(ex["pfx"]), ex_sfx=_frozen(ex["sfx"]),
        ex_sfx_lens=_lens(ex["sfx"]), ex_ic_ascii=tuple(ic_ascii), ex_leaf=tuple(leaves),
        table_str=t_str, table_num=t_num, table_const={},
    )  # fmt: skip


def _not_equal(items: list[tuple[tuple[Any, ...], Rules]]) -> Negative:
    """Expression ``!=`` / ``not in`` atoms: exclusions by JSON equality (typed keys: 1 == 1.0, true != 1)."""
    atoms = tuple(rules for _, rules in items)
    every = _sorted_rules([r for rules in atoms for r in rules])
    ex: dict[str, dict[Any, set[int]]] = {"str": defaultdict(set), "num": defaultdict(set), "const": defaultdict(set)}
    for i, (values, _) in enumerate(items):
        for v in values:
            kind = "const" if v is None or isinstance(v, bool) else "str" if isinstance(v, str) else "num"
            ex[kind][v].add(i)
    t_str, t_num, t_const = _tables(atoms, every, ex["str"], ex["num"], ex["const"])
    return Negative(every, atoms, ex_str=_frozen(ex["str"]), ex_num=_frozen(ex["num"]),
                    ex_const=_frozen(ex["const"]), table_str=t_str, table_num=t_num, table_const=t_const)


def _segments(items: list[tuple[tuple[float, bool, float, bool], Rules, Leaf]]) -> tuple[
    tuple[float, ...], tuple[Rules, ...], Checked
]:
    """Two-sided ranges as elementary segments: the rules holding for any x in one segment.

    With sorted distinct bounds b0 < b1 < ..., segment 2i+1 is the point b_i
    and segment 2i the open gap below it, so ``(3, 5]`` over bounds (3, 5) is
    segments 2..3: the gap (3, 5) and the point 5.
    """
    bounds = sorted({b for (lo, _, hi, _), _, _ in items for b in (lo, hi)})
    where = {b: i for i, b in enumerate(bounds)}
    spans: list[tuple[int, int, Rules]] = []
    cost = 0
    for (lo, lo_incl, hi, hi_incl), rules, _ in items:
        start = 2 * where[lo] + (1 if lo_incl else 2)
        end = 2 * where[hi] + (1 if hi_incl else 0)
        if start <= end:
            spans.append((start, end, rules))
            cost += (end - start + 1) * len(rules)
    if cost > SEGMENT_BUDGET:
        return (), (), tuple((leaf, rules) for _, rules, leaf in items)
    n = 2 * len(bounds) + 1
    starts: dict[int, list[Rules]] = defaultdict(list)
    ends: dict[int, list[int]] = defaultdict(list)
    for start, end, rules in spans:
        starts[start].append(rules)
        ends[end].extend(rules)
    counts: dict[int, int] = defaultdict(int)  # rule -> spans covering the current segment
    segs: list[Rules] = []
    for s in range(n):
        for rules in starts.get(s, ()):
            for r in rules:
                counts[r] += 1
        segs.append(tuple(sorted(counts)))
        for r in ends.get(s, ()):
            counts[r] -= 1
            if counts[r] == 0:
                del counts[r]
    return tuple(bounds), tuple(segs), ()


def _add(acc: _Acc, e: Entry, rules: Rules, leaf: Callable[[], Leaf]) -> None:
    """Store one entry where its kind says (``Kind.store``); the same for names and paths.

    ``leaf`` makes the exact per-value test, for the stores that check or scan.
    """
    store = e.kind.store
    if store is Store.MAP:
        acc.maps[e.kind][e.key].update(rules)
    elif store is Store.FLAT:
        acc.flat[e.kind].update(rules)
    elif store is Store.CHECKED:
        acc.checked[e.kind][e.key].append((leaf(), rules))
    elif store is Store.RANGE:
        acc.ranges[e.kind].extend((e.key, r) for r in rules)
    elif store is Store.SEGMENT:
        acc.segments.append((e.key, rules, leaf()))
    elif store is Store.NEGATIVE:
        acc.negatives.append((e.key, rules))
    else:
        assert store is Store.SCAN
        acc.lists["ic_other" if e.kind is Kind.ICSCAN else "scan"].append((leaf(), rules))


def _field_entries(acc: _Acc, atom: FieldAtom, rules: Rules) -> None:
    for m in atom.matchers:
        for e in matcher_entries(m):
            # wildcards check with the entry's own matcher, scans with theirs (the key), segments with m
            if e.kind.store is Store.CHECKED:
                _add(acc, e, rules, functools.partial(matcher_leaf, e.leaf))
            elif e.kind.store is Store.SCAN:
                _add(acc, e, rules, functools.partial(matcher_leaf, e.key))
            else:
                _add(acc, e, rules, functools.partial(matcher_leaf, m))
            if e.kind in ANY_CASE_ASCII:
                acc.lists["ic_ascii"].append((matcher_leaf(m), rules))


def _value_entries(acc: _Acc, atom: ValueAtom, rules: Rules) -> None:
    for e in value_entries(atom) or ():
        _add(acc, e, rules, functools.partial(value_leaf, atom.op, atom.operand))


def atom_leaves(n: Normalised) -> tuple[Leaf | None, ...]:
    """The exact per-value test of every EventBridge / expression atom (None: opaque), built once."""
    return tuple(
        field_leaf(a.matchers) if isinstance(a, FieldAtom) else value_leaf(a.op, a.operand)
        if isinstance(a, ValueAtom) else None
        for a in n.atoms
    )


def build_index(n: Normalised, leaves: tuple[Leaf | None, ...] | None = None) -> Index:
    """Stage 3: gather every rule's anchors into per-name and per-path structures."""
    if leaves is None:
        leaves = atom_leaves(n)
    anchored: dict[int, list[int]] = defaultdict(list)  # pid -> ordinals of the rules it anchors
    always: list[int] = []
    for r in n.rules:
        if r.anchors is None:
            always.append(r.ordinal)
        else:
            for pid in r.anchors:
                anchored[pid].append(r.ordinal)
    name_ids: dict[str, int] = {}
    name_paths: dict[str, tuple[str, ...]] = {}
    path_ids: dict[ir.Path, int] = {}
    for a in n.atoms:
        if isinstance(a, FieldAtom):
            name_ids.setdefault(a.name, len(name_ids))
            name_paths.setdefault(a.name, a.path)
        elif isinstance(a, ValueAtom):
            path_ids.setdefault(a.path, len(path_ids))
    by_name: dict[str, _Acc] = {}
    by_path: dict[ir.Path, _Acc] = {}
    generic_name: dict[str, list[tuple[Leaf, Rules]]] = defaultdict(list)
    generic_path: dict[ir.Path, list[tuple[Leaf, Rules]]] = defaultdict(list)
    for pid in sorted(anchored):
        atom = n.atoms[pid]
        rules = _sorted_rules(anchored[pid])
        if isinstance(atom, FieldAtom):
            acc = by_name.setdefault(atom.name, _Acc())
            _field_entries(acc, atom, rules)
            generic_name[atom.name].append((leaves[pid] or field_leaf(atom.matchers), rules))
        elif isinstance(atom, ValueAtom):
            acc = by_path.setdefault(atom.path, _Acc())
            _value_entries(acc, atom, rules)
            generic_path[atom.path].append((leaves[pid] or value_leaf(atom.op, atom.operand), rules))
        else:  # pragma: no cover - opaque atoms are never anchors
            raise TypeError("an opaque atom cannot anchor")
        acc.atoms.append(pid)
    names = tuple(
        _name_index(name_ids[name], name, name_paths[name], acc, tuple(generic_name[name]))
        for name, acc in sorted(by_name.items(), key=lambda kv: name_ids[kv[0]])
    )
    paths = tuple(
        _path_index(path_ids[path], path, acc, tuple(generic_path[path]))
        for path, acc in sorted(by_path.items(), key=lambda kv: path_ids[kv[0]])
    )
    return Index(names, paths, _sorted_rules(always), name_ids, path_ids)


def _name_index(i: int, name: str, path: tuple[str, ...], acc: _Acc, generic: Checked) -> NameIndex:
    maps = {k: _dict(v) for k, v in acc.maps.items()}
    seg_bounds, segs, seg_scan = _segments(acc.segments) if acc.segments else ((), (), ())
    # a suffix of length 0 would slice the whole string (x[-0:]); empty affixes are `sany`
    checked = {k: {key: tuple(v) for key, v in d.items()} for k, d in acc.checked.items()}
    return NameIndex(
        id=i, name=name, path=path,
        xs=maps.get("xs", {}), ip=maps.get("ip", {}), xn=maps.get("xn", {}), xc=maps.get("xc", {}),
        sany=_sorted_rules(acc.flat["sany"]),
        pfx=maps.get("pfx", {}), pfx_lens=_lens(maps.get("pfx", {})),
        sfx=maps.get("sfx", {}), sfx_lens=_lens(maps.get("sfx", {})),
        ieq=maps.get("ieq", {}),
        ipfx=maps.get("ipfx", {}), ipfx_lens=_lens(maps.get("ipfx", {})),
        isfx=maps.get("isfx", {}), isfx_lens=_lens(maps.get("isfx", {})),
        ic_ascii=tuple(acc.lists["ic_ascii"]), ic_other=tuple(acc.lists["ic_other"]),
        wpfx=checked.get("wpfx", {}), wpfx_lens=_lens(checked.get("wpfx", {})),
        wsfx=checked.get("wsfx", {}), wsfx_lens=_lens(checked.get("wsfx", {})),
        gt=_ranges(acc.ranges["gt"]), ge=_ranges(acc.ranges["ge"]),
        lt=_ranges(acc.ranges["lt"]), le=_ranges(acc.ranges["le"]),
        seg_bounds=seg_bounds, segs=segs,
        ab=_anything_but(acc.negatives) if acc.negatives else None,
        et=_sorted_rules(acc.flat["et"]), ef=_sorted_rules(acc.flat["ef"]),
        scan=tuple(acc.lists["scan"]) + seg_scan,
        generic=generic, atoms=tuple(acc.atoms),
    )  # fmt: skip


def _path_index(i: int, path: ir.Path, acc: _Acc, generic: Checked) -> PathIndex:
    maps = {k: _dict(v) for k, v in acc.maps.items()}
    return PathIndex(
        id=i, path=path,
        qs=maps.get("qs", {}), qn=maps.get("qn", {}), qc=maps.get("qc", {}),
        sany=_sorted_rules(acc.flat["qsany"]),
        pfx=maps.get("qpfx", {}), pfx_lens=_lens(maps.get("qpfx", {})),
        sfx=maps.get("qsfx", {}), sfx_lens=_lens(maps.get("qsfx", {})),
        cf=maps.get("qcf", {}),
        ngt=_ranges(acc.ranges["ngt"]), nge=_ranges(acc.ranges["nge"]),
        nlt=_ranges(acc.ranges["nlt"]), nle=_ranges(acc.ranges["nle"]),
        sgt=_ranges(acc.ranges["sgt"]), sge=_ranges(acc.ranges["sge"]),
        slt=_ranges(acc.ranges["slt"]), sle=_ranges(acc.ranges["sle"]),
        ne=_not_equal(acc.negatives) if acc.negatives else None,
        ex=_sorted_rules(acc.flat["ex"]),
        scan=tuple(acc.lists["scan"]),
        generic=generic, atoms=tuple(acc.atoms),
    )  # fmt: skip
