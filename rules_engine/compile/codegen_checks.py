"""Compile stage 4, second half of ``match``: the checks of candidate rules.

Position in the pipeline::

    Normalised (each rule's ``verify`` formula) ──**build_checks**──▶ VER[r](ev, m), FAST[r](m)

A candidate rule whose anchor does not decide it alone is checked over the
per-event memo ``m`` (each predicate evaluated at most once per event): by
generated source (``_v<r>``), by closures when the formula is too deep for
source, or, on a *plain* event, by a cheaper fast check (``_w<r>``, see
:class:`_Fast`).  Each generated check is preceded by a comment naming the
rule and its conditions.  The predicates are closures from ``runtime.py``;
the fallbacks to cel-python and to the reference evaluator are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rules_engine.compile import runtime
from rules_engine.compile.codegen_probes import key_prefix, name_key, path_key
from rules_engine.compile.describe import describe_pattern
from rules_engine.compile.emit import Lines, Writer
from rules_engine.compile.formula import FAnd, FAtom, FConst, FieldAtom, FNot, Formula, FPattern, OpaqueAtom, ValueAtom
from rules_engine.compile.index import Index
from rules_engine.compile.normalize import Normalised
from rules_engine.expressions.render import render_expr
from rules_engine.model import ir
from rules_engine.patterns.operands import ip_value

MAX_SOURCE_DEPTH = 40
"""Formulas nested deeper than this are checked by closures (the Python parser limits nesting)."""


MANY_RULES = 1000
"""Above this many rules, a rule with a fast check (:class:`_Fast`) gets its general check as closures:
events that are not plain are rare there, and compiling source for both costs ~40% more compile time."""


@dataclass(slots=True)
class Checks:
    """The checks of every rule (by ordinal) and the source of the generated ones.

    ``verifiers[r]``/``fast[r]``: None (no check), a closure, or the name of a
    function in ``parts`` (resolved once the source is loaded).
    """

    verifiers: list[Any]
    fast: list[Any]
    parts: list[str]
    seeded: frozenset[int]  # memo keys match always seeds
    generated: int = 0  # rules checked by generated code
    closures: int = 0  # rules checked by closures (deep formulas)
    cel_fallbacks: int = 0
    expr_fallbacks: int = 0


def _predicates(w: Writer, n: Normalised, index: Index, got: tuple[Callable[[Any], bool] | None, ...],
                out: Checks) -> tuple[dict[int, str], dict[int, runtime.Pred]]:
    """One predicate (a closure over the memo) per atom, bound as a constant ``P<n>``."""
    preds: dict[int, str] = {}
    fns: dict[int, runtime.Pred] = {}
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
                out.cel_fallbacks += fallback
            elif atom.kind == "cesql":
                fn = runtime.cesql_pred(atom.text)
            else:
                assert isinstance(atom, OpaqueAtom) and atom.node is not None
                fn, fallback = runtime.expr_pred(atom.node)
                out.expr_fallbacks += fallback
            if shared is not None:
                fn = runtime.memoised(pid, fn)
        fns[pid] = fn
        preds[pid] = w.const(fn, "P")
    return preds, fns


def build_checks(w: Writer, n: Normalised, index: Index, rules: int,
                 got: tuple[Callable[[Any], bool] | None, ...]) -> Checks:
    """The predicates, then each candidate rule's check (of ``rules`` rules in all) and fast check."""
    out = Checks([None] * rules, [None] * rules, [], _seeded_keys(index))
    preds, fns = _predicates(w, n, index, got, out)
    verifiers, fast, parts = out.verifiers, out.fast, out.parts
    many = rules > MANY_RULES
    for r in n.rules:
        if r.verify is None or r.anchors == ():
            continue
        single = _single_field(r.verify, n, index, got)
        quick = None if single else _Fast(w, n, index, got, out.seeded).source(r.verify)
        if single is not None:  # one field test: a closure, no source to compile
            fast[r.ordinal] = single
        elif quick is not None:
            parts.append(f"{_rule_comment(r.rule)}def _w{r.ordinal}(m):\n    return {quick}\n")
            fast[r.ordinal] = f"_w{r.ordinal}"
        if isinstance(r.verify, FAtom):  # one atom left to check: its predicate is the check
            verifiers[r.ordinal] = fns[r.verify.pid]
            out.generated += 1
            continue
        src = None if (many and fast[r.ordinal] is not None) else _formula_source(r.verify, w, preds, index)
        if src is None:
            verifiers[r.ordinal] = _closure(r.verify, fns, index)
            if fast[r.ordinal] is None:
                out.closures += 1
            else:
                out.generated += 1
            continue
        parts.append(f"{_rule_comment(r.rule)}def _v{r.ordinal}(ev, m):\n    return {src}\n")
        verifiers[r.ordinal] = f"_v{r.ordinal}"
        out.generated += 1
    return out


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
        prefix = key_prefix(path)
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


def plain_test(seeded: frozenset[int], index: Index) -> str:
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
