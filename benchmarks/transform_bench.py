"""Match + transform throughput, one core, decoded events (not a test).

Run:  .venv/bin/python benchmarks/transform_bench.py [--quick] [--engine compiled|reference]

A 100-rule set: each rule matches one event type (an EventBridge pattern on
``type`` and a numeric range on ``data.total``, so matching has real work to
do) and shapes the payload with a five-field transform (arithmetic, a string
function, a template, a conditional, a constant).  It prints events per
second for

* ``match only``        - ``RuleSet.match(event)``;
* ``match + transform`` - ``RuleSet.evaluate(event)``: matching, the rule's
                          transform and the Decision objects;
* ``transform only``    - ``Router.route`` with the matched rules known in advance
                          (what transforms and decisions cost on their own);

the median of several rounds over the same pre-decoded events, in CPU time of the process; the
three measurements alternate within each round, so they see the same machine load.  Like an event-ruler
benchmark it is also a correctness check: every event must give exactly one
decision, for the expected rule, with the expected payload.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import rules_engine

RULES = 100
EVENTS = 2_000
TARGET = 100_000  # events/s the brief asks for (match + transform)


def rule_set_yaml() -> str:
    lines = ["targets:", "  out: {type: stdout}", "rules:"]
    for i in range(RULES):
        lines += [
            f"  - name: rule-{i}",
            "    match:",
            f"      type: [order.kind-{i}]",
            "      data:",
            '        total: [{numeric: [">=", 0, "<", 1000000]}]',
            "    transform:",
            "      set:",
            "        data.total_cents: data.total * 100",
            "        data.email: lower(data.customer.email)",
            '        data.title: f"Order {data.id} for {data.customer.name}"',
            '        data.tier: \'if data.total > 1000 then "gold" else "standard"\'',
            "        data.routed_by: {value: rules-engine}",
            "    targets: [out]",
        ]
    return "\n".join(lines) + "\n"


def events() -> list[dict[str, Any]]:
    out = []
    for n in range(EVENTS):
        out.append({
            "specversion": "1.0",
            "id": f"e-{n}",
            "source": "/shop",
            "type": f"order.kind-{n % RULES}",
            "data": {
                "id": str(1000 + n),
                "total": (n * 37) % 5000 + 0.5,
                "customer": {"name": "Ana", "email": "Ana@Example.COM", "id": f"c-{n % 97}"},
                "items": [{"sku": "A-1", "qty": 2}],
            },
        })
    return out


def seconds(fn: Callable[[dict[str, Any]], Any], evs: list[dict[str, Any]]) -> float:
    """CPU time of this process for one pass (one thread, so one core): on a shared
    machine, wall-clock time would also count the time other processes had the CPU."""
    t0 = time.process_time()
    for ev in evs:
        fn(ev)
    return time.process_time() - t0


def rates(fns: list[Callable[[dict[str, Any]], Any]], evs: list[dict[str, Any]], rounds: int) -> list[float]:
    """Median events/s of each function, measured side by side (alternating within each round)."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            samples[i].append(seconds(fn, evs))
    return [len(evs) / statistics.median(s) for s in samples]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    engine = argv[argv.index("--engine") + 1] if "--engine" in argv else "compiled"
    rounds = 2 if quick else 5
    rs = rules_engine.loads(rule_set_yaml(), engine=engine)
    evs = events()[: 400 if quick else EVENTS]

    # Correctness first: one decision per event, for the right rule, with the five fields.
    for n, ev in enumerate(evs):
        (d,) = rs.evaluate(ev)
        assert d.rule == f"rule-{n % RULES}" and d.error is None, d
        data = d.payload["data"]
        assert data["total_cents"] == ev["data"]["total"] * 100
        assert data["email"] == "ana@example.com" and data["routed_by"] == "rules-engine"
        assert data["title"] == f"Order {ev['data']['id']} for Ana"
        assert data["tier"] == ("gold" if ev["data"]["total"] > 1000 else "standard")
        assert "total_cents" not in ev["data"]  # the caller's event is untouched

    router = rs._router  # the compiled transforms, for the transform-only figure
    by_name = {r.name: r for r in rs.ir.rules}
    matched = {id(ev): [by_name[name] for name in rs.match(ev)] for ev in evs}

    match_only, both, transform_only = rates(
        [rs.match, rs.evaluate, lambda ev: router.route(ev, matched[id(ev)])], evs, rounds
    )

    print(f"{RULES} rules, {len(evs)} decoded events, engine={engine}, one core, median of {rounds} rounds")
    print(f"  match only          {match_only:>12,.0f} events/s  ({1e6 / match_only:6.2f} µs/event)")
    print(f"  match + transform   {both:>12,.0f} events/s  ({1e6 / both:6.2f} µs/event)")
    print(f"  transform only      {transform_only:>12,.0f} events/s  ({1e6 / transform_only:6.2f} µs/event)")
    verdict = "meets" if both >= TARGET else "BELOW"
    print(f"  target {TARGET:,} events/s for match + transform: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
