"""Seeing the compiled structure: statistics, a text tree, Mermaid and Graphviz drawings.

Position in the pipeline::

    CompiledRuleSet ──**show**──▶ text (``rules-engine compile --show stats|tree --format text|mermaid|dot``)

The drawings show how rules share work: the event's names and paths, the
distinct predicates read from each (one node per predicate, however many
rules use it), and the rules they lead to.  A solid edge is an index lookup
(the predicate is an *anchor*); a dashed edge is a check made only for rules
that are already candidates::

    event --> detail.state --> ["= running"] --> rule-a
                                     └---------> rule-b -.-> [detail.total > 3]

Pure functions of the compiled rule set: no I/O here (the CLI prints).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rules_engine.compile.cel_codegen import compile_cel
from rules_engine.compile.compiled import CompiledRuleSet
from rules_engine.compile.describe import describe_atom, where_of
from rules_engine.compile.formula import Atom, OpaqueAtom
from rules_engine.compile.normalize import pids
from rules_engine.compile.prefilter import rejected_share

MAX_SHOWN = 8
"""Entries listed per structure in the tree (the rest is counted)."""

MAX_EDGES = 400
"""Edges drawn at most in a diagram (a note says how many were left out)."""


def _without_where(a: Atom) -> str:
    text = describe_atom(a)
    where = where_of(a)
    return text[len(where) + 1 :] if not isinstance(a, OpaqueAtom) and text.startswith(where + " ") else text


# --- source -------------------------------------------------------------------------------------


def show_source(c: CompiledRuleSet) -> str:
    """Every generated source the compiled rule set runs, as compiled: ``match`` (with a comment
    naming the rule and condition above each rule's check), the partial decoder, and each CEL
    filter's translation (a filter cel-python runs says so)."""
    out = ["# --- match(event): the rule set's matcher", c.source.rstrip("\n")]
    if c.decoder.source is not None:
        out += ["", "", "# --- convert(struct): the partial decoder (raw events)", c.decoder.source.rstrip("\n")]
    for atom in c.normalised.atoms:
        if isinstance(atom, OpaqueAtom) and atom.kind == "cel":
            translated = compile_cel(atom.text)
            out += ["", "", f"# --- CEL {atom.text!r}"]
            out.append(translated.python.rstrip("\n") if translated.python else "# run by cel-python (not translated)")
    return "\n".join(out) + "\n"


# --- stats ---------------------------------------------------------------------------------------


def show_stats(c: CompiledRuleSet, compile_seconds: float | None = None, fmt: str = "text",
               events: Sequence[bytes] | None = None) -> str:
    """The statistics, then the time of each compiler stage (when ``c`` was compiled with a clock); with
    ``events`` (raw JSON texts), how many of them the raw-byte prefilter rejects before decoding."""
    stats = c.stats()
    rejected = rejected_share(c.prefilter, events) if events is not None else None
    if fmt == "json":
        data: dict[str, Any] = {f: getattr(stats, f) for f in stats.__dataclass_fields__}
        if compile_seconds is not None:
            data["compile_ms"] = round(compile_seconds * 1000, 3)
        if c.timings:
            data["stages_ms"] = {name: round(s * 1000, 3) for name, s in c.timings}
        if rejected is not None:
            data["events"], data["events_rejected_before_decoding"] = rejected[1], rejected[0]
        return json.dumps(data, indent=2) + "\n"
    rows = stats.rows()
    if compile_seconds is not None:
        rows.append(("compile time", f"{compile_seconds * 1000:.1f} ms"))
    rows.extend((f"  stage {name}", f"{s * 1000:.1f} ms") for name, s in c.timings)
    if rejected is not None:
        share = f" ({rejected[0] / rejected[1]:.1%})" if rejected[1] else ""
        rows.append(("events rejected before decoding", f"{rejected[0]:,} of {rejected[1]:,}{share}"))
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k:<{width}}  {v}\n" for k, v in rows)


# --- the model both drawings and the tree use ----------------------------------------------------


class _Model:
    """Who reads what: per name/path the anchor predicates and checked predicates, per rule its parts."""

    def __init__(self, c: CompiledRuleSet) -> None:
        n = c.normalised
        self.c = c
        self.rule_name = {r.ordinal: r.rule.name for r in n.rules}
        self.anchored: dict[int, list[int]] = defaultdict(list)  # pid -> rules anchored on it
        self.checked: dict[int, list[int]] = defaultdict(list)  # pid -> rules that check it
        self.always: list[int] = []
        for r in n.rules:
            if r.anchors is None:
                self.always.append(r.ordinal)
            for pid in r.anchors or ():
                self.anchored[pid].append(r.ordinal)
            if r.verify is not None:
                for pid in sorted(set(pids(r.verify))):
                    self.checked[pid].append(r.ordinal)
        self.by_where: dict[str, list[int]] = defaultdict(list)
        for pid, atom in enumerate(n.atoms):
            self.by_where[where_of(atom)].append(pid)


def _more(items: list[str]) -> list[str]:
    if len(items) <= MAX_SHOWN:
        return items
    return items[:MAX_SHOWN] + [f"… and {len(items) - MAX_SHOWN} more"]


