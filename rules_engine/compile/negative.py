"""The exclusion table: ``anything-but`` (EventBridge) and ``!=`` / ``not in`` (expressions).

Position in the pipeline::

    entries ANYTHING_BUT / NOT_EQUAL of one name or path ──**Negative.build**──▶ Negative
    codegen: per lane ──**Negative.probe_as**──▶ lines adding the rules whose atoms the value does not exclude

The one table whose probe depends on the value's type (``tables.Lane``): a
string is excluded by strings, prefixes, suffixes, ignore-case values; a
number by numbers; ``null``/booleans by themselves; every value by the leaves
of what no lookup can decide.  Invariant: the rules of an atom are added
unless some exclusion of that atom holds for the value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from rules_engine.compile.emit import Writer
from rules_engine.compile.runtime import inner_leaf, wildcard_pieces
from rules_engine.compile.tables import Item, Lane, Leaf, Rules, Spec, Table, comparable, key_lengths, sorted_rules
from rules_engine.model import ir

TABLE_BUDGET = 200_000
"""Most precomputed entries of an anything-but / != table; beyond, the probe filters instead."""

FEW_ATOMS = 4
"""Up to this many atoms, a string is tested against each atom's exclusions in turn, slices compared
(``if not (x[-5:] == "ULTON"): h += NR3``), rather than looked up per affix length into the set of
excluding atoms: fewer operations for the common case of a few rules on a name (callgrind: 1.3k-2.0k of
about 30k instructions a city lot on the ANYTHING-BUT-SUFFIX, -PREFIX and -IGNORE-CASE sets)."""


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

    spec: Spec
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
    # wildcards (strings only), by their first literal piece, or their last when the first is empty
    ex_wpfx: dict[str, tuple[tuple[Leaf, frozenset[int]], ...]] = field(default_factory=dict)
    ex_wpfx_lens: tuple[int, ...] = ()
    ex_wsfx: dict[str, tuple[tuple[Leaf, frozenset[int]], ...]] = field(default_factory=dict)
    ex_wsfx_lens: tuple[int, ...] = ()
    table_str: dict[str, Rules] | None = None
    table_num: dict[Any, Rules] | None = None
    table_const: dict[Any, Rules] | None = None

    @classmethod
    def build(cls, spec: Spec, items: list[Item]) -> Table:
        if spec.op == "anything-but":
            return cls._anything_but(spec, [(ab, rules) for ab, rules, _ in items])
        return cls._not_equal(spec, [(values, rules) for values, rules, _ in items])

    @classmethod
    def _anything_but(cls, spec: Spec, items: list[tuple[ir.MAnythingBut, Rules]]) -> Negative:
        """Exclusions by the inner matchers (no IP spelling rule inside)."""
        atoms = tuple(rules for _, rules in items)
        every = sorted_rules([r for rules in atoms for r in rules])
        ex: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
        ic_ascii: list[tuple[Leaf, frozenset[int]]] = []
        leaves: list[tuple[Leaf, frozenset[int]]] = []
        wild: dict[bool, dict[str, list[tuple[Leaf, frozenset[int]]]]] = {True: defaultdict(list),
                                                                          False: defaultdict(list)}
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
                elif isinstance(m, ir.MWildcard) and (pieces := wildcard_pieces(m.pattern)) and \
                        (pieces[0] or pieces[-1]):
                    # a string it matches starts with its first piece and ends with its last
                    first = bool(pieces[0])
                    wild[first][pieces[0] if first else pieces[-1]].append((inner_leaf(m), me))
                else:
                    leaves.append((inner_leaf(m), me))
        t_str, t_num = _tables(atoms, every, ex["str"], ex["num"])
        return cls(
            spec, every, atoms, ex_str=_frozen(ex["str"]), ex_num=_frozen(ex["num"]), ex_lower=_frozen(ex["lower"]),
            ex_pfx=_frozen(ex["pfx"]), ex_pfx_lens=key_lengths(ex["pfx"]), ex_sfx=_frozen(ex["sfx"]),
            ex_sfx_lens=key_lengths(ex["sfx"]), ex_ic_ascii=tuple(ic_ascii), ex_leaf=tuple(leaves),
            ex_wpfx={k: tuple(v) for k, v in wild[True].items()}, ex_wpfx_lens=key_lengths(wild[True]),
            ex_wsfx={k: tuple(v) for k, v in wild[False].items()}, ex_wsfx_lens=key_lengths(wild[False]),
            table_str=t_str, table_num=t_num, table_const={},
        )  # fmt: skip

    @classmethod
    def _not_equal(cls, spec: Spec, items: list[tuple[tuple[Any, ...], Rules]]) -> Negative:
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
        return cls(spec, every, atoms, ex_str=_frozen(ex["str"]), ex_num=_frozen(ex["num"]),
                   ex_const=_frozen(ex["const"]), table_str=t_str, table_num=t_num, table_const=t_const)

    @property
    def str_by_table(self) -> bool:
        return self.table_str is not None and not (
            self.ex_lower or self.ex_pfx or self.ex_sfx or self.ex_ic_ascii or self.ex_leaf or self.ex_wpfx
            or self.ex_wsfx
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
        if lane is Lane.STR and len(self.atoms) <= FEW_ATOMS and not self.ex_leaf:
            self._per_atom(w, ind, x)
            return
        self._general(w, ind, lane, x)

    def _general(self, w: Writer, ind: int, lane: Lane, x: str) -> None:
        """The atoms excluding ``x`` collected in ``e`` from the lookups, then the rules of the others."""
        every = w.const(self.every, "NA")
        self._excluded(w, ind, lane, x)
        w.emit(ind, "if e is None:")
        w.emit(ind + 1, f"h += {every}")
        if len(self.atoms) > 1:
            w.emit(ind, "else:")
            w.emit(ind + 1, f"for j, r in enumerate({w.const(self.atoms, 'NR')}):")
            w.emit(ind + 2, "if j not in e: h += r")

    def _per_atom(self, w: Writer, ind: int, x: str) -> None:
        """For a string ``x``: each atom's rules unless one of its exclusions holds, tested in turn.

        The same verdicts as :meth:`_general`: an exact string, a prefix or a suffix of the atom's;
        its ignore-case values (lower-cased ASCII; a non-ASCII string takes the general lines, as
        there); its wildcards, run only when the string has their indexed piece.
        """
        n = len(self.atoms)
        strs: list[set[str]] = [set() for _ in range(n)]
        lows: list[set[str]] = [set() for _ in range(n)]
        pfxs: list[set[str]] = [set() for _ in range(n)]
        sfxs: list[set[str]] = [set() for _ in range(n)]
        wild: list[list[str]] = [[] for _ in range(n)]
        for table, per in ((self.ex_str, strs), (self.ex_lower, lows), (self.ex_pfx, pfxs), (self.ex_sfx, sfxs)):
            for key, atoms in table.items():
                for i in atoms:
                    per[i].add(key)
        for wt, pre in ((self.ex_wpfx, True), (self.ex_wsfx, False)):
            for key, leaves in wt.items():  # the indexed piece is never empty
                piece = f"{x}[:{len(key)}] == {key!r}" if pre else f"{x}[-{len(key)}:] == {key!r}"
                for f, atoms in leaves:
                    for i in atoms:
                        wild[i].append(f"({piece} and {w.const(f, 'NW')}({x}))")
        lower = any(lows) or bool(self.ex_ic_ascii)
        i = ind
        if lower:
            w.emit(ind, f"if {x}.isascii():")
            w.emit(ind + 1, f"lw = {x}.lower()")
            i = ind + 1
        for j in range(n):
            tests = [f"{x} == {v!r}" for v in sorted(strs[j])] if len(strs[j]) <= 2 else \
                [f"{x} in {w.const(frozenset(strs[j]), 'NS')}"]
            tests += [f"lw == {v!r}" for v in sorted(lows[j])] if len(lows[j]) <= 2 else \
                [f"lw in {w.const(frozenset(lows[j]), 'NL')}"]
            # a slice compared (x[:3] == "MAS") costs less than startswith's argument parsing; a slice
            # of a shorter string is the whole string, which no affix longer than it equals
            for affixes, pre in ((pfxs[j], True), (sfxs[j], False)):
                for a in sorted(affixes, key=lambda a: (len(a), a)):
                    cut = f"[:{len(a)}]" if pre else f"[-{len(a)}:]"
                    tests.append(f"{x}{cut} == {a!r}" if a else "True")
            tests += wild[j]
            rules = w.const(self.atoms[j] if n > 1 else self.every, "NR" if n > 1 else "NA")
            if tests:
                w.emit(i, f"if not ({' or '.join(tests)}): h += {rules}")
            else:
                w.emit(i, f"h += {rules}")
        if lower:
            w.emit(ind, "else:")
            self._general(w, ind + 1, Lane.STR, x)

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
            # wildcards: only those whose first (or last) piece the string has are run
            for wt, lens, pre in ((self.ex_wpfx, self.ex_wpfx_lens, True), (self.ex_wsfx, self.ex_wsfx_lens, False)):
                if wt:
                    t = w.const(wt, "NWP" if pre else "NWS")
                    for n in lens:
                        w.emit(ind, f"b = {t}.get({x}[:{n}])" if pre else f"b = {t}.get({x}[-{n}:])")
                        w.emit(ind, "if b is not None:")
                        w.emit(ind + 1, "for f, a in b:")
                        w.emit(ind + 2, f"if f({x}): e = a if e is None else e | a")
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
