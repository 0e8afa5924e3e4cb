"""Compile stage 4: one specialised Python function, ``match(event) -> list[Rule]``, per rule set.

Position in the pipeline::

    Normalised + Index ──**generate**──▶ Python source ──compile()──▶ match(event)

Generated source is the fastest thing CPython runs: the function reads only
the event keys some anchor needs (sharing the lookups of common prefixes),
probes each value against the index structures of its name with inline dict
lookups, slices of sorted bounds and bisects, and only then checks the
candidates that need it.  For the CL2 ``EXACT`` set the whole function is::

    def match(ev):
        h = []
        n0 = ev.get('properties', MISSING) if type(ev) is dict else child(ev)
        n1 = n0.get('MAPBLKLOT', MISSING) if type(n0) is dict else ...
        alt = 'properties.MAPBLKLOT' in ev           # a key with a dot: slow path
        ...
        b = XS0.get(x)                               # {"1430022": (0,), ...}
        if b is not None: h += b
        if not h: return []
        ...

Constants (index dicts, rule tuples, predicate closures) are bound into the
function's globals by name; the source refers to them, never copies them.

Invariants:
  * ``h`` collects rule ordinals; duplicates are harmless (a set sorts them
    back into evaluation order);
  * a rule in ``h`` whose ``VER[r]`` is None matched (exact anchor); any other
    is checked by ``VER[r](ev, m)`` over the per-event memo ``m``;
  * the output is in evaluation order and stops after the first matching
    ``on_match: stop`` rule, exactly as ``reference.matching_rules``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ir
from ..eval_pattern import NUMERIC_LIMIT
from . import runtime
from .index import Index, NameIndex, Negative, PathIndex
from .normalize import FAnd, FAtom, FConst, FieldAtom, FNot, FOr, FPattern, Formula, Normalised, OpaqueAtom, ValueAtom

MAX_SOURCE_DEPTH = 40
"""Formulas nested deeper than this are checked by closures (the Python parser limits nesting)."""


def name_key(i: int) -> int:
    """Memo key of EventBridge name ``i`` (see ``runtime``)."""
    return -1 - 2 * i


def path_key(i: int) -> int:
    return -2 - 2 * i


@dataclass(frozen=True, slots=True)
class Generated:
    source: str
    function: Callable[[Any], list[ir.Rule]]
    verifiers: int  # rules checked by generated code
    closures: int  # rules checked by closures (deep formulas)
    cel_fallbacks: int


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {}
        self.ids: dict[int, str] = {}

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def const(self, value: Any, prefix: str) -> str:
        """A global name bound to ``value`` (the same object is bound once)."""
        key = id(value)
        found = self.ids.get(key)
        if found is not None and self.ns[found] is value:
            return found
        name = f"{prefix}{len(self.ns)}"
        self.ns[name] = value
        self.ids[key] = name
        return name


def _hits(w: _Writer, ind: int, expr: str) -> None:
    w.emit(ind, f"b = {expr}")
    w.emit(ind, "if b is not None: h += b")


def _affix(w: _Writer, ind: int, table: dict[str, Any], lens: tuple[int, ...], var: str, prefix: bool,
           checked: bool, tag: str) -> None:
    if not table:
        return
    t = w.const(table, tag)
    for n in lens:  # a slice shorter than n never equals a key of length n: no length test needed
        piece = f"{var}[:{n}]" if prefix else f"{var}[-{n}:]"
        if checked:
            w.emit(ind, f"b = {t}.get({piece})")
            w.emit(ind, "if b is not None:")
            w.emit(ind + 1, "for f, r in b:")
            w.emit(ind + 2, f"if f({var}): h += r")
        else:
            _hits(w, ind, f"{t}.get({piece})")


def _ranges(w: _Writer, ind: int, ranges: tuple[tuple[Any, ...], tuple[int, ...]], op: str, var: str, tag: str) -> None:
    thresholds, rules = ranges
    if not thresholds:
        return
    t, r = w.const(thresholds, tag + "T"), w.const(rules, tag + "R")
    # x > t for every t before bisect_left(T, x); x >= t before bisect_right; < and <= take the rest
    fn = "bl" if op in ("gt", "le") else "br"
    if op in ("gt", "ge"):
        w.emit(ind, f"h += {r}[:{fn}({t}, {var})]")
    else:
        w.emit(ind, f"h += {r}[{fn}({t}, {var}):]")


def _scan(w: _Writer, ind: int, items: tuple[Any, ...], var: str) -> None:
    if items:
        s = w.const(items, "SC")
        w.emit(ind, f"for f, r in {s}:")
        w.emit(ind + 1, f"if f({var}): h += r")


def _negative(w: _Writer, ind: int, neg: Negative | None, kind: str, var: str) -> None:
    """Rules of anything-but / != anchors holding for ``var`` of ``kind`` (str, num, const, any)."""
    if neg is None or not neg.every:
        return
    every = w.const(neg.every, "NA")
    if kind == "any":
        w.emit(ind, f"h += {every}")
        return
    if neg.tabled:
        table = {"str": neg.table_str, "num": neg.table_num, "const": neg.table_const}[kind]
        if table:
            w.emit(ind, f"h += {w.const(table, 'NT')}.get({var}, {every})")
        else:
            w.emit(ind, f"h += {every}")
        return
    excluded = {"str": neg.excluded_str, "num": neg.excluded_num, "const": neg.excluded_const}[kind]
    if not excluded:
        w.emit(ind, f"h += {every}")
        return
    w.emit(ind, f"e = {w.const(excluded, 'NX')}.get({var})")
    w.emit(ind, "if e is None:")
    w.emit(ind + 1, f"h += {every}")
    w.emit(ind, "else:")
    w.emit(ind + 1, f"for j, r in enumerate({w.const(neg.atoms, 'NR')}):")
    w.emit(ind + 2, "if j not in e: h += r")


def _name_probe(w: _Writer, ind: int, ix: NameIndex, x: str) -> None:
    """Lines adding to ``h`` the rules whose anchor on this name one leaf value ``x`` satisfies."""
    w.emit(ind, f"t = type({x})")
    w.emit(ind, "if t is str:")
    i = ind + 1
    w.emit(i, "pass")
    if ix.xs:
        _hits(w, i, f"{w.const(ix.xs, 'XS')}.get({x})")
    if ix.ip:
        w.emit(i, f"k = ip_key({x})")
        w.emit(i, "if k is not None:")
        _hits(w, i + 1, f"{w.const(ix.ip, 'IP')}.get(k)")
    if ix.sany:
        w.emit(i, f"h += {w.const(ix.sany, 'SA')}")
    _affix(w, i, ix.pfx, ix.pfx_lens, x, True, False, "PF")
    _affix(w, i, ix.sfx, ix.sfx_lens, x, False, False, "SF")
    _affix(w, i, ix.wpfx, ix.wpfx_lens, x, True, True, "WP")
    _affix(w, i, ix.wsfx, ix.wsfx_lens, x, False, True, "WS")
    if ix.ieq or ix.ipfx or ix.isfx:
        w.emit(i, f"if {x}.isascii():")
        w.emit(i + 1, f"y = {x}.lower()")
        if ix.ieq:
            _hits(w, i + 1, f"{w.const(ix.ieq, 'IE')}.get(y)")
        _affix(w, i + 1, ix.ipfx, ix.ipfx_lens, "y", True, False, "IPF")
        _affix(w, i + 1, ix.isfx, ix.isfx_lens, "y", False, False, "ISF")
        w.emit(i, "else:")
        w.emit(i + 1, "pass")
        _scan(w, i + 1, ix.ic_ascii, x)
    _scan(w, i, ix.ic_other, x)
    _negative(w, i, ix.ab, "str", x)
    _scan(w, i, ix.scan, x)

    numeric = ix.xn or ix.gt[0] or ix.ge[0] or ix.lt[0] or ix.le[0] or ix.seg_bounds or (ix.ab and ix.ab.excluded_num)
    w.emit(ind, "elif t is float or t is int:")
    i = ind + 1
    w.emit(i, "pass")
    if numeric:
        w.emit(i, f"if {-NUMERIC_LIMIT!r} <= {x} <= {NUMERIC_LIMIT!r}:")
        j = i + 1
        w.emit(j, f"f = {x} if t is float else float({x})")
        if ix.xn:
            _hits(w, j, f"{w.const(ix.xn, 'XN')}.get(f)")
        for op in ("gt", "ge", "lt", "le"):
            _ranges(w, j, getattr(ix, op), op, "f", op.upper())
        if ix.seg_bounds:
            sb, sg = w.const(ix.seg_bounds, "SB"), w.const(ix.segs, "SG")
            w.emit(j, f"k = bl({sb}, f)")
            w.emit(j, f"h += {sg}[2 * k + 1 if k < {len(ix.seg_bounds)} and {sb}[k] == f else 2 * k]")
        _negative(w, j, ix.ab, "num", "f")
        if ix.ab:
            w.emit(i, "else:")
            _negative(w, i + 1, ix.ab, "any", x)
    else:
        _negative(w, i, ix.ab, "any", x)
    _scan(w, i, ix.scan, x)

    w.emit(ind, f"elif {x} is None or t is bool:")
    i = ind + 1
    w.emit(i, "pass")
    if ix.xc:
        _hits(w, i, f"{w.const(ix.xc, 'XC')}.get({x})")
    _negative(w, i, ix.ab, "any", x)
    _scan(w, i, ix.scan, x)
    w.emit(ind, "else:")
    w.emit(ind + 1, f"generic_probe({w.const(ix.generic, 'GE')}, {x}, h)")


def _path_probe(w: _Writer, ind: int, ix: PathIndex, v: str) -> None:
    """Lines adding the rules whose anchor on this expression path the value ``v`` (present) satisfies."""
    if ix.ex:
        w.emit(ind, f"h += {w.const(ix.ex, 'EX')}")
    w.emit(ind, f"t = type({v})")
    w.emit(ind, "if t is str:")
    i = ind + 1
    w.emit(i, "pass")
    if ix.qs:
        _hits(w, i, f"{w.const(ix.qs, 'QS')}.get({v})")
    if ix.sany:
        w.emit(i, f"h += {w.const(ix.sany, 'SA')}")
    _affix(w, i, ix.pfx, ix.pfx_lens, v, True, False, "QP")
    _affix(w, i, ix.sfx, ix.sfx_lens, v, False, False, "QF")
    if ix.cf:
        _hits(w, i, f"{w.const(ix.cf, 'CF')}.get({v}.casefold())")
    for op in ("gt", "ge", "lt", "le"):
        _ranges(w, i, getattr(ix, "s" + op), op, v, "S" + op.upper())
    _negative(w, i, ix.ne, "str", v)
    _scan(w, i, ix.scan, v)
    w.emit(ind, "elif t is float or t is int:")
    i = ind + 1
    w.emit(i, f"if {v} == {v}:")  # NaN (only from events built in Python) equals nothing
    w.emit(i + 1, "pass")
    if ix.qn:
        _hits(w, i + 1, f"{w.const(ix.qn, 'QN')}.get({v})")
    for op in ("gt", "ge", "lt", "le"):
        _ranges(w, i + 1, getattr(ix, "n" + op), op, v, "N" + op.upper())
    _negative(w, i + 1, ix.ne, "num", v)
    if ix.ne:
        w.emit(i, "else:")
        _negative(w, i + 1, ix.ne, "any", v)
    _scan(w, i, ix.scan, v)
    w.emit(ind, f"elif {v} is None or t is bool:")
    i = ind + 1
    w.emit(i, "pass")
    if ix.qc:
        _hits(w, i, f"{w.const(ix.qc, 'QC')}.get({v})")
    _negative(w, i, ix.ne, "const", v)
    _scan(w, i, ix.scan, v)
    w.emit(ind, "elif t is list or t is dict:")
    w.emit(ind + 1, "pass")
    _negative(w, ind + 1, ix.ne, "any", v)
    _scan(w, ind + 1, ix.scan, v)
    w.emit(ind, "else:")
    w.emit(ind + 1, f"generic_probe({w.const(ix.generic, 'GE')}, {v}, h)")


# --- reading the event --------------------------------------------------------------------------


def _nodes(w: _Writer, index: Index) -> tuple[dict[tuple[str, ...], str], str | None]:
    """Lines reading every object key on the way to a name or path, each prefix once.

    A node variable holds the value, MISSING (absent below objects only, or
    below a scalar) or UNUSUAL (below an array or a non-dict mapping: the
    slow path decides).  Returns the variable of each key prefix and the
    name of the "some key holds a dot" flag (None when no name can have one).
    """
    prefixes: set[tuple[str, ...]] = set()
    alts: dict[tuple[str, ...], set[str]] = {}
    for ix in index.names:
        segs = tuple(ix.name.split("."))
        for j in range(1, len(segs) + 1):
            prefixes.add(segs[:j])
        # "a.b.c" may also be the keys "a.b" -> "c", "a" -> "b.c" or "a.b.c": those keys
        # send this event down the slow path
        for j in range(len(segs) - 1):
            for end in range(j + 2, len(segs) + 1):
                alts.setdefault(segs[:j], set()).add(".".join(segs[j:end]))
    for px in index.paths:
        keys: list[str] = []
        for step in px.path:
            if not isinstance(step, str) or isinstance(step, bool):
                break
            keys.append(step)
            prefixes.add(tuple(keys))
    var: dict[tuple[str, ...], str] = {(): "ev"}
    for p in sorted(prefixes, key=lambda p: (len(p), p)):
        parent = var[p[:-1]]
        name = f"n{len(var)}"
        var[p] = name
        w.emit(1, f"{name} = {parent}.get({p[-1]!r}, MISSING) if type({parent}) is dict else "
                  f"(MISSING if {parent} is MISSING else child({parent}))")
    if not alts:
        return var, None
    tests: list[str] = []
    for p, keys in sorted(alts.items(), key=lambda kv: (len(kv[0]), kv[0])):
        node = var[p]
        if len(keys) > 3:
            test = f"not {node}.keys().isdisjoint({w.const(frozenset(keys), 'ALT')})"
        else:
            test = " or ".join(f"{k!r} in {node}" for k in sorted(keys))
        tests.append(f"({test})" if p == () else f"(type({node}) is dict and ({test}))")
    w.emit(1, "alt = " + " or ".join(tests))
    return var, "alt"


def generate(n: Normalised, index: Index, rules: tuple[ir.Rule, ...]) -> Generated:
    """Stage 4: the source of ``match`` and the function compiled from it."""
    w = _Writer()
    w.ns.update(
        MISSING=runtime.MISSING, UNUSUAL=runtime.UNUSUAL, SCALARS=runtime.SCALARS, Vals=runtime.Vals,
        child=runtime.child, eb_values=runtime.eb_values, get_path=runtime.get_path, ip_key=runtime.ip_key,
        generic_probe=runtime.generic_probe, memo=runtime.memo, consistent=runtime.consistent,
        bl=bisect.bisect_left, br=bisect.bisect_right,
    )  # fmt: skip
    # --- predicates (closures) for candidates that need checking
    preds: dict[int, str] = {}
    fns: dict[int, runtime.Pred] = {}
    cel_fallbacks = 0
    for pid, atom in enumerate(n.atoms):
        if isinstance(atom, FieldAtom):
            fn = runtime.field_pred(name_key(index.name_ids[atom.name]), atom.name, atom.matchers)
        elif isinstance(atom, ValueAtom):
            fn = runtime.value_pred(path_key(index.path_ids[atom.path]), atom.path, atom.op, atom.operand)
        elif atom.kind == "cel":
            fn, fallback = runtime.cel_pred(atom.text)
            cel_fallbacks += fallback
        else:
            assert isinstance(atom, OpaqueAtom) and atom.node is not None
            fn = runtime.expr_pred(atom.node)
        fns[pid] = fn
        preds[pid] = w.const(fn, "P")
    verifiers: list[Any] = [None] * len(rules)
    generated = closures = 0
    vsrc: list[str] = []
    for r in n.rules:
        if r.verify is None or r.anchors == ():
            continue
        src = _formula_source(r.verify, w, preds, index)
        if src is None:
            verifiers[r.ordinal] = _closure(r.verify, fns, index)
            closures += 1
            continue
        fname = f"_v{r.ordinal}"
        vsrc.append(f"def {fname}(ev, m):\n    return {src}\n")
        verifiers[r.ordinal] = fname
        generated += 1

    # --- match()
    always = tuple(r for r in index.always if n.rules[r].anchors != ())
    w.emit(0, "def match(ev):")
    w.emit(1, f"h = list({w.const(always, 'AL')})" if always else "h = []")
    var, alt = _nodes(w, index)
    seeds: list[str] = []
    for ix in index.names:
        leaf = var[tuple(ix.name.split("."))]
        v = f"v{ix.id}"
        nm = w.const(ix.name, "NM")
        w.emit(1, f"x = {leaf}")
        cond = f"not {alt} and " if alt else ""
        w.emit(1, f"if {cond}type(x) in SCALARS: {v} = x")
        w.emit(1, f"elif {cond}x is MISSING: {v} = MISSING")
        w.emit(1, f"else: {v} = eb_values(ev, {nm})")
        seeds.append(f"{name_key(ix.id)}: {v}")
        w.emit(1, f"if {v} is MISSING:")
        w.emit(2, f"h += {w.const(ix.ef, 'EF')}" if ix.ef else "pass")
        w.emit(1, f"elif type({v}) is Vals:")
        if ix.et:
            w.emit(2, f"h += {w.const(ix.et, 'ET')}")
        w.emit(2, f"for x in {v}:")
        _name_probe(w, 3, ix, "x")
        w.emit(1, "else:")
        if ix.et:
            w.emit(2, f"h += {w.const(ix.et, 'ET')}")
        _name_probe(w, 2, ix, v)
    for px in index.paths:
        v = f"u{px.id}"
        keys = []
        for step in px.path:
            if not isinstance(step, str) or isinstance(step, bool):
                break
            keys.append(step)
        if len(keys) == len(px.path) and keys:
            leaf = var[tuple(keys)]
            w.emit(1, f"{v} = {leaf} if {leaf} is not UNUSUAL else get_path(ev, {w.const(px.path, 'PA')})")
        else:
            w.emit(1, f"{v} = get_path(ev, {w.const(px.path, 'PA')})")
        seeds.append(f"{path_key(px.id)}: {v}")
        w.emit(1, f"if {v} is not MISSING:")
        _path_probe(w, 2, px, v)

    # --- finish: evaluation order, checks, stop
    stops = frozenset(r.ordinal for r in n.rules if r.rule.on_match == "stop")
    R = w.const(rules, "RULES")
    w.emit(1, "if not h: return []")
    w.emit(1, "if len(h) > 1: h = sorted(set(h))")
    if not generated and not closures and not stops:
        w.emit(1, f"return [{R}[r] for r in h]")
    else:
        V = w.const(tuple(verifiers), "VER") if (generated or closures) else None
        w.emit(1, "out = []")
        if V:
            w.emit(1, "m = None")
        w.emit(1, "for r in h:")
        if V:
            w.emit(2, f"f = {V}[r]")
            w.emit(2, "if f is not None:")
            w.emit(3, "if m is None: m = {" + ", ".join(seeds) + "}")
            w.emit(3, "if not f(ev, m): continue")
        w.emit(2, f"out.append({R}[r])")
        if stops:
            w.emit(2, f"if r in {w.const(stops, 'STOP')}: break")
        w.emit(1, "return out")
    source = "\n".join(vsrc) + "\n" + "\n".join(w.lines) + "\n"
    code = compile(source, "<rules-engine compiled match>", "exec")
    exec(code, w.ns)
    if generated:
        names = tuple(w.ns[v] if isinstance(v, str) else v for v in verifiers)
        w.ns[V] = names  # type: ignore[index]
    return Generated(source, w.ns["match"], generated, closures, cel_fallbacks)


def _formula_source(f: Formula, w: _Writer, preds: dict[int, str], index: Index, depth: int = 0) -> str | None:
    """``f`` as one Python expression over ``ev`` and the memo ``m`` (None: too deep for source)."""
    if depth > MAX_SOURCE_DEPTH:
        return None
    if isinstance(f, FAtom):
        return f"memo(m, {f.pid}, {preds[f.pid]}, ev)"
    if isinstance(f, FConst):
        return "True" if f.value else "False"
    if isinstance(f, FNot):
        inner = _formula_source(f.item, w, preds, index, depth + 1)
        return None if inner is None else f"(not {inner})"
    if isinstance(f, FPattern):
        body = _formula_source(f.body, w, preds, index, depth + 1)
        if body is None:
            return None
        return f"({body} and consistent(ev, m, {w.const(f.pattern, 'PAT')}, {w.const(_keys(f, index), 'PK')}))"
    parts = [_formula_source(x, w, preds, index, depth + 1) for x in f.items]
    if any(p is None for p in parts):
        return None
    word = " and " if isinstance(f, FAnd) else " or "
    return "(" + word.join(p for p in parts if p is not None) + ")"


def _keys(f: FPattern, index: Index) -> tuple[tuple[int, str], ...]:
    return tuple((name_key(index.name_ids[name]), name) for name in f.names)


def _closure(f: Formula, fns: dict[int, runtime.Pred], index: Index) -> runtime.Pred:
    """The same check as :func:`_formula_source`, as nested closures (for formulas too deep for source)."""
    if isinstance(f, FAtom):
        pid, fn = f.pid, fns[f.pid]
        return lambda ev, m: runtime.memo(m, pid, fn, ev)
    if isinstance(f, FConst):
        value = f.value
        return lambda ev, m: value
    if isinstance(f, FNot):
        g = _closure(f.item, fns, index)
        return lambda ev, m: not g(ev, m)
    if isinstance(f, FPattern):
        body, pattern, keys = _closure(f.body, fns, index), f.pattern, _keys(f, index)
        return lambda ev, m: body(ev, m) and runtime.consistent(ev, m, pattern, keys)
    gs = tuple(_closure(x, fns, index) for x in f.items)
    if isinstance(f, FAnd):
        return lambda ev, m: all(g(ev, m) for g in gs)
    return lambda ev, m: any(g(ev, m) for g in gs)
