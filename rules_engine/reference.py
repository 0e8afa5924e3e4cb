"""The reference evaluator: plain, obviously correct evaluation of the IR.

Position in the pipeline::

    RuleSetIR + event ──**reference**──▶ matched rules (and why)

This is the oracle that the compiled engine is tested against, kept forever.
It is deliberately simple: each enabled rule, in evaluation order (priority
descending, then file order), has each of its filters evaluated by the
per-kind reference evaluators; a matching rule with ``on_match: stop`` ends
the walk.  Nothing here is cached or indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules_engine.cel.evaluate import cel_truth, explain_cel
from rules_engine.cesql.subscriptions import cesql_holds, explain_cesql, explain_subscription, subscription_holds
from rules_engine.expressions.evaluate import truth
from rules_engine.expressions.explain import explain_expr
from rules_engine.model import ir
from rules_engine.patterns.evaluate import explain_pattern, match_pattern


def filter_holds(f: ir.Filter, event: Any) -> bool:
    if f.kind == "match":
        assert isinstance(f.node, ir.EventPattern)
        return match_pattern(f.node, event)
    if f.kind == "cel":
        assert isinstance(f.node, ir.Cel)
        return cel_truth(f.node.source, event)
    if f.kind == "cesql":
        assert isinstance(f.node, ir.Cesql)
        return cesql_holds(f.node.source, event)
    if f.kind == "filters":
        assert isinstance(f.node, ir.SubscriptionFilter)
        return subscription_holds(f.node, event)
    assert not isinstance(f.node, (ir.EventPattern, ir.Cesql, ir.SubscriptionFilter))
    return truth(f.node, event)


def explain_filter(f: ir.Filter, event: Any) -> str | None:
    """None when the filter holds; else why not, with the value seen."""
    if f.kind == "match":
        assert isinstance(f.node, ir.EventPattern)
        return explain_pattern(f.node, event)
    if f.kind == "cel":
        assert isinstance(f.node, ir.Cel)
        return explain_cel(f.node.source, event)
    if f.kind == "cesql":
        assert isinstance(f.node, ir.Cesql)
        return explain_cesql(f.node.source, event)
    if f.kind == "filters":
        assert isinstance(f.node, ir.SubscriptionFilter)
        return explain_subscription(f.node, event)
    assert not isinstance(f.node, (ir.EventPattern, ir.Cesql, ir.SubscriptionFilter))
    return explain_expr(f.node, event)


def rule_matches(rule: ir.Rule, event: Any) -> bool:
    return all(filter_holds(f, event) for f in rule.filters)


def matching_rules(rs: ir.RuleSetIR, event: Any) -> list[ir.Rule]:
    """Matched enabled rules in evaluation order; stops after a matched ``on_match: stop`` rule."""
    out: list[ir.Rule] = []
    for rule in rs.ordered_rules():
        if rule_matches(rule, event):
            out.append(rule)
            if rule.on_match == "stop":
                break
    return out


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """Why one rule did or did not match one event."""

    rule: str
    matched: bool
    reason: str | None  # the first failing condition; None when matched or not evaluated
    targets: tuple[str, ...]
    file: str
    line: int
    status: str  # "matched", "no match", "disabled", "not evaluated" (an earlier rule stopped)
    stopped_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule, "status": self.status, "matched": self.matched,
                             "targets": list(self.targets), "file": self.file, "line": self.line}
        if self.reason is not None:
            d["reason"] = self.reason
        if self.stopped_by is not None:
            d["stopped_by"] = self.stopped_by
        return d


def explain(rs: ir.RuleSetIR, event: Any) -> list[RuleVerdict]:
    """A verdict for every rule, enabled ones in evaluation order, then disabled ones."""
    out: list[RuleVerdict] = []
    stopped: str | None = None
    for rule in rs.ordered_rules():
        targets = tuple(t.name for t in rule.targets)
        if stopped is not None:
            out.append(RuleVerdict(rule.name, False, None, targets, rule.file, rule.span.line,
                                   "not evaluated", stopped))
            continue
        reason = None
        for f in rule.filters:
            reason = explain_filter(f, event)
            if reason is not None:
                break
        matched = reason is None
        out.append(RuleVerdict(rule.name, matched, reason, targets, rule.file, rule.span.line,
                               "matched" if matched else "no match"))
        if matched and rule.on_match == "stop":
            stopped = rule.name
    for rule in rs.rules:
        if not rule.enabled:
            out.append(RuleVerdict(rule.name, False, None, tuple(t.name for t in rule.targets), rule.file,
                                   rule.span.line, "disabled"))
    return out
