"""Compile stage 1 and 2: rules -> formulas over interned atoms -> anchored branches.

Position in the pipeline::

    RuleSetIR ──**normalise**──▶ Normalised (atoms, formulas, anchors) ──index──▶ ──codegen──▶ match(event)

Every filter of every enabled rule becomes a :data:`Formula` (and / or / not
over *atoms*), and every distinct atom gets one predicate id (``pid``), shared
by all rules that use it.  Three kinds of atom:

  * :class:`FieldAtom`, an EventBridge field: "some leaf value at this dotted
    name satisfies one of these matchers" (arrays along the way are
    transparent)::

        {"detail": {"state": ["running", {"prefix": "stop"}]}}
        -> FieldAtom(name="detail.state", matchers=(MExact("running"), MPrefix("stop")))

  * :class:`ValueAtom`, an expression comparison of *one* value (``values.get_path``:
    arrays are values, not searched) with constants::

        data.total > 3         -> ValueAtom(("data", "total"), ">", 3)
        type in ["a", "b"]     -> ValueAtom(("type",), "in", ("a", "b"))

  * :class:`OpaqueAtom`, anything else (regex-free arithmetic, quantifiers, CEL):
    run as compiled Python, only for rules that are already candidates.

Then, for candidate generation only, each rule's formula is expanded into a
bounded disjunction of conjunctions (*branches*), and each branch picks one
*anchor*: its most selective indexable atom (by the ranks of its index entries,
``entries.py``).  An event can only satisfy a
branch if its anchor holds, so the index of anchors (``index.py``) yields a
superset of the matching rules; dropping a constraint (an oversized ``$or``,
a ``not``) only ever widens that superset.

Invariants:
  * atoms are interned by a key that tells ``true`` from ``1`` and ``1`` from
    ``1.0`` (IR nodes compare ``MExact(True) == MExact(1)``, so they are not
    used as keys directly);
  * a rule whose formula is one exactly-indexed atom is *exact*: an index hit
    is a match, nothing is re-checked;
  * nothing here reads an event.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rules_engine.cesql.subscriptions import cesql_tree
from rules_engine.compile.cesql_lower import cesql_formula, subscription_formula
from rules_engine.compile.entries import RANK_WEIGHT, Entry, atom_entries
from rules_engine.compile.formula import (
    FALSE,
    TRUE,
    Atom,
    FAnd,
    FAtom,
    FConst,
    FieldAtom,
    FNot,
    FOr,
    Formula,
    FPattern,
    OpaqueAtom,
    ValueAtom,
    all_of,
    any_of,
)
from rules_engine.expressions.render import render_expr
from rules_engine.model import ir

MAX_BRANCHES = 64
"""Most branches a rule expands to for anchoring; bigger products drop a constraint instead."""


@dataclass(frozen=True, slots=True)
class NRule:
    """One enabled rule, normalised.

    ``ordinal`` is its place in evaluation order.  ``anchors`` are the atoms
    the index looks up for it, one per branch, any of which makes the rule a
    candidate (``None``: some branch has no indexable atom, so the rule is a
    candidate for every event; ``()``: it can never match).
    """

    ordinal: int
    rule: ir.Rule
    formula: Formula
    anchors: tuple[int, ...] | None
    exact: bool
    verify: Formula | None  # what is left to check for a candidate (None: exact, nothing)




@dataclass(frozen=True, slots=True)
class Normalised:
    rules: tuple[NRule, ...]
    atoms: tuple[Atom, ...]  # by pid
    entries: tuple[tuple[Entry, ...] | None, ...]  # by pid; None: not indexable
    uses: tuple[int, ...]  # by pid: how many rules mention the atom
    atom_count: int  # atom occurrences over all rules (before sharing)


# --- interning ------------------------------------------------------------------------------------


def _tag(v: Any) -> tuple[str, Any]:
    """A hashable key that keeps JSON types apart (``True`` vs ``1``, ``1`` vs ``1.0``)."""
    if v is None:
        return ("null", None)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", repr(v))
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, tuple):
        return ("tuple", tuple(_tag(x) for x in v))
    return ("other", repr(v))


def atom_key(a: Atom) -> tuple[Any, ...]:
    if isinstance(a, FieldAtom):
        return ("field", a.name, tuple(repr(m) for m in a.matchers))
    if isinstance(a, ValueAtom):
        return ("value", _tag(a.path), a.op, _tag(a.operand))
    return ("opaque", a.kind, a.text)


class _Interner:
    def __init__(self) -> None:
        self.atoms: list[Atom] = []
        self.ids: dict[tuple[Any, ...], int] = {}
        self.occurrences = 0

    def pid(self, a: Atom) -> int:
        self.occurrences += 1
        k = atom_key(a)
        found = self.ids.get(k)
        if found is None:
            found = self.ids[k] = len(self.atoms)
            self.atoms.append(a)
        return found


# --- filters -> formulas -------------------------------------------------------------------------


def _pattern_and(node: ir.PatternAnd, it: _Interner, names: list[str]) -> Formula:
    parts: list[Formula] = []
    for f in node.fields:
        name = ".".join(f.path)
        names.append(name)
        parts.append(FAtom(it.pid(FieldAtom(name, f.path, f.matchers))))
    for group in node.ors:
        parts.append(any_of(_pattern_and(alt, it, names) for alt in group.alternatives))
    return all_of(parts)


def _pattern(p: ir.EventPattern, it: _Interner) -> Formula:
    names: list[str] = []
    body = _pattern_and(p.root, it, names)
    distinct = sorted(set(names))
    if _may_share_arrays(p.root, distinct):
        return FPattern(body, p, tuple(distinct))
    return body


def _heads_repeat(names: Iterable[str]) -> bool:
    """Do two of these names start with the same key (so one array may hold values of both)?"""
    return any(c > 1 for c in Counter(n.split(".", 1)[0] for n in set(names)).values())


def _may_share_arrays(root: ir.PatternAnd, names: list[str]) -> bool:
    """Can array consistency reject an event whose fields each hold?

    Only when one branch (one alternative of every ``$or``) tests two names
    with the same first key: alternatives of a ``$or`` never meet in a state::

        {"a": {"x": [1]}, "$or": [{"a": {"y": [2]}}, {"b": [3]}]}   branch a.x + a.y: yes
        {"$or": [{"a": {"x": [1]}}, {"a": {"y": [2]}}]}              no branch holds two: no
    """
    if not _heads_repeat(names):
        return False
    sets = _branch_names(root)
    return sets is None or any(_heads_repeat(s) for s in sets)


def _branch_names(node: ir.PatternAnd) -> list[frozenset[str]] | None:
    """The names of each branch of a pattern (None: more than MAX_BRANCHES branches)."""
    acc = [frozenset(".".join(f.path) for f in node.fields)]
    for group in node.ors:
        alts: list[frozenset[str]] = []
        for alt in group.alternatives:
            sub = _branch_names(alt)
            if sub is None:
                return None
            alts.extend(sub)
        acc = list({a | b for a in acc for b in alts})
        if len(acc) > MAX_BRANCHES:
            return None
    return acc


def _event_field(e: ir.Expr) -> ir.Path | None:
    if isinstance(e, ir.Field) and e.var is None:
        return e.path
    return None


def _scalar(e: ir.Expr) -> tuple[bool, Any]:
    if isinstance(e, ir.Literal):
        return True, e.value
    return False, None


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _expr(e: ir.Expr, it: _Interner) -> Formula:
    """An expression filter as a formula; exactly ``expressions.evaluate.truth``'s verdict."""
    if isinstance(e, ir.And):
        return all_of(_expr(x, it) for x in e.items)
    if isinstance(e, ir.Or):
        return any_of(_expr(x, it) for x in e.items)
    if isinstance(e, ir.Unary) and e.op == "not":
        inner = _expr(e.operand, it)
        if isinstance(inner, FConst):
            return FConst(not inner.value)
        if isinstance(inner, FNot):
            return inner.item
        return FNot(inner)
    if isinstance(e, ir.Literal):
        return TRUE if e.value is True else FALSE
    atom = _value_atom(e)
    if isinstance(atom, FConst):
        return atom
    if atom is not None:
        return FAtom(it.pid(atom))
    if isinstance(e, ir.Cel):
        return FAtom(it.pid(OpaqueAtom("cel", e.source)))
    return FAtom(it.pid(OpaqueAtom("expr", render_expr(e), e)))


