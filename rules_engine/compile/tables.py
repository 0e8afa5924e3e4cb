"""The index structures: one table class per structure, which builds itself and writes its probe.

Position in the pipeline::

    normalise: operator ──▶ Entry(kind, key)                     (entries.py; kinds in kinds.py)
    index:     entries of one name / path, by kind ──**Table.build**──▶ one table per kind
    codegen:   each table ──**Table.probe**──▶ the lines testing one event value against it

A table is built from the entries of one kind (``kinds.Kind``), whose
:class:`Spec` says which class builds it, the :class:`Lane` its probe runs in
(the type of value it is probed with), the prefix of its constant in generated
code and the structure's parameter (an affix's side, a range's operator, the
looked-up expression).  For a name whose anchors are ``MAPBLKLOT = "1430022"``,
``STREET prefix "AC"`` and ``x > -122.41``::

    EXACT_STR  Exact   {"1430022": (0,)}            b = XS3.get(x)
    PREFIX     Affix   {"AC": (5,)}, lens (2,)      b = PF4.get(x[:2])
    GT         Ranges  ((-122.41,), (7,))           h += GTR6[:bl(GTT5, f)]

``anything-but`` and ``!=`` exclusions are the one structure whose probe
depends on the value's type: ``negative.py``.

Invariants:
  * every table is exact for its kind: a hit means the atom holds for that
    value (tables that cannot decide by lookup alone hold ``(leaf, rules)``
    pairs and run the leaf);
  * tables are built once and never mutated (their dicts are read-only by
    contract: generated code only calls ``.get`` on them);
  * a probe adds rule ordinals to the generated code's list ``h`` and reads
    only the variable it is given (plus the temporaries ``b``, ``k``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeAlias

from rules_engine.compile.emit import Writer
from rules_engine.patterns.operands import NUMERIC_LIMIT

Rules: TypeAlias = tuple[int, ...]  # rule ordinals, sorted
Leaf: TypeAlias = Callable[[Any], bool]
Checked: TypeAlias = tuple[tuple[Leaf, Rules], ...]
Item: TypeAlias = tuple[Any, Rules, Callable[[], Leaf]]
"""One entry as the index hands it to a table: its key, the rules of its atom, a maker of its exact leaf."""

SEGMENT_BUDGET = 2_000_000
"""Most (segment, rule) pairs two-sided numeric ranges of one name may expand to; beyond, they scan."""



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


def key_lengths(keys: Collection[str]) -> tuple[int, ...]:
    return tuple(sorted({len(k) for k in keys}))


def _buckets(items: list[Item]) -> dict[Any, Rules]:
    """Key -> the sorted rules of every entry with that key (first-seen key order)."""
    acc: dict[Any, set[int]] = defaultdict(set)
    for key, rules, _ in items:
        acc[key].update(rules)
    return {k: sorted_rules(v) for k, v in acc.items()}


# --- lanes and specs ---


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


# --- the table classes ----------------------------------------------------------------------------


class Table(ABC):
    """One index structure of one name or path (frozen subclasses), built from the entries of one kind."""

    __slots__ = ()

    @classmethod
    @abstractmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        """The table of the kind ``spec`` describes, holding ``items`` (once per name or path and kind)."""

    @abstractmethod
    def probe(self, w: Writer, ind: int, x: str) -> None:
        """Lines adding to ``h`` the rules whose entry here the value in variable ``x`` satisfies."""


@dataclass(frozen=True, slots=True)
class Exact(Table):
    """``{key: rules}``: one dict lookup (``key`` is a template of the looked-up expression)."""

    spec: Spec
    table: dict[Any, Rules]

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        return cls(spec, _buckets(items))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        hits(w, ind, f"{w.const(self.table, self.spec.tag)}.get({self.spec.key.format(x)})")


@dataclass(frozen=True, slots=True)
class IpExact(Table):
    """``{address: rules}`` for exact strings that are IP literals: event-ruler matches any spelling."""

    spec: Spec
    table: dict[tuple[int, int], Rules]

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        return cls(spec, _buckets(items))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        w.emit(ind, f"k = ip_key({x})")
        w.emit(ind, "if k is not None:")
        hits(w, ind + 1, f"{w.const(self.table, self.spec.tag)}.get(k)")


@dataclass(frozen=True, slots=True)
class Always(Table):
    """Rules that hold for any value that reaches the probe (or, for presence kinds, for the name/path)."""

    spec: Spec
    rules: Rules

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        return cls(spec, sorted_rules([r for _, rules, _ in items for r in rules]))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        del x  # the value's type (the lane) decided already
        w.emit(ind, f"h += {w.const(self.rules, self.spec.tag)}")


@dataclass(frozen=True, slots=True)
class Affix(Table):
    """``{prefix: rules}`` (or suffixes) with the distinct key lengths: one slice and lookup per length.

    A key is never empty (an empty affix is ``ANY_STRING``): ``x[-0:]`` would be the whole string.
    """

    spec: Spec
    table: dict[str, Rules]
    lens: tuple[int, ...]

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        table = _buckets(items)
        return cls(spec, table, key_lengths(table))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        t = w.const(self.table, self.spec.tag)
        for n in self.lens:  # a slice shorter than n never equals a key of length n: no length test needed
            hits(w, ind, f"{t}.get({_slice(self.spec, x, n)})")


@dataclass(frozen=True, slots=True)
class CheckedAffix(Table):
    """``{literal prefix: ((leaf, rules), ...)}`` (or suffixes) for wildcards: the lookup narrows, the leaf decides."""

    spec: Spec
    table: dict[str, Checked]
    lens: tuple[int, ...]

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        acc: dict[str, list[tuple[Leaf, Rules]]] = defaultdict(list)
        for key, rules, leaf in items:
            acc[key].append((leaf(), rules))
        table = {k: tuple(v) for k, v in acc.items()}
        return cls(spec, table, key_lengths(table))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        t = w.const(self.table, self.spec.tag)
        for n in self.lens:
            w.emit(ind, f"b = {t}.get({_slice(self.spec, x, n)})")
            w.emit(ind, "if b is not None:")
            w.emit(ind + 1, "for f, r in b:")
            w.emit(ind + 2, f"if f({x}): h += r")


def _slice(spec: Spec, x: str, n: int) -> str:
    return f"{x}[:{n}]" if spec.op == "prefix" else f"{x}[-{n}:]"


@dataclass(frozen=True, slots=True)
class Ranges(Table):
    """One-sided ranges: sorted thresholds and the rule of each; one bisect gives a slice of rules."""

    spec: Spec
    thresholds: tuple[Any, ...]
    rules: Rules

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        pairs = sorted(((key, r) for key, rules, _ in items for r in rules), key=lambda p: (p[0], p[1]))
        return cls(spec, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        op, tag = self.spec.op, self.spec.tag
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

    spec: Spec
    bounds: tuple[float, ...]
    segs: tuple[Rules, ...]
    spill: Checked = ()

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
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
            return cls(spec, (), (), tuple((leaf(), rules) for _, rules, leaf in items))
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
        return cls(spec, tuple(bounds), tuple(segs))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        if not self.bounds:
            return
        sb, sg = w.const(self.bounds, "SB"), w.const(self.segs, "SG")
        w.emit(ind, f"k = bl({sb}, {x})")
        w.emit(ind, f"h += {sg}[2 * k + 1 if k < {len(self.bounds)} and {sb}[k] == {x} else 2 * k]")


@dataclass(frozen=True, slots=True)
class Scan(Table):
    """``((leaf, rules), ...)``: every leaf runs on the value (what no lookup can decide)."""

    spec: Spec
    items: Checked

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        return cls(spec, tuple((leaf(), rules) for _, rules, leaf in items))

    def probe(self, w: Writer, ind: int, x: str) -> None:
        scan(w, ind, self.items, x, self.spec.tag)


def scan(w: Writer, ind: int, items: Checked, x: str, tag: str = "SC") -> None:
    """Lines running each ``(leaf, rules)`` of ``items`` on ``x`` (nothing for none)."""
    if items:
        s = w.const(items, tag)
        w.emit(ind, f"for f, r in {s}:")
        w.emit(ind + 1, f"if f({x}): h += r")
