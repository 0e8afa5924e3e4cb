"""Lowering of rule-language files: parse tree -> IR.

Position in the pipeline::

    rule text ──dsl──▶ parse tree ──**lower_dsl** (+ lower_expr)──▶ IR ──check──▶ diagnostics

Files (items and settings), rules, targets, transform statements and JSON values; expressions,
templates and field paths are lowered by :class:`~rules_engine.syntax.lower_expr.ExprLowerer`,
which the lowering here extends.

The tree comes from :mod:`rules_engine.syntax.dsl` and is already known to be
syntactically valid; what can still be wrong is reported here: bad escapes,
numbers out of range, invalid CIDR blocks, a statement given twice, unknown
envelope attributes.  Names, types and functions are checked later, on the IR.

Invariants:
  * every IR node gets the span of the text it came from; a rule or a target
    gets the span of its name (where a "duplicate name" caret belongs);
  * expression trees are at most :data:`~rules_engine.syntax.dsl.MAX_DEPTH`
    deep, so nothing downstream recurses without bound;
  * the result is None whenever an error was reported (never a partial IR).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from lark import Token

from rules_engine.cel.check import check_cel
from rules_engine.cesql.check import check_cesql
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic, sort_diagnostics
from rules_engine.model.source import Embedded, Locator, Pointer, Span
from rules_engine.patterns.lower import lower_pattern
from rules_engine.syntax.dsl_tree import FileSpans, Node, Spans
from rules_engine.syntax.lower_expr import AnyNode, ExprLowerer, as_token, as_tree, present

__all__ = ["FileLowerer", "lower_file"]

_ENVELOPE_FIELDS = ("type", "source", "subject")
# Context attributes the envelope writes itself (CloudEvents 1.0), so they cannot be extensions.
_ENVELOPE_OWN = frozenset({"id", "time", "specversion", "datacontenttype", "dataschema", "data"})
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")


class _JsonLocator(Locator):
    """Spans of the nodes of a JSON value written in a rule file; pointers are relative to that value."""

    def __init__(
        self,
        file: str,
        values: Mapping[Pointer, Span],
        keys: Mapping[Pointer, Span],
        strings: frozenset[Pointer],
    ) -> None:
        super().__init__(file)
        self._values = dict(values)
        self._keys = dict(keys)
        self._strings = strings

    def value(self, pointer: Pointer) -> Span:
        p = tuple(pointer)
        while p and p not in self._values:
            p = p[:-1]
        return self._values.get(p, Span(self.file, 1, 1, 1, 2))

    def key(self, pointer: Pointer) -> Span:
        return self._keys.get(tuple(pointer)) or self.value(pointer)

    def embedded(self, pointer: Pointer, text: str) -> Embedded:
        sp = self.value(pointer)
        # A string's text starts after its opening quote.
        col = sp.column + 1 if tuple(pointer) in self._strings else sp.column
        return Embedded(self.file, text, ((sp.line, col),))


class _Json:
    """The JSON value of a tree plus the spans of its nodes (for a Locator)."""

    def __init__(self) -> None:
        self.values: dict[Pointer, Span] = {}
        self.keys: dict[Pointer, Span] = {}
        self.strings: set[Pointer] = set()


class _Steps:
    """Transform statements of one rule or target, in written order."""

    def __init__(self) -> None:
        self.steps: list[ir.TransformStep] = []
        self.envelope: ir.Envelope | None = None
        self.span: Span | None = None

    def transform(self) -> ir.Transform | None:
        if self.span is None:
            return None
        return ir.Transform(tuple(self.steps), self.envelope, self.span)


class FileLowerer(ExprLowerer):
    """Lowering of a whole file: expressions (inherited), JSON values, statements, rules, targets.

    A file may come in pieces, each a sequence of whole items (:meth:`add`, in
    file order): one lowering run still sees every item, so a setting given in
    two pieces is reported as given twice.
    """

    def __init__(self, name: str) -> None:
        super().__init__(FileSpans(name))
        self.name = name
        self.targets: list[ir.Target] = []
        self.rules: list[ir.Rule] = []
        self.defaults: list[ir.TargetRef] = []
        self.deduplicate = True
        self.metadata: dict[str, Any] = {}
        self.settings: set[str] = set()  # the settings given so far (each at most once)

    def label(self, tok: Token) -> str | None:
        """A rule, target or adapter name: a bare LABEL or a quoted string."""
        return self.string(tok) if tok.type == "STRING" else str(tok.value)

    # --- JSON values ---------------------------------------------------------------------------------

    def json(self, node: AnyNode, ptr: Pointer, acc: _Json) -> tuple[bool, Any]:
        """(ok, Python value) of a JSON tree, recording node spans in ``acc``."""
        node = as_tree(node)
        kind = str(node.data)
        acc.values[ptr] = self.span(node)
        c = node.children
        if kind == "json_string":
            s = self.string(as_token(c[0]))
            acc.strings.add(ptr)
            return s is not None, s
        if kind == "json_number":
            n = self.number(as_token(c[1]), c[0] is not None)
            return n is not None, n
        if kind in ("json_true", "json_false", "json_null"):
            return True, {"json_true": True, "json_false": False, "json_null": None}[kind]
        ok = True
        if kind == "json_array":
            items = []
            for i, child in enumerate(present(c)):
                good, value = self.json(child, ptr + (i,), acc)
                ok = ok and good
                items.append(value)
            return ok, items
        assert kind == "json_object"
        obj: dict[str, Any] = {}
        for pair in present(c):
            key_tok, value_node = as_tree(pair).children
            key = self.string(as_token(key_tok))
            if key is None:
                ok = False
                continue
            if key in obj:
                self.error(codes.DUPLICATE_OBJECT_KEY.at(self.span(key_tok), key=key))
                ok = False
            acc.keys[ptr + (key,)] = self.span(key_tok)
            good, value = self.json(value_node, ptr + (key,), acc)
            ok = ok and good
            obj[key] = value
        return ok, obj

    def options(
        self, nodes: list[Any], what: str, acc: _Json | None = None
    ) -> tuple[bool, dict[str, Any], dict[str, Node]]:
        """``name: json`` pairs (target options, input transformer) -> dict; also the value trees.
        With ``acc``, the spans of every option (pointer ``(name, ...)``) are recorded there."""
        out: dict[str, Any] = {}
        trees: dict[str, Node] = {}
        ok = True
        for opt in present(nodes):
            name_tok, value_node = as_tree(opt).children
            name = str(as_token(name_tok).value)
            if name in out:
                self.error(codes.DSL_DUPLICATE_NAME.at(self.span(name_tok), what=what, name=name))
                ok = False
                continue
            if acc is not None:
                acc.keys[(name,)] = self.span(name_tok)
            good, value = self.json(value_node, (name,) if acc is not None else (), acc or _Json())
            ok = ok and good
            out[name] = value
            trees[name] = as_tree(value_node)
        return ok, out, trees

    # --- statements --------------------------------------------------------------------------------

    def transform_step(self, node: Node, steps: _Steps) -> None:
        """Add a transform statement to ``steps`` (errors are reported, the step left out)."""
        kind = str(node.data)
        c = node.children
        sp = self.span(node)
        step: ir.TransformStep | None = None
        match kind:
            case "set_stmt":
                path = self.path(c[0], "`set`")
                value = self.expr(c[1], 1)
                if path is not None and value is not None:
                    step = ir.SetField(path, value, sp)
            case "rename_stmt":
                src = self.path(c[0], "`rename`")
                dest = self.path(c[1], "`rename`")
                if src is not None and dest is not None:
                    step = ir.Rename(src, dest, sp)
            case "drop_stmt" | "keep_stmt":
                paths = [self.path(p, f"`{kind[:4]}`") for p in c]
                if all(p is not None for p in paths):
                    done = tuple(cast(list[ir.Path], paths))
                    step = ir.Drop(done, sp) if kind == "drop_stmt" else ir.Keep(done, sp)
            case "payload_stmt":
                value = self.expr(c[0], 1)
                if value is not None:
                    step = ir.Replace(value, sp)
            case "input_transformer":
                step = self.input_transformer(node)
            case "envelope":
                if steps.envelope is not None:
                    self.error(codes.DSL_DUPLICATE_STATEMENT.at(sp, stmt="envelope", where="one transform"))
                else:
                    env = self.envelope(node)
                    if env is not None:
                        steps.envelope = env
                steps.span = steps.span or sp
                return
            case _:
                raise AssertionError(f"grammar rule {kind!r} is not a transform statement")
        if steps.span is None:
            steps.span = sp
        if steps.envelope is not None:
            self.error(
                codes.DSL_STEP_AFTER_ENVELOPE.at(sp, stmt=kind.removesuffix("_stmt").replace("_", " "))
            )
        if step is not None:
            steps.steps.append(step)

    def input_transformer(self, node: Node) -> ir.InputTransformer | None:
        sp = self.span(node)
        ok, opts, trees = self.options(node.children, "key")
        for name in opts:
            if name not in ("paths", "template"):
                self.error(
                    codes.DSL_BAD_INPUT_TRANSFORMER.at(
                        self.span(trees[name]),
                        detail=f"unknown key {name!r}; the keys are `paths` and `template`",
                    )
                )
                ok = False
        paths = opts.get("paths", {})
        if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
            self.error(
                codes.DSL_BAD_INPUT_TRANSFORMER.at(
                    self.span(trees["paths"]),
                    detail='`paths` must be an object of strings, like {"name": "$.detail.name"}',
                )
            )
            ok = False
        template = opts.get("template")
        if "template" not in opts:
            self.error(codes.DSL_BAD_INPUT_TRANSFORMER.at(sp, detail="`template` is required"))
            ok = False
        elif not isinstance(template, str):
            self.error(
                codes.DSL_BAD_INPUT_TRANSFORMER.at(
                    self.span(trees["template"]), detail="`template` must be a string"
                )
            )
            ok = False
        if not ok:
            return None
        return ir.InputTransformer(tuple(paths.items()), cast(str, template), sp)

    def envelope(self, node: Node) -> ir.Envelope | None:
        fmt_tok, *attrs = node.children
        ok = True
        if str(as_token(fmt_tok).value) != "cloudevents":
            self.error(codes.DSL_UNKNOWN_ENVELOPE.at(self.span(fmt_tok), name=str(as_token(fmt_tok).value)))
            ok = False
        fields: dict[str, ir.Expr] = {}
        extensions: list[tuple[str, ir.Expr]] = []
        seen: set[str] = set()
        for attr in present(attrs):
            name_tok, value_node = as_tree(attr).children
            name = str(as_token(name_tok).value)
            value = self.expr(value_node, 1)
            if name in seen:
                self.error(codes.DSL_DUPLICATE_NAME.at(self.span(name_tok), what="attribute", name=name))
                ok = False
                continue
            seen.add(name)
            if name in _ENVELOPE_OWN:
                self.error(
                    codes.DSL_BAD_ENVELOPE_ATTR.at(
                        self.span(name_tok), name=name, detail="the envelope sets it itself"
                    )
                )
                ok = False
            elif name not in _ENVELOPE_FIELDS and not _EXTENSION_NAME.fullmatch(name):
                detail = "an extension name has 1 to 20 lowercase letters or digits (CloudEvents 1.0)"
                self.error(codes.DSL_BAD_ENVELOPE_ATTR.at(self.span(name_tok), name=name, detail=detail))
                ok = False
            if value is None:
                ok = False
            elif name in _ENVELOPE_FIELDS:
                fields[name] = value
            else:
                extensions.append((name, value))
        if not ok:
            return None
        return ir.Envelope(
            fields.get("type"),
            fields.get("source"),
            fields.get("subject"),
            tuple(extensions),
            self.span(node),
        )

    def labels(self, node: Node) -> list[ir.TargetRef]:
        out = []
        for tok in node.children:
            tok = as_token(tok)
            name = self.label(tok)
            if name is not None:
                out.append(ir.TargetRef(name, self.span(tok)))
        return out

    def once(self, seen: set[str], stmt: str, node: Node, where: str) -> bool:
        """True the first time ``stmt`` appears in a rule or target; reports later ones."""
        if stmt in seen:
            self.error(codes.DSL_DUPLICATE_STATEMENT.at(self.span(node), stmt=stmt, where=where))
            return False
        seen.add(stmt)
        return True

    def rule(self, node: Node) -> ir.Rule | None:
        label_tok, prio, *stmts = node.children
        label_tok = as_token(label_tok)
        name = self.label(label_tok)
        where = f"rule {name!r}"
        before = self.error_count()
        priority = 0 if prio is None else self.integer(as_tree(prio), "priority")
        filters: list[ir.Filter] = []
        targets: list[ir.TargetRef] = []
        description: str | None = None
        on_match: ir.OnMatch = "continue"
        on_error: ir.OnError = "skip"
        enabled = True
        steps = _Steps()
        seen: set[str] = set()
        for st in stmts:
            st = as_tree(st)
            kind = str(st.data)
            sp = self.span(st)
            c = st.children
            if kind == "description":
                text = self.string(as_token(c[0]))
                if self.once(seen, "description", st, where):
                    description = text
            elif kind == "when_filter":
                e = self.expr(c[0], 1)
                if e is not None:
                    filters.append(ir.Filter("when", e, sp))
            elif kind == "match_filter":
                pattern = self.pattern(as_tree(c[0]))
                if pattern is not None:
                    filters.append(ir.Filter("match", pattern, sp))
            elif kind == "cel_filter":
                cel = self.cel(as_token(c[0]))
                if cel is not None:
                    filters.append(ir.Filter("cel", cel, sp))
            elif kind == "cesql_filter":
                q = self.cesql(as_token(c[0]))
                if q is not None:
                    filters.append(ir.Filter("cesql", q, sp))
            elif kind == "route":
                targets.extend(self.labels(as_tree(c[0])))
            elif kind == "on_match":
                if self.once(seen, "on match", st, where):
                    on_match = cast(ir.OnMatch, str(as_token(c[-1]).value))
            elif kind == "on_error":
                if self.once(seen, "on error", st, where):
                    on_error = cast(ir.OnError, str(as_token(c[-1]).value))
            elif kind == "disabled":
                if self.once(seen, "disabled", st, where):
                    enabled = False
            else:
                self.transform_step(st, steps)
        if name is None or priority is None or self.error_count() > before:
            return None
        return ir.Rule(
            name=name,
            filters=tuple(filters),
            targets=tuple(targets),
            description=description,
            priority=priority,
            enabled=enabled,
            transform=steps.transform(),
            on_match=on_match,
            on_error=on_error,
            span=self.span(label_tok),
        )

    def pattern(self, node: Node) -> ir.EventPattern | None:
        acc = _Json()
        ok, value = self.json(node, (), acc)
        if not ok:
            return None
        root = acc.values[()]
        locator = _JsonLocator(root.file, acc.values, acc.keys, frozenset(acc.strings))
        pattern, diags = lower_pattern(value, locator, ())
        self.diags.extend(diags)
        return pattern

    def cel(self, tok: Token) -> ir.Cel | None:
        text = self.string(tok)
        if text is None:
            return None
        start = self.spans.span(tok.line or 1, (tok.column or 1) + 1, tok.line or 1, (tok.column or 1) + 2)
        # Escapes shift columns a little; a CEL text is usually quoted with the other quote kind.
        self.diags.extend(check_cel(text, Embedded(start.file, text, ((start.line, start.column),))))
        return ir.Cel(text, self.span(tok))

    def cesql(self, tok: Token) -> ir.Cesql | None:
        text = self.string(tok)
        if text is None:
            return None
        start = self.spans.span(tok.line or 1, (tok.column or 1) + 1, tok.line or 1, (tok.column or 1) + 2)
        # As for cel: escapes shift columns a little; CESQL strings are usually single-quoted inside.
        self.diags.extend(check_cesql(text, Embedded(start.file, text, ((start.line, start.column),)))[1])
        return ir.Cesql(text, self.span(tok))

    def target(self, node: Node) -> ir.Target | None:
        label_tok, type_tok, args, body = node.children
        label_tok = as_token(label_tok)
        name = self.label(label_tok)
        where = f"target {name!r}"
        before = self.error_count()
        options: dict[str, Any] = {}
        acc = _Json()
        if args is not None:
            _, options, _ = self.options(as_tree(args).children, "option", acc)
        partition: ir.Expr | None = None
        steps = _Steps()
        seen: set[str] = set()
        for st in as_tree(body).children if body is not None else []:
            st = as_tree(st)
            if st.data == "partition":
                e = self.expr(st.children[0], 1)
                if self.once(seen, "partition by", st, where):
                    partition = e
            else:
                self.transform_step(st, steps)
        if name is None or self.error_count() > before:
            return None
        return ir.Target(
            name,
            str(as_token(type_tok).value),
            ir.freeze(options),
            steps.transform(),
            partition,
            self.span(label_tok),
            ir.option_spans(options, acc.keys.get, acc.values.get),
        )

    # --- the file --------------------------------------------------------------------------------------

    def add(self, tree: Node, spans: Spans) -> None:
        """Lower the items of a ``rules_file`` tree, parsed from text whose positions ``spans`` maps."""
        self.spans = spans
        for item in tree.children:
            item = as_tree(item)
            kind = item.data
            if kind == "target_def":
                t = self.target(item)
                if t is not None:
                    self.targets.append(t)
            elif kind == "rule_def":
                r = self.rule(item)
                if r is not None:
                    self.rules.append(r)
            elif kind == "default_route":
                self.defaults.extend(self.labels(as_tree(item.children[0])))
            elif kind == "deduplicate":
                if self.once(self.settings, "deduplicate", item, "one file"):
                    self.deduplicate = as_token(item.children[-1]).value == "true"
            else:
                assert kind == "metadata"
                ok, value = self.json(item.children[0], (), _Json())
                if self.once(self.settings, "metadata", item, "one file") and ok:
                    self.metadata = value

    def result(self) -> tuple[ir.RuleSetIR | None, list[Diagnostic]]:
        """The rule set (None if any error was reported) and the diagnostics, in file order."""
        diags = sort_diagnostics(self.diags)
        if any(d.is_error for d in diags):
            return None, diags
        rs = ir.RuleSetIR(
            tuple(self.targets),
            tuple(self.rules),
            tuple(self.defaults),
            self.deduplicate,
            ir.freeze(self.metadata),
            files=(self.name,),
        )
        return rs, diags


# --- entry points (called by dsl.py) ----------------------------------------------------------------


def lower_file(tree: Node, name: str) -> tuple[ir.RuleSetIR | None, list[Diagnostic]]:
    """The ``rules_file`` tree of the whole file ``name`` -> rule set."""
    low = FileLowerer(name)
    low.add(tree, FileSpans(name))
    return low.result()
