"""Compile stage 4: one specialised Python function, ``match(event) -> list[Rule]``, per rule set.

Position in the pipeline::

    Normalised + Index ──**generate**──▶ Python source ──compile()──▶ match(event)
                           ├─ codegen_checks.build_checks: predicates, each candidate rule's check
                           ├─ codegen_probes.probe_index:  read the event, probe the index into ``h``
                           └─ _finish:                     evaluation order, checks, ``on_match: stop``

Generated source is the fastest thing CPython runs: the function reads only
the event keys some atom needs (sharing the lookups of common prefixes),
probes each value against the index structures of its name with inline dict
lookups, slices of sorted bounds and bisects, and only then checks the
candidates that need it.  docs/compile.md shows the whole function for the
CL2 ``EXACT`` set; its heart is::

    b = XS5.get(v0)                 # {"1430022": (0,), "2607117": (16,), ...}
    if b is not None: h += b

Constants (index dicts, rule tuples, predicate closures) are bound into the
function's globals by name; the source refers to them, never copies them.

Invariants:
  * ``h`` collects the ordinals of candidate rules; duplicates are harmless (a set
    sorts them back into evaluation order);
  * a rule in ``h`` whose ``VER[r]`` is None matched (exact anchor); any other
    is checked by ``VER[r](ev, m)`` over the per-event memo ``m``, or, when the
    event is plain (every name one scalar or nothing, see :class:`_Fast`) and
    ``FAST[r]`` is not None, by ``FAST[r](m)``: the same verdict, cheaper;
  * the output is in evaluation order and stops after the first matching
    ``on_match: stop`` rule, exactly as ``reference.matching_rules``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rules_engine.compile import runtime
from rules_engine.compile.codegen_checks import Checks, build_checks, plain_test
from rules_engine.compile.codegen_probes import Prologue, probe_index
from rules_engine.compile.emit import Writer, load
from rules_engine.compile.index import Index
from rules_engine.compile.normalize import Normalised
from rules_engine.model import ir


@dataclass(frozen=True, slots=True)
class Generated:
    source: str
    function: Callable[[Any], list[ir.Rule]]
    verifiers: int  # rules checked by generated code
    closures: int  # rules checked by closures (deep formulas)
    cel_fallbacks: int  # CEL filters cel-python runs (not translated)
    expr_fallbacks: int = 0  # expression filters the reference evaluator runs (too deep to translate)
    match_lines: tuple[str, ...] = ()  # the source of ``match`` alone (``codegen_struct`` rewrites its head)
    prologue: Prologue | None = None


def _runtime_names() -> dict[str, Any]:
    """What generated code calls and compares with, by the names it uses."""
    return {
        "MISSING": runtime.MISSING, "UNUSUAL": runtime.UNUSUAL, "EMPTY": runtime.EMPTY,
        "SCALARS": runtime.SCALARS, "Vals": runtime.Vals, "UNSET": runtime.UNSET, "step": runtime.step,
        "eb_values": runtime.eb_values, "eb_below": runtime.eb_below, "get_path": runtime.get_path,
        "ip_key": runtime.ip_key, "generic_probe": runtime.generic_probe, "consistent": runtime.consistent,
        "bl": bisect.bisect_left, "br": bisect.bisect_right,
    }


def generate(n: Normalised, index: Index, rules: tuple[ir.Rule, ...],
             leaves: tuple[Callable[[Any], bool] | None, ...] | None = None) -> Generated:
    """Stage 4: the source of ``match`` and the function compiled from it."""
    got = leaves or tuple(None for _ in n.atoms)
    w = Writer()
    w.ns.update(_runtime_names())
    c = build_checks(w, n, index, len(rules), got)
    seeds, prologue = probe_index(w, index, c.parts)
    V, F = _finish(w, n, index, rules, c, seeds)
    match_lines = tuple(w.lines)
    source = "\n".join(c.parts) + "\n" + w.text()
    load(source, "match", w.ns)
    if V is not None:  # the checks' names resolved to the functions just loaded
        w.ns[V] = tuple(w.ns[f] if isinstance(f, str) else f for f in c.verifiers)
    if F is not None:
        w.ns[F] = tuple(w.ns[f] if isinstance(f, str) else f for f in c.fast)
    return Generated(source, w.ns["match"], c.generated, c.closures, c.cel_fallbacks, c.expr_fallbacks,
                     match_lines, prologue)


def _finish(w: Writer, n: Normalised, index: Index, rules: tuple[ir.Rule, ...], c: Checks,
            seeds: list[str]) -> tuple[str | None, str | None]:
    """The end of ``match``: candidates in evaluation order, their checks over the memo (seeded with
    ``seeds`` on the first check), the stop rules; returns the constants naming VER and FAST."""
    stops = frozenset(r.ordinal for r in n.rules if r.rule.on_match == "stop")
    R = w.const(rules, "RULES")
    w.emit(1, "if not h: return []")
    V: str | None = None
    F: str | None = None
    if not c.generated and not c.closures and not stops:
        # the rules of the sorted distinct hits, remembered by the hit list (a fresh list each time)
        memo, fill = runtime.hits_memo(lambda k: tuple(rules[r] for r in sorted(set(k))))
        M, FILL = w.const(memo, "ANS"), w.const(fill, "ANSFILL")
        w.emit(1, f"if len(h) == 1: return [{R}[h[0]]]")
        w.emit(1, f"if len(h) > {runtime.MEMO_KEY}: return [{R}[r] for r in sorted(set(h))]")
        w.emit(1, f"a = {M}.get(k := tuple(h))")
        w.emit(1, f"return [*(a if a is not None else {FILL}(k))]")
    else:
        # h becomes a tuple (remembered) or stays a list (longer than MEMO_KEY): below, it is only iterated
        memo, fill = runtime.hits_memo(lambda k: tuple(sorted(set(k))))
        M, FILL = w.const(memo, "ORD"), w.const(fill, "ORDFILL")
        w.emit(1, f"if len(h) > 1: h = ({M}.get(k := tuple(h)) or {FILL}(k)) if len(h) <= {runtime.MEMO_KEY} "
                  "else sorted(set(h))")
        if c.generated or c.closures:
            V = w.const(tuple(c.verifiers), "VER")
        F = w.const(tuple(c.fast), "FAST") if any(f is not None for f in c.fast) else None
        w.emit(1, "out = []")
        if V:
            w.emit(1, "m = None")
        w.emit(1, "for r in h:")
        if V:
            w.emit(2, f"f = {V}[r]")
            w.emit(2, "if f is not None:")
            w.emit(3, "if m is None:")
            w.emit(4, "m = {" + ", ".join(seeds) + "}")
            if F:
                w.emit(4, f"plain = {plain_test(c.seeded, index)}")
            if F:
                w.emit(3, f"if plain and (g := {F}[r]) is not None:")
                w.emit(4, "if not g(m): continue")
                w.emit(3, "elif not f(ev, m): continue")
            else:
                w.emit(3, "if not f(ev, m): continue")
        w.emit(2, f"out.append({R}[r])")
        if stops:
            w.emit(2, f"if r in {w.const(stops, 'STOP')}: break")
        w.emit(1, "return out")
    return V, F
