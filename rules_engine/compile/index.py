"""Compile stage 3: the shared index of anchors, one entry per event name or path read.

Position in the pipeline::

    Normalised ──**build_index**──▶ Index (per name / path: one table per kind) ──codegen──▶ match()

Each EventBridge name (``NameIndex``) and each expression path (``PathIndex``)
gets one table per :class:`~rules_engine.compile.kinds.Kind` its anchors
have, built once by the kind's table class (``tables.py``, ``negative.py``) and never mutated.
Buckets hold rule ordinals (evaluation order), sorted.  For a name whose
anchors are ``MAPBLKLOT = "1430022"``, ``STREET prefix "AC"`` and
``x > -122.41``::

    EXACT_STR  {"1430022": (0,)}                 one dict lookup per string value
    PREFIX     {"AC": (5,)}, lens (2,)           one slice + lookup per distinct prefix length
    GT         ((-122.41,), (7,))                bisect: every threshold below x holds

Invariants:
  * an EventBridge probe sees one *leaf value* at a time (``field`` semantics:
    the atom holds when some value holds); presence (``PRESENT``/``ABSENT``)
    is decided per name;
  * an expression probe sees the single value at its path (``get_path``),
    which may be an array or an object;
  * numeric EventBridge tables are keyed by ``float`` and consulted only
    for values in [-5e9, 5e9] (event-ruler's comparable range).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from rules_engine.compile.entries import matcher_entries, value_entries
from rules_engine.compile.formula import FieldAtom, ValueAtom
from rules_engine.compile.kinds import Kind
from rules_engine.compile.normalize import Normalised
from rules_engine.compile.runtime import field_leaf, matcher_leaf, value_leaf
from rules_engine.compile.tables import Checked, Item, Lane, Leaf, Rules, Scan, Segments, Table, sorted_rules
from rules_engine.model import ir


@dataclass(frozen=True, slots=True)
class NameIndex:
    """Anchors on one EventBridge name (a dotted name; arrays transparent): one table per kind."""

    id: int
    name: str
    path: tuple[str, ...]
    tables: Mapping[Kind, Table] = field(default_factory=dict)
    ic_ascii: Checked = ()  # the leaves of the ASCII-lane entries, for non-ASCII strings
    generic: Checked = ()  # every anchored atom with its leaf: for values of unusual types
    atoms: tuple[int, ...] = ()  # anchored pids


@dataclass(frozen=True, slots=True)
class PathIndex:
    """Anchors on one expression path (single value; arrays and objects are values): one table per kind."""

    id: int
    path: ir.Path
    tables: Mapping[Kind, Table] = field(default_factory=dict)
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
    """The entries of one name or path by kind, while building (discarded afterwards)."""

    def __init__(self) -> None:
        self.items: dict[Kind, list[Item]] = defaultdict(list)
        self.ic_ascii: list[tuple[Leaf, Rules]] = []
        self.generic: list[tuple[Leaf, Rules]] = []
        self.atoms: list[int] = []

    def tables(self) -> dict[Kind, Table]:
        """One table per kind, in kind order; two-sided ranges too many to expand join the scan."""
        out = {kind: kind.build(self.items[kind]) for kind in Kind if self.items.get(kind)}
        seg = out.get(Kind.SEGMENT)
        if isinstance(seg, Segments) and seg.spill:
            del out[Kind.SEGMENT]
            scan = out.get(Kind.SCAN)
            out[Kind.SCAN] = Scan(Kind.SCAN.spec, (scan.items if isinstance(scan, Scan) else ()) + seg.spill)
        return out


def _field_entries(acc: _Acc, atom: FieldAtom, rules: Rules) -> None:
    for m in atom.matchers:
        leaf = functools.partial(matcher_leaf, m)  # every entry's exact test is its matcher's
        for e in matcher_entries(m):
            acc.items[e.kind].append((e.key, rules, leaf))
            if e.kind.lane is Lane.ASCII:
                acc.ic_ascii.append((matcher_leaf(m), rules))


def _value_entries(acc: _Acc, atom: ValueAtom, rules: Rules) -> None:
    leaf = functools.partial(value_leaf, atom.op, atom.operand)
    for e in value_entries(atom) or ():
        acc.items[e.kind].append((e.key, rules, leaf))


def atom_leaves(n: Normalised) -> tuple[Leaf | None, ...]:
    """The exact per-value test of every EventBridge / expression atom (None: opaque), built once."""
    return tuple(
        field_leaf(a.matchers) if isinstance(a, FieldAtom) else value_leaf(a.op, a.operand)
        if isinstance(a, ValueAtom) else None
        for a in n.atoms
    )


def build_index(n: Normalised, leaves: tuple[Leaf | None, ...] | None = None) -> Index:
    """Stage 3: gather every rule's anchors into per-name and per-path tables."""
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
    for pid in sorted(anchored):
        atom = n.atoms[pid]
        rules = sorted_rules(anchored[pid])
        if isinstance(atom, FieldAtom):
            acc = by_name.setdefault(atom.name, _Acc())
            _field_entries(acc, atom, rules)
            acc.generic.append((leaves[pid] or field_leaf(atom.matchers), rules))
        elif isinstance(atom, ValueAtom):
            acc = by_path.setdefault(atom.path, _Acc())
            _value_entries(acc, atom, rules)
            acc.generic.append((leaves[pid] or value_leaf(atom.op, atom.operand), rules))
        else:  # pragma: no cover - opaque atoms are never anchors
            raise TypeError("an opaque atom cannot anchor")
        acc.atoms.append(pid)
    names = tuple(
        NameIndex(name_ids[name], name, name_paths[name], acc.tables(), tuple(acc.ic_ascii), tuple(acc.generic),
                  tuple(acc.atoms))
        for name, acc in sorted(by_name.items(), key=lambda kv: name_ids[kv[0]])
    )
    paths = tuple(
        PathIndex(path_ids[path], path, acc.tables(), tuple(acc.generic), tuple(acc.atoms))
        for path, acc in sorted(by_path.items(), key=lambda kv: path_ids[kv[0]])
    )
    return Index(names, paths, sorted_rules(always), name_ids, path_ids)
