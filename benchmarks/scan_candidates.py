"""Candidates from the raw-byte scan at scale (issue 14, item 3): what one scan could give, measured.

Usage::

    python benchmarks/scan_candidates.py                 # 1,000 and 10,000 mixed rules, 10,000 events
    python benchmarks/scan_candidates.py --rules 10000 --events 5000

Position: outside the package and the tests; prints numbers, asserts nothing about time.  It asks whether
the literals of ``compile/prefilter.py`` could replace the index's candidate generation at 1,000 and
10,000 mixed rules (``workloads.mixed_rules``), and prints, per rule count:

* the cost of deriving every rule's literal DNF, and of compiling a Hyperscan database of them
  (the bound patterns the prefilter uses, only up to ``--max-regex`` of them: thousands take minutes;
  and the same literals as plain strings in Hyperscan's literal mode, key and value written compactly);
* candidates per event from the scan: rules with some alternative whose literals all occur
  (plain-string form, lower-cased text, so a necessary condition), for every rule and for the rules
  whose every alternative holds a literal shared by at most K rules (the others would stay with the index);
* the events/s of that scan plus the candidate tally in Python, against the compiled matcher's raw
  events/s on the same events, and the matcher's own matches per event.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from workloads import citylots, mixed_rules, ruleset

from rules_engine.compile import literals
from rules_engine.compile.compiled import compile_ruleset
from rules_engine.compile.normalize import normalise

_BOUND = re.compile(r'^"([^"]*)":(.*)$', re.S)


def plain_strings(lit: literals.Literal) -> list[str]:
    """Fixed strings every occurrence of ``lit`` holds in compact JSON (``"key":"value``), lower-cased."""
    text = lit.text.decode("utf-8")
    m = _BOUND.match(text)
    if m is None:
        return [text.lower()]
    key = '"' + m.group(1).rsplit(".", 1)[-1] + '":'
    body = m.group(2)
    if "*" in body:  # a wildcard: its first piece after the key, its last before the quote
        pieces = body.strip('"').split("*")
        out = [key + '"' + pieces[0]] if pieces[0] else []
        out += [p for p in pieces[1:-1] if len(p) >= 3]
        out += [pieces[-1] + '"'] if pieces[-1] else []
        return [s.lower() for s in out] or [key.lower()]
    if body.startswith('"'):
        return [(key + body).lower()]  # exact, prefix
    return [body.lower()]  # suffix: the key cannot be written next to it


def measure(n: int, lines: list[bytes], sample: list[dict[str, Any]], max_regex: int, ks: list[int]) -> None:
    import hyperscan as hs

    rs = ruleset(mixed_rules(n, sample))
    norm = normalise(rs)
    started = time.perf_counter()
    cache: dict[int, Any] = {}
    per_rule = [literals.rule_literals(norm, r.ordinal, cache) for r in norm.rules]
    derive = time.perf_counter() - started
    bound = sorted({lit for alts in per_rule if alts for alt in alts for lit in alt}, key=lambda x: x.regex)
    ids: dict[str, int] = {}
    alts_of: list[list[frozenset[int]] | None] = []
    for alts in per_rule:
        if alts is None:
            alts_of.append(None)
            continue
        alts_of.append([frozenset(ids.setdefault(s, len(ids)) for lit in alt for s in plain_strings(lit))
                        for alt in alts])
    words = list(ids)
    print(f"{n:,} rules: {sum(a is None for a in alts_of)} without literals, {len(bound):,} bound patterns, "
          f"{len(words):,} plain strings; literal derivation {derive * 1000:.0f} ms")
    if len(bound) <= max_regex:
        started = time.perf_counter()
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(expressions=[lit.regex for lit in bound], ids=list(range(len(bound))), elements=len(bound),
                   flags=[hs.HS_FLAG_SINGLEMATCH] * len(bound))
        print(f"  Hyperscan, bound patterns: compile {(time.perf_counter() - started) * 1000:,.0f} ms")
    else:
        print(f"  Hyperscan, bound patterns: not compiled (over --max-regex {max_regex:,})")
    started = time.perf_counter()
    lit_db = hs.Database(mode=hs.HS_MODE_BLOCK)
    lit_db.compile(expressions=[w.encode("utf-8") for w in words], ids=list(range(len(words))), elements=len(words),
                   flags=[hs.HS_FLAG_SINGLEMATCH] * len(words), literal=True)
    print(f"  Hyperscan, plain strings (literal mode): compile {(time.perf_counter() - started) * 1000:,.0f} ms")
    scratch = hs.Scratch(lit_db)
    popular = Counter(i for alts in alts_of if alts for i in set().union(*alts))

    def on_hit(i: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
        found.add(i)

    low = [line.lower() for line in lines]
    compiled = compile_ruleset(rs, prefilter=None)
    times = []
    for _ in range(3):  # the best of three: the first pass warms the caches
        started = time.perf_counter()
        matches = sum(len(compiled.matching_raw(line)) for line in lines)
        times.append(time.perf_counter() - started)
    raw_rate = len(lines) / min(times)
    print(f"  compiled matcher (index): {raw_rate:,.0f} events/s raw, {matches / len(lines):.2f} matches per event")
    for k in ks:
        gated = {r for r, alts in enumerate(alts_of)
                 if alts is not None and all(alt and min(popular[i] for i in alt) <= k for alt in alts)}
        triggers: dict[int, list[tuple[int, frozenset[int]]]] = defaultdict(list)
        for r in gated:
            for alt in alts_of[r] or ():
                triggers[min(alt, key=lambda i: popular[i])].append((r, alt))
        hits = cands = 0
        started = time.perf_counter()
        for text in low:  # one pass (the tally is the same work every time)
            found: set[int] = set()
            lit_db.scan(text, match_event_handler=on_hit, context=found, scratch=scratch)
            got = {r for i in found for r, alt in triggers.get(i, ()) if alt <= found}
            hits += len(found)
            cands += len(got)
        rate = len(low) / (time.perf_counter() - started)
        label = "every rule" if k >= n else f"rarest literal in <= {k} rules"
        print(f"  scan candidates, {label}: {len(gated):,} rules ({len(gated) / n:.0%}), "
              f"{hits / len(low):.1f} literal hits and {cands / len(low):.2f} candidates per event; "
              f"scan + tally {rate:,.0f} events/s ({rate / raw_rate:.2f}x the whole raw matcher)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", default="1000,10000", help="comma-separated rule counts")
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--max-regex", type=int, default=200, help="compile the bound patterns up to this many")
    p.add_argument("--k", default="4,16", help="comma-separated popularity limits (rules per literal)")
    args = p.parse_args()
    sample = [orjson.loads(line) for line in citylots(limit=5000).lines]
    lines = citylots(limit=args.events).lines
    for n in (int(x) for x in args.rules.split(",")):
        measure(n, lines, sample, args.max_regex, [int(k) for k in args.k.split(",")] + [n])


if __name__ == "__main__":
    main()
