"""Prometheus metrics of one sidecar (prometheus-client, one registry per app: no global state).

Position in the pipeline::

    ingest ─▶ queue ─▶ evaluate ─▶ Dispatcher ──observer──▶ **Metrics** ──▶ GET /metrics
                                     reload ──subscribe──┘

:class:`Metrics` is also the ``deliver.DeliveryObserver``: the dispatcher calls ``delivered``/``retried``/
``dead_lettered``/``failed`` for every decision, and never imports prometheus itself.  Names are listed in
docs/sidecar.md ("Metrics"); label values are bounded by the rule set (rule and target names), the
configured sources and the code table, never by event content.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

RECENT_DEAD_LETTERS = 50
"""Dead letters kept in memory for the console (bounded: older ones are only counted)."""

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every metric the sidecar exports, in its own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        p = "rules_engine_"
        self.events_received = Counter(p + "events_received", "Events received, by ingest source", ["source"],
                                       registry=r)
        self.events_rejected = Counter(p + "events_rejected", "Requests or messages refused, by code", ["code"],
                                       registry=r)
        self.events_duplicate = Counter(p + "events_duplicate", "Events acknowledged as duplicates (dedup), not "
                                        "routed, by ingest source", ["source"], registry=r)
        self.rule_matched = Counter(p + "rule_matched", "Events a rule routed (decisions made), by rule", ["rule"],
                                    registry=r)
        self.delivered = Counter(p + "decisions_delivered", "Decisions confirmed by their target",
                                 ["target", "rule"], registry=r)
        self.retried = Counter(p + "decisions_retried", "Delivery attempts retried", ["target", "reason"],
                               registry=r)
        self.dead_lettered = Counter(p + "decisions_dead_lettered", "Decisions sent to a dead-letter target",
                                     ["target", "rule", "code"], registry=r)
        self.failed = Counter(p + "decisions_failed", "Decisions neither delivered nor dead-lettered",
                              ["target", "rule"], registry=r)
        self.delivery_seconds = Histogram(p + "delivery_seconds", "Time from dispatch to confirmation, by target",
                                          ["target"], buckets=_LATENCY_BUCKETS, registry=r)
        self.event_seconds = Histogram(p + "event_seconds", "Time from ingest to every decision settled",
                                       ["source"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge(p + "queue_depth", "Jobs waiting in the ingest queue", registry=r)
        self.queue_capacity = Gauge(p + "queue_capacity", "Size of the ingest queue", registry=r)
        self.in_flight = Gauge(p + "events_in_flight", "Events taken from the queue and not yet settled",
                               registry=r)
        self.ruleset_info = Gauge(p + "ruleset_info", "The rule-set version serving (value 1)", ["version"],
                                  registry=r)
        self.ruleset_rules = Gauge(p + "ruleset_rules", "Rules in the serving rule set", registry=r)
        self.reloads = Counter(p + "reloads", "Rule reloads, by result and trigger", ["result", "trigger"],
                               registry=r)
        self.last_reload_ok = Gauge(p + "last_reload_successful", "1 if the last reload attempt succeeded",
                                    registry=r)
        self.last_reload_success = Gauge(p + "last_reload_success_timestamp_seconds",
                                         "Unix time of the last successful (re)load", registry=r)
        self._version: str | None = None
        self._delivered_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.recent_dead_letters: deque[dict[str, Any]] = deque(maxlen=RECENT_DEAD_LETTERS)
        """The latest dead letters with their reasons, newest last (the console's Traffic page)."""

    # --- deliver.DeliveryObserver -------------------------------------------------------------
    def delivered_(self, target: str, rule: str, seconds: float) -> None:
        # Called once per delivered message: the labelled children are looked up once per (target, rule)
        # (prometheus-client's ``labels`` builds and hashes a tuple under a lock on every call).
        children = self._delivered_children.get((target, rule))
        if children is None:
            if len(self._delivered_children) > 10_000:  # bounded: names come from the rule set
                self._delivered_children.clear()
            children = self._delivered_children[(target, rule)] = (
                self.delivered.labels(target, rule), self.delivery_seconds.labels(target))
        children[0].inc()
        children[1].observe(seconds)

    def delivered_many_(self, target: str, rule: str, seconds: float, count: int) -> None:
        """``count`` messages of one batch delivered ``seconds`` after they were sent."""
        children = self._delivered_children.get((target, rule))
        if children is None:
            self.delivered_(target, rule, seconds)
            count -= 1
            children = self._delivered_children[(target, rule)]
        children[0].inc(count)
        _observe_many(children[1], seconds, count)

    def retried_(self, target: str, reason: str) -> None:
        self.retried.labels(target, reason).inc()

    def dead_lettered_(self, target: str, rule: str, code: str, reason: str, message: Any) -> None:
        self.dead_lettered.labels(target, rule, code).inc()
        event = getattr(message, "event", None)
        self.recent_dead_letters.append({
            "at": time.time(), "target": target, "rule": rule, "code": code, "reason": reason,
            "event_id": event.get("id") if isinstance(event, dict) else None,
        })

    def failed_(self, target: str, rule: str, reason: str) -> None:
        self.failed.labels(target, rule).inc()

    # --- the rule set ---------------------------------------------------------------------------
    def serving(self, version: str, rules: int, at: float | None = None) -> None:
        """The rule set ``version`` now serves (at start and after every successful reload)."""
        if self._version is not None and self._version != version:
            self.ruleset_info.remove(self._version)
        self._version = version
        self.ruleset_info.labels(version).set(1)
        self.ruleset_rules.set(rules)
        self.last_reload_success.set(time.time() if at is None else at)

    def reload_result(self, ok: bool, trigger: str) -> None:
        self.reloads.labels("success" if ok else "failure", trigger).inc()
        self.last_reload_ok.set(1 if ok else 0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _observe_many(child: Any, amount: float, count: int) -> None:
    """``count`` observations of ``amount`` in a histogram child: the same sum, count and buckets as
    ``count`` calls of ``observe`` (its sum grows by ``amount * count``, the first bucket whose bound is at
    least ``amount`` by ``count``), in two locked increments instead of ``count`` times two.  Uses the
    child's value fields (prometheus-client 0.2x); a child without them is observed one at a time."""
    buckets = getattr(child, "_buckets", None)
    bounds = getattr(child, "_upper_bounds", None)
    total = getattr(child, "_sum", None)
    if count <= 1 or buckets is None or bounds is None or total is None:
        for _ in range(count):
            child.observe(amount)
        return
    total.inc(amount * count)
    for i, bound in enumerate(bounds):
        if amount <= bound:
            buckets[i].inc(count)
            break


class DeliveryObserver:
    """The ``deliver.DeliveryObserver`` protocol over :class:`Metrics`."""

    __slots__ = ("_m",)

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def delivered(self, target: str, rule: str, seconds: float) -> None:
        self._m.delivered_(target, rule, seconds)

    def delivered_many(self, target: str, rule: str, seconds: float, count: int) -> None:
        self._m.delivered_many_(target, rule, seconds, count)

    def retried(self, target: str, reason: str) -> None:
        self._m.retried_(target, reason)

    def dead_lettered(self, target: str, rule: str, code: str, reason: str, message: Any) -> None:
        self._m.dead_lettered_(target, rule, code, reason, message)

    def failed(self, target: str, rule: str, reason: str) -> None:
        self._m.failed_(target, rule, reason)
