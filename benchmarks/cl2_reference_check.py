"""CL2 correctness check of the reference matcher: all 70 rules over all 50,000 city-lot events.

Usage::

    .venv/bin/python benchmarks/cl2_reference_check.py [path/to/shared/corpus/citylots]

Prints expected vs got for every rule (and the time per rule set) and exits 1
on any mismatch.  The counts come from aws/event-ruler 2.0.1; a fast answer with
a wrong count is a wrong answer.  It takes ~40 s, which is why the test suite
runs only one rule per set (tests/test_pattern_corpus.py).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import orjson

from rules_engine.model.errors import render_text
from rules_engine.model.source import Locator
from rules_engine.patterns.evaluate import match_pattern
from rules_engine.patterns.lower import lower_pattern

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "citylots"


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else DEFAULT
    if not folder.is_dir():
        print(f"citylots corpus not found at {folder}", file=sys.stderr)
        return 2
    rules = json.loads((folder / "rules.json").read_text())
    expected = json.loads((folder / "expected-counts.json").read_text())
    started = time.perf_counter()
    with gzip.open(folder / "citylots-50k.jsonl.gz", "rb") as fh:
        events = [orjson.loads(line) for line in fh]
    print(f"loaded {len(events)} events in {time.perf_counter() - started:.1f} s")

    mismatches = 0
    total = time.perf_counter()
    for ruleset, patterns in rules.items():
        began = time.perf_counter()
        for name, pattern in patterns.items():
            lowered, diags = lower_pattern(pattern, Locator("rules.json"), (ruleset, name))
            want = expected[ruleset][name]
            if lowered is None:
                print(f"  {name:32} expected {want:>6}  INVALID\n{render_text(diags)}")
                mismatches += 1
                continue
            got = sum(1 for event in events if match_pattern(lowered, event))
            verdict = "ok" if got == want else "MISMATCH"
            mismatches += got != want
            print(f"  {name:32} expected {want:>6}  got {got:>6}  {verdict}")
        rate = len(patterns) * len(events) / (time.perf_counter() - began)
        print(f"{ruleset}: {time.perf_counter() - began:.1f} s ({rate:,.0f} rule-event checks/s)")
    print(f"total {time.perf_counter() - total:.1f} s, {mismatches} mismatching rule(s)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
