"""Static analysis of a rule set (``rules-engine lint``): shadowed, unsatisfiable, overlapping, correlated rules.

Position in the pipeline::

    RuleSetIR ──**conditions (DNF)**──▶ containment / witness search ──verify with RuleSet.match──▶ W401..W406

Each enabled rule becomes a disjunction of branches, each branch a conjunction
of *conditions*: one field and the matchers one of its values must satisfy
(EventBridge patterns as written; the comparison part of expressions mapped to
the same matchers: ``x == 1`` exact, ``x > 3`` numeric, ``x in [..]`` exact
values, ``not in`` / ``!=`` anything-but, ``starts with`` prefix, ``exists``).
Everything else (CEL, regular expressions, ``like``, arithmetic, functions,
quantifiers, field-to-field comparisons) is an *opaque* condition, judged only
by evaluating it.

  * **unsatisfiable** (W402): a branch whose decidable conditions on one field
    admit no value.  The candidate values of a field are complete for these
    matchers (every constant, its neighbours, the midpoints between numeric
    bounds, prefix + suffix joins, other types), so "no candidate" is a proof;
    with opaque conditions a seeded search over the fields and constants they
    mention looks for an example; found, the rule is satisfiable (and lint says
    the example was searched, not derived); not found, we say "unknown", never guess.
  * **shadowed** (W401): an earlier ``on_match: stop`` rule that matches every
    event a later rule matches: every branch of the later rule contains, field
    by field, all the conditions of some branch of the earlier one (matcher
    implication; an expression's scalar test never covers a pattern's
    any-array-element test).  Opaque conditions count only when identical.
  * **overlap** (W403): two rules with identical filters, or two rules that
    both fire on some event and route to targets that look exclusive
    (:func:`exclusive_targets`: two destinations of one broker connection, or
    names that declare alternatives such as ``-primary`` / ``-backup``).
  * **redundant condition** (W404): a condition implied by another one on the
    same field of the same rule.
  * **correlated** (W405): an earlier ``on_match: stop`` rule of equal priority
    and a later rule with different targets overlap partially (an event in the
    intersection, and one outside each rule, all found and checked), so the
    file order decides (Al-Shaer and Hamed's correlation anomaly).
  * **generalisation** (W406, informational): an earlier ``stop`` rule strictly
    inside a later rule with different targets: an exception of the later one.

A pair of rules gets at most one finding.  Intersections reached only through
an array (one element per rule) are not reported for W403/W405/W406.

Every example event in a finding is checked with the compiled engine
(:class:`~rules_engine.ruleset.RuleSet`) before it is reported; a claim whose
example cannot be built and checked is dropped.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from rules_engine.author.exprs import expr_text
from rules_engine.author.pattern_text import Inexpressible, pattern_value
from rules_engine.expressions.evaluate import truth
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.patterns.evaluate import match_pattern, value_matches
from rules_engine.reference import filter_holds
from rules_engine.ruleset import RuleSet

MAX_BRANCHES = 64
MAX_COMBINATIONS = 256
SEARCH_TRIES = 2000
_ABSENT = object()


@dataclass(frozen=True)
class Cond:
    """One condition of a branch.  ``matchers`` None: opaque (``node`` is evaluated as it is)."""

    path: tuple[str, ...]
    matchers: tuple[ir.Matcher, ...] | None
    array_ok: bool  # pattern semantics: any element of an array may satisfy it
    text: str
    node: Any
    span: Any

    def holds(self, event: Any) -> bool:
        if self.matchers is not None and self.array_ok:
            return match_pattern(ir.EventPattern(ir.PatternAnd((ir.PatternField(self.path, self.matchers),))), event)
        if isinstance(self.node, ir.Filter):  # a CESQL or Knative filter, as the reference runs it
            return filter_holds(self.node, event)
        return truth(self.node, event)  # an expression (a CEL node too: truth evaluates CEL as CEL)


Branch = tuple[Cond, ...]


# --- rules -> branches -----------------------------------------------------------------------------


def _pattern_branches(node: ir.PatternAnd) -> list[Branch]:
    base = tuple(Cond(f.path, f.matchers, True, f"{'.'.join(f.path)} matches {_show_matchers(f.matchers)}", f, f.span)
                 for f in node.fields)
    out: list[Branch] = [base]
    for group in node.ors:
        alts = [b for alt in group.alternatives for b in _pattern_branches(alt)]
        out = [x + y for x in out for y in alts]
        if len(out) > MAX_BRANCHES:
            raise _TooMany
    return out


class _TooMany(Exception):
    pass


def _literal(e: ir.Expr) -> tuple[bool, Any]:
    if isinstance(e, ir.Literal):
        return True, e.value
    if isinstance(e, ir.Unary) and e.op == "-" and isinstance(e.operand, ir.Literal) and isinstance(
            e.operand.value, (int, float)) and not isinstance(e.operand.value, bool):
        return True, -e.operand.value
    return False, None


def _event_path(e: ir.Expr) -> tuple[str, ...] | None:
    if isinstance(e, ir.Field) and e.var is None and e.path and all(isinstance(k, str) for k in e.path):
        return tuple(str(k) for k in e.path)
    return None


def _expr_cond(e: ir.Expr) -> Cond:
    """A comparison as a condition on one field, or an opaque condition."""
    text = expr_text(e)
    m: tuple[ir.Matcher, ...] | None = None
    path: tuple[str, ...] | None = None
    if isinstance(e, ir.Compare):
        op: str = e.op
        left, right = e.left, e.right
        if _event_path(left) is None and _event_path(right) is not None:
            op, left, right = ir.MIRRORED[op], right, left
        path = _event_path(left)
        ok, v = _literal(right)
        if path is not None and ok:
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            if op == "==" and (v is None or isinstance(v, (str, bool)) or number):
                m = (ir.MExact(v),)
            elif op == "!=" and (isinstance(v, str) or number):
                m = (ir.MAnythingBut((ir.MExact(v),)),)
            elif op in ("<", "<=", ">", ">=") and number:
                m = (ir.MNumeric(((op, float(v)),)),)
    elif isinstance(e, ir.In) and isinstance(e.collection, ir.ListExpr):
        path = _event_path(e.item)
        vals = [_literal(x) for x in e.collection.items]
        if path is not None and vals and all(ok for ok, _ in vals):
            values = [v for _, v in vals]
            if not e.negated:
                m = tuple(ir.MExact(v) for v in values)
            elif all(isinstance(v, str) for v in values) or all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                m = (ir.MAnythingBut(tuple(ir.MExact(v) for v in values)),)
    elif isinstance(e, ir.Exists):
        path = _event_path(e.field)
        m = (ir.MExists(True),) if path is not None else None
    elif isinstance(e, ir.Unary) and e.op == "not" and isinstance(e.operand, ir.Exists):
        path = _event_path(e.operand.field)
        m = (ir.MExists(False),) if path is not None else None
    elif isinstance(e, ir.StringTest) and e.op in ("starts_with", "ends_with", "equals_ignore_case"):
        path = _event_path(e.left)
        ok, v = _literal(e.right)
        if path is not None and ok and isinstance(v, str) and (v or e.op == "equals_ignore_case"):
            m = ((ir.MPrefix(v),) if e.op == "starts_with" else (ir.MSuffix(v),) if e.op == "ends_with"
                 else (ir.MEqualsIgnoreCase(v),))
    elif isinstance(e, ir.CidrTest) and not e.negated:
        path = _event_path(e.item)
        m = (ir.MCidr(e.network),) if path is not None else None
    if m is None or path is None:
        return Cond((), None, False, text, e, e.span)
    return Cond(path, m, False, text, e, e.span)


def _expr_branches(e: ir.Expr) -> list[Branch]:
    if isinstance(e, ir.And):
        out: list[Branch] = [()]
        for item in e.items:
            out = [x + y for x in out for y in _expr_branches(item)]
            if len(out) > MAX_BRANCHES:
                raise _TooMany
        return out
    if isinstance(e, ir.Or) and e.items:
        out = [b for item in e.items for b in _expr_branches(item)]
        if len(out) > MAX_BRANCHES:
            raise _TooMany
        return out
    return [(_expr_cond(e),)]


def branches(rule: ir.Rule) -> list[Branch] | None:
    """The rule's filters as a disjunction of conjunctions (None when it expands too far)."""
    out: list[Branch] = [()]
    try:
        for f in rule.filters:
            if isinstance(f.node, ir.EventPattern):
                parts = _pattern_branches(f.node.root)
            elif f.kind == "cel":
                assert isinstance(f.node, ir.Cel)
                parts = [(Cond((), None, False, f"cel {f.node.source}", f.node, f.span),)]
            elif isinstance(f.node, ir.Cesql):
                parts = [(Cond((), None, False, f"cesql {f.node.source}", f, f.span),)]
            elif isinstance(f.node, ir.SubscriptionFilter):
                parts = [(Cond((), None, False, "Knative filters", f, f.span),)]
            else:
                parts = _expr_branches(f.node)
            out = [x + y for x in out for y in parts]
            if len(out) > MAX_BRANCHES:
                return None
    except (_TooMany, RecursionError):
        return None
    return out


