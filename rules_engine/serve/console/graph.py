"""The compiled decision structure as an SVG picture, drawn on the server (no script, no CDN).

Position in the pipeline::

    CompiledRuleSet ──compile.structure_graph──▶ nodes, edges ──**svg**──▶ the console's Structure page

The layout is the structure's own: four columns, left to right, the event, the names and paths rules read,
the distinct predicates on them, and the rules.  A solid edge is an index lookup (the predicate anchors the
rule); a dashed edge is a check made only for rules that are already candidates, the same as
``rules-engine compile --show tree --format mermaid|dot``.  Pure: text in, text out.
"""

from __future__ import annotations

from html import escape

COLUMN = {"e": 0, "w": 1, "p": 2, "r": 3}
COLUMN_X = (20, 170, 420, 720)
BOX_W = (110, 200, 250, 200)
ROW_H = 34
BOX_H = 24
MAX_LABEL = 34


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def svg(nodes: list[tuple[str, str]], edges: list[tuple[str, str, str]], dropped: int) -> str:
    """An ``<svg>`` element (with a title and a text alternative for screen readers)."""
    rows = [0, 0, 0, 0]
    place: dict[str, tuple[int, int]] = {}
    for node_id, _ in nodes:
        col = COLUMN[node_id[0]]
        place[node_id] = (col, rows[col])
        rows[col] += 1
    height = max(max(rows), 1) * ROW_H + 30
    width = COLUMN_X[-1] + BOX_W[-1] + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="structure-title" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" class="structure">',
           '<title id="structure-title">Compiled decision structure: event, fields, predicates, rules</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>']

    def anchor(node_id: str, right: bool) -> tuple[float, float]:
        col, row = place[node_id]
        x = COLUMN_X[col] + (BOX_W[col] if right else 0)
        return x, 20 + row * ROW_H + BOX_H / 2

    for a, b, style in edges:
        if a not in place or b not in place:
            continue
        forward = COLUMN[a[0]] < COLUMN[b[0]]
        x1, y1 = anchor(a, right=forward)
        x2, y2 = anchor(b, right=not forward)
        bend = 60 if forward else -60
        dash = ' stroke-dasharray="5 4"' if style == "dashed" else ""
        out.append(f'<path class="edge {style}" d="M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, '
                   f'{x2 - bend:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}" fill="none" marker-end="url(#arrow)"{dash}/>')
    for node_id, label in nodes:
        col, row = place[node_id]
        x, y = COLUMN_X[col], 20 + row * ROW_H
        kind = {"e": "event", "w": "field", "p": "predicate", "r": "rule"}[node_id[0]]
        rx = 12 if kind in ("event", "predicate") else 3
        out.append(f'<g class="node {kind}"><title>{escape(label)}</title>'
                   f'<rect x="{x}" y="{y}" width="{BOX_W[col]}" height="{BOX_H}" rx="{rx}"/>'
                   f'<text x="{x + 8}" y="{y + 16}">{escape(_short(label))}</text></g>')
    if dropped:
        out.append(f'<text x="20" y="{height - 8}" class="note">{dropped} more edges not drawn</text>')
    out.append("</svg>")
    return "\n".join(out)
