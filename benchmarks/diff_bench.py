"""How fast `rules-engine diff` replays recorded events: 50,000 city-lot events through two CL2 rule sets.

OLD is every CL2 rule (the 14 sets of the city-lots benchmark, each rule routing to its set's target);
NEW changes what a reviewer would: one rule's prefix narrowed (BL -> BLA), one rule removed, one prefix rule
added, and one target's transform added (a payload change for every event routed there).  The diff runs
through :func:`rules_engine.author.diff.diff_events` on the raw lines (compiled engines, partial decoding),
the same path as the command.  Baseline: one rule set's ``match`` over the same raw lines.

    /work/venv/bin/python benchmarks/diff_bench.py [--reps 3] [--sets EXACT,PREFIX]

Prints numbers; asserts nothing about time.  (The counts it prints are checked: a diff of a rule set against
itself must find nothing, and the removed rule's lost count must equal its match count under OLD.)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workloads import citylots, ruleset  # noqa: E402

from rules_engine.author.diff import diff_events  # noqa: E402
from rules_engine.model import ir  # noqa: E402
from rules_engine.patterns.lower import parse_pattern_json  # noqa: E402
from rules_engine.ruleset import RuleSet  # noqa: E402


def rule_sets(rules: dict[str, dict[str, object]]) -> tuple[ir.RuleSetIR, ir.RuleSetIR]:
    patterns = {name: p for group in rules.values() for name, p in group.items()}
    base = ruleset(patterns)
    targets = tuple(ir.Target(f"t-{g.lower()}", "stdout") for g in rules)
    group_of = {name: g for g, group in rules.items() for name in group}
    old_rules = tuple(dataclasses.replace(r, targets=(ir.TargetRef(f"t-{group_of[r.name].lower()}"),))
                      for r in base.rules)
    old = ir.RuleSetIR(targets, old_rules)
    narrowed, _ = parse_pattern_json('{"properties": {"STREET": [{"prefix": "BLA"}]}}')
    added, _ = parse_pattern_json('{"properties": {"STREET": [{"prefix": "VAL"}]}}')
    assert narrowed is not None and added is not None
    new_rules = []
    for r in old_rules:
        if r.name == "PREFIX.r1":
            r = dataclasses.replace(r, filters=(ir.Filter("match", narrowed),))
        if r.name == "EXACT.r1":
            continue
        new_rules.append(r)
    new_rules.append(ir.Rule("NEW.val-streets", (ir.Filter("match", added),), (ir.TargetRef("t-exact"),)))
    keep = ir.Transform((ir.Keep((("properties",),)),))
    new_targets = tuple(dataclasses.replace(t, transform=keep) if t.name == "t-prefix" else t for t in targets)
    return old, ir.RuleSetIR(new_targets, tuple(new_rules))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sets", help="comma-separated CL2 sets to use (default: all 14); EXACT and PREFIX are "
                    "always kept, the change touches them")
    args = ap.parse_args()
    data = citylots()
    rules = data.rules
    if args.sets:
        wanted = set(args.sets.split(",")) | {"EXACT", "PREFIX"}
        rules = {g: v for g, v in rules.items() if g in wanted}
    old_ir, new_ir = rule_sets(rules)
    old, new = RuleSet(old_ir, version="old"), RuleSet(new_ir, version="new")
    lines = data.lines
    print(f"events: {len(lines):,} from {data.source}; OLD {len(old_ir.rules)} rules, NEW {len(new_ir.rules)} rules")

    same = diff_events(old, old, lines)
    assert same.changed == 0, "a rule set diffed against itself must show no change"
    lost_expected = sum(1 for raw in lines if "EXACT.r1" in old.match(raw))

    times, report = [], None
    for _ in range(args.reps):
        report = diff_events(old, new, lines, "OLD", "NEW")
        times.append(report.seconds)
    assert report is not None
    assert report.rules.get("EXACT.r1", None) is None or report.rules["EXACT.r1"].lost == lost_expected
    started = time.perf_counter()
    for raw in lines:
        old.match(raw)
    one = time.perf_counter() - started
    med = statistics.median(times)
    print(f"diff OLD -> NEW: median {med:.3f} s over {args.reps} run(s) = {len(lines) / med:,.0f} events/s "
          f"({report.changed:,} events changed: {report.newly_matched:,} newly matched, "
          f"{report.no_longer_matched:,} no longer matched, {report.payloads_changed:,} payloads changed)")
    print(f"diff OLD -> OLD (nothing changed): {same.seconds:.3f} s = {len(lines) / same.seconds:,.0f} events/s")
    print(f"baseline, one rule set's match over the raw lines: {one:.3f} s = {len(lines) / one:,.0f} events/s")
    for name, c in sorted(report.rules.items()):
        print(f"  rule {name}: +{c.gained:,} / -{c.lost:,}")
    for name, c in sorted(report.targets.items()):
        print(f"  target {name}: +{c.gained:,} / -{c.lost:,} / payload changed {c.payload_changed:,}")


if __name__ == "__main__":
    main()