def _value_atom(e: ir.Expr) -> ValueAtom | FConst | None:
    if isinstance(e, ir.Compare):
        path, (lit, value) = _event_field(e.left), _scalar(e.right)
        op: str = e.op
        if path is None or not lit:
            path, (lit, value) = _event_field(e.right), _scalar(e.left)
            op = ir.MIRRORED[e.op]
        if path is None or not lit:
            return None
        if op in ("<", "<=", ">", ">=") and not (_is_num(value) or isinstance(value, str)):
            return FALSE  # ordering needs two numbers or two strings
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return ValueAtom(path, op, value)
    if isinstance(e, ir.In):
        path = _event_field(e.item)
        if path is None or not isinstance(e.collection, ir.ListExpr):
            return None
        values = []
        for x in e.collection.items:
            lit, v = _scalar(x)
            if not lit or (isinstance(v, float) and not math.isfinite(v)):
                return None
            values.append(v)
        if not values:  # `x in []` never holds; `x not in []` holds for any present x
            return ValueAtom(path, "exists", None) if e.negated else FALSE
        return ValueAtom(path, "not in" if e.negated else "in", tuple(values))
    if isinstance(e, ir.Exists):
        path = _event_field(e.field)
        return ValueAtom(path, "exists", None) if path is not None else None
    if isinstance(e, ir.StringTest):
        path, (lit, value) = _event_field(e.left), _scalar(e.right)
        if path is None or not lit:
            return None
        if not isinstance(value, str):
            return FALSE  # string predicates need two strings
        return ValueAtom(path, e.op, value)
    if isinstance(e, ir.CidrTest):
        path = _event_field(e.item)
        if path is None:
            return None
        return ValueAtom(path, "not cidr" if e.negated else "cidr", e.network)
    return None


