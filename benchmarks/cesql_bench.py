"""CESQL and Knative filters against the other dialects on the CL2 workloads, side by side.

Usage::

    PYTHONPATH=. python benchmarks/cesql_bench.py                 # 20,000 events, 3 repetitions
    PYTHONPATH=. python benchmarks/cesql_bench.py --events 50000 --reps 5

Position: outside the package and the tests; prints numbers, asserts nothing about time.
The city-lot events (``workloads.citylots``: the shared corpus, or generated ones) are turned
into CloudEvents: the lot's properties become extension attributes (``MAPBLKLOT`` ->
``mapblklot``, ``ST_TYPE`` -> ``sttype``, ``geometry.type`` -> ``geometrytype``), the original
feature is the ``data``.  Each CL2 rule set that speaks of those string fields is written four
ways: an EventBridge pattern over the attributes, a ``when:`` expression, a ``cesql:`` filter,
and Knative ``filters:`` where a Knative dialect says it.  Every dialect's match count of every
rule must be the same as the EventBridge pattern's, and over the whole corpus event-ruler's
(``expected-counts.json``): a fast wrong answer stops the run.

Measured: events/s of the compiled rule set from raw JSON bytes (partial decoding included)
and from decoded events; medians over repetitions, single process.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from run import _decoded_loop, _raw_loop, counts, machine, median_rate
from workloads import citylots

import rules_engine
from rules_engine.compile.compiled import compile_ruleset

SETS = ["EXACT", "PREFIX", "SUFFIX", "EQUALS_IGNORE_CASE", "PREFIX_EQUALS_IGNORE_CASE", "SUFFIX_EQUALS_IGNORE_CASE",
        "WILDCARD", "ANYTHING-BUT", "ANYTHING-BUT-PREFIX"]  # fmt: skip
DIALECTS = ["pattern", "when", "cesql", "knative"]


def attribute_name(field: str) -> str:
    return field.lower().replace("_", "")


def cloudevent(i: int, feature: dict[str, Any]) -> dict[str, Any]:
    """A city-lot feature as a CloudEvent in JSON form: properties as extension attributes."""
    geometry = feature.get("geometry") or {}
    ev: dict[str, Any] = {"specversion": "1.0", "id": str(i), "source": "/citylots/sf",
                          "type": "org.sfgov.citylot." + str(geometry.get("type", "none")).lower()}
    for k, v in (feature.get("properties") or {}).items():
        if isinstance(v, str):
            ev[attribute_name(k)] = v
    if isinstance(geometry.get("type"), str):
        ev["geometrytype"] = geometry["type"]
    ev["data"] = feature
    return ev


def _field(pattern: dict[str, Any]) -> tuple[str, Any] | None:
    """(attribute, the single matcher) of a one-field string pattern over properties or geometry.type."""
    if set(pattern) == {"properties"} and len(pattern["properties"]) == 1:
        ((field, matchers),) = pattern["properties"].items()
        return (attribute_name(field), matchers[0]) if len(matchers) == 1 else None
    if pattern.get("geometry", {}).keys() == {"type"} and len(pattern) == 1:
        matchers = pattern["geometry"]["type"]
        return ("geometrytype", matchers[0]) if len(matchers) == 1 else None
    return None


def _q(s: str) -> str:
    return "'" + s.replace("'", "\\'") + "'"


def _like_escape(s: str) -> str:
    return s.replace("%", "\\%").replace("_", "\\_")


def forms(attr: str, m: Any) -> dict[str, Any] | None:
    """The same test in each dialect (None where a dialect has no direct form)."""
    if isinstance(m, str):
        return {"when": f'{attr} == {json.dumps(m)}', "cesql": f"{attr} = {_q(m)}", "knative": [{"exact": {attr: m}}]}
    (op, v), = m.items()
    if op == "prefix" and isinstance(v, str):
        return {"when": f"{attr} starts with {json.dumps(v)}", "cesql": f"{attr} LIKE {_q(_like_escape(v) + '%')}",
                "knative": [{"prefix": {attr: v}}]}
    if op == "suffix" and isinstance(v, str):
        return {"when": f"{attr} ends with {json.dumps(v)}", "cesql": f"{attr} LIKE {_q('%' + _like_escape(v))}",
                "knative": [{"suffix": {attr: v}}]}
    if op in ("prefix", "suffix") and isinstance(v, dict) and "equals-ignore-case" in v:
        s = v["equals-ignore-case"].lower()
        pat = _like_escape(s) + "%" if op == "prefix" else "%" + _like_escape(s)
        return {"when": None, "cesql": f"LOWER({attr}) LIKE {_q(pat)}", "knative": None}
    if op == "equals-ignore-case":
        return {"when": f"equals_ignore_case({attr}, {json.dumps(v)})", "cesql": f"LOWER({attr}) = {_q(v.lower())}",
                "knative": None}
    if op == "wildcard":
        pat = "%".join(_like_escape(p) for p in v.split("*"))
        return {"when": f"{attr} like {json.dumps(v)}", "cesql": f"{attr} LIKE {_q(pat)}", "knative": None}
    if op == "anything-but" and isinstance(v, list) and all(isinstance(x, str) for x in v):
        items = ", ".join(_q(x) for x in v)
        return {"when": f"{attr} not in {json.dumps(v)}", "cesql": f"{attr} NOT IN ({items})",
                # present, and none of the values (Knative's `not` alone would also pass an absent attribute)
                "knative": [{"prefix": {attr: ""}}, {"not": {"any": [{"exact": {attr: x}} for x in v]}}]}
    if op == "anything-but" and isinstance(v, dict) and "prefix" in v:
        return {"when": f"not ({attr} starts with {json.dumps(v['prefix'])})",
                "cesql": f"{attr} NOT LIKE {_q(_like_escape(v['prefix']) + '%')}",
                "knative": [{"prefix": {attr: ""}}, {"not": {"prefix": {attr: v["prefix"]}}}]}
    return None


def rule_files(patterns: dict[str, Any]) -> dict[str, str | None]:
    """One YAML rule file per dialect (None: some rule has no form in that dialect)."""
    per: dict[str, list[str]] = {d: [] for d in DIALECTS}
    missing: set[str] = set()
    for name, pattern in patterns.items():
        got = _field(pattern)
        f = forms(*got) if got else None
        if f is None:
            return dict.fromkeys(DIALECTS)
        attr, m = got  # type: ignore[misc]
        per["pattern"].append(f"  - name: {name}\n    match: {json.dumps({attr: [m]})}\n    targets: [out]\n")
        for d in ("when", "cesql"):
            if f[d] is None:
                missing.add(d)
            else:
                per[d].append(f"  - name: {name}\n    {d}: {json.dumps(f[d])}\n    targets: [out]\n")
        if f["knative"] is None:
            missing.add("knative")
        else:
            per["knative"].append(f"  - name: {name}\n    filters: {json.dumps(f['knative'])}\n    targets: [out]\n")
    head = "targets:\n  out: {type: stdout}\nrules:\n"
    return {d: None if d in missing else head + "".join(rules) for d, rules in per.items()}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    data = citylots()
    features = [orjson.loads(line) for line in data.lines[: args.events]]
    events = [cloudevent(i, f) for i, f in enumerate(features)]
    lines = [orjson.dumps(e) for e in events]
    whole = args.events >= len(data.lines) and data.expected is not None
    print(f"CL2 events as CloudEvents: {len(events):,} from {data.source}", file=sys.stderr)
    rows: list[tuple[str, int, dict[str, tuple[float, float] | None]]] = []
    for name in SETS:
        files = rule_files(data.rules[name])
        rates: dict[str, tuple[float, float] | None] = {}
        baseline: Counter[str] | None = None
        for dialect in DIALECTS:
            text = files[dialect]
            if text is None:
                rates[dialect] = None
                continue
            compiled = compile_ruleset(rules_engine.loads(text, name=f"{name}-{dialect}.yaml").ir)
            raw_rate, raw_results = median_rate(len(lines), _raw_loop(compiled, lines), args.reps)
            dec_rate, dec_results = median_rate(len(events), _decoded_loop(compiled, events), args.reps)
            got = counts(dec_results)
            if counts(raw_results) != got:
                raise SystemExit(f"WRONG COUNTS {name}/{dialect}: raw {counts(raw_results)} != decoded {got}")
            if baseline is None:
                baseline = got
                if whole:
                    wrong = {r: (got[r], n) for r, n in data.expected[name].items() if got[r] != n}  # type: ignore[index]
                    if wrong:
                        raise SystemExit(f"WRONG COUNTS {name}/pattern: {wrong} (got, event-ruler)")
            elif got != baseline:
                raise SystemExit(f"WRONG COUNTS {name}/{dialect}: {dict(got)} != pattern's {dict(baseline)}")
            rates[dialect] = (raw_rate, dec_rate)
        rows.append((name, len(data.rules[name]), rates))
        print(f"  {name}: " + ", ".join(f"{d} {r[0]:,.0f}/s" for d, r in rates.items() if r), file=sys.stderr)
    judge = "event-ruler's counts" if whole else "the pattern dialect's counts"
    print(f"\n{machine()}\n{len(events):,} CloudEvents, medians of {args.reps}; every dialect matched {judge}\n")
    head = "| workload | rules | " + " | ".join(f"{d} raw/s | {d} decoded/s" for d in DIALECTS) + " |"
    print(head)
    print("|" + "---|" * (2 + 2 * len(DIALECTS)))
    for name, n, rates in rows:
        cells = []
        for d in DIALECTS:
            r = rates[d]
            cells += ["—", "—"] if r is None else [f"{r[0]:,.0f}", f"{r[1]:,.0f}"]
        print(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
