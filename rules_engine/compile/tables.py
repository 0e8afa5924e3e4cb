"""The compiler's vocabulary: every kind of index entry, and one class per index structure.

Position in the pipeline::

    normalise: operator ──▶ Entry(**Kind**, key)        (which structure, looked up by what)
    index:     entries of one name / path ──**Kind.build**──▶ one table per kind
    codegen:   each table ──**probe**──▶ the lines that test one event value against it

A :class:`Kind` names one way an event value can satisfy an atom, and its
:class:`Spec` says everything the later stages need: the :class:`Lane` (the
type of value its probe runs on), the table class that holds its entries, and
the prefix of the constant the generated code names it by.  Each table class
builds itself from the entries of its kind (:meth:`Table.build`) and writes its
probe (:meth:`Table.probe`), so a new operator is: one ``Kind`` here (reusing a
table class or adding one), its entries in ``entries.py`` (``matcher_entries``
or ``value_entries``), and nothing in ``index.py`` or ``codegen_probes.py``.

EventBridge names and expression paths share every table class and every
kind that is the same concept on both (an exact string, a prefix, a range of
numbers, presence); only the operators of one dialect have kinds of their own
(``IP``, wildcards, ASCII ignore-case on one side; ``CASEFOLD``, string ranges,
``!=`` on the other).  For a name whose anchors are ``MAPBLKLOT = "1430022"``,
``STREET prefix "AC"`` and ``x > -122.41``::

    EXACT_STR  Exact   {"1430022": (0,)}            b = XS3.get(x)
    PREFIX     Affix   {"AC": (5,)}, lens (2,)      b = PF4.get(x[:2])
    GT         Ranges  ((-122.41,), (7,))           h += GTR6[:bl(GTT5, f)]

Invariants:
  * every table is exact for its kind: a hit means the atom holds for that
    value (tables that cannot decide by lookup alone hold ``(leaf, rules)``
    pairs and run the leaf);
  * tables are built once and never mutated (their dicts are read-only by
    contract: generated code only calls ``.get`` on them);
  * a probe adds rule ordinals to the generated code's list ``h`` and reads
    only the variable it is given (plus the temporaries ``b``, ``k``, ``e``, ``s``).
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, TypeAlias

from rules_engine.compile.emit import Writer
from rules_engine.compile.runtime import inner_leaf
from rules_engine.model import ir
from rules_engine.patterns.operands import NUMERIC_LIMIT

Rules: TypeAlias = tuple[int, ...]  # rule ordinals, sorted
Leaf: TypeAlias = Callable[[Any], bool]
Checked: TypeAlias = tuple[tuple[Leaf, Rules], ...]
Item: TypeAlias = tuple[Any, Rules, Callable[[], Leaf]]
"""One entry as the index hands it to a table: its key, the rules of its atom, a maker of its exact leaf."""

SEGMENT_BUDGET = 2_000_000
"""Most (segment, rule) pairs two-sided numeric ranges of one name may expand to; beyond, they scan."""

TABLE_BUDGET = 200_000
"""Most precomputed entries of an anything-but / != table; beyond, the probe filters instead."""


def comparable(v: Any) -> bool:
    """A number event-ruler compares numerically (finite, within [-5e9, 5e9])."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and -NUMERIC_LIMIT <= v <= NUMERIC_LIMIT)


def sorted_rules(s: Collection[int]) -> Rules:
    return tuple(sorted(set(s)))


def hits(w: Writer, ind: int, expr: str) -> None:
    """Lines adding the bucket ``expr`` finds (a lookup giving a rule tuple or None) to ``h``."""
    w.emit(ind, f"b = {expr}")
    w.emit(ind, "if b is not None: h += b")


def _lens(keys: Collection[str]) -> tuple[int, ...]:
    return tuple(sorted({len(k) for k in keys}))


def _buckets(items: list[Item]) -> dict[Any, Rules]:
    """Key -> the sorted rules of every entry with that key (first-seen key order)."""
    acc: dict[Any, set[int]] = defaultdict(set)
    for key, rules, _ in items:
        acc[key].update(rules)
    return {k: sorted_rules(v) for k, v in acc.items()}


