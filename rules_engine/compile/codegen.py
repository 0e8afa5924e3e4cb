"""Compile stage 4: one specialised Python function, ``match(event) -> list[Rule]``, per rule set.

Position in the pipeline::

    Normalised + Index ──**generate**──▶ Python source ──compile()──▶ match(event)

Generated source is the fastest thing CPython runs: the function reads only
the event keys some atom needs (sharing the lookups of common prefixes),
probes each value against the index structures of its name with inline dict
lookups, slices of sorted bounds and bisects, and only then checks the
candidates that need it.  docs/compile.md shows the whole function for the
CL2 ``EXACT`` set; its heart is::

    b = XS5.get(v0)                 # {"1430022": (0,), "2607117": (16,), ...}
    if b is not None: h += b

Constants (index dicts, rule tuples, predicate closures) are bound into the
function's globals by name; the source refers to them, never copies them.

Invariants:
  * ``h`` collects the ordinals of candidate rules; duplicates are harmless (a set
    sorts them back into evaluation order);
  * a rule in ``h`` whose ``VER[r]`` is None matched (exact anchor); any other
    is checked by ``VER[r](ev, m)`` over the per-event memo ``m``, or, when the
    event is plain (every name one scalar or nothing, see :class:`_Fast`) and
    ``FAST[r]`` is not None, by ``FAST[r](m)``: the same verdict, cheaper;
  * the output is in evaluation order and stops after the first matching
    ``on_match: stop`` rule, exactly as ``reference.matching_rules``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rules_engine.compile import runtime
from rules_engine.compile.describe import describe_pattern
from rules_engine.compile.emit import Lines, Writer, load
from rules_engine.compile.formula import FAnd, FAtom, FConst, FieldAtom, FNot, Formula, FPattern, OpaqueAtom, ValueAtom
from rules_engine.compile.index import Index, NameIndex, PathIndex
from rules_engine.compile.normalize import Normalised
from rules_engine.compile.tables import LANES, Checked, Kind, Lane, Negative, Table, scan, string_groups
from rules_engine.expressions.render import render_expr
from rules_engine.model import ir
from rules_engine.patterns.operands import NUMERIC_LIMIT, ip_value

MAX_SOURCE_DEPTH = 40
"""Formulas nested deeper than this are checked by closures (the Python parser limits nesting)."""


MANY_RULES = 1000
"""Above this many rules, a rule with a fast check (:class:`_Fast`) gets its general check as closures:
events that are not plain are rare there, and compiling source for both costs ~40% more compile time."""


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
    cel_fallbacks: int  # CEL filters cel-python runs (not translated)
    expr_fallbacks: int = 0  # expression filters the reference evaluator runs (too deep to translate)


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


def _name_num(w: Writer, i: int, ix: NameIndex, x: str) -> None:
    w.emit(i, "pass")
    neg = _has_negative(ix.tables)
    if _name_has_num(ix) or (neg and (neg.ex_num or neg.ex_leaf)):
        w.emit(i, f"if {-NUMERIC_LIMIT!r} <= {x} <= {NUMERIC_LIMIT!r}:")
        j = i + 1
        w.emit(j, f"f = {x} if t is float else float({x})")
        _probe(w, j, ix.tables, LANES[Lane.NUM], "f")
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


def _name_probe(w: Writer, ind: int, ix: NameIndex, x: str) -> None:
    """Lines adding to ``h`` the rules whose anchor on this name one leaf value ``x`` satisfies."""
    w.emit(ind, f"t = type({x})")
    w.emit(ind, "if t is str:")
    _name_str(w, ind + 1, ix, x)
    w.emit(ind, "elif t is float or t is int:")
    _name_num(w, ind + 1, ix, x)
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


def _key_prefix(path: ir.Path) -> tuple[str, ...]:
    keys: list[str] = []
    for step in path:
        if not isinstance(step, str) or isinstance(step, bool):
            break
        keys.append(step)
    return tuple(keys)


def _nodes(w: Writer, index: Index) -> tuple[dict[tuple[str, ...], str], set[tuple[str, ...]], str | None]:
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
        keys = _key_prefix(path)
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
    if not alts:
        return var, leaves & inner, None
    tests: list[str] = []
    for p, alt_keys in sorted(alts.items(), key=lambda kv: (len(kv[0]), kv[0])):
        node = var[p]
        if len(alt_keys) > 3:
            test = f"not {node}.keys().isdisjoint({w.const(frozenset(alt_keys), 'ALT')})"
        else:
            test = " or ".join(f"{k!r} in {node}" for k in sorted(alt_keys))
        tests.append(f"({test})" if p == () else f"(type({node}) is dict and ({test}))")
    w.emit(1, "alt = " + " or ".join(tests))
    return var, leaves & inner, "alt"


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
    sub.emit(1, "for x in (v if type(v) is Vals else (v,)):")
    _name_probe(sub, 2, ix, "x")
    sub.emit(1, "return v")
    out.append("\n".join(sub.lines) + "\n")
    return fs


def _path_function(w: Writer, px: PathIndex, out: list[str]) -> str:
    sub = Writer()
    sub.ns, sub.ids = w.ns, w.ids
    fq = f"_q{px.id}"
    sub.emit(0, f"def {fq}(v, h):")
    _path_probe(sub, 1, px, "v")
    out.append("\n".join(sub.lines) + "\n")
    return fq


def generate(n: Normalised, index: Index, rules: tuple[ir.Rule, ...],
             leaves: tuple[Callable[[Any], bool] | None, ...] | None = None) -> Generated:
    """Stage 4: the source of ``match`` and the function compiled from it."""
    got = leaves or tuple(None for _ in n.atoms)
    w = Writer()
    w.ns.update(
        MISSING=runtime.MISSING, UNUSUAL=runtime.UNUSUAL, EMPTY=runtime.EMPTY, SCALARS=runtime.SCALARS,
        Vals=runtime.Vals, UNSET=runtime.UNSET, step=runtime.step, eb_values=runtime.eb_values,
        eb_below=runtime.eb_below, get_path=runtime.get_path,
        ip_key=runtime.ip_key, generic_probe=runtime.generic_probe,
        consistent=runtime.consistent, bl=bisect.bisect_left, br=bisect.bisect_right,
    )  # fmt: skip
    # --- predicates (closures) for candidates that need checking
    preds: dict[int, str] = {}
    fns: dict[int, runtime.Pred] = {}
    cel_fallbacks = expr_fallbacks = 0
    for pid, atom in enumerate(n.atoms):
        shared = pid if n.uses[pid] > 1 else None  # memoise what several rules may ask for
        if isinstance(atom, FieldAtom):
            fn = runtime.field_pred(name_key(index.name_ids[atom.name]), atom.name, atom.matchers, shared, got[pid])
        elif isinstance(atom, ValueAtom):
            fn = runtime.value_pred(path_key(index.path_ids[atom.path]), atom.path, atom.op, atom.operand, shared,
                                    got[pid])
        else:
            if atom.kind == "cel":
                fn, fallback = runtime.cel_pred(atom.text)
                cel_fallbacks += fallback
            elif atom.kind == "cesql":
                fn = runtime.cesql_pred(atom.text)
            else:
                assert isinstance(atom, OpaqueAtom) and atom.node is not None
                fn, fallback = runtime.expr_pred(atom.node)
                expr_fallbacks += fallback
            if shared is not None:
                fn = runtime.memoised(pid, fn)
        fns[pid] = fn
        preds[pid] = w.const(fn, "P")
    verifiers: list[Any] = [None] * len(rules)
    generated = closures = 0
    parts: list[str] = []
    seeded = _seeded_keys(index)
    fast: list[Any] = [None] * len(rules)
    many = len(rules) > MANY_RULES
    for r in n.rules:
        if r.verify is None or r.anchors == ():
            continue
        single = _single_field(r.verify, n, index, got)
        quick = None if single else _Fast(w, n, index, got, seeded).source(r.verify)
        if single is not None:  # one field test: a closure, no source to compile
            fast[r.ordinal] = single
        elif quick is not None:
            parts.append(f"{_rule_comment(r.rule)}def _w{r.ordinal}(m):\n    return {quick}\n")
            fast[r.ordinal] = f"_w{r.ordinal}"
        if isinstance(r.verify, FAtom):  # one atom left to check: its predicate is the check
            verifiers[r.ordinal] = fns[r.verify.pid]
            generated += 1
            continue
        src = None if (many and fast[r.ordinal] is not None) else _formula_source(r.verify, w, preds, index)
        if src is None:
            verifiers[r.ordinal] = _closure(r.verify, fns, index)
            if fast[r.ordinal] is None:
                closures += 1
            else:
                generated += 1
            continue
        parts.append(f"{_rule_comment(r.rule)}def _v{r.ordinal}(ev, m):\n    return {src}\n")
        verifiers[r.ordinal] = f"_v{r.ordinal}"
        generated += 1
    slow = {ix.id: _name_functions(w, ix, parts) for ix in index.names}
    path_fn = {px.id: _path_function(w, px, parts) for px in index.paths}

    # --- match()
    always = index.always
    w.emit(0, "def match(ev):")
    w.emit(1, f"h = list({w.const(always, 'AL')})" if always else "h = []")
    var, both, alt = _nodes(w, index)
    seeds: list[str] = []
    for ix in index.names:
        segs = tuple(ix.name.split("."))
        leaf, v = var[segs], f"v{ix.id}"
        if alt:
            w.emit(1, f"{v} = UNUSUAL if {alt} else {leaf}")
        else:
            w.emit(1, f"{v} = {leaf}")
        seeds.append(f"{name_key(ix.id)}: {v}")
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
        w.emit(2, f"{v} = {slow[ix.id]}(ev, {v}, h, {'None if ' + alt + ' else ' if alt else ''}{chain})")
    for px in index.paths:
        v = f"u{px.id}"
        keys = _key_prefix(px.path)
        if keys and len(keys) == len(px.path):
            leaf = var[keys]
            w.emit(1, f"{v} = {leaf}")
            w.emit(1, f"if {v} is UNUSUAL: {v} = get_path(ev, {w.const(px.path, 'PA')})")
            if keys in both:
                w.emit(1, f"elif {v} is EMPTY: {v} = MISSING")
        else:
            w.emit(1, f"{v} = get_path(ev, {w.const(px.path, 'PA')})")
        seeds.append(f"{path_key(px.id)}: {v}")
        w.emit(1, f"if {v} is not MISSING:")
        _presence(w, 2, px.tables, Kind.PRESENT)
        w.emit(2, f"if type({v}) is str:")
        _strings(w, 3, px.tables, v)
        w.emit(2, "else:")
        w.emit(3, f"{path_fn[px.id]}({v}, h)")

    # values of the names and paths only checks read, for the memo (UNSET: the check reads it)
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
        keys = _key_prefix(path)
        if path in anchored_paths or not keys or len(keys) != len(path):
            continue
        leaf = var[keys]
        seeds.append(f"{path_key(i)}: (UNSET if {leaf} is UNUSUAL else MISSING if {leaf} is EMPTY else {leaf})")

    # --- finish: evaluation order, checks, stop
    stops = frozenset(r.ordinal for r in n.rules if r.rule.on_match == "stop")
    R = w.const(rules, "RULES")
    w.emit(1, "if not h: return []")
    w.emit(1, "h = h if len(h) == 1 else sorted(set(h))")
    V: str | None = None
    F: str | None = None
    if not generated and not closures and not stops:
        w.emit(1, f"return [{R}[r] for r in h]")
    else:
        if generated or closures:
            V = w.const(tuple(verifiers), "VER")
        F = w.const(tuple(fast), "FAST") if any(f is not None for f in fast) else None
        w.emit(1, "out = []")
        if V:
            w.emit(1, "m = None")
        w.emit(1, "for r in h:")
        if V:
            w.emit(2, f"f = {V}[r]")
            w.emit(2, "if f is not None:")
            w.emit(3, "if m is None:")
            w.emit(4, "m = {" + ", ".join(seeds) + "}")
            if F:
                w.emit(4, f"plain = {_plain_test(seeded, index)}")
            if F:
                w.emit(3, f"if plain and (g := {F}[r]) is not None:")
                w.emit(4, "if not g(m): continue")
                w.emit(3, "elif not f(ev, m): continue")
            else:
                w.emit(3, "if not f(ev, m): continue")
        w.emit(2, f"out.append({R}[r])")
        if stops:
            w.emit(2, f"if r in {w.const(stops, 'STOP')}: break")
        w.emit(1, "return out")
    source = "\n".join(parts) + "\n" + w.text()
    load(source, "match", w.ns)
    if V is not None:
        w.ns[V] = tuple(w.ns[f] if isinstance(f, str) else f for f in verifiers)
    if F is not None:
        w.ns[F] = tuple(w.ns[f] if isinstance(f, str) else f for f in fast)
    return Generated(source, w.ns["match"], generated, closures, cel_fallbacks, expr_fallbacks)


def _rule_comment(rule: ir.Rule) -> str:
    """``# rule 'name': <its conditions>`` above the rule's generated check, one line."""
    shown = " and ".join(_filter_text(f) for f in rule.filters) or "(no filter)"
    if len(shown) > 160:
        shown = shown[:159] + "…"
    lines = Lines()
    lines.comment(0, f"rule {rule.name!r}: {shown}")
    return lines.text()


