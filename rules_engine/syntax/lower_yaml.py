"""Schema-valid YAML values -> IR.

Position in the pipeline::

    (value, locator) ──schema──▶ **lower_yaml** ──▶ RuleSetIR ──check──▶ …

Runs only on documents that passed the schema, so shapes are known; what the
schema cannot see (expression syntax, EventBridge pattern validity, CEL) is
parsed here, with every diagnostic placed in the YAML file through the
locator.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, cast

from rules_engine.cel.check import check_cel
from rules_engine.cesql.check import check_cesql
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Embedded, Locator, Pointer
from rules_engine.patterns.lower import lower_pattern
from rules_engine.syntax.language import parse_expression, parse_path

# Keys of a target mapping that are not adapter options.
_TARGET_RESERVED = ("type", "transform", "partition_key")


class _Lowerer:
    def __init__(self, locator: Locator) -> None:
        self.loc = locator
        self.diags: list[Diagnostic] = []

    # --- leaves -------------------------------------------------------------------
    def expr(self, text: str, ptr: Pointer) -> ir.Expr | None:
        node, diags = parse_expression(text, self.loc.embedded(ptr, text))
        self.diags.extend(diags)
        return node

    def path(self, text: str, ptr: Pointer, key: bool = False) -> ir.Path | None:
        if key:
            sp = self.loc.key(ptr)
            where = Embedded.plain(sp.file, text, sp.line, sp.column)
        else:
            where = self.loc.embedded(ptr, text)
        node, diags = parse_path(text, where)
        self.diags.extend(diags)
        return node

    def cel(self, text: str, ptr: Pointer) -> ir.Cel:
        self.diags.extend(check_cel(text, self.loc.embedded(ptr, text)))
        return ir.Cel(text, self.loc.value(ptr))

    def cesql(self, text: str, ptr: Pointer) -> ir.Cesql:
        self.diags.extend(check_cesql(text, self.loc.embedded(ptr, text))[1])
        return ir.Cesql(text, self.loc.value(ptr))

    def subscription(self, raw: dict[str, Any], ptr: Pointer) -> ir.SubscriptionFilter:
        """One schema-valid Subscriptions API filter expression (exactly one dialect key)."""
        ((key, body),) = raw.items()
        dialect = cast(ir.SubscriptionDialect, key)  # the schema allows only the dialects' names
        sp = self.loc.key(ptr + (dialect,))
        if dialect in ("exact", "prefix", "suffix"):
            return ir.SubscriptionFilter(dialect, tuple(body.items()), span=sp)
        if dialect in ("all", "any"):
            items = tuple(self.subscription(x, ptr + (dialect, i)) for i, x in enumerate(body))
            return ir.SubscriptionFilter(dialect, items=items, span=sp)
        if dialect == "not":
            return ir.SubscriptionFilter("not", items=(self.subscription(body, ptr + ("not",)),), span=sp)
        return ir.SubscriptionFilter("cesql", cesql=self.cesql(body, ptr + ("cesql",)), span=sp)

    def knative_filters(self, raw: dict[str, Any], ptr: Pointer) -> ir.Filter | None:
        """``filters:`` (all must hold) or, without it, the older ``filter: {attributes}``; Knative
        gives ``filters`` precedence when a trigger has both, and so do we (with a warning)."""
        if "filters" in raw:
            if "filter" in raw:
                self.diags.append(codes.KNATIVE_FILTER_IGNORED.at(self.loc.key(ptr + ("filter",))))
            items = tuple(self.subscription(x, ptr + ("filters", i)) for i, x in enumerate(raw["filters"]))
            sp = self.loc.key(ptr + ("filters",))
            return ir.Filter("filters", ir.SubscriptionFilter("all", items=items, span=sp), sp)
        if "filter" in raw:
            attrs = raw["filter"].get("attributes") or {}
            sp = self.loc.key(ptr + ("filter",))
            # '' is Knative's TriggerAnyFilter: any value, present or not; so no test at all.
            exact = tuple((k, v) for k, v in attrs.items() if v != "")
            items = (ir.SubscriptionFilter("exact", exact, span=sp),) if exact else ()
            node = ir.SubscriptionFilter("all", items=items, span=sp)
            return ir.Filter("filters", node, sp)
        return None

    def value(self, raw: Any, ptr: Pointer) -> ir.Expr | None:
        """A transform value: expression string, JSON scalar, {value: json} or {cel: text}."""
        if isinstance(raw, str):
            return self.expr(raw, ptr)
        if isinstance(raw, dict) and "cel" in raw:
            return self.cel(raw["cel"], ptr + ("cel",))
        if isinstance(raw, dict) and "value" in raw:
            return self.json_literal(raw["value"], ptr + ("value",))
        return self.json_literal(raw, ptr)

    def json_literal(self, raw: Any, ptr: Pointer) -> ir.Expr:
        sp = self.loc.value(ptr)
        if isinstance(raw, dict):
            return ir.ObjectExpr(tuple((str(k), self.json_literal(v, ptr + (k,))) for k, v in raw.items()), sp)
        if isinstance(raw, list):
            return ir.ListExpr(tuple(self.json_literal(v, ptr + (i,)) for i, v in enumerate(raw)), sp)
        return ir.Literal(raw, sp)

    def payload(self, raw: Any, ptr: Pointer) -> ir.Expr | None:
        """A new payload: expression string, or object/array whose leaves are expression strings."""
        sp = self.loc.value(ptr)
        if isinstance(raw, str):
            return self.expr(raw, ptr)
        if isinstance(raw, dict):
            items: list[tuple[str, ir.Expr]] = []
            for k, v in raw.items():
                e = self.payload(v, ptr + (k,))
                if e is not None:
                    items.append((str(k), e))
            return ir.ObjectExpr(tuple(items), sp)
        if isinstance(raw, list):
            elems = [self.payload(v, ptr + (i,)) for i, v in enumerate(raw)]
            return ir.ListExpr(tuple(e for e in elems if e is not None), sp)
        return ir.Literal(raw, sp)

    def target_refs(self, names: list[str], ptr: Pointer) -> tuple[ir.TargetRef, ...]:
        return tuple(ir.TargetRef(n, self.loc.value(ptr + (i,))) for i, n in enumerate(names))

    # --- transforms -------------------------------------------------------------------
    def transform(self, raw: dict[str, Any], ptr: Pointer) -> ir.Transform:
        steps: list[ir.TransformStep] = []
        envelope: ir.Envelope | None = None
        for key, val in raw.items():
            kp = ptr + (key,)
            if key == "set":
                for path_text, v in val.items():
                    p = self.path(path_text, kp + (path_text,), key=True)
                    e = self.value(v, kp + (path_text,))
                    if p is not None and e is not None:
                        steps.append(ir.SetField(p, e, self.loc.key(kp + (path_text,))))
            elif key == "rename":
                for src, dst in val.items():
                    ps = self.path(src, kp + (src,), key=True)
                    pd = self.path(dst, kp + (src,))
                    if ps is not None and pd is not None:
                        steps.append(ir.Rename(ps, pd, self.loc.key(kp + (src,))))
            elif key in ("drop", "keep"):
                paths = [self.path(t, kp + (i,)) for i, t in enumerate(val)]
                good = tuple(p for p in paths if p is not None)
                if len(good) == len(paths):
                    steps.append((ir.Drop if key == "drop" else ir.Keep)(good, self.loc.key(kp)))
            elif key == "payload":
                e = self.payload(val, kp)
                if e is not None:
                    steps.append(ir.Replace(e, self.loc.key(kp)))
            elif key == "input_paths_map":
                template = raw.get("input_template")
                if template is None:
                    # AWS: with only a paths map, the output is that map's values as an object.
                    template = "{" + ", ".join(f'"{k}": <{k}>' for k in val) + "}"
                steps.append(
                    ir.InputTransformer(tuple((str(k), str(v)) for k, v in val.items()), template, self.loc.key(kp))
                )
            elif key == "input_template":
                if "input_paths_map" not in raw:  # AWS accepts a template of reserved variables only
                    steps.append(ir.InputTransformer((), str(val), self.loc.key(kp)))
                continue  # else consumed with input_paths_map
            elif key == "envelope":
                envelope = self.envelope(val, kp)
        return ir.Transform(tuple(steps), envelope, self.loc.value(ptr))

    def envelope(self, raw: dict[str, Any], ptr: Pointer) -> ir.Envelope:
        def opt(name: str) -> ir.Expr | None:
            return self.value(raw[name], ptr + (name,)) if name in raw else None

        exts: list[tuple[str, ir.Expr]] = []
        for name, v in (raw.get("extensions") or {}).items():
            e = self.value(v, ptr + ("extensions", name))
            if e is not None:
                exts.append((str(name), e))
        return ir.Envelope(opt("type"), opt("source"), opt("subject"), tuple(exts), self.loc.key(ptr))

    # --- rules and targets ------------------------------------------------------------
    def target(self, name: str, raw: dict[str, Any], ptr: Pointer) -> ir.Target:
        options = {k: v for k, v in raw.items() if k not in _TARGET_RESERVED}
        transform = self.transform(raw["transform"], ptr + ("transform",)) if "transform" in raw else None
        pkey = self.expr(raw["partition_key"], ptr + ("partition_key",)) if "partition_key" in raw else None
        spans = ir.option_spans(options, lambda p: self.loc.key(ptr + p), lambda p: self.loc.value(ptr + p))
        return ir.Target(name, raw["type"], ir.freeze(options), transform, pkey, self.loc.key(ptr), spans)

    def rule(self, raw: dict[str, Any], ptr: Pointer) -> ir.Rule:
        filters: list[ir.Filter] = []
        if "match" in raw:
            pat, diags = lower_pattern(raw["match"], self.loc, ptr + ("match",))
            self.diags.extend(diags)
            if pat is not None:
                filters.append(ir.Filter("match", pat, self.loc.key(ptr + ("match",))))
        if "when" in raw:
            e = self.expr(raw["when"], ptr + ("when",))
            if e is not None:
                filters.append(ir.Filter("when", e, self.loc.key(ptr + ("when",))))
        if "cel" in raw:
            c = self.cel(raw["cel"], ptr + ("cel",))
            filters.append(ir.Filter("cel", c, self.loc.key(ptr + ("cel",))))
        if "cesql" in raw:
            q = self.cesql(raw["cesql"], ptr + ("cesql",))
            filters.append(ir.Filter("cesql", q, self.loc.key(ptr + ("cesql",))))
        knative = self.knative_filters(raw, ptr)
        if knative is not None:
            filters.append(knative)
        transform = self.transform(raw["transform"], ptr + ("transform",)) if "transform" in raw else None
        return ir.Rule(
            name=raw["name"],
            filters=tuple(filters),
            targets=self.target_refs(raw.get("targets", []), ptr + ("targets",)),
            description=raw.get("description"),
            priority=raw.get("priority", 0),
            enabled=raw.get("enabled", True),
            transform=transform,
            on_match=raw.get("on_match", "continue"),
            on_error=raw.get("on_error", "skip"),
            span=self.loc.value(ptr + ("name",)),
        )


def lower_yaml(doc: dict[str, Any], locator: Locator) -> tuple[ir.RuleSetIR, list[Diagnostic]]:
    """Lower one schema-valid rule file.  Diagnostics are syntax errors inside embedded
    expressions, invalid EventBridge patterns and CEL errors."""
    lw = _Lowerer(locator)
    targets = tuple(
        lw.target(name, raw, ("targets", name)) for name, raw in (doc.get("targets") or {}).items()
    )
    rules = tuple(lw.rule(raw, ("rules", i)) for i, raw in enumerate(doc.get("rules") or []))
    defaults = lw.target_refs(doc.get("default_targets", []), ("default_targets",))
    meta = ir.freeze(doc.get("metadata") or {})
    rs = ir.RuleSetIR(targets, rules, defaults, doc.get("deduplicate", True), meta, (locator.file,))
    return rs, lw.diags
