"""CEL: cel-python's evaluator against the compiled translation, per event (not a test).

Run:  .venv/bin/python benchmarks/cel_bench.py [--quick]

For each expression it prints the median time per event of

* ``celpy``   - what the reference path pays: event -> CEL values + cel-python's interpreter
                (``cel.CelProgram.evaluate``);
* ``runner``  - cel-python's interpreter alone, on an activation converted beforehand;
* ``compiled``- ``compile_cel(text).predicate(event)``;

and the ratios.  Like a benchmark in aws/event-ruler, it is also a correctness
check: every verdict must equal cel-python's, and the expected verdicts are
asserted.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from rules_engine.cel.evaluate import CelProgram, activation, is_true
from rules_engine.compile.cel_codegen import compile_cel

CLOUDEVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "a89b61a2-5644-487a-8a86-144855c5dce8",
    "source": "https://shop.example.com/orders",
    "type": "order.created",
    "subject": "order/8812",
    "time": "2024-05-01T12:00:00Z",
    "datacontenttype": "application/json",
    "data": {
        "orderId": 8812,
        "total": 1520,
        "price": 99.5,
        "currency": "EUR",
        "status": "paid",
        "customer": {"id": "c-17", "name": "Zoë", "vip": False, "country": "DE"},
        "tags": ["gift", "express", "fragile"],
        "items": [
            {"sku": "X-100", "price": 120, "qty": 2},
            {"sku": "A-7", "price": 15, "qty": 1},
            {"sku": "X-200", "price": 640, "qty": 1},
        ],
    },
}
EVENTBRIDGE: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "running", "cpu": 0.75},
}

# (expression, event, expected verdict)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ('type == "order.created" && data.total > 1000', CLOUDEVENT, True),
    ('detail.state == "running" && region in ["us-east-1", "us-west-1"]', EVENTBRIDGE, True),
    ('event["detail-type"] == "EC2 Instance State-change Notification" && detail.state != "terminated"',
     EVENTBRIDGE, True),
    ('data.items.exists(i, i.price > 100 && i.sku.startsWith("X"))', CLOUDEVENT, True),
    ("has(data.customer.vip) ? data.customer.vip : data.total >= 5000", CLOUDEVENT, False),
    ('size(data.tags) > 5 || data.tags.all(t, t.matches("^[a-z]+$"))', CLOUDEVENT, True),
    ("data.total * 2 - 100 > 1500 && data.total % 2 == 0", CLOUDEVENT, True),
    ("data.price * 1.2 > 100.0 && data.price < 200.0", CLOUDEVENT, True),
    ('source.endsWith("/orders") && data.items.map(i, i.qty).filter(q, q > 1).size() > 0', CLOUDEVENT, True),
    ('!(data.status in ["cancelled", "refunded"]) && data.currency == "EUR"', CLOUDEVENT, True),
    ('data.customer.country == "DE" && data.customer.name.size() < 10 && subject.contains("8812")',
     CLOUDEVENT, True),
    ("detail.cpu > 0.5 && resources.exists(r, r.endsWith(\"cdef0\"))", EVENTBRIDGE, True),
]


def per_call_ns(fn: Callable[[], Any], seconds: float) -> float:
    """Median over several batches of the time per call, in nanoseconds."""
    n = 1
    while True:  # calibrate a batch of about seconds / 10
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        took = time.perf_counter_ns() - t
        if took > seconds * 1e8 or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(7):
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter_ns() - t) / n)
    return statistics.median(samples)


def main(argv: list[str]) -> int:
    seconds = 0.05 if "--quick" in argv else 0.3
    print(f"{'expression':60} {'celpy µs':>9} {'runner µs':>10} {'compiled µs':>12} {'× celpy':>8} {'× runner':>9}")
    ratios, runner_ratios = [], []
    for text, event, expected in CASES:
        program = CelProgram.build(text)
        compiled = compile_cel(text)
        ctx = activation(event)
        ref = program.truth(event)
        got = compiled.predicate(event)
        assert ref == got == expected, (text, ref, got, expected)
        assert not compiled.is_fallback, text

        def run_runner(p: Any = program.runner, c: Mapping[str, Any] = ctx) -> Any:
            try:
                return is_true(p.evaluate(c))
            except Exception:
                return False

        celpy_ns = per_call_ns(lambda p=program, e=event: p.truth(e), seconds)  # type: ignore[misc]
        runner_ns = per_call_ns(run_runner, seconds)
        fast_ns = per_call_ns(lambda c=compiled, e=event: c.predicate(e), seconds)  # type: ignore[misc]
        ratios.append(celpy_ns / fast_ns)
        runner_ratios.append(runner_ns / fast_ns)
        shown = text if len(text) <= 58 else text[:55] + "..."
        print(
            f"{shown:60} {celpy_ns / 1e3:9.1f} {runner_ns / 1e3:10.1f} {fast_ns / 1e3:12.2f} "
            f"{celpy_ns / fast_ns:8.0f} {runner_ns / fast_ns:9.0f}"
        )
    print(
        f"median speed-up: {statistics.median(ratios):.0f}x against the reference path, "
        f"{statistics.median(runner_ratios):.0f}x against cel-python's interpreter alone "
        f"(min {min(runner_ratios):.0f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