def _filter_text(f: ir.Filter) -> str:
    if isinstance(f.node, ir.EventPattern):
        return f"match {describe_pattern(f.node.root)}"
    if isinstance(f.node, ir.Cel):
        return f"cel {f.node.source!r}"
    if isinstance(f.node, ir.Cesql):
        return f"cesql {f.node.source!r}"
    if isinstance(f.node, ir.SubscriptionFilter):
        return "Knative filters"
    return f"when {render_expr(f.node)}"


def _formula_source(f: Formula, w: Writer, preds: dict[int, str], index: Index, depth: int = 0) -> str | None:
    """``f`` as one Python expression over ``ev`` and the memo ``m`` (None: too deep for source)."""
    if depth > MAX_SOURCE_DEPTH:
        return None
    if isinstance(f, FAtom):
        return f"{preds[f.pid]}(ev, m)"
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


def _seeded_keys(index: Index) -> frozenset[int]:
    """Memo keys ``match`` always seeds (every name; the paths it reads through object keys only)."""
    keys = {name_key(i) for i in index.name_ids.values()}
    anchored = {px.path for px in index.paths}
    for path, i in index.path_ids.items():
        prefix = _key_prefix(path)
        if path in anchored or (prefix and len(prefix) == len(path)):
            keys.add(path_key(i))
    return frozenset(keys)