def _filter(f: ir.Filter, it: _Interner) -> Formula:
    if f.kind == "match":
        assert isinstance(f.node, ir.EventPattern)
        return _pattern(f.node, it)
    if f.kind == "cel":
        assert isinstance(f.node, ir.Cel)
        return FAtom(it.pid(OpaqueAtom("cel", f.node.source)))
    if isinstance(f.node, ir.SubscriptionFilter):
        return subscription_formula(f.node, it.pid)
    if isinstance(f.node, ir.Cesql):
        tree = cesql_tree(f.node.source)
        return FALSE if tree is None else cesql_formula(tree, it.pid)
    assert not isinstance(f.node, (ir.EventPattern, ir.Cesql, ir.SubscriptionFilter))
    return _expr(f.node, it)


# --- branches and anchors -------------------------------------------------------------------------


def branches(f: Formula) -> list[frozenset[int]]:
    """A bounded DNF of the atoms that must hold: every match satisfies some branch.

    ``[]`` never matches; ``[frozenset()]`` constrains nothing.  Not-parts and
    opaque atoms are kept (an opaque atom is still an atom); ``not`` drops its
    operand, an oversized product drops a conjunct, an oversized union gives up.
    """
    if isinstance(f, FAtom):
        return [frozenset((f.pid,))]
    if isinstance(f, FConst):
        return [frozenset()] if f.value else []
    if isinstance(f, FNot):
        return [frozenset()]
    if isinstance(f, FPattern):
        return branches(f.body)
    if isinstance(f, FOr):
        out: list[frozenset[int]] = []
        for item in f.items:
            out.extend(branches(item))
            if len(out) > MAX_BRANCHES:
                return [frozenset()]
        return list(dict.fromkeys(out))
    if all(isinstance(item, FAtom) for item in f.items):  # the common case: one branch
        return [frozenset(item.pid for item in f.items if isinstance(item, FAtom))]
    acc: list[frozenset[int]] = [frozenset()]
    for item in f.items:
        sub = branches(item)
        if not sub:
            return []
        if len(acc) * len(sub) > MAX_BRANCHES:
            continue  # drop this conjunct: a wider superset, still a superset
        acc = list(dict.fromkeys(a | b for a in acc for b in sub))
    return acc


