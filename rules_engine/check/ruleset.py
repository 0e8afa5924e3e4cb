"""Semantic checks over a whole rule set (all files loaded together).

Position in the pipeline::

    RuleSetIR ──**check**──▶ diagnostics (E3xx, W3xx)

Names are checked across files: rule and target names are unique, every
referenced target exists and has a known adapter type.  Expressions are
handed to ``check_expr`` (functions, arity, regular expressions, types that
can never match).  Pure: the set of known adapter types is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rules_engine.check.transform import check_transform
from rules_engine.expressions.check import check_expr
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic

BUILTIN_TARGET_TYPES = frozenset({"stdout", "file", "http", "nats", "redis", "amqp", "mqtt"})


def _known(names: Iterable[str]) -> str:
    listed = sorted(set(names))
    if not listed:
        return "no targets are defined"
    shown = ", ".join(listed[:12]) + (", …" if len(listed) > 12 else "")
    return f"known targets: {shown}"


def _exprs_of_transform(t: ir.Transform | None) -> Iterator[ir.Expr]:
    if t is None:
        return
    for step in t.steps:
        if isinstance(step, ir.SetField):
            yield step.value
        elif isinstance(step, ir.Replace):
            yield step.value
    if t.envelope is not None:
        env = t.envelope
        for e in (env.type, env.source, env.subject):
            if e is not None:
                yield e
        for _, e in env.extensions:
            yield e


def check(rs: ir.RuleSetIR, target_types: frozenset[str] = BUILTIN_TARGET_TYPES) -> list[Diagnostic]:
    """Every semantic problem of ``rs`` (unsorted; callers sort)."""
    diags: list[Diagnostic] = []

    # Targets: unique names, known types, dead-letter references.
    targets: dict[str, ir.Target] = {}
    for t in rs.targets:
        if t.name in targets:
            first = targets[t.name].span
            diags.append(codes.DUPLICATE_TARGET.at(t.span, notes=[f"first defined at {first}"], name=t.name))
            continue
        targets[t.name] = t
    for t in rs.targets:
        if t.type not in target_types:
            diags.append(
                codes.UNKNOWN_TARGET_TYPE.at(
                    t.span,
                    notes=[f"known types: {', '.join(sorted(target_types))}; plugins add types through the "
                           "'rules_engine.adapters' entry point group"],
                    type=t.type,
                )
            )
        dl = t.options.get("dead_letter")
        if isinstance(dl, str) and dl not in {x.name for x in rs.targets}:
            diags.append(codes.UNKNOWN_TARGET.at(t.span, notes=[_known(targets)], name=dl))
        if t.partition_key is not None:
            diags.extend(check_expr(t.partition_key))
        for e in _exprs_of_transform(t.transform):
            diags.extend(check_expr(e))
        diags.extend(check_transform(t.transform))

    # Rules: unique names, known targets, expression checks.
    seen: dict[str, ir.Rule] = {}
    used: set[str] = set()
    for r in rs.rules:
        if r.name in seen:
            first = seen[r.name].span
            diags.append(codes.DUPLICATE_RULE.at(r.span, notes=[f"first defined at {first}"], name=r.name))
        else:
            seen[r.name] = r
        for ref in r.targets:
            used.add(ref.name)
            if ref.name not in targets:
                diags.append(codes.UNKNOWN_TARGET.at(ref.span, notes=[_known(targets)], name=ref.name))
        for f in r.filters:
            if f.kind == "when" and not isinstance(f.node, (ir.EventPattern, ir.Cesql, ir.SubscriptionFilter)):
                diags.extend(check_expr(f.node))
        for e in _exprs_of_transform(r.transform):
            diags.extend(check_expr(e))
        diags.extend(check_transform(r.transform))
        if r.enabled and not r.filters:
            diags.append(codes.RULE_WITHOUT_FILTER.at(r.span, name=r.name))
        if r.enabled and not r.targets and r.on_match == "continue":
            diags.append(codes.RULE_WITHOUT_TARGETS.at(r.span, name=r.name))

    for ref in rs.default_targets:
        used.add(ref.name)
        if ref.name not in targets:
            diags.append(codes.UNKNOWN_TARGET.at(ref.span, notes=[_known(targets)], name=ref.name))
    for t in rs.targets:
        dl = t.options.get("dead_letter")
        if isinstance(dl, str):
            used.add(dl)

    # A catch-all rule that stops makes every later rule unreachable.
    ordered = rs.ordered_rules()
    for i, r in enumerate(ordered):
        if not r.filters and r.on_match == "stop":
            for later in ordered[i + 1 :]:
                diags.append(codes.UNREACHABLE_RULE.at(later.span, name=later.name, by=r.name))
            break

    for name, t in targets.items():
        if name not in used:
            diags.append(codes.UNUSED_TARGET.at(t.span, name=name))
    return diags
