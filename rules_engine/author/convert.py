"""YAML <-> rule language, lossless to the IR (``rules-engine convert``).

Position in the pipeline::

    text ──parse/lower──▶ IR ──print_yaml / print_rules──▶ text' ──parse/lower──▶ IR'   (IR' == IR, or E702)

A construct the target format cannot say is E701 at its position, never a
silent loss; and every output is loaded again and compared with the input's
IR (spans aside), so a printer bug surfaces as E702 instead of a changed rule.

Pure: works on :class:`~rules_engine.source.Source` values; the CLI reads and writes files.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rules_engine.author.pattern_text import Inexpressible
from rules_engine.author.print_rules import print_rules
from rules_engine.author.print_yaml import print_yaml
from rules_engine.loader import parse_source
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Source, Span

FORMAT_NAMES = {"yaml": "YAML", "dsl": "the rule language"}


def difference(a: ir.RuleSetIR, b: ir.RuleSetIR) -> str | None:
    """None when two rule sets are the same rules (spans and file names aside), else where they differ."""
    if a.targets != b.targets:
        for x, y in zip(a.targets, b.targets, strict=False):
            if x != y:
                return f"target {x.name!r} differs"
        return "the targets differ"
    if a.rules != b.rules:
        for r, s in zip(a.rules, b.rules, strict=False):
            if r != s:
                fields = [f.name for f in dataclasses.fields(r)
                          if f.name != "span" and getattr(r, f.name) != getattr(s, f.name)]
                return f"rule {r.name!r} differs in {', '.join(fields)}"
        return "the rules differ"
    if a.default_targets != b.default_targets:
        return "the default route differs"
    if a.deduplicate != b.deduplicate:
        return "deduplicate differs"
    if a.metadata != b.metadata:
        return "metadata differs"
    return None


def print_as(rs: ir.RuleSetIR, fmt: str, layout: Any = None) -> str:
    """IR -> text in ``fmt`` (``"yaml"`` or ``"dsl"``); raises :class:`Inexpressible`."""
    return print_yaml(rs) if fmt == "yaml" else print_rules(rs, layout)


def inexpressible(e: Inexpressible, fmt: str, file: str) -> Diagnostic:
    span = e.span if isinstance(e.span, Span) and e.span.line > 0 else Span.point(file, 1, 1)
    return codes.INEXPRESSIBLE.at(span, what=e.what, fmt=FORMAT_NAMES[fmt], detail=e.detail)


def reload_check(tool: str, before: ir.RuleSetIR, text: str, fmt: str, name: str) -> Diagnostic | None:
    """E702 unless ``text`` lowers to the same rules as ``before``."""
    after, diags = parse_source(Source(name, text), fmt)
    if after is None:
        first = next((d for d in diags if d.is_error), None)
        detail = f"it does not load: {first.code} {first.message}" if first else "it does not load"
        return codes.MEANING_CHANGED.at(Span.point(name, 1, 1), tool=tool, detail=detail)
    diff = difference(before, after)
    if diff is not None:
        return codes.MEANING_CHANGED.at(Span.point(name, 1, 1), tool=tool, detail=diff)
    return None


def convert_source(source: Source, src_fmt: str, dst_fmt: str) -> tuple[str | None, list[Diagnostic]]:
    """The text of ``source`` (in ``src_fmt``) written in ``dst_fmt``, or the diagnostics that stop it."""
    rs, diags = parse_source(source, src_fmt)
    if rs is None:
        return None, diags
    try:
        text = print_as(rs, dst_fmt)
    except Inexpressible as e:
        return None, [inexpressible(e, dst_fmt, source.name)]
    bad = reload_check("convert", rs, text, dst_fmt, source.name)
    if bad is not None:
        return None, [bad]
    return text, [d for d in diags if not d.is_error]