def substitute(f: Formula, pid: int) -> Formula:
    """``f`` with atom ``pid`` known to hold."""
    if isinstance(f, FAtom):
        return TRUE if f.pid == pid else f
    if isinstance(f, FConst):
        return f
    if isinstance(f, FNot):
        inner = substitute(f.item, pid)
        return FConst(not inner.value) if isinstance(inner, FConst) else FNot(inner)
    if isinstance(f, FPattern):
        return FPattern(substitute(f.body, pid), f.pattern, f.names)
    if isinstance(f, FAnd):
        return all_of(substitute(x, pid) for x in f.items)
    return any_of(substitute(x, pid) for x in f.items)


def normalise(rs: ir.RuleSetIR) -> Normalised:
    """Stages 1-2: formulas over shared atoms, then one anchor per branch of every rule."""
    it = _Interner()
    formulas: list[tuple[ir.Rule, Formula]] = []
    for rule in rs.ordered_rules():
        formulas.append((rule, all_of(_filter(f, it) for f in rule.filters)))
    atoms = tuple(it.atoms)
    entries = tuple(atom_entries(a) for a in atoms)
    uses: Counter[int] = Counter()
    for _, f in formulas:
        uses.update(set(pids(f)))

    # How many rules mention each index key (name, kind, key), through any atom: a value many
    # rules test ("STREET = MISSION", "ST_TYPE = ST") is likely common in events too.
    popular: Counter[tuple[Any, ...]] = Counter()
    for pid, got in enumerate(entries):
        if got is not None:
            where = _where(atoms[pid])
            for key in {(where, e.kind, e.key) for e in got}:
                popular[key] += uses[pid]

    def score(pid: int) -> tuple[int, int]:
        # expected candidates: how unselective the kind is, times how many rules share the key
        # ("ST_TYPE = ST" in 70 rules is a worse anchor than one narrow range)
        got = entries[pid]
        assert got is not None
        where = _where(atoms[pid])
        worst = max(e.rank for e in got)
        shared = max(popular[(where, e.kind, e.key)] for e in got)
        size = max((len(e.key) for e in got if isinstance(e.key, str)), default=0)
        return (RANK_WEIGHT[worst] * shared, -size)

    out: list[NRule] = []
    for ordinal, (rule, f) in enumerate(formulas):
        bs = branches(f)
        anchors: list[int] = []
        for b in bs:
            indexable = sorted((p for p in b if entries[p] is not None), key=lambda p: (score(p), p))
            if not indexable:
                anchors = []
                break
            anchors.append(indexable[0])
        anchored: tuple[int, ...] | None
        if not bs:
            anchored = ()  # never matches
        elif not anchors:
            anchored = None
        else:
            anchored = tuple(dict.fromkeys(anchors))
        exact = False
        verify: Formula | None = f
        if f == TRUE:
            exact, verify = True, None
        elif anchored and len(bs) > 1 and _is_or_of(f, set(anchored)):
            exact, verify = True, None  # any anchor that hits is a whole branch
        elif anchored and len(bs) == 1:
            rest = substitute(f, anchored[0])  # the anchor holds when the rule is a candidate
            if rest == TRUE:
                exact, verify = True, None
            else:
                verify = rest
        out.append(NRule(ordinal, rule, f, anchored, exact, verify))
    return Normalised(tuple(out), atoms, entries, tuple(uses[p] for p in range(len(atoms))), it.occurrences)


def _is_or_of(f: Formula, pids: set[int]) -> bool:
    """Is ``f`` a disjunction of exactly these atoms (each branch one anchor)?"""
    if isinstance(f, FAtom):
        return f.pid in pids
    return isinstance(f, FOr) and all(_is_or_of(x, pids) for x in f.items)


def _where(a: Atom) -> Any:
    return a.name if isinstance(a, FieldAtom) else a.path if isinstance(a, ValueAtom) else None


def pids(f: Formula) -> Iterable[int]:
    """The atoms a formula mentions (repeats included)."""
    if isinstance(f, FAtom):
        yield f.pid
    elif isinstance(f, FNot):
        yield from pids(f.item)
    elif isinstance(f, FPattern):
        yield from pids(f.body)
    elif isinstance(f, (FAnd, FOr)):
        for x in f.items:
            yield from pids(x)
