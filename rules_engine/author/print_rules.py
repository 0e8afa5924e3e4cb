"""IR -> rule-language text, in the one canonical layout (used by ``convert`` and ``fmt``).

Position in the pipeline::

    RuleSetIR (+ optional comments and item order) ──**print_rules**──▶ .rules text ──parse──▶ same IR

Layout: settings, then items; one blank line between items (consecutive
one-line targets stay together); two-space indentation; inside a rule the
statements come as ``description``, filters (in IR order, which is meaning),
transform statements, ``route to``, ``on match``, ``on error``,
``disabled``; lines past :data:`~.exprs.WIDTH` break at object and list
items and at a top-level ``and``.  Statements of one kind never move past
each other, and statements of different kinds commute (filters all hold,
transforms run in order, routes join), so the layout never changes meaning.

Comments (from :func:`rules_engine.syntax.dsl_layout.dsl_layout`) go back
above the statement that follows them, or at the end of the statement's last
line when they followed code on its line.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rules_engine.author.exprs import expr_lines, expr_text, json_compact, json_lines
from rules_engine.author.pattern_text import Inexpressible, pattern_value
from rules_engine.expressions.render import render_path, string_literal
from rules_engine.model import ir
from rules_engine.model.source import Span
from rules_engine.syntax.dsl_layout import Comment, Layout

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words of the grammar: a name spelt like one is quoted, whatever the lexer would make of it.
_WORDS = frozenset(
    "target rule default route to deduplicate metadata priority description when match cel cesql on stop continue "
    "error skip dead_letter null_fill disabled set rename drop keep payload input transformer envelope "
    "partition by true false null if then else and or not in starts ends with contains matches like exists "
    "any all".split()
)


def label(name: str) -> str:
    """A rule, target or adapter name: bare when it is a plain label, else a string."""
    return name if _LABEL.fullmatch(name) and name not in _WORDS else string_literal(name)


@dataclass
class _Comments:
    """Comments not yet printed, in line order."""

    pending: list[Comment] = field(default_factory=list)

    def before(self, line: int) -> list[Comment]:
        """Comments on lines before ``line`` (each printed on a line of its own)."""
        out = [c for c in self.pending if c.line < line]
        self.pending = [c for c in self.pending if c.line >= line]
        return out

    def trailing(self, first: int, last: int) -> list[Comment]:
        """Comments that follow code on lines ``first``..``last``."""
        out = [c for c in self.pending if not c.own_line and first <= c.line <= last]
        self.pending = [c for c in self.pending if c not in out]
        return out


class _Printer:
    def __init__(self, layout: Layout | None) -> None:
        self.out: list[str] = []
        self.comments = _Comments(list(layout.comments) if layout else [])
        self.layout = layout
        # Comments of the item being printed, by statement (its span's start): (above it, after it).
        self.attached: dict[tuple[int, int], tuple[list[Comment], list[Comment]]] = {}

    # --- comments -------------------------------------------------------------------------------------

    def emit_comments(self, group: list[Comment], indent: int) -> None:
        pad = " " * indent
        for i, c in enumerate(group):
            self.out.append(pad + c.text)
            if c.blank_after and (i + 1 < len(group) or indent == 0):
                self.out.append("")

    def flush(self, line: int, indent: int) -> None:
        self.emit_comments(self.comments.before(line), indent)

    def attach(self, header: Span, end: int | None, spans: list[Span]) -> list[Comment]:
        """Tie the comments inside an item (header line .. ``end``) to its statements, in source order.

        A comment on a line of its own belongs above the next statement written
        after it; one after code, to the statement on whose lines it stands.
        The statements may print in another order (the canonical one), and
        their comments go with them.  Returns the comments left for the end of
        the block (after the last statement).
        """
        self.attached = {}
        if end is None or header.line <= 0:
            return []
        mine = [c for c in self.comments.pending if header.line <= c.line <= end]
        self.comments.pending = [c for c in self.comments.pending if c not in mine]
        anchors = sorted((sp for sp in spans if sp.line > 0), key=lambda sp: (sp.line, sp.column))
        closing: list[Comment] = []
        for c in mine:
            if not c.own_line:
                if header.line <= c.line <= header.end_line:
                    at: Span | None = header
                else:
                    at = next((sp for sp in reversed(anchors) if sp.line <= c.line), None)
                if at is not None:
                    self.attached.setdefault((at.line, at.column), ([], []))[1].append(c)
                    continue
            nxt = next((sp for sp in anchors if sp.line > c.line), None)
            if nxt is None:
                closing.append(c)
            else:
                self.attached.setdefault((nxt.line, nxt.column), ([], []))[0].append(c)
        return closing

    def stmt(self, lines: list[str], indent: int, span: Span | None, end: int | None = None) -> None:
        """Print a statement; ``span`` (None when the IR kept none) places its comments."""
        above: list[Comment] = []
        after: list[Comment] = []
        if span is not None and span.line > 0:
            key = (span.line, span.column)
            if key in self.attached:
                above, after = self.attached.pop(key)
            else:
                self.flush(span.line, indent)
                after = self.comments.trailing(span.line, max(span.end_line, end or 0))
        self.emit_comments(above, indent)
        # Continuation lines come indented already (the line breakers know their column).
        text = [" " * indent + lines[0]] + lines[1:]
        if after:
            text[-1] += "  " + "  ".join(c.text for c in after)
        self.out.extend(text)

    # --- items -----------------------------------------------------------------------------------------

    def settings(self, rs: ir.RuleSetIR, which: str) -> None:
        if which == "deduplicate" and not rs.deduplicate:
            self.out.append("deduplicate false")
        if which == "metadata" and rs.metadata.items:
            self.out.extend(json_lines(rs.metadata, 0, "metadata "))

    def target(self, t: ir.Target, end: int | None) -> None:
        head = f"target {label(t.name)} = {label(t.type)}"
        opts = []
        for key, value in t.options.items:
            if not _NAME.fullmatch(key):
                raise Inexpressible(f"target {t.name!r}", f"option name {key!r} is not a name in the rule language",
                                    t.span)
            opts.append((key, value))
        lines: list[str]
        if opts:
            one = head + "(" + ", ".join(f"{k}: {json_compact(v)}" for k, v in opts) + ")"
            if len(one) <= 100:
                lines = [one]
            else:
                lines = [head + "("]
                for i, (k, v) in enumerate(opts):
                    part = json_lines(v, 2, f"{k}: ")
                    part[0] = "  " + part[0]
                    if i < len(opts) - 1:
                        part[-1] += ","
                    lines.extend(part)
                lines.append(")")
        else:
            lines = [head]
        body = t.transform is not None or t.partition_key is not None
        self.flush(t.span.line, 0)
        if not body:
            self.stmt(lines, 0, t.span, end)
            return
        lines[-1] += " {"
        inner = _transform_spans(t.transform) + ([t.partition_key.span] if t.partition_key is not None else [])
        closing = self.attach(t.span, end, [t.span] + inner)
        self.stmt(lines, 0, t.span)
        if t.transform is not None:
            self.transform(t.transform, f"target {t.name!r}")
        if t.partition_key is not None:
            self.stmt(expr_lines(t.partition_key, 2, "partition by "), 2, t.partition_key.span)
        self.emit_comments(closing, 2)
        self.out.append("}")

    def transform(self, tr: ir.Transform, owner: str) -> None:
        if not tr.steps and tr.envelope is None:
            raise Inexpressible(owner, "an empty transform has no rule-language statement", tr.span)
        for step in tr.steps:
            self.stmt(_step_lines(step), 2, step.span)
        if tr.envelope is not None:
            env = tr.envelope
            attrs = [(n, v) for n, v in (("type", env.type), ("source", env.source), ("subject", env.subject))
                     if v is not None]
            attrs.extend(env.extensions)
            one = "envelope cloudevents {" + ", ".join(f"{n}: {expr_text(v)}" for n, v in attrs) + "}"
            if not attrs:
                one = "envelope cloudevents {}"
            if len(one) + 2 <= 100:
                self.stmt([one], 2, env.span)
            else:
                lines = ["envelope cloudevents {"]
                for i, (n, v) in enumerate(attrs):
                    part = expr_lines(v, 4, f"{n}: ")
                    part[0] = "    " + part[0]
                    if i < len(attrs) - 1:
                        part[-1] += ","
                    lines.extend(part)
                lines.append("  }")
                self.stmt(lines, 2, env.span)

    def rule(self, r: ir.Rule, end: int | None) -> None:
        head = f"rule {label(r.name)}" + (f" priority {r.priority}" if r.priority else "") + " {"
        self.flush(r.span.line, 0)
        inner = [f.span for f in r.filters] + _transform_spans(r.transform) + [t.span for t in r.targets]
        closing = self.attach(r.span, end, [r.span] + inner)
        self.stmt([head], 0, r.span)
        if r.description is not None:
            self.out.append("  description " + string_literal(r.description))
        for f in r.filters:
            if f.kind == "match":
                assert isinstance(f.node, ir.EventPattern)
                lines = json_lines(pattern_value(f.node), 2, "match ")
            elif f.kind == "cel":
                assert isinstance(f.node, ir.Cel)
                lines = ["cel " + _cel_string(f.node.source)]
            elif f.kind == "cesql":
                assert isinstance(f.node, ir.Cesql)
                lines = ["cesql " + _cel_string(f.node.source)]
            elif f.kind == "filters":
                raise Inexpressible(f"rule {r.name!r}", "the rule language has no Knative trigger filters; "
                                    "write them as one `cesql` filter, or keep this rule in YAML", f.span)
            else:
                lines = expr_lines(f.node, 2, "when ")  # type: ignore[arg-type]
            self.stmt(lines, 2, f.span)
        if r.transform is not None:
            self.transform(r.transform, f"rule {r.name!r}")
        if r.targets:
            # Several `route to` statements print as one; the comments of each go with it.
            for t in r.targets[1:]:
                extra = self.attached.pop((t.span.line, t.span.column), None)
                if extra is not None:
                    first = self.attached.setdefault((r.targets[0].span.line, r.targets[0].span.column), ([], []))
                    first[0].extend(extra[0])
                    first[1].extend(extra[1])
            self.stmt(["route to " + ", ".join(label(t.name) for t in r.targets)], 2, r.targets[0].span,
                      r.targets[-1].span.end_line)
        if r.on_match != "continue":
            self.out.append(f"  on match {r.on_match}")
        if r.on_error != "skip":
            self.out.append(f"  on error {r.on_error}")
        if not r.enabled:
            self.out.append("  disabled")
        self.emit_comments(closing, 2)
        self.out.append("}")

    def default_route(self, refs: tuple[ir.TargetRef, ...]) -> None:
        self.stmt(["default route to " + ", ".join(label(t.name) for t in refs)], 0, refs[0].span,
                  refs[-1].span.end_line)


def _transform_spans(tr: ir.Transform | None) -> list[Span]:
    if tr is None:
        return []
    return [st.span for st in tr.steps] + ([tr.envelope.span] if tr.envelope is not None else [])


def _cel_string(text: str) -> str:
    """A CEL text as a string token; single quotes when it holds double quotes and no single ones."""
    if '"' in text and "'" not in text and "\\" not in text and "\n" not in text:
        return "'" + text + "'"
    return string_literal(text)


def _paths(paths: tuple[ir.Path, ...]) -> str:
    return ", ".join(render_path(p) for p in paths)


def _step_lines(step: ir.TransformStep) -> list[str]:
    if isinstance(step, ir.SetField):
        return expr_lines(step.value, 2, f"set {render_path(step.path)} = ")
    if isinstance(step, ir.Rename):
        return [f"rename {render_path(step.source)} to {render_path(step.dest)}"]
    if isinstance(step, ir.Drop):
        return ["drop " + _paths(step.paths)]
    if isinstance(step, ir.Keep):
        return ["keep " + _paths(step.paths)]
    if isinstance(step, ir.Replace):
        return expr_lines(step.value, 2, "payload ")
    assert isinstance(step, ir.InputTransformer)
    paths = json_compact(dict(step.paths_map))
    one = f"input transformer {{paths: {paths}, template: {string_literal(step.template)}}}"
    if len(one) + 2 <= 100:
        return [one]
    lines = ["input transformer {"]
    part = json_lines(dict(step.paths_map), 4, "paths: ")
    lines.extend(["    " + part[0]] + part[1:])
    lines[-1] += ","
    lines.append("    template: " + string_literal(step.template))
    lines.append("  }")
    return lines


def print_rules(rs: ir.RuleSetIR, layout: Layout | None = None) -> str:
    """The rule set as one ``.rules`` file.

    With ``layout`` (the file the IR came from) items keep their file order and
    comments come back; without it the order is settings, targets, default
    route, rules.  Raises :class:`Inexpressible` for IR no rule-language text
    lowers to.
    """
    p = _Printer(layout)
    order: list[tuple[str, int | None]]
    if layout is not None:
        order = [(it.kind, it.end_line) for it in layout.items]
    else:
        order = [("deduplicate", None), ("metadata", None)]
        order += [("target_def", None)] * len(rs.targets)
        order += [("default_route", None)] + [("rule_def", None)] * len(rs.rules)
    targets = iter(rs.targets)
    rules = iter(rs.rules)
    defaults_done = False
    prev: str | None = None
    for kind, end in order:
        start = len(p.out)
        if kind == "target_def":
            t = next(targets)
            one_line = t.transform is None and t.partition_key is None
            if prev is not None and not (prev == "target1" and one_line):
                p.out.append("")
            p.target(t, end)
            prev = "target1" if one_line and not p.out[-1].startswith((" ", ")")) else "target"
            continue
        if kind == "rule_def":
            if prev is not None:
                p.out.append("")
            p.rule(next(rules), end)
        elif kind == "default_route":
            if defaults_done or not rs.default_targets:
                continue
            defaults_done = True
            if prev is not None:
                p.out.append("")
            p.default_route(rs.default_targets)
        else:
            if (kind == "deduplicate" and rs.deduplicate) or (kind == "metadata" and not rs.metadata.items):
                continue
            if prev is not None and prev != "setting":
                p.out.append("")
            p.settings(rs, kind)
            prev = "setting"
            continue
        if len(p.out) > start:
            prev = kind
    rest = p.comments.pending
    if rest:
        if p.out:
            p.out.append("")
        p.out.extend(c.text for c in rest)
    while p.out and p.out[-1] == "":
        p.out.pop()
    return "\n".join(p.out) + "\n" if p.out else ""
