"""Decisions: which target receives what, for one event.

Position in the pipeline::

    event ─▶ Matcher (compiled or reference) ─▶ matched rules ─▶ **Router.route** ─▶ [Decision]
                                                                  (transform.py)        └─▶ adapters

A :class:`Router` is compiled once from the rule set (every transform and
partition key compiled at load time) and is immutable; :meth:`Router.route`
is a pure function of the event, the matched rules and the time it is given.

Order and rules of the game (docs/transforms.md, "Decisions"):

* decisions follow the matched rules in evaluation order (priority, then file
  order; ``on_match: stop`` and disabled rules are the matcher's business),
  and each rule's targets in the order written;
* the rule's transform runs once per rule, then each target's transform on
  its result;
* a target receives an event once per evaluation: the first decision that
  delivers to a target wins and later rules' decisions for it are left out —
  unless the rule set says ``deduplicate: false``.  A decision that does not
  deliver there (skipped, or dead-lettered: below) does not count, so a later
  rule may still reach that target;
* an event no rule matched goes to the default targets under the rule name
  :data:`DEFAULT_RULE` (``"<default>"``), with their target transforms and
  the ``skip`` policy;
* a failing transform never raises.  ``on_error`` decides:
  ``skip`` — a decision with ``action="skip"``, no payload, the error recorded
  (nothing is delivered); ``dead_letter`` — the original event goes to the
  target's ``dead_letter`` target (``action="dead_letter"``, ``target`` = that
  target; without one, ``target`` stays and the decision is marked for the
  deliverer's dead-letter handling), with the reason in ``error`` and in
  headers; ``null_fill`` — delivered, failed values ``null``, the first error
  recorded;
* the partition key is the target's ``partition_key`` expression read from
  the original event, as text (``None`` when it has no value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from rules_engine.compile.expr_closures import ValueFn
from rules_engine.compile.expr_codegen import compile_value
from rules_engine.model import ir
from rules_engine.model.values import MISSING, to_text
from rules_engine.route.payload import TransformError
from rules_engine.route.transform import CompiledTransform, compile_transform

__all__ = ["DEFAULT_RULE", "Action", "Decision", "Router", "compile_router"]

DEFAULT_RULE: Final = "<default>"
"""The rule name of decisions made by the default route."""

Action = Literal["deliver", "skip", "dead_letter"]

# Headers of a dead-letter decision: why it is there, and where it was going.
H_ERROR_CODE: Final = "x-rules-engine-error-code"
H_ERROR_PATH: Final = "x-rules-engine-error-path"
H_ERROR: Final = "x-rules-engine-error"
H_TARGET: Final = "x-rules-engine-target"
H_RULE: Final = "x-rules-engine-rule"


@dataclass(frozen=True, slots=True)
class Decision:
    """One routing decision: ``rule`` sends ``payload`` to ``target``.

    ``action`` is ``"deliver"`` (``error`` set only under ``null_fill``),
    ``"skip"`` (nothing to deliver; ``payload`` is None, ``error`` says why) or
    ``"dead_letter"`` (``payload`` is the original event).  Payloads share
    unchanged parts with the event: treat them as read-only.  ``version`` is
    the version (content hash) of the rule set that made the decision
    (``RuleSet.version``; empty from a router built without one).
    """

    rule: str
    target: str
    payload: Any
    partition_key: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    error: TransformError | None = None
    action: Action = "deliver"
    version: str = ""

    def __init__(self, rule: str, target: str, payload: Any, partition_key: str | None = None,
                 headers: tuple[tuple[str, str], ...] = (), error: TransformError | None = None,
                 action: Action = "deliver", version: str = "") -> None:
        # One Decision per routed event and target: the fields are set through their slot descriptors, what
        # the generated frozen __init__ does through object.__setattr__ at about 1.7 times the cost.
        _d_rule(self, rule)
        _d_target(self, target)
        _d_payload(self, payload)
        _d_partition_key(self, partition_key)
        _d_headers(self, headers)
        _d_error(self, error)
        _d_action(self, action)
        _d_version(self, version)

    @property
    def delivered(self) -> bool:
        """Does this decision send something somewhere?"""
        return self.action != "skip"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``dry-run --format json``."""
        d: dict[str, Any] = {"rule": self.rule, "target": self.target, "payload": self.payload,
                             "partition_key": self.partition_key}
        if self.action != "deliver":
            d["action"] = self.action
        if self.headers:
            d["headers"] = dict(self.headers)
        if self.error is not None:
            d["error"] = self.error.to_dict()
        if self.version:
            d["version"] = self.version
        return d


_d_rule = Decision.__dict__["rule"].__set__
_d_target = Decision.__dict__["target"].__set__
_d_payload = Decision.__dict__["payload"].__set__
_d_partition_key = Decision.__dict__["partition_key"].__set__
_d_headers = Decision.__dict__["headers"].__set__
_d_error = Decision.__dict__["error"].__set__
_d_action = Decision.__dict__["action"].__set__
_d_version = Decision.__dict__["version"].__set__


