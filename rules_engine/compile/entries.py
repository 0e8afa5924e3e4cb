"""Compile stage 1, the index side of each operator: the entries an atom is looked up by.

Position in the pipeline::

    atom ──**matcher_entries** / **value_entries**──▶ Entry(kind, key, rank) ──index.py──▶ tables

Every EventBridge matcher and every indexable expression comparison becomes
the entries under which the index finds it: a :class:`~rules_engine.compile.kinds.Kind`
(which table, probed in which lane), the key it is looked up by, and a rank
(how selective it is, for choosing anchors in ``normalize.py``)::

    {"prefix": "AC"}           -> Entry(PREFIX, "AC", RANK_AFFIX_SHORT)
    data.total > 3             -> Entry(GT, 3, RANK_RANGE1)
    {"cidr": "10.0.0.0/24"}    -> Entry(SCAN, ...)        (no lookup decides it: the leaf runs per value)

This is the one place of this stage a new operator touches (docs/architecture.md).
Nothing here reads an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from rules_engine.compile.formula import Atom, FieldAtom, ValueAtom
from rules_engine.compile.kinds import Kind
from rules_engine.compile.runtime import wildcard_pieces
from rules_engine.compile.tables import comparable
from rules_engine.model import ir
from rules_engine.patterns.operands import ip_value

_ORDER_KIND: Final = {"<": Kind.LT, "<=": Kind.LE, ">": Kind.GT, ">=": Kind.GE}
_STRING_ORDER_KIND: Final = {"<": Kind.STR_LT, "<=": Kind.STR_LE, ">": Kind.STR_GT, ">=": Kind.STR_GE}


# --- ranks ------------------------------------------------------------------------------------

# Rank of an index entry kind: lower is more selective (a better anchor).  A
# heuristic (no statistics are known at compile time): equality beats prefixes,
# which beat ranges, which beat "present" and "anything but".
RANK_NUM_FRACTION = 0  # 37.77 is rarely shared by many events
RANK_EQ = 1
RANK_EQ_SMALL = 2  # small integers, booleans, null: often enum-like
RANK_ICASE = 3
RANK_AFFIX_LONG = 4
RANK_AFFIX_SHORT = 5
RANK_WILDCARD = 6
RANK_RANGE2 = 7
RANK_RANGE1 = 8
RANK_EXISTS = 9
RANK_NOT = 10
RANK_MISSING = 11
RANK_SCAN = 12
RANK_WEIGHT = (1, 2, 3, 4, 6, 10, 12, 16, 40, 100, 400, 1000, 1000)
"""Expected candidates per event of one anchor of each rank, relative: scaled by the atom's users."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One way an event value can satisfy an atom, as the index stores it.

    ``kind`` names the table that holds it (``kinds.py``: the lane its probe
    runs in and how it is looked up), ``key`` what it is looked up by, ``rank``
    the selectivity estimate.
    """

    kind: Kind
    key: Any
    rank: int


# --- entries of one atom ---------------------------------------------------------------------


def _wild_parts(pattern: str) -> tuple[str, str, bool]:
    """(literal prefix, literal suffix, has a star) of an EventBridge wildcard (escapes resolved)."""
    pieces = wildcard_pieces(pattern)
    if len(pieces) == 1:
        return pieces[0], "", False
    return pieces[0], pieces[-1], True


def _num_rank(v: Any) -> int:
    return RANK_NUM_FRACTION if isinstance(v, float) and not v.is_integer() else RANK_EQ_SMALL


def _affix_rank(s: str) -> int:
    return RANK_AFFIX_LONG if len(s) >= 3 else RANK_AFFIX_SHORT


def matcher_entries(m: ir.Matcher) -> list[Entry]:
    """How an EventBridge matcher is indexed (leaves are built by ``index.py`` from ``key``)."""
    if isinstance(m, ir.MExact):
        v = m.value
        if isinstance(v, str):
            out = [Entry(Kind.EXACT_STR, v, RANK_EQ)]
            ip = ip_value(v)
            if ip is not None:
                out.append(Entry(Kind.IP, ip, RANK_EQ))
            return out
        if v is None or isinstance(v, bool):
            return [Entry(Kind.EXACT_CONST, v, RANK_EQ_SMALL)]
        if comparable(v):
            return [Entry(Kind.EXACT_NUM, float(v), _num_rank(v))]
        return [Entry(Kind.SCAN, m, RANK_SCAN)]
    if isinstance(m, (ir.MPrefix, ir.MSuffix)):
        prefix_kind = isinstance(m, ir.MPrefix)
        if m.value == "":
            return [Entry(Kind.ANY_STRING, None, RANK_EXISTS)]
        if not m.ignore_case:
            return [Entry(Kind.PREFIX if prefix_kind else Kind.SUFFIX, m.value, _affix_rank(m.value))]
        if m.value.isascii():
            kind = Kind.ICASE_PREFIX if prefix_kind else Kind.ICASE_SUFFIX
            return [Entry(kind, m.value.lower(), _affix_rank(m.value))]
        return [Entry(Kind.ICASE_OTHER, m, RANK_SCAN)]
    if isinstance(m, ir.MEqualsIgnoreCase):
        if m.value.isascii():
            return [Entry(Kind.ICASE_EQ, m.value.lower(), RANK_ICASE)]
        return [Entry(Kind.ICASE_OTHER, m, RANK_SCAN)]
    if isinstance(m, ir.MWildcard):
        prefix, suffix, star = _wild_parts(m.pattern)
        if not star:
            return [Entry(Kind.EXACT_STR, prefix, RANK_EQ)]
        if prefix:
            return [Entry(Kind.WILD_PREFIX, prefix, RANK_WILDCARD)]
        if suffix:
            return [Entry(Kind.WILD_SUFFIX, suffix, RANK_WILDCARD)]
        return [Entry(Kind.SCAN, m, RANK_SCAN)]
    if isinstance(m, ir.MNumeric):
        conds = m.conditions
        if len(conds) == 1:
            op, v = conds[0]
            if op == "=":
                return [Entry(Kind.EXACT_NUM, float(v), _num_rank(v))]
            return [Entry(_ORDER_KIND[op], float(v), RANK_RANGE1)]
        if len(conds) == 2:
            lows = [c for c in conds if c[0] in (">", ">=")]
            highs = [c for c in conds if c[0] in ("<", "<=")]
            if len(lows) == 1 and len(highs) == 1:
                (lo_op, lo), (hi_op, hi) = lows[0], highs[0]
                key = (float(lo), lo_op == ">=", float(hi), hi_op == "<=")
                return [Entry(Kind.SEGMENT, key, RANK_RANGE2)]
        return [Entry(Kind.SCAN, m, RANK_SCAN)]
    if isinstance(m, ir.MExists):
        return [Entry(Kind.PRESENT, None, RANK_EXISTS)] if m.present else [Entry(Kind.ABSENT, None, RANK_MISSING)]
    if isinstance(m, ir.MAnythingBut):
        return [Entry(Kind.ANYTHING_BUT, m, RANK_NOT)]
    return [Entry(Kind.SCAN, m, RANK_SCAN)]  # MCidr


def value_entries(a: ValueAtom) -> list[Entry] | None:
    """How an expression atom is indexed; None when only a per-value scan can test it."""
    op, v = a.op, a.operand
    if op in ("==", "in"):
        out = []
        for x in (v if op == "in" else (v,)):
            if isinstance(x, str):
                out.append(Entry(Kind.EXACT_STR, x, RANK_EQ))
            elif x is None or isinstance(x, bool):
                out.append(Entry(Kind.EXACT_CONST, x, RANK_EQ_SMALL))
            else:
                out.append(Entry(Kind.EXACT_NUM, x, _num_rank(x)))
        return out or None
    if op in ("!=", "not in"):
        return [Entry(Kind.NOT_EQUAL, v if op == "not in" else (v,), RANK_NOT)]
    if op in ("<", "<=", ">", ">="):
        kinds = _STRING_ORDER_KIND if isinstance(v, str) else _ORDER_KIND
        return [Entry(kinds[op], v, RANK_RANGE1)]
    if op == "exists":
        return [Entry(Kind.PRESENT, None, RANK_EXISTS)]
    if op in ("starts_with", "ends_with"):
        if v == "":
            return [Entry(Kind.ANY_STRING, None, RANK_EXISTS)]
        return [Entry(Kind.PREFIX if op == "starts_with" else Kind.SUFFIX, v, _affix_rank(v))]
    if op == "equals_ignore_case":
        return [Entry(Kind.CASEFOLD, v.casefold(), RANK_ICASE)]
    return [Entry(Kind.SCAN, a, RANK_SCAN)]


def atom_entries(a: Atom) -> tuple[Entry, ...] | None:
    if isinstance(a, FieldAtom):
        out: list[Entry] = []
        for m in a.matchers:
            out.extend(matcher_entries(m))
        return tuple(out)
    if isinstance(a, ValueAtom):
        got = value_entries(a)
        return tuple(got) if got else None
    return None


