"""EventBridge pattern IR -> the JSON value that lowers back to it.

Position in the pipeline::

    ir.EventPattern ──**pattern_value**──▶ JSON value ──(printers)──▶ text ──lower_pattern──▶ same IR

The lowering makes nested objects into absolute paths and lets ``$or`` add no
path step (rules_engine/pattern.py), so a ``PatternAnd`` is written back by
nesting its fields under their common keys, and each ``$or`` group under the
longest key prefix all of its alternatives share (one ``$or`` per object).
Constructs no pattern text lowers to (an ``$or`` with one alternative, two
groups that cannot be placed apart, an ignore-case prefix inside
``anything-but``) raise :class:`Inexpressible`.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from rules_engine.model import ir


class Inexpressible(Exception):
    """The IR holds something the target text cannot say; ``span`` is where."""

    def __init__(self, what: str, detail: str, span: Any = None) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail
        self.span = span


def pattern_value(pattern: ir.EventPattern) -> dict[str, Any]:
    """The JSON object of an event pattern, in the IR's field order."""
    out: dict[str, Any] = {}
    _put_and(out, (), pattern.root)
    return out


def _all_paths(node: ir.PatternAnd) -> list[tuple[str, ...]]:
    paths = [f.path for f in node.fields]
    for group in node.ors:
        for alt in group.alternatives:
            paths.extend(_all_paths(alt))
    return paths


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    n = min(len(p) for p in paths)
    i = 0
    while i < n and all(p[i] == first[i] for p in paths):
        i += 1
    # A field needs its own last key: the prefix must stop short of every whole path.
    return first[: min(i, n - 1)]


def _obj_at(root: dict[str, Any], path: tuple[str, ...], span: Any) -> dict[str, Any]:
    node = root
    for key in path:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise Inexpressible("event pattern", f"field {'.'.join(path)!r} is both a value and an object", span)
        node = child
    return node


def _put_and(out: dict[str, Any], base: tuple[str, ...], node: ir.PatternAnd) -> None:
    for f in node.fields:
        if f.path[: len(base)] != base or len(f.path) <= len(base):
            raise Inexpressible("event pattern", f"field {'.'.join(f.path)!r} lies outside its $or group", f.span)
        parent = _obj_at(out, f.path[len(base) : -1], f.span)
        key = f.path[-1]
        if key in parent:
            raise Inexpressible("event pattern", f"field {'.'.join(f.path)!r} is tested twice", f.span)
        parent[key] = [_matcher(m) for m in f.matchers]
    for group in node.ors:
        if len(group.alternatives) < 2:
            raise Inexpressible("event pattern", "an $or group needs at least two alternatives", group.span)
        prefix = _common_prefix([p[len(base) :] for alt in group.alternatives for p in _all_paths(alt)])
        holder = _obj_at(out, prefix, group.span)
        if "$or" in holder:
            raise Inexpressible("event pattern", "two $or groups at one place", group.span)
        alts = []
        for alt in group.alternatives:
            sub: dict[str, Any] = {}
            _put_and(sub, base + prefix, alt)
            if not sub:
                raise Inexpressible("event pattern", "an empty $or alternative", alt.span)
            alts.append(sub)
        holder["$or"] = alts


def _matcher(m: ir.Matcher) -> Any:
    if isinstance(m, ir.MExact):
        return m.value
    if isinstance(m, ir.MPrefix):
        return {"prefix": {"equals-ignore-case": m.value} if m.ignore_case else m.value}
    if isinstance(m, ir.MSuffix):
        return {"suffix": {"equals-ignore-case": m.value} if m.ignore_case else m.value}
    if isinstance(m, ir.MEqualsIgnoreCase):
        return {"equals-ignore-case": m.value}
    if isinstance(m, ir.MWildcard):
        return {"wildcard": m.pattern}
    if isinstance(m, ir.MNumeric):
        flat: list[Any] = []
        for op, value in m.conditions:
            flat.extend((op, int(value) if value.is_integer() and abs(value) < 2**53 else value))
        return {"numeric": flat}
    if isinstance(m, ir.MExists):
        return {"exists": m.present}
    if isinstance(m, ir.MCidr):
        return {"cidr": m.network}
    if isinstance(m, ir.MAnythingBut):
        return {"anything-but": _anything_but(m)}
    raise Inexpressible("event pattern", f"unknown matcher {type(m).__name__}")


def _anything_but(m: ir.MAnythingBut) -> Any:
    kinds = {type(x) for x in m.inner}
    if kinds == {ir.MExact}:
        values = [x.value for x in m.inner if isinstance(x, ir.MExact)]
        return values[0] if len(values) == 1 else values
    if len(kinds) == 1:
        kind = kinds.pop()
        texts: list[str] = []
        for x in m.inner:
            if isinstance(x, (ir.MPrefix, ir.MSuffix)) and x.ignore_case:
                break
            if isinstance(x, ir.MWildcard):
                texts.append(x.pattern)
            elif isinstance(x, (ir.MPrefix, ir.MSuffix, ir.MEqualsIgnoreCase)):
                texts.append(x.value)
        else:
            name = {ir.MPrefix: "prefix", ir.MSuffix: "suffix", ir.MEqualsIgnoreCase: "equals-ignore-case",
                    ir.MWildcard: "wildcard"}.get(kind)
            if name is not None:
                return {name: texts[0] if len(texts) == 1 else texts}
    raise Inexpressible("event pattern", "this anything-but combination has no pattern syntax", m.span)