# --- implication --------------------------------------------------------------------------------------


def _interval(m: ir.MNumeric) -> tuple[float, bool, float, bool]:
    lo, lo_in, hi, hi_in = float("-inf"), False, float("inf"), False
    for op, v in m.conditions:
        if op in (">", ">=") and (v > lo or v == lo and op == ">"):
            lo, lo_in = v, op == ">="
        elif op in ("<", "<=") and (v < hi or v == hi and op == "<"):
            hi, hi_in = v, op == "<="
        elif op == "=":
            lo, lo_in, hi, hi_in = v, True, v, True
    return lo, lo_in, hi, hi_in


def _matcher_implies(b: ir.Matcher, a: ir.Matcher) -> bool:
    """Every single value ``b`` accepts, ``a`` accepts too."""
    if b == a:
        return True
    if isinstance(a, ir.MExists):
        return a.present and not isinstance(b, ir.MExists) or isinstance(b, ir.MExists) and b.present == a.present
    if isinstance(b, ir.MExact):
        return value_matches(a, b.value)
    if isinstance(b, ir.MNumeric) and isinstance(a, ir.MNumeric):
        blo, blo_in, bhi, bhi_in = _interval(b)
        alo, alo_in, ahi, ahi_in = _interval(a)
        low_ok = blo > alo or blo == alo and (alo_in or not blo_in)
        high_ok = bhi < ahi or bhi == ahi and (ahi_in or not bhi_in)
        return low_ok and high_ok
    if isinstance(b, ir.MPrefix) and isinstance(a, ir.MPrefix) and not a.ignore_case and not b.ignore_case:
        return b.value.startswith(a.value)
    if isinstance(b, ir.MSuffix) and isinstance(a, ir.MSuffix) and not a.ignore_case and not b.ignore_case:
        return b.value.endswith(a.value)
    if isinstance(b, ir.MCidr) and isinstance(a, ir.MCidr):
        try:
            nb, na = ipaddress.ip_network(b.network, strict=False), ipaddress.ip_network(a.network, strict=False)
            return nb.version == na.version and nb.subnet_of(na)  # type: ignore[arg-type]
        except ValueError:
            return False
    if isinstance(a, ir.MAnythingBut) and all(isinstance(x, ir.MExact) for x in a.inner):
        excluded = [x.value for x in a.inner if isinstance(x, ir.MExact)]
        if isinstance(b, (ir.MPrefix, ir.MSuffix)) and not b.ignore_case:
            return not any(isinstance(v, str) and (v.startswith(b.value) if isinstance(b, ir.MPrefix)
                                                   else v.endswith(b.value)) for v in excluded)
        if isinstance(b, ir.MNumeric):
            lo, lo_in, hi, hi_in = _interval(b)
            return not any(isinstance(v, (int, float)) and (lo < v < hi or v == lo and lo_in or v == hi and hi_in)
                           for v in excluded)
    return False


