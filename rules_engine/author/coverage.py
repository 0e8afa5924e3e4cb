"""Coverage of rule unit tests: which rules, targets and conditions some test exercised.

Position in the pipeline::

    RuleSetIR ──**conditions**──▶ [Condition] ;  test events ──**Coverage.add**──▶ hit counts ──▶ report

A *condition* is a part of a filter that a test can make true on its own:

  * in an EventBridge pattern, each field test (``detail.state``) and each
    alternative of each ``$or``;
  * in an expression, each branch of an ``or`` and each conjunct of an
    ``and`` (recursively; quantifier bodies count as one, with their quantifier);
  * a ``cel`` filter as a whole (exercised when its rule matched).

A condition is exercised when it holds for at least one test event, judged by
the reference evaluator (the slow, obviously correct one).  A rule is
exercised when some test event matched it; a target when some test event
produced a decision for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rules_engine.author.exprs import expr_text
from rules_engine.expressions.evaluate import truth
from rules_engine.model import ir
from rules_engine.patterns.evaluate import match_pattern


@dataclass(frozen=True, slots=True)
class Condition:
    rule: str
    label: str  # "match detail.state", "match $or[2]", "when data.total > 1000"
    node: Any  # ir.PatternField, ir.PatternAnd (an $or alternative), an expression, or ir.Cel
    line: int


def _pattern_conditions(rule: ir.Rule, node: ir.PatternAnd, where: str, out: list[Condition]) -> None:
    for f in node.fields:
        out.append(Condition(rule.name, f"match {where}{'.'.join(f.path)}", f, f.span.line))
    for g, group in enumerate(node.ors):
        for i, alt in enumerate(group.alternatives, 1):
            here = f"$or[{i}]" if len(node.ors) == 1 else f"$or#{g + 1}[{i}]"
            out.append(Condition(rule.name, f"match {where}{here}", alt, alt.span.line))
            _pattern_conditions(rule, alt, f"{where}{here} ", out)


def _expr_conditions(rule: ir.Rule, e: ir.Expr, out: list[Condition], line: int) -> None:
    if isinstance(e, (ir.And, ir.Or)) and len(e.items) > 1:
        for item in e.items:
            out.append(Condition(rule.name, f"when {expr_text(item)}", item, item.span.line or line))
            _expr_conditions(rule, item, out, line)
    elif isinstance(e, ir.Unary) and e.op == "not":
        _expr_conditions(rule, e.operand, out, line)


def conditions(rs: ir.RuleSetIR) -> list[Condition]:
    """Every condition of every enabled rule, in rule order."""
    out: list[Condition] = []
    for r in rs.rules:
        if not r.enabled:
            continue
        for f in r.filters:
            if isinstance(f.node, ir.EventPattern):
                _pattern_conditions(r, f.node.root, "", out)
            elif f.kind == "cel":
                out.append(Condition(r.name, "cel filter", f.node, f.span.line))
            elif isinstance(f.node, (ir.Cesql, ir.SubscriptionFilter)):
                out.append(Condition(r.name, f"{f.kind} filter", f.node, f.span.line))
            else:
                out.append(Condition(r.name, f"when {expr_text(f.node)}", f.node, f.span.line))
                _expr_conditions(r, f.node, out, f.span.line)
    return out


def _holds(c: Condition, event: Any, matched: set[str]) -> bool:
    if isinstance(c.node, (ir.Cel, ir.Cesql, ir.SubscriptionFilter)):
        return c.rule in matched
    if isinstance(c.node, ir.PatternField):
        return match_pattern(ir.EventPattern(ir.PatternAnd((c.node,))), event)
    if isinstance(c.node, ir.PatternAnd):
        return match_pattern(ir.EventPattern(c.node), event)
    return truth(c.node, event)


@dataclass
class Coverage:
    """Hit counts over one rule set, filled test event by test event."""

    rs: ir.RuleSetIR
    conds: list[Condition] = field(default_factory=list)
    rules: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    hits: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conds = conditions(self.rs)
        self.rules = {r.name: 0 for r in self.rs.rules if r.enabled}
        self.targets = {t.name: 0 for t in self.rs.targets}
        self.hits = [0] * len(self.conds)

    def add(self, event: Any, matched: list[str], targets: list[str]) -> None:
        for name in matched:
            if name in self.rules:
                self.rules[name] += 1
        for name in targets:
            if name in self.targets:
                self.targets[name] += 1
        done = set(matched)
        if not isinstance(event, dict):
            return
        for i, c in enumerate(self.conds):
            if _holds(c, event, done):
                self.hits[i] += 1

    def summary(self) -> dict[str, Any]:
        def part(total: int, hit: int) -> dict[str, Any]:
            return {"covered": hit, "total": total, "percent": round(100.0 * hit / total, 1) if total else 100.0}

        rules_hit = sum(1 for v in self.rules.values() if v)
        targets_hit = sum(1 for v in self.targets.values() if v)
        conds_hit = sum(1 for v in self.hits if v)
        total = len(self.rules) + len(self.targets) + len(self.conds)
        hit = rules_hit + targets_hit + conds_hit
        return {
            "rules": part(len(self.rules), rules_hit),
            "targets": part(len(self.targets), targets_hit),
            "conditions": part(len(self.conds), conds_hit),
            "total": part(total, hit),
            "missed": {
                "rules": [n for n, v in self.rules.items() if not v],
                "targets": [n for n, v in self.targets.items() if not v],
                "conditions": [{"rule": c.rule, "condition": c.label, "line": c.line}
                               for c, v in zip(self.conds, self.hits, strict=True) if not v],
            },
        }


__all__ = ["Condition", "Coverage", "conditions"]