class _Fast:
    """A rule's check on a *plain* event, as one expression over the memo ``m`` alone.

    Plain (``match`` tests it once per event, when it builds the memo): every
    name holds one scalar or nothing (no array on the way, no key with a dot)
    and every path ``match`` seeds is read.  Then no value came through an
    array, every ``FPattern``'s consistency holds, and each atom is its
    per-value test on a memo entry, with no call for the common matchers::

        def _w6(m):
            return (m[-13] == '034' and ((x := m[-15]) is not MISSING and L9948(x)))

    (``m[-13] == '034'`` needs no MISSING test: MISSING equals no string.)

    ``source`` gives None (the rule has no fast check: the general one runs)
    for a formula too deep, an opaque atom or a path ``match`` does not seed.
    """

    def __init__(self, w: Writer, n: Normalised, index: Index,
                 leaves: tuple[Callable[[Any], bool] | None, ...], seeded: frozenset[int]) -> None:
        self.w, self.n, self.index, self.leaves, self.seeded = w, n, index, leaves, seeded

    def source(self, f: Formula, depth: int = 0) -> str | None:
        if depth > MAX_SOURCE_DEPTH:
            return None
        if isinstance(f, FAtom):
            return self._atom(f.pid)
        if isinstance(f, FConst):
            return "True" if f.value else "False"
        if isinstance(f, FNot):
            inner = self.source(f.item, depth + 1)
            return None if inner is None else f"(not {inner})"
        if isinstance(f, FPattern):  # consistency holds: no value came through an array
            return self.source(f.body, depth + 1)
        parts = [self.source(x, depth + 1) for x in f.items]
        if any(p is None for p in parts):
            return None
        word = " and " if isinstance(f, FAnd) else " or "
        return "(" + word.join(p for p in parts if p is not None) + ")"

    def _atom(self, pid: int) -> str | None:
        atom, leaf = self.n.atoms[pid], self.leaves[pid]
        if isinstance(atom, ValueAtom):
            key = path_key(self.index.path_ids[atom.path])
            if leaf is None or key not in self.seeded:
                return None
            return f"{self.w.const(leaf, 'L')}(m[{key}])"
        if not isinstance(atom, FieldAtom) or leaf is None:
            return None
        x = f"m[{name_key(self.index.name_ids[atom.name])}]"
        missing_ok = any(isinstance(m, ir.MExists) and not m.present for m in atom.matchers)
        test = _inline_leaf(self.w, atom.matchers, "x")
        if test is None:
            test = f"{self.w.const(leaf, 'L')}(x)"
        elif not missing_ok and test.startswith("x "):  # == / in: false on MISSING already
            return x + test[1:]
        return f"((x := {x}) is MISSING or {test})" if missing_ok else f"((x := {x}) is not MISSING and {test})"