def show_tree(c: CompiledRuleSet) -> str:
    """The structure as text: per name/path, its predicates, the rules each leads to."""
    m = _Model(c)
    n = c.normalised
    s = c.stats()
    out = [
        (f"{s.rules} rules, {s.predicates} distinct predicates ({s.atoms} uses), {len(m.by_where)} names/paths; "
         f"{s.indexed} looked up by the index, {s.candidate_only} checked on candidates only")
    ]
    for where in sorted(m.by_where):
        here = m.by_where[where]
        indexed = [p for p in here if p in m.anchored]
        label = "computed (no index: run for candidate rules)" if where == "(computed)" else where
        out.append(f"{label}")
        lines = []
        for pid in indexed:
            rules = ", ".join(m.rule_name[r] for r in m.anchored[pid])
            lines.append(f"  ● {_without_where(n.atoms[pid])}  -> {rules}")
        for pid in here:
            if pid in m.checked and pid not in m.anchored:
                rules = ", ".join(m.rule_name[r] for r in m.checked[pid])
                lines.append(f"  ○ {_without_where(n.atoms[pid])}  (checked for {rules})")
        out.extend(_more(lines))
    exact = [r.rule.name for r in n.rules if r.exact]
    checked = [r.rule.name for r in n.rules if not r.exact and r.anchors]
    out.append(f"decided by the index: {', '.join(_more(exact)) or '-'}")
    out.append(f"checked after an index hit: {', '.join(_more(checked)) or '-'}")
    out.append(f"checked for every event: {', '.join(_more([m.rule_name[r] for r in m.always])) or '-'}")
    never = [r.rule.name for r in n.rules if r.anchors == ()]
    if never:
        out.append(f"can never match: {', '.join(_more(never))}")
    out.append("(● index lookup  ○ check on candidates)")
    return "\n".join(out) + "\n"


# --- drawings --------------------------------------------------------------------------------------


def _edges(c: CompiledRuleSet) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], int]:
    """Nodes (id, label) and edges (from, to, style) of the drawing; how many edges were left out."""
    m = _Model(c)
    n = c.normalised
    nodes: list[tuple[str, str]] = [("ev", "event")]
    edges: list[tuple[str, str, str]] = []
    where_id = {w: f"w{i}" for i, w in enumerate(sorted(m.by_where))}
    for w, i in where_id.items():
        nodes.append((i, w))
        edges.append(("ev", i, "solid"))
    used_rules: set[int] = set()
    for pid, atom in enumerate(n.atoms):
        if pid not in m.anchored and pid not in m.checked:
            continue
        nodes.append((f"p{pid}", _without_where(atom)))
        edges.append((where_id[where_of(atom)], f"p{pid}", "solid" if pid in m.anchored else "dashed"))
        for r in m.anchored.get(pid, ()):
            edges.append((f"p{pid}", f"r{r}", "solid"))
            used_rules.add(r)
        for r in m.checked.get(pid, ()):
            edges.append((f"r{r}", f"p{pid}", "dashed"))
            used_rules.add(r)
    for r in m.always:
        edges.append(("ev", f"r{r}", "dashed"))
        used_rules.add(r)
    for r in sorted(used_rules):
        nodes.append((f"r{r}", m.rule_name[r]))
    dropped = max(0, len(edges) - MAX_EDGES)
    return nodes, edges[:MAX_EDGES], dropped


def structure_graph(c: CompiledRuleSet) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], int]:
    """The drawing's data, for renderers of its own (the sidecar console draws it as SVG): nodes
    ``(id, label)`` whose id starts with ``ev`` (the event), ``w`` (a name or path), ``p`` (a predicate) or
    ``r`` (a rule); edges ``(from, to, "solid"|"dashed")``; and how many edges were left out."""
    return _edges(c)


def _mermaid_text(s: str) -> str:
    return s.replace('"', "#quot;")


def show_mermaid(c: CompiledRuleSet) -> str:
    nodes, edges, dropped = _edges(c)
    out = ["flowchart LR"]
    for node_id, label in nodes:
        shape = ('(("', '"))') if node_id == "ev" else ('["', '"]') if node_id[0] == "r" else ('("', '")')
        if node_id[0] == "w":
            shape = ('[/"', '"/]')
        out.append(f"  {node_id}{shape[0]}{_mermaid_text(label)}{shape[1]}")
    for a, b, style in edges:
        out.append(f"  {a} {'-->' if style == 'solid' else '-.->'} {b}")
    if dropped:
        out.append(f"  %% {dropped} more edges not drawn")
    return "\n".join(out) + "\n"


def _dot_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def show_dot(c: CompiledRuleSet) -> str:
    nodes, edges, dropped = _edges(c)
    out = ["digraph compiled {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node_id, label in nodes:
        shape = {"e": "circle", "w": "folder", "p": "box", "r": "box"}[node_id[0]]
        extra = ", style=rounded" if node_id[0] == "p" else ", style=bold" if node_id[0] == "r" else ""
        out.append(f'  {node_id} [label="{_dot_text(label)}", shape={shape}{extra}];')
    for a, b, style in edges:
        out.append(f"  {a} -> {b}" + (" [style=dashed];" if style == "dashed" else ";"))
    if dropped:
        out.append(f"  // {dropped} more edges not drawn")
    out.append("}")
    return "\n".join(out) + "\n"