def _cond_implies(b: Cond, a: Cond) -> bool:
    if b.node == a.node and b.path == a.path and b.array_ok == a.array_ok:
        return True
    if a.matchers is None or b.matchers is None or a.path != b.path:
        return False
    if b.array_ok and not a.array_ok:
        return False  # b may hold on one element of an array, where a's scalar test fails
    if any(isinstance(m, ir.MExists) and not m.present for m in a.matchers) and b.array_ok != a.array_ok:
        return False
    return all(any(_matcher_implies(mb, ma) for ma in a.matchers) for mb in b.matchers)


def _branch_contains(outer: Branch, inner: Branch) -> bool:
    """Every event satisfying ``inner`` satisfies ``outer``."""
    return all(any(_cond_implies(c, o) for c in inner) for o in outer)


# --- witness search ------------------------------------------------------------------------------------


def _candidates(conds: list[Cond]) -> list[Any]:
    out: list[Any] = [_ABSENT, "x", 0, True, None, {"x": 1}]
    nums: list[float] = []
    prefixes: list[str] = []
    suffixes: list[str] = []
    for c in conds:
        for m in c.matchers or ():
            inner = m.inner if isinstance(m, ir.MAnythingBut) else (m,)
            for x in inner:
                if isinstance(x, ir.MExact):
                    out.append(x.value)
                    if isinstance(x.value, str):
                        out.extend((x.value + "x", x.value.swapcase()))
                    elif isinstance(x.value, (int, float)) and not isinstance(x.value, bool):
                        nums.append(float(x.value))
                elif isinstance(x, ir.MNumeric):
                    nums.extend(v for _, v in x.conditions)
                elif isinstance(x, ir.MPrefix):
                    prefixes.append(x.value)
                elif isinstance(x, ir.MSuffix):
                    suffixes.append(x.value)
                elif isinstance(x, ir.MEqualsIgnoreCase):
                    out.extend((x.value, x.value.swapcase()))
                elif isinstance(x, ir.MWildcard):
                    out.extend((x.pattern.replace("*", ""), x.pattern.replace("*", "x")))
                elif isinstance(x, ir.MCidr):
                    net = ipaddress.ip_network(x.network, strict=False)
                    out.extend((str(net.network_address), str(net.network_address + 1)))
    for n in nums:
        out.extend((n, n + 1, n - 1, n + 0.5, n - 0.5))
    for a, b in itertools.combinations(sorted(set(nums)), 2):
        out.append((a + b) / 2)
    for p in prefixes + [""]:
        for s in suffixes + [""]:
            out.extend((p + s, p + "x" + s, (p + s).swapcase(), (p + "x" + s).swapcase()))
    out.extend(p + "x" for p in prefixes)
    out.extend("x" + s for s in suffixes)
    uniq: list[Any] = []
    for v in out:
        if not any(type(v) is type(u) and v == u for u in uniq):
            uniq.append(v)
    return [int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v for v in uniq]


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    node = event
    for k in path[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            return False
        node = nxt
    if path[-1] in node:
        return bool(node[path[-1]] == value)
    node[path[-1]] = value
    return True


def _witnesses(branch: Branch, hints: list[Cond] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Events that satisfy every condition of ``branch`` (a few), and whether "none" is a proof.

    ``hints``: conditions whose constants are tried too, without being required (to step outside another rule).
    """
    by_path: dict[tuple[str, ...], list[Cond]] = {}
    opaque = [c for c in branch if c.matchers is None]
    for c in branch:
        if c.matchers is not None:
            by_path.setdefault(c.path, []).append(c)
    paths = sorted(by_path)
    exact = not opaque and not any(p != q and q[: len(p)] == p for p in paths for q in paths)
    options: list[list[Any]] = []
    for p in paths:
        conds = by_path[p]
        base = _candidates(conds + [h for h in hints or () if h.path == p and h.matchers is not None])
        if sum(c.array_ok for c in conds) > 1:
            base = base + [[a, b] for a, b in itertools.combinations(
                [v for v in base if v is not _ABSENT and not isinstance(v, dict)], 2)][:400]
        good = [v for v in base if all(c.holds(_event_at(p, v)) for c in conds)]
        if not good:
            return [], True  # these conditions read this field alone, and the candidates are complete for them
        options.append(good[:8] if hints else good[:4])
    found: list[dict[str, Any]] = []
    for combo in itertools.islice(itertools.product(*options), MAX_COMBINATIONS):
        event: dict[str, Any] = {}
        if not all(v is _ABSENT or _set(event, p, v) for p, v in zip(paths, combo, strict=True)):
            continue
        if all(c.holds(event) for c in branch):
            found.append(event)
            if len(found) >= 3:
                break
    if not found and opaque:
        found = _search(branch, paths, options, opaque)
    return found, exact


# Words of CEL that are no event field (a name followed by "(" is a function or method, not a field).
_CEL_WORDS = frozenset("true false null in".split())
_CEL_PATH = re.compile(r"(?<![\w.\"'])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CEL_LITERAL = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|(?<![\w.])(\d+(?:\.\d+)?)")
_OUTSIDE = ("203.0.113.9", "8.8.8.8", "2001:db8::1")


def _opaque_parts(node: Any, paths: set[tuple[str, ...]], consts: list[Any]) -> None:
    """Event fields and constants an opaque condition mentions (what a searched example should try)."""
    if isinstance(node, ir.Cel):
        text = _CEL_LITERAL.sub(" ", node.source)
        for m in _CEL_PATH.finditer(text):
            parts = m.group().split(".")
            if text[m.end():].lstrip().startswith("("):
                parts = parts[:-1]  # f(x) or x.method(...): the name called is no field
            if parts and parts[0] not in _CEL_WORDS:
                paths.add(tuple(parts))
        for m in _CEL_LITERAL.finditer(node.source):
            if m.group(3) is not None:
                consts.append(float(m.group(3)) if "." in m.group(3) else int(m.group(3)))
            else:
                consts.append(m.group(1) if m.group(1) is not None else m.group(2))
        return
    if isinstance(node, ir.Field) and node.var is None and node.path and all(isinstance(k, str) for k in node.path):
        paths.add(tuple(str(k) for k in node.path))
    elif isinstance(node, ir.Literal):
        consts.append(node.value)
    elif isinstance(node, ir.CidrTest):
        net = ipaddress.ip_network(node.network, strict=False)
        consts.extend((str(net.network_address + 1), *_OUTSIDE))
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            if f.name != "span":
                value = getattr(node, f.name)
                for item in value if isinstance(value, tuple) else (value,):
                    _opaque_parts(item, paths, consts)


def _search(branch: Branch, paths: list[tuple[str, ...]], options: list[list[Any]],
            opaque: list[Cond]) -> list[dict[str, Any]]:
    """A seeded random search for an event that satisfies the opaque conditions too (not a proof either way)."""
    extra: set[tuple[str, ...]] = set()
    consts: list[Any] = []
    for c in opaque:
        _opaque_parts(c.node, extra, consts)
    plain = [v for v in consts if not isinstance(v, (dict, list))]
    values = _candidates([Cond((), (ir.MExact(v),), False, "", None, None) for v in plain])
    all_paths = paths + sorted(p for p in extra if p not in paths)
    choices = options + [values] * (len(all_paths) - len(paths))
    rnd = random.Random(0)

    def pick(c: list[Any]) -> Any:
        # Half the time a constant the condition itself names: those are the values that decide it.
        return rnd.choice(plain) if plain and c is values and rnd.random() < 0.5 else rnd.choice(c)

    for _ in range(SEARCH_TRIES):
        event: dict[str, Any] = {}
        if not all(v is _ABSENT or _set(event, p, v) for p, v in
                   zip(all_paths, (pick(c) for c in choices), strict=True)):
            continue
        if all(c.holds(event) for c in branch):
            return [event]
    return []


def _event_at(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    event: dict[str, Any] = {}
    if value is not _ABSENT:
        _set(event, path, value)
    return event


# --- findings -----------------------------------------------------------------------------------------


def _alone(rs: ir.RuleSetIR, *rules: ir.Rule) -> RuleSet:
    keep = tuple(dataclasses.replace(r, on_match="continue", priority=0, enabled=True) for r in rules)
    return RuleSet(ir.RuleSetIR(rs.targets, keep), version="lint")


def _example(event: dict[str, Any]) -> str:
    return "example event: " + json.dumps(event, ensure_ascii=False, separators=(", ", ": "))


def _show_matchers(ms: tuple[ir.Matcher, ...]) -> str:
    try:
        value = pattern_value(ir.EventPattern(ir.PatternAnd((ir.PatternField(("f",), ms),))))["f"]
    except Inexpressible:
        return "…"
    return json.dumps(value, ensure_ascii=False)


@dataclass
class LintResult:
    diagnostics: list[Diagnostic]
    unknown: list[str]  # rules (or pairs) the analysis could not decide, and why
    searched: list[str] = dataclasses.field(default_factory=list)  # decided only by a searched example


def lint(rs: ir.RuleSetIR) -> LintResult:
    """Every finding about ``rs`` (W401..W406), each example checked with the compiled engine."""
    diags: list[Diagnostic] = []
    unknown: list[str] = []
    searched: list[str] = []
    order = rs.ordered_rules()
    dnf: dict[str, list[Branch] | None] = {r.name: branches(r) for r in order}
    sat: dict[str, list[dict[str, Any]]] = {}
    for r in order:
        bs = dnf[r.name]
        if bs is None:
            unknown.append(f"rule {r.name!r}: its conditions expand to more than {MAX_BRANCHES} branches")
            continue
        events: list[dict[str, Any]] = []
        proofs = True
        for b in bs:
            found, exact = _witnesses(b)
            events.extend(found)
            proofs = proofs and (bool(found) or exact)
        checked = [e for e in events if r.name in _alone(rs, r).match(e)]
        sat[r.name] = checked
        if checked and any(c.matchers is None for b in bs for c in b):
            searched.append(f"rule {r.name!r}: satisfiable, shown by a searched example event "
                            f"({json.dumps(checked[0], ensure_ascii=False)}); its CEL, regular-expression or "
                            "computed parts are not analysed exactly")
        if not checked and r.filters:
            if proofs:
                diags.append(codes.LINT_UNSATISFIABLE.at(r.span, name=r.name, detail=_why_unsat(bs)))
            else:
                unknown.append(f"rule {r.name!r}: no event found that matches it (CEL, regular expressions or "
                               "computed values are not analysed exactly); satisfiability unknown")
        _redundant(r, bs, diags)
    engines = _Engines(rs)
    for i, later in enumerate(order):
        for earlier in order[:i]:
            _pair(engines, earlier, later, dnf, sat, diags)
    return LintResult(diags, unknown, searched)


def _why_unsat(bs: list[Branch]) -> str:
    for b in bs:
        by_path: dict[tuple[str, ...], list[Cond]] = {}
        for c in b:
            if c.matchers is not None:
                by_path.setdefault(c.path, []).append(c)
        for p, conds in by_path.items():
            if not [v for v in _candidates(conds) if all(c.holds(_event_at(p, v)) for c in conds)]:
                return " and ".join(dict.fromkeys(c.text for c in conds)) + " cannot hold together"
    return "no event satisfies all of its conditions"


def _redundant(r: ir.Rule, bs: list[Branch], diags: list[Diagnostic]) -> None:
    if len(bs) != 1:
        return
    (b,) = bs
    for i, c in enumerate(b):
        for j, d in enumerate(b):
            if i != j and c.path and c.path == d.path and c.text != d.text and _cond_implies(d, c) and not (
                    _cond_implies(c, d) and i < j):
                diags.append(codes.LINT_REDUNDANT.at(c.span if getattr(c.span, "line", 0) else r.span,
                                                     name=r.name, cond=c.text, by=d.text))
                break


class _Engines:
    """The compiled engines a pair needs (the whole set, rules alone), each compiled once per lint run."""

    def __init__(self, rs: ir.RuleSetIR) -> None:
        self.rs = rs
        self.whole = RuleSet(rs, version="lint")
        self._alone: dict[tuple[str, ...], RuleSet] = {}

    def alone(self, *rules: ir.Rule) -> RuleSet:
        key = tuple(r.name for r in rules)
        if key not in self._alone:
            self._alone[key] = _alone(self.rs, *rules)
        return self._alone[key]


def _pair(engines: _Engines, a: ir.Rule, b: ir.Rule, dnf: dict[str, list[Branch] | None],
          sat: dict[str, list[dict[str, Any]]], diags: list[Diagnostic]) -> None:
    """``a`` runs before ``b``: at most one finding per pair, the most specific first (W401, W403 identical,
    W406, W405, W403 exclusive targets)."""
    ba, bb = dnf[a.name], dnf[b.name]
    if ba is None or bb is None or not sat.get(b.name) or not sat.get(a.name):
        return
    whole = engines.whole
    a_covers_b = bool(a.filters) and all(any(_branch_contains(x, y) for x in ba) for y in bb)
    if a.on_match == "stop" and a_covers_b:
        for event in sat[b.name]:
            got = whole.match(event)
            if a.name in engines.alone(a).match(event) and b.name not in got and a.name in got:
                diags.append(codes.LINT_SHADOWED.at(b.span, [_example(event)], name=b.name, by=a.name))
                return
    identical = a.filters == b.filters and bool(a.filters)
    b_covers_a = bool(b.filters) and all(any(_branch_contains(y, x) for y in bb) for x in ba)
    # An explicit higher priority declares the order: only a tie broken by file position is a correlation.
    ordered = a.on_match == "stop" and _routes(a) != _routes(b) and (b_covers_a or a.priority == b.priority)
    exclusive = None if ordered or identical else _exclusive(engines.rs, a, b)
    if not (identical or ordered or exclusive):
        return  # nothing to report about this pair, whatever they share: skip the search
    common = _common(ba, bb, engines.alone(a, b), a.name, b.name)
    if not common:
        return
    if identical:
        diags.append(codes.LINT_OVERLAP.at(b.span, [_example(common[0])], a=a.name, b=b.name,
                                           why="have identical filters"))
        return
    if ordered:
        # The order decides where the intersection goes: an exception (a inside b) or a correlation.
        decided = [e for e in common if a.name in (got := whole.match(e)) and b.name not in got]
        if not decided:
            return
        a_alone, b_alone = engines.alone(a), engines.alone(b)
        only_b = _outside(bb, ba, b_alone, a_alone, b.name, a.name)
        if b_covers_a and only_b:
            diags.append(codes.LINT_GENERALISATION.at(a.span, [
                _example(decided[0]) + f" (goes to {a.name!r} only)",
                _example(only_b[0]).replace("example event", f"an event only {b.name!r} matches", 1)],
                a=a.name, b=b.name))
            return
        only_a = _outside(ba, bb, a_alone, b_alone, a.name, b.name)
        if only_a and only_b and a.priority == b.priority:
            diags.append(codes.LINT_CORRELATED.at(b.span, [
                _example(decided[0]) + f" (matches both, goes to {a.name!r} only)",
                _example(only_a[0]).replace("example event", f"an event only {a.name!r} matches", 1),
                _example(only_b[0]).replace("example event", f"an event only {b.name!r} matches", 1)],
                a=a.name, b=b.name))
        return
    fired = [e for e in common if {a.name, b.name} <= set(whole.match(e))]
    if fired:
        diags.append(codes.LINT_OVERLAP.at(b.span, [_example(fired[0])], a=a.name, b=b.name, why=exclusive))


def _common(ba: list[Branch], bb: list[Branch], both: RuleSet, a: str, b: str) -> list[dict[str, Any]]:
    """Events both rules match (each checked with the engine)."""
    out: list[dict[str, Any]] = []
    for x, y in itertools.product(ba, bb):
        found, _ = _witnesses(x + y)
        out.extend(e for e in found if _scalar(e) and {a, b} <= set(both.match(e)))
        if out:
            break
    return out


def _scalar(value: Any) -> bool:
    """No array in the event: an intersection reached only through an array (one element per rule) is
    not what these findings are about, and a `type` field holding two values would make a poor example."""
    if isinstance(value, dict):
        return all(_scalar(v) for v in value.values())
    return not isinstance(value, list)


def _outside(inside: list[Branch], other: list[Branch], inside_rs: RuleSet, other_rs: RuleSet,
             name: str, other_name: str) -> list[dict[str, Any]]:
    """Events rule ``name`` matches and rule ``other_name`` does not (searched with the other's constants)."""
    hints = [c for b in other for c in b]
    for y in inside:
        found, _ = _witnesses(y, hints)
        hit = [e for e in found if name in inside_rs.match(e) and other_name not in other_rs.match(e)]
        if hit:
            return hit
    return []


def _routes(r: ir.Rule) -> tuple[frozenset[str], Any]:
    return frozenset(t.name for t in r.targets), r.transform


# Within one broker connection, the option that names the destination (queue, subject ...).  Two targets
# equal but for one of these are two destinations of one broker: work split between them, not fan-out.
DESTINATION_KEYS = frozenset({"queue", "subject", "topic", "stream", "routing_key", "key", "channel"})
# Name words that declare targets alternatives of one another (one of a pair takes over from the other).
ALTERNATIVES = (frozenset({"primary", "secondary"}), frozenset({"primary", "backup"}),
                frozenset({"primary", "fallback"}), frozenset({"primary", "standby"}),
                frozenset({"active", "standby"}), frozenset({"active", "passive"}), frozenset({"blue", "green"}))
_WORD = re.compile(r"[-_.]")


def exclusive_targets(t: ir.Target, u: ir.Target) -> str | None:
    """Why targets ``t`` and ``u`` look exclusive (an event should reach one of them), or None."""
    if t.name == u.name:
        return None
    tw, uw = _WORD.split(t.name.lower()), _WORD.split(u.name.lower())
    if len(tw) == len(uw):
        diff = [(x, y) for x, y in zip(tw, uw, strict=True) if x != y]
        if len(diff) == 1 and frozenset(diff[0]) in ALTERNATIVES:
            return f"their names declare them alternatives ({diff[0][0]}/{diff[0][1]})"
    if t.type == u.type and t.transform == u.transform and t.partition_key == u.partition_key:
        to, uo = ir.thaw(t.options), ir.thaw(u.options)
        if to.keys() == uo.keys():
            diff_keys = [k for k in to if to[k] != uo[k]]
            if len(diff_keys) == 1 and diff_keys[0] in DESTINATION_KEYS:
                return (f"they are two {diff_keys[0]}s of one {t.type} connection "
                        f"({to[diff_keys[0]]} and {uo[diff_keys[0]]})")
    return None


def _exclusive(rs: ir.RuleSetIR, a: ir.Rule, b: ir.Rule) -> str | None:
    targets = {t.name: t for t in rs.targets}
    for x, y in itertools.product(a.targets, b.targets):
        if x.name in targets and y.name in targets:
            why = exclusive_targets(targets[x.name], targets[y.name])
            if why is not None:
                return f"route to {x.name!r} and {y.name!r}, which look exclusive: {why}"
    return None
