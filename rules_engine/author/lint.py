"""Static analysis of a rule set (``rules-engine lint``): shadowed, unsatisfiable, overlapping rules.

Position in the pipeline::

    RuleSetIR ──**conditions (DNF)**──▶ containment / witness search ──verify with RuleSet.match──▶ W401..W404

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
  * **overlap** (W403): two rules with identical filters, or two
    ``on_match: stop`` rules (first match wins, so their order decides) that
    some event matches both of.
  * **redundant condition** (W404): a condition implied by another one on the
    same field of the same rule.

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


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _expr_cond(e: ir.Expr) -> Cond:
    """A comparison as a condition on one field, or an opaque condition."""
    text = expr_text(e)
    m: tuple[ir.Matcher, ...] | None = None
    path: tuple[str, ...] | None = None
    if isinstance(e, ir.Compare):
        op: str = e.op
        left, right = e.left, e.right
        if _event_path(left) is None and _event_path(right) is not None:
            op, left, right = _FLIP[op], right, left
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


def _witnesses(branch: Branch) -> tuple[list[dict[str, Any]], bool]:
    """Events that satisfy every condition of ``branch`` (a few), and whether "none" is a proof."""
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
        base = _candidates(conds)
        if sum(c.array_ok for c in conds) > 1:
            base = base + [[a, b] for a, b in itertools.combinations(
                [v for v in base if v is not _ABSENT and not isinstance(v, dict)], 2)][:400]
        good = [v for v in base if all(c.holds(_event_at(p, v)) for c in conds)]
        if not good:
            return [], True  # these conditions read this field alone, and the candidates are complete for them
        options.append(good[:4])
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
        text = _CEL_LITERAL.sub(lambda m: " ", node.source)
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
    """Every finding about ``rs`` (W401..W404), each example checked with the compiled engine."""
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
    for i, later in enumerate(order):
        for earlier in order[:i]:
            _pair(rs, earlier, later, dnf, sat, diags, unknown)
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


def _pair(rs: ir.RuleSetIR, a: ir.Rule, b: ir.Rule, dnf: dict[str, list[Branch] | None],
          sat: dict[str, list[dict[str, Any]]], diags: list[Diagnostic], unknown: list[str]) -> None:
    """``a`` runs before ``b``."""
    ba, bb = dnf[a.name], dnf[b.name]
    if ba is None or bb is None or not sat.get(b.name) or not sat.get(a.name):
        return
    whole = RuleSet(rs, version="lint")
    if a.on_match == "stop" and a.filters and all(any(_branch_contains(x, y) for x in ba) for y in bb):
        for event in sat[b.name]:
            got = whole.match(event)
            if a.name in _alone(rs, a).match(event) and b.name not in got and a.name in got:
                diags.append(codes.LINT_SHADOWED.at(b.span, [_example(event)], name=b.name, by=a.name))
                return
    identical = a.filters == b.filters and bool(a.filters)
    if identical or (a.on_match == "stop" and b.on_match == "stop"):
        for x, y in itertools.product(ba, bb):
            found, _ = _witnesses(x + y)
            both = _alone(rs, a, b)
            for event in found:
                if {a.name, b.name} <= set(both.match(event)):
                    why = ("have identical filters" if identical
                           else "both stop at the first match, so their order decides")
                    diags.append(codes.LINT_OVERLAP.at(b.span, [_example(event)], a=a.name, b=b.name, why=why))
                    return