# --- the table classes ----------------------------------------------------------------------------


class Table(ABC):
    """One index structure of one name or path (frozen subclasses), built from the entries of one kind."""

    __slots__ = ()

    @classmethod
    @abstractmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        """The table of ``kind`` holding ``items`` (called once per name or path and kind)."""

    @abstractmethod
    def probe(self, w: Writer, ind: int, x: str) -> None:
        """Lines adding to ``h`` the rules whose entry here the value in variable ``x`` satisfies."""


@dataclass(frozen=True, slots=True)
class Exact(Table):
    """``{key: rules}``: one dict lookup (``key`` is a template of the looked-up expression)."""

    kind: Kind
    table: dict[Any, Rules]

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        return cls(kind, _buckets(items))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        hits(w, ind, f"{w.const(self.table, self.kind.tag)}.get({self.kind.spec.key.format(x)})")


@dataclass(frozen=True, slots=True)
class IpExact(Table):
    """``{address: rules}`` for exact strings that are IP literals: event-ruler matches any spelling."""

    kind: Kind
    table: dict[tuple[int, int], Rules]

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        return cls(kind, _buckets(items))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        w.emit(ind, f"k = ip_key({x})")
        w.emit(ind, "if k is not None:")
        hits(w, ind + 1, f"{w.const(self.table, self.kind.tag)}.get(k)")


@dataclass(frozen=True, slots=True)
class Always(Table):
    """Rules that hold for any value that reaches the probe (or, for presence kinds, for the name/path)."""

    kind: Kind
    rules: Rules

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        return cls(kind, sorted_rules([r for _, rules, _ in items for r in rules]))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        del x  # the value's type (the lane) decided already
        w.emit(ind, f"h += {w.const(self.rules, self.kind.tag)}")


@dataclass(frozen=True, slots=True)
class Affix(Table):
    """``{prefix: rules}`` (or suffixes) with the distinct key lengths: one slice and lookup per length.

    A key is never empty (an empty affix is ``ANY_STRING``): ``x[-0:]`` would be the whole string.
    """

    kind: Kind
    table: dict[str, Rules]
    lens: tuple[int, ...]

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        table = _buckets(items)
        return cls(kind, table, _lens(table))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        t = w.const(self.table, self.kind.tag)
        for n in self.lens:  # a slice shorter than n never equals a key of length n: no length test needed
            hits(w, ind, f"{t}.get({_slice(self.kind, x, n)})")


@dataclass(frozen=True, slots=True)
class CheckedAffix(Table):
    """``{literal prefix: ((leaf, rules), ...)}`` (or suffixes) for wildcards: the lookup narrows, the leaf decides."""

    kind: Kind
    table: dict[str, Checked]
    lens: tuple[int, ...]

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        acc: dict[str, list[tuple[Leaf, Rules]]] = defaultdict(list)
        for key, rules, leaf in items:
            acc[key].append((leaf(), rules))
        table = {k: tuple(v) for k, v in acc.items()}
        return cls(kind, table, _lens(table))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        t = w.const(self.table, self.kind.tag)
        for n in self.lens:
            w.emit(ind, f"b = {t}.get({_slice(self.kind, x, n)})")
            w.emit(ind, "if b is not None:")
            w.emit(ind + 1, "for f, r in b:")
            w.emit(ind + 2, f"if f({x}): h += r")


def _slice(kind: Kind, x: str, n: int) -> str:
    return f"{x}[:{n}]" if kind.spec.op == "prefix" else f"{x}[-{n}:]"


