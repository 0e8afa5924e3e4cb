"""One-line descriptions of what the compiler works with: matchers, atoms, patterns.

Position: shared by the debug printers (``show.py``) and by the comments the code
generator writes above each rule's check (``codegen_checks.py``), so both say the same.
"""

from __future__ import annotations

import json
from typing import Any

from rules_engine.compile.formula import Atom, FieldAtom, ValueAtom
from rules_engine.expressions.render import render_path
from rules_engine.model import ir

__all__ = ["describe_atom", "describe_matcher", "describe_pattern", "value_text", "where_of"]


def value_text(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return str(v)


def describe_matcher(m: ir.Matcher) -> str:
    if isinstance(m, ir.MExact):
        return "= " + value_text(m.value)
    if isinstance(m, (ir.MPrefix, ir.MSuffix)):
        word = "prefix" if isinstance(m, ir.MPrefix) else "suffix"
        return f"{word} {value_text(m.value)}" + (" (any case)" if m.ignore_case else "")
    if isinstance(m, ir.MEqualsIgnoreCase):
        return f"= {value_text(m.value)} (any case)"
    if isinstance(m, ir.MWildcard):
        return f"wildcard {value_text(m.pattern)}"
    if isinstance(m, ir.MNumeric):
        return " and ".join(f"{op} {value_text(v)}" for op, v in m.conditions)
    if isinstance(m, ir.MExists):
        return "exists" if m.present else "missing"
    if isinstance(m, ir.MCidr):
        return f"in {m.network}"
    return "anything but " + ", ".join(describe_matcher(i).removeprefix("= ") for i in m.inner)


def describe_atom(a: Atom) -> str:
    """One line: ``detail.state = "running" | prefix "stop"``, ``data.total > 3``, ``CEL: …``."""
    if isinstance(a, FieldAtom):
        return f"{a.name} " + " | ".join(describe_matcher(m) for m in a.matchers)
    if isinstance(a, ValueAtom):
        where = render_path(a.path)
        if a.op == "exists":
            return f"exists({where})"
        if isinstance(a.operand, tuple):
            operand = "[" + ", ".join(value_text(x) for x in a.operand) + "]"
        else:
            operand = value_text(a.operand)
        return f"{where} {a.op.replace('_', ' ')} {operand}"
    text = a.text if len(a.text) <= 60 else a.text[:59] + "…"
    return {"cel": "CEL: ", "cesql": "CESQL: "}.get(a.kind, "") + text


def where_of(a: Atom) -> str:
    """The name or path an atom reads (opaque atoms: what they read is not indexed)."""
    if isinstance(a, FieldAtom):
        return a.name
    if isinstance(a, ValueAtom):
        return render_path(a.path)
    return "(computed)"


def describe_pattern(p: ir.PatternAnd) -> str:
    """A pattern in one line: ``{detail.state: = "running" | prefix "stop", $or: [{…}, {…}]}``."""
    parts = [f"{'.'.join(f.path)}: " + " | ".join(describe_matcher(m) for m in f.matchers) for f in p.fields]
    parts += ["$or: [" + ", ".join(describe_pattern(a) for a in o.alternatives) + "]" for o in p.ors]
    return "{" + ", ".join(parts) + "}"
