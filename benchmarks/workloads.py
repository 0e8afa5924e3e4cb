"""Benchmark workloads: the CL2 rule sets and events, mixed rule sets for scaling, CEL equivalents.

Position: benchmark data, used by ``benchmarks/run.py``.  Nothing here is timed.

* :func:`citylots` gives the shared corpus (50,000 events with event-ruler's
  exact counts) when ``../shared/corpus/citylots`` exists, else events from
  ``citylots_gen`` with no expected counts (the runner computes them with the
  reference evaluator);
* :func:`mixed_rules` writes N selective EventBridge patterns over city-lot
  fields with every operator (exact, prefix, suffix, equals-ignore-case,
  wildcard, numeric ranges, anything-but, exists, ``$or``), drawing values
  from the events so that rules do match;
* :func:`cel_of` translates a CL2 pattern into the equivalent CEL text for
  the cel-python peer.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citylots_gen import CL2_RULES
from citylots_gen import events as generated_events

from rules_engine.model import ir
from rules_engine.patterns.lower import parse_pattern_json

ROOT = Path(__file__).resolve().parents[1]
CITYLOTS = ROOT.parent / "shared" / "corpus" / "citylots"


@dataclass(frozen=True)
class Citylots:
    source: str  # where the events come from
    rules: dict[str, dict[str, Any]]  # {set: {rule: pattern}}
    lines: list[bytes]  # raw events
    expected: dict[str, dict[str, int]] | None  # event-ruler's counts over all lines (None: generated data)


def citylots(limit: int | None = None) -> Citylots:
    if (CITYLOTS / "citylots-50k.jsonl.gz").exists():
        with gzip.open(CITYLOTS / "citylots-50k.jsonl.gz", "rb") as fh:
            if limit is None:
                lines = fh.read().splitlines()
            else:  # stream: a child measuring memory reads only what it uses
                lines = [line.rstrip(b"\n") for _, line in zip(range(limit), fh, strict=False)]
        rules = json.loads((CITYLOTS / "rules.json").read_text())
        if limit is not None:
            return Citylots(f"{CITYLOTS} (first {len(lines):,} events)", rules, lines, None)
        expected = json.loads((CITYLOTS / "expected-counts.json").read_text())
        return Citylots(str(CITYLOTS), rules, lines, expected)
    n = limit or 50_000
    return Citylots(f"benchmarks/citylots_gen.py ({n:,} events, seed 2024)", CL2_RULES, generated_events(n), None)


def ruleset(patterns: dict[str, Any]) -> ir.RuleSetIR:
    rules = []
    for name, pattern in patterns.items():
        lowered, diags = parse_pattern_json(json.dumps(pattern))
        if lowered is None:
            raise ValueError(f"{name}: {diags}")
        rules.append(ir.Rule(name, (ir.Filter("match", lowered),)))
    return ir.RuleSetIR(rules=tuple(rules))


# --- mixed rule sets -----------------------------------------------------------------------------------


def mixed_rules(n: int, events: list[dict[str, Any]], seed: int = 7) -> dict[str, Any]:
    """``n`` selective patterns of mixed operators, values drawn from ``events``.

    Each rule keeps one selective condition (a lot, a block, a narrow
    coordinate range), so an event matches a handful of rules whatever ``n``
    is: the benchmark then measures the cost of finding them among ``n``,
    not the cost of writing a long answer.
    """
    rnd = random.Random(seed)
    out: dict[str, Any] = {}
    for i in range(n):
        e = rnd.choice(events)
        p, g = e["properties"], e["geometry"]
        x, y = g["firstCoordinates"]["x"], g["firstCoordinates"]["y"]
        kind = i % 12
        if kind == 0:
            pattern: dict[str, Any] = {"properties": {"MAPBLKLOT": [p["MAPBLKLOT"]]}}
        elif kind == 1:
            pattern = {"properties": {"STREET": [p["STREET"]]},
                       "geometry": {"firstCoordinates": {"x": [{"numeric": [">=", x - 2e-4, "<", x + 2e-4]}]}}}
        elif kind == 2:
            pattern = {"properties": {"BLKLOT": [{"prefix": p["BLKLOT"][:6]}]}}
        elif kind == 3:
            pattern = {"properties": {"MAPBLKLOT": [{"suffix": p["MAPBLKLOT"][-6:]}]}}
        elif kind == 4:
            pattern = {"properties": {"STREET": [{"equals-ignore-case": p["STREET"].lower()}],
                                      "BLOCK_NUM": [p["BLOCK_NUM"]]}}
        elif kind == 5:
            pattern = {"properties": {"BLOCK_NUM": [p["BLOCK_NUM"]],
                                      "ST_TYPE": [{"anything-but": [rnd.choice(["ST", "AVE", "WAY"])]}]}}
        elif kind == 6:
            pattern = {"properties": {"LOT_NUM": [p["LOT_NUM"]], "BLOCK_NUM": [p["BLOCK_NUM"]],
                                      "FROM_ST": [{"exists": True}]}}
        elif kind == 7:
            lot = p["MAPBLKLOT"]
            pattern = {"properties": {"MAPBLKLOT": [{"wildcard": lot[:4] + "*" + lot[-1]}]}}
        elif kind == 8:
            other = rnd.choice(events)["properties"]["BLKLOT"]
            pattern = {"$or": [{"properties": {"MAPBLKLOT": [p["MAPBLKLOT"]]}},
                               {"properties": {"BLKLOT": [other]}}]}
        elif kind == 9:
            pattern = {"properties": {"ST_TYPE": [p["ST_TYPE"]]},
                       "geometry": {"firstCoordinates": {"y": [{"numeric": [">", y - 1e-4, "<=", y + 1e-4]}]}}}
        elif kind == 10:
            pattern = {"properties": {"STREET": [{"prefix": {"equals-ignore-case": p["STREET"][:3].lower()}}],
                                      "FROM_ST": [p["FROM_ST"]], "ODD_EVEN": [p["ODD_EVEN"]]}}
        else:
            pattern = {"properties": {"TO_ST": [p["TO_ST"]], "STREET": [p["STREET"], "NOWHERE"],
                                      "LOT_NUM": [{"anything-but": {"prefix": "9"}}]}}
        out[f"m{i}"] = pattern
    return out


# --- CEL equivalents of the CL2 patterns (for the cel-python peer) ----------------------------------


def _re(text: str) -> str:
    return "".join("\\\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text)


def _wild(pattern: str) -> str:
    return "^" + ".*".join(_re(part) for part in pattern.split("*")) + "$"


def _cond(path: str, m: Any) -> str:
    if not isinstance(m, dict):
        return f"{path} == {json.dumps(m)}"
    (op, arg), = m.items()
    if op == "prefix":
        if isinstance(arg, dict):
            return f'{path}.matches("(?i)^{_re(arg["equals-ignore-case"])}")'
        return f"{path}.startsWith({json.dumps(arg)})"
    if op == "suffix":
        if isinstance(arg, dict):
            return f'{path}.matches("(?i){_re(arg["equals-ignore-case"])}$")'
        return f"{path}.endsWith({json.dumps(arg)})"
    if op == "equals-ignore-case":
        return f'{path}.matches("(?i)^{_re(arg)}$")'
    if op == "wildcard":
        return f'{path}.matches("{_wild(arg)}")'
    if op == "numeric":
        pairs = zip(arg[::2], arg[1::2], strict=True)
        return " && ".join(f"{path} {'==' if o == '=' else o} {json.dumps(v)}" for o, v in pairs)
    if op == "anything-but":
        if isinstance(arg, dict):
            return f"!({_cond(path, arg)})"
        values = arg if isinstance(arg, list) else [arg]
        return " && ".join(f"{path} != {json.dumps(v)}" for v in values)
    raise ValueError(op)


def cel_of(pattern: dict[str, Any]) -> str:
    """CEL with the same verdicts as a CL2 pattern on city-lot events (arrays of vertices walked by depth)."""
    parts: list[str] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, path + [key])
                continue
            if path + [key] in (["geometry", "coordinates", "x"], ["geometry", "coordinates", "y"]):
                c = " || ".join(_cond(f"p.{key}", m) for m in value)
                two = f"event.geometry.coordinates.exists(r, r.exists(p, {c}))"
                three = f"event.geometry.coordinates.exists(a, a.exists(r, r.exists(p, {c})))"
                parts.append(f'(event.geometry.type == "MultiPolygon" ? {three} : {two})')
                continue
            full = "event." + ".".join(path + [key])
            parts.append("(" + " || ".join(_cond(full, m) for m in value) + ")")

    walk(pattern, [])
    return " && ".join(parts)