@dataclass(frozen=True, slots=True)
class Ranges(Table):
    """One-sided ranges: sorted thresholds and the rule of each; one bisect gives a slice of rules."""

    kind: Kind
    thresholds: tuple[Any, ...]
    rules: Rules

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        pairs = sorted(((key, r) for key, rules, _ in items for r in rules), key=lambda p: (p[0], p[1]))
        return cls(kind, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        op, tag = self.kind.spec.op, self.kind.tag
        t, r = w.const(self.thresholds, tag + "T"), w.const(self.rules, tag + "R")
        # x > t for every t before bisect_left(T, x); x >= t before bisect_right; < and <= take the rest
        fn = "bl" if op in ("gt", "le") else "br"
        if op in ("gt", "ge"):
            w.emit(ind, f"h += {r}[:{fn}({t}, {x})]")
        else:
            w.emit(ind, f"h += {r}[{fn}({t}, {x}):]")


@dataclass(frozen=True, slots=True)
class Segments(Table):
    """Two-sided numeric ranges as elementary segments: the rules holding for any x in one segment.

    With sorted distinct bounds b0 < b1 < ..., segment 2i+1 is the point b_i
    and segment 2i the open gap below it, so ``(3, 5]`` over bounds (3, 5) is
    segments 2..3: the gap (3, 5) and the point 5.  Ranges that would expand
    beyond :data:`SEGMENT_BUDGET` are not expanded: they are ``spill``, which
    the index scans with the name's other scanned entries.
    """

    kind: Kind
    bounds: tuple[float, ...]
    segs: tuple[Rules, ...]
    spill: Checked = ()

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
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
            return cls(kind, (), (), tuple((leaf(), rules) for _, rules, leaf in items))
        starts: dict[int, list[Rules]] = defaultdict(list)
        ends: dict[int, list[int]] = defaultdict(list)
        for start, end, rules in spans:
            starts[start].append(rules)
            ends[end].extend(rules)
        counts: dict[int, int] = defaultdict(int)  # rule -> spans covering the current segment
        segs: list[Rules] = []
        for s in range(2 * len(bounds) + 1):
            for rules in starts.get(s, ()):
                for r in rules:
                    counts[r] += 1
            segs.append(tuple(sorted(counts)))
            for r in ends.get(s, ()):
                counts[r] -= 1
                if counts[r] == 0:
                    del counts[r]
        return cls(kind, tuple(bounds), tuple(segs))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        if not self.bounds:
            return
        sb, sg = w.const(self.bounds, "SB"), w.const(self.segs, "SG")
        w.emit(ind, f"k = bl({sb}, {x})")
        w.emit(ind, f"h += {sg}[2 * k + 1 if k < {len(self.bounds)} and {sb}[k] == {x} else 2 * k]")


@dataclass(frozen=True, slots=True)
class Scan(Table):
    """``((leaf, rules), ...)``: every leaf runs on the value (what no lookup can decide)."""

    kind: Kind
    items: Checked

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        return cls(kind, tuple((leaf(), rules) for _, rules, leaf in items))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        scan(w, ind, self.items, x, self.kind.tag)


def scan(w: Writer, ind: int, items: Checked, x: str, tag: str = "SC") -> None:
    """Lines running each ``(leaf, rules)`` of ``items`` on ``x`` (nothing for none)."""
    if items:
        s = w.const(items, tag)
        w.emit(ind, f"for f, r in {s}:")
        w.emit(ind + 1, f"if f({x}): h += r")


@dataclass(frozen=True, slots=True)
class Negative(Table):
    """``anything-but`` (EventBridge) or ``!=`` / ``not in`` (expressions) anchors of one name or path.

    Such an atom holds for a value unless the value is *excluded* by it.  The
    structures below map a value to the set of atoms (indexes into ``atoms``)
    that exclude it; the rules of every other atom hold::

        {"anything-but": ["FULTON"]}, {"anything-but": {"prefix": "MAS"}}
        ex_str {"FULTON": {0}}   ex_pfx {"MAS": {1}} (lens (3,))   every (0-rules + 1-rules)

    ``table_*`` precompute "rules still holding" per excluded value when the
    only exclusions of that type are exact and the table is small.  Unlike
    the other tables its probe depends on the value's type: :meth:`probe_as`.
    """

    kind: Kind
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

    @classmethod
    def build(cls, kind: Kind, items: list[Item]) -> Table:
        if kind is Kind.ANYTHING_BUT:
            return cls._anything_but(kind, [(ab, rules) for ab, rules, _ in items])
        return cls._not_equal(kind, [(values, rules) for values, rules, _ in items])

    @classmethod
    def _anything_but(cls, kind: Kind, items: list[tuple[ir.MAnythingBut, Rules]]) -> Negative:
        """Exclusions by the inner matchers (no IP spelling rule inside)."""
        atoms = tuple(rules for _, rules in items)
        every = sorted_rules([r for rules in atoms for r in rules])
        ex: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
        ic_ascii: list[tuple[Leaf, frozenset[int]]] = []
        leaves: list[tuple[Leaf, frozenset[int]]] = []
        for i, (ab, _) in enumerate(items):
            me = frozenset((i,))
            for m in ab.inner:
                if isinstance(m, ir.MExact) and isinstance(m.value, str):
                    ex["str"][m.value].add(i)
                elif isinstance(m, ir.MExact) and comparable(m.value):
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
        return cls(
            kind, every, atoms, ex_str=_frozen(ex["str"]), ex_num=_frozen(ex["num"]), ex_lower=_frozen(ex["lower"]),
            ex_pfx=_frozen(ex["pfx"]), ex_pfx_lens=_lens(ex["pfx"]), ex_sfx=_frozen(ex["sfx"]),
            ex_sfx_lens=_lens(ex["sfx"]), ex_ic_ascii=tuple(ic_ascii), ex_leaf=tuple(leaves),
            table_str=t_str, table_num=t_num, table_const={},
        )  # fmt: skip

    @classmethod
    def _not_equal(cls, kind: Kind, items: list[tuple[tuple[Any, ...], Rules]]) -> Negative:
        """Exclusions by JSON equality (typed keys: 1 == 1.0, true != 1)."""
        atoms = tuple(rules for _, rules in items)
        every = sorted_rules([r for rules in atoms for r in rules])
        ex: dict[str, dict[Any, set[int]]] = {"str": defaultdict(set), "num": defaultdict(set),
                                              "const": defaultdict(set)}
        for i, (values, _) in enumerate(items):
            for v in values:
                key = "const" if v is None or isinstance(v, bool) else "str" if isinstance(v, str) else "num"
                ex[key][v].add(i)
        t_str, t_num, t_const = _tables(atoms, every, ex["str"], ex["num"], ex["const"])
        return cls(kind, every, atoms, ex_str=_frozen(ex["str"]), ex_num=_frozen(ex["num"]),
                   ex_const=_frozen(ex["const"]), table_str=t_str, table_num=t_num, table_const=t_const)

    @property
    def str_by_table(self) -> bool:
        return self.table_str is not None and not (
            self.ex_lower or self.ex_pfx or self.ex_sfx or self.ex_ic_ascii or self.ex_leaf
        )

    def probe(self, w: Writer, ind: int, x: str) -> None:
        self.probe_as(w, ind, x, Lane.VALUE)

    def probe_as(self, w: Writer, ind: int, x: str, lane: Lane) -> None:
        """Rules of the anchors holding for ``x``, a value of ``lane``'s type (``VALUE``: of any type)."""
        if not self.every:
            return
        every = w.const(self.every, "NA")
        table = {Lane.STR: self.table_str if self.str_by_table else None, Lane.NUM: self.table_num,
                 Lane.CONST: self.table_const}.get(lane)
        if table is not None and not self.ex_leaf:
            w.emit(ind, f"h += {w.const(table, 'NT')}.get({x}, {every})" if table else f"h += {every}")
            return
        if lane is Lane.VALUE and not self.ex_leaf:
            w.emit(ind, f"h += {every}")
            return
        self._excluded(w, ind, lane, x)
        w.emit(ind, "if e is None:")
        w.emit(ind + 1, f"h += {every}")
        if len(self.atoms) > 1:
            w.emit(ind, "else:")
            w.emit(ind + 1, f"for j, r in enumerate({w.const(self.atoms, 'NR')}):")
            w.emit(ind + 2, "if j not in e: h += r")

    def _excluded(self, w: Writer, ind: int, lane: Lane, x: str) -> None:
        """Lines setting ``e`` to the atoms that exclude ``x`` (None: none does)."""
        def add(expr: str, i: int) -> None:
            w.emit(i, f"s = {expr}")
            w.emit(i, "if s is not None: e = s if e is None else e | s")

        w.emit(ind, "e = None")
        if lane is Lane.STR:
            if self.ex_str:
                add(f"{w.const(self.ex_str, 'NS')}.get({x})", ind)
            if self.ex_lower or self.ex_ic_ascii:
                w.emit(ind, f"if {x}.isascii():")
                add(f"{w.const(self.ex_lower, 'NL')}.get({x}.lower())", ind + 1)
                w.emit(ind, "else:")
                w.emit(ind + 1, f"for f, a in {w.const(self.ex_ic_ascii, 'NI')}:")
                w.emit(ind + 2, f"if f({x}): e = a if e is None else e | a")
            for table, lens, pre in ((self.ex_pfx, self.ex_pfx_lens, True), (self.ex_sfx, self.ex_sfx_lens, False)):
                if table:
                    t = w.const(table, "NP" if pre else "NF")
                    for n in lens:
                        add(f"{t}.get({x}[:{n}])" if pre else f"{t}.get({x}[-{n}:])", ind)
        elif lane is Lane.NUM and self.ex_num:
            add(f"{w.const(self.ex_num, 'NN')}.get({x})", ind)
        elif lane is Lane.CONST and self.ex_const:
            add(f"{w.const(self.ex_const, 'NC')}.get({x})", ind)
        if self.ex_leaf:
            w.emit(ind, f"for f, a in {w.const(self.ex_leaf, 'NV')}:")
            w.emit(ind + 1, f"if f({x}): e = a if e is None else e | a")


def _still(atoms: tuple[Rules, ...], excluded: Collection[int]) -> Rules:
    return sorted_rules([r for i, rules in enumerate(atoms) if i not in excluded for r in rules])


def _tables(
    atoms: tuple[Rules, ...], every: Rules, *maps: Mapping[Any, Collection[int]]
) -> list[dict[Any, Rules] | None]:
    size = sum(len(m) for m in maps) * max(len(every), 1)
    if size > TABLE_BUDGET:
        return [None for _ in maps]
    return [{k: _still(atoms, ex) for k, ex in m.items()} for m in maps]


def _frozen(m: dict[Any, set[int]]) -> dict[Any, frozenset[int]]:
    return {k: frozenset(v) for k, v in m.items()}


# --- the vocabulary ----------------------------------------------------------------------------------


class Lane(Enum):
    """The type of event value a probe runs on; generated code tests the type once and runs that lane."""

    STR = "a string"
    ASCII = "an ASCII string, lower-cased (other strings run the leaves of these kinds)"
    NUM = "a number (EventBridge: as a float, within [-5e9, 5e9]; expressions: not NaN)"
    CONST = "null, true or false"
    VALUE = "a value of any type (its leaf decides)"
    PRESENCE = "none: decided once per name or path, by whether it holds a value"


@dataclass(frozen=True, slots=True)
class Spec:
    """What a kind is: the table class holding its entries, the lane its probe runs in, the prefix of
    its constant in generated code, and its structure's parameter (``key``: the looked-up expression
    for ``Exact``; ``op``: ``prefix``/``suffix`` for affixes, ``gt``/``ge``/``lt``/``le`` for ranges)."""

    table: type[Table]
    lane: Lane
    tag: str
    op: str = ""
    key: str = "{}"


class Kind(Enum):
    """Every way an index stores an entry (``Entry.kind``), in probe order within each lane."""

    _value_: Spec

    # strings (both dialects unless said)
    EXACT_STR = Spec(Exact, Lane.STR, "XS")
    IP = Spec(IpExact, Lane.STR, "IP")  # EventBridge: exact IP address, any spelling
    ANY_STRING = Spec(Always, Lane.STR, "SA")  # prefix / suffix "": any string
    PREFIX = Spec(Affix, Lane.STR, "PF", op="prefix")
    SUFFIX = Spec(Affix, Lane.STR, "SF", op="suffix")
    WILD_PREFIX = Spec(CheckedAffix, Lane.STR, "WP", op="prefix")  # EventBridge wildcard with a literal prefix
    WILD_SUFFIX = Spec(CheckedAffix, Lane.STR, "WS", op="suffix")
    ICASE_EQ = Spec(Exact, Lane.ASCII, "IE")  # EventBridge ignore-case, ASCII patterns (keyed lower-case)
    ICASE_PREFIX = Spec(Affix, Lane.ASCII, "IPF", op="prefix")
    ICASE_SUFFIX = Spec(Affix, Lane.ASCII, "ISF", op="suffix")
    ICASE_OTHER = Spec(Scan, Lane.STR, "SC")  # EventBridge ignore-case, non-ASCII pattern: scanned
    CASEFOLD = Spec(Exact, Lane.STR, "CF", key="{}.casefold()")  # expressions: equals_ignore_case
    STR_GT = Spec(Ranges, Lane.STR, "SGT", op="gt")  # expressions: string ordering
    STR_GE = Spec(Ranges, Lane.STR, "SGE", op="ge")
    STR_LT = Spec(Ranges, Lane.STR, "SLT", op="lt")
    STR_LE = Spec(Ranges, Lane.STR, "SLE", op="le")
    # numbers (EventBridge keys are floats)
    EXACT_NUM = Spec(Exact, Lane.NUM, "XN")
    GT = Spec(Ranges, Lane.NUM, "GT", op="gt")
    GE = Spec(Ranges, Lane.NUM, "GE", op="ge")
    LT = Spec(Ranges, Lane.NUM, "LT", op="lt")
    LE = Spec(Ranges, Lane.NUM, "LE", op="le")
    SEGMENT = Spec(Segments, Lane.NUM, "SG")  # EventBridge: a numeric range of two bounds
    # null, booleans
    EXACT_CONST = Spec(Exact, Lane.CONST, "XC")
    # any value
    ANYTHING_BUT = Spec(Negative, Lane.VALUE, "NA")  # EventBridge
    NOT_EQUAL = Spec(Negative, Lane.VALUE, "NE")  # expressions: != / not in
    SCAN = Spec(Scan, Lane.VALUE, "SC")  # what only a leaf decides (CIDR, contains, complex numeric...)
    # presence
    PRESENT = Spec(Always, Lane.PRESENCE, "ET")  # exists: true / exists(path)
    ABSENT = Spec(Always, Lane.PRESENCE, "EF")  # EventBridge exists: false

    @property
    def spec(self) -> Spec:
        return self._value_

    @property
    def lane(self) -> Lane:
        return self._value_.lane

    @property
    def tag(self) -> str:
        return self._value_.tag

    def build(self, items: list[Item]) -> Table:
        """The table of this kind holding ``items`` (the entries of one name or path)."""
        return self._value_.table.build(self, items)


def in_lane(lane: Lane) -> tuple[Kind, ...]:
    return tuple(k for k in Kind if k.lane is lane)


LANES: Final[Mapping[Lane, tuple[Kind, ...]]] = {lane: in_lane(lane) for lane in Lane}
"""The kinds probed in each lane, in declaration (probe) order."""


def string_groups() -> Iterator[tuple[Lane, tuple[Kind, ...]]]:
    """The string lane's probes in order, consecutive ASCII kinds grouped (they share one ``isascii`` test)."""
    kinds = [k for k in Kind if k.lane in (Lane.STR, Lane.ASCII)]
    for lane, group in itertools.groupby(kinds, key=lambda k: k.lane):
        yield lane, tuple(group)