@dataclass(frozen=True, slots=True)
class _TargetPlan:
    name: str
    transform: CompiledTransform | None
    partition_key: ValueFn | None
    dead_letter: str | None


@dataclass(frozen=True, slots=True)
class _RulePlan:
    name: str
    transform: CompiledTransform | None
    on_error: ir.OnError
    targets: tuple[_TargetPlan, ...]


_NO_BINDINGS: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Router:
    """Every rule's and target's transform and partition key, compiled; immutable."""

    rules: Mapping[str, _RulePlan]
    defaults: tuple[_TargetPlan, ...]
    deduplicate: bool
    version: str = ""

    def route(
        self, event: Mapping[str, Any], matched: Sequence[ir.Rule], now: datetime | None = None
    ) -> list[Decision]:
        """The decisions for ``event`` given the rules that matched it (in evaluation order).

        ``now`` is the ingestion time that transforms may use; never read from a clock here.
        Never raises.
        """
        out: list[Decision] = []
        seen: set[str] | None = set() if self.deduplicate else None
        for rule in matched:
            plan = self.rules.get(rule.name)
            if plan is None:
                continue  # a rule this router was not built from: nothing is known about it
            payload: Any = event
            errors: tuple[TransformError, ...] = ()
            if plan.transform is not None:
                payload, errors = plan.transform.run(event, event, plan.name, now, plan.on_error == "null_fill")
            for target in plan.targets:
                if seen is not None and target.name in seen:
                    continue  # routed there already (by an earlier rule, or earlier in this one)
                if target.transform is None and not errors:
                    # The common case, without detours: nothing can fail here.
                    d = Decision(plan.name, target.name, payload, _partition_key(target, event),
                                 version=self.version)
                else:
                    d = _decide(plan.name, plan.on_error, target, payload, errors, event, now, self.version)
                out.append(d)
                if seen is not None and d.action == "deliver":
                    seen.add(target.name)
        if not matched and self.defaults:
            for target in self.defaults:
                if seen is not None and target.name in seen:
                    continue
                d = _decide(DEFAULT_RULE, "skip", target, event, (), event, now, self.version)
                out.append(d)
                if seen is not None and d.action == "deliver":
                    seen.add(target.name)
        return out


def _partition_key(target: _TargetPlan, event: Mapping[str, Any]) -> str | None:
    if target.partition_key is None:
        return None
    try:
        v = target.partition_key(event, _NO_BINDINGS)
    except Exception:  # noqa: BLE001  # pragma: no cover - compiled expressions never raise; nor does a router
        return None
    return None if v is MISSING else to_text(v)


def _decide(rule: str, on_error: ir.OnError, target: _TargetPlan, payload: Any,
            errors: tuple[TransformError, ...], event: Mapping[str, Any], now: datetime | None,
            version: str) -> Decision:
    if target.transform is not None and (not errors or on_error == "null_fill"):
        payload, more = target.transform.run(payload, event, rule, now, on_error == "null_fill")
        errors += more
    key = _partition_key(target, event)
    if not errors:
        return Decision(rule, target.name, payload, key, version=version)
    error = errors[0]
    if on_error == "null_fill":
        return Decision(rule, target.name, payload, key, (), error, version=version)
    if on_error == "dead_letter":
        headers = (
            (H_ERROR_CODE, error.code),
            (H_ERROR_PATH, error.path),
            (H_ERROR, error.message),
            (H_RULE, rule),
            (H_TARGET, target.name),
        )
        return Decision(rule, target.dead_letter or target.name, event, key, headers, error, "dead_letter", version)
    return Decision(rule, target.name, None, key, (), error, "skip", version)


def _target_plan(t: ir.Target | None, name: str) -> _TargetPlan:
    if t is None:  # an unknown target (check reports E302): routed to by name, untransformed
        return _TargetPlan(name, None, None, None)
    dl = t.options.get("dead_letter")
    return _TargetPlan(
        t.name,
        compile_transform(t.transform) if t.transform is not None and (t.transform.steps or t.transform.envelope)
        else None,
        compile_value(t.partition_key) if t.partition_key is not None else None,
        dl if isinstance(dl, str) else None,
    )


def compile_router(rs: ir.RuleSetIR, version: str = "") -> Router:
    """Compile every transform and partition key of ``rs`` once (load time); every decision
    the router makes carries ``version``."""
    targets: dict[str, _TargetPlan] = {}
    for t in rs.targets:
        targets.setdefault(t.name, _target_plan(t, t.name))

    def plan(name: str) -> _TargetPlan:
        return targets.get(name) or _target_plan(None, name)

    rules: dict[str, _RulePlan] = {}
    for r in rs.rules:
        if r.name in rules:
            continue  # duplicate names are E301; the first one is kept
        tr = r.transform
        rules[r.name] = _RulePlan(
            r.name,
            compile_transform(tr) if tr is not None and (tr.steps or tr.envelope) else None,
            r.on_error,
            tuple(plan(ref.name) for ref in r.targets),
        )
    return Router(MappingProxyType(rules), tuple(plan(ref.name) for ref in rs.default_targets), rs.deduplicate,
                  version)