def _single_field(f: Formula, n: Normalised, index: Index,
                  leaves: tuple[Callable[[Any], bool] | None, ...]) -> Callable[[Any], bool] | None:
    """The fast check (see :class:`_Fast`) of a formula that is one EventBridge atom, as a closure."""
    while isinstance(f, FPattern):
        f = f.body
    if not isinstance(f, FAtom):
        return None
    atom, leaf = n.atoms[f.pid], leaves[f.pid]
    if not isinstance(atom, FieldAtom) or leaf is None:
        return None
    missing_ok = any(isinstance(m, ir.MExists) and not m.present for m in atom.matchers)
    return runtime.plain_field(name_key(index.name_ids[atom.name]), leaf, missing_ok, atom.matchers)


def _plain_test(seeded: frozenset[int], index: Index) -> str:
    """Source of "the memo ``m`` is plain" (see :class:`_Fast`)."""
    names = {name_key(i) for i in index.name_ids.values()}
    tests = [f"((x := m[{k}]) is MISSING or type(x) in SCALARS)" if k in names else f"m[{k}] is not UNSET"
             for k in sorted(seeded, reverse=True)]
    return " and ".join(tests) or "True"


def _inline_leaf(w: Writer, matchers: tuple[ir.Matcher, ...], x: str) -> str | None:
    """The per-value test of common matchers on ``x`` (a plain scalar, never MISSING) as source.

    The same verdicts as ``runtime.matcher_leaf`` on plain scalars, the only values
    that reach it (an exact-type str equals a str and no other scalar).  None: call the leaf.
    """
    if any(isinstance(m, ir.MExists) for m in matchers):
        return None
    exact = [m.value for m in matchers if isinstance(m, ir.MExact) and isinstance(m.value, str)
             and ip_value(m.value) is None]
    tests: list[str] = []
    if len(exact) > 1:
        tests.append(f"{x} in {w.const(frozenset(exact), 'XSET')}")
    elif exact:
        tests.append(f"{x} == {exact[0]!r}")
    for m in matchers:
        if isinstance(m, ir.MExact) and isinstance(m.value, str) and ip_value(m.value) is None:
            continue
        if isinstance(m, (ir.MPrefix, ir.MSuffix)) and not m.ignore_case:
            method = "startswith" if isinstance(m, ir.MPrefix) else "endswith"
            tests.append(f"(type({x}) is str and {x}.{method}({m.value!r}))")
        else:
            return None
    return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"


def _keys(f: FPattern, index: Index) -> tuple[tuple[int, str], ...]:
    return tuple((name_key(index.name_ids[name]), name) for name in f.names)


def _closure(f: Formula, fns: dict[int, runtime.Pred], index: Index) -> runtime.Pred:
    """The same check as :func:`_formula_source`, as nested closures (for formulas too deep for source)."""
    if isinstance(f, FAtom):
        return fns[f.pid]
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
