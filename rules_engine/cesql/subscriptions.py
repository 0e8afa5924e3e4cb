"""The CloudEvents Subscriptions API filter dialects as Knative triggers use them: the reference
evaluation of ``filters:`` (``exact``, ``prefix``, ``suffix``, ``all``, ``any``, ``not``, ``cesql``)
and of the older ``filter: {attributes: ...}``.

Where it sits: beside :mod:`.evaluate` in the CESQL dialect.  IR (``ir.SubscriptionFilter``,
built by syntax/lower_yaml.py) + event ──**subscription_holds**──▶ bool.  The compiled engine
lowers the same filters into the shared normalised form (compile/cesql_lower.py) and is held
equal to this by the property tests.

Semantics (Knative Eventing, "New trigger filters"; CloudEvents Subscriptions API 3.2.4.1):

* ``exact`` / ``prefix`` / ``suffix``: for every attribute given, the event has the attribute and
  its String value equals / starts with / ends with the given string, case-sensitively.  A value
  that is not a string is compared through its String form (``true``, ``10``), as for CESQL.
  An attribute the event lacks makes the filter false (never an error).
* ``all``: every nested filter holds (an empty list holds); ``any``: at least one does (an empty
  list does not); ``not``: the nested filter does not hold.
* ``cesql``: the CESQL expression is ``true`` without errors (section 1.2 of CESQL).  Inside
  ``not``, an expression that failed with an error counts as false, so ``not`` of it holds:
  each dialect gives a plain true or false to the dialect around it.
* The legacy ``filter: {attributes: {...}}`` is ``exact`` on every pair whose value is not empty;
  the value ``''`` matches any value, present or not (Knative's ``TriggerAnyFilter``).
"""

from __future__ import annotations

import functools
from typing import Any

from rules_engine.cesql import ast
from rules_engine.cesql.evaluate import evaluate, matches
from rules_engine.cesql.parse import parse
from rules_engine.cesql.values import attribute, render, to_string
from rules_engine.model import ir


@functools.lru_cache(maxsize=4096)
def cesql_tree(text: str) -> ast.Expr | None:
    """The parsed tree of checked CESQL text (None when it does not parse: such a filter never passes)."""
    tree, _ = parse(text)
    return tree


def cesql_holds(text: str, event: Any) -> bool:
    tree = cesql_tree(text)
    return tree is not None and matches(tree, event)


def _attr_test(dialect: str, event: Any, name: str, want: str) -> bool:
    v = attribute(event, name)
    if v is None:
        return False
    s = v if isinstance(v, str) else to_string(v)
    if dialect == "exact":
        return s == want
    if dialect == "prefix":
        return s.startswith(want)
    return s.endswith(want)


def subscription_holds(f: ir.SubscriptionFilter, event: Any) -> bool:
    if f.dialect in ("exact", "prefix", "suffix"):
        return all(_attr_test(f.dialect, event, k, v) for k, v in f.attributes)
    if f.dialect == "all":
        return all(subscription_holds(x, event) for x in f.items)
    if f.dialect == "any":
        return any(subscription_holds(x, event) for x in f.items)
    if f.dialect == "not":
        return not subscription_holds(f.items[0], event)
    assert f.cesql is not None
    return cesql_holds(f.cesql.source, event)


def explain_cesql(text: str, event: Any) -> str | None:
    """None when the CESQL filter passes; else its value and first error."""
    tree = cesql_tree(text)
    if tree is None:
        return "CESQL expression does not parse"
    value, errors = evaluate(tree, event)
    if value is True and not errors:
        return None
    if errors:
        return f"CESQL {errors[0].kind.value} error: {errors[0].message} (value {render(value)})"
    return f"CESQL expression evaluated to {render(value)}"


def explain_subscription(f: ir.SubscriptionFilter, event: Any) -> str | None:
    """None when the filter holds; else the first part that does not, with the value seen."""
    if f.dialect in ("exact", "prefix", "suffix"):
        for k, want in f.attributes:
            if not _attr_test(f.dialect, event, k, want):
                v = attribute(event, k)
                seen = "the event has no attribute" if v is None else f"it is {render(v)}"
                verb = {"exact": "equal", "prefix": "start with", "suffix": "end with"}[f.dialect]
                return f"{f.dialect}: {k} does not {verb} {want!r}: {seen}"
        return None
    if f.dialect == "all":
        for x in f.items:
            why = explain_subscription(x, event)
            if why is not None:
                return why
        return None
    if f.dialect == "any":
        if subscription_holds(f, event):
            return None
        return "any: none of " + str(len(f.items)) + " filters holds" + (
            f" (first: {explain_subscription(f.items[0], event)})" if f.items else "")
    if f.dialect == "not":
        return "not: the nested filter holds" if subscription_holds(f.items[0], event) else None
    assert f.cesql is not None
    return explain_cesql(f.cesql.source, event)
