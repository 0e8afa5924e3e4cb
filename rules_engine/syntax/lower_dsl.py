"""Lowering of the rule language: Lark parse tree -> IR.

Position in the pipeline::

    rule text ──dsl──▶ Lark tree ──**lower_dsl**──▶ IR ──check──▶ diagnostics

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

import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any, cast
from typing import Literal as Lit

from lark import Token, Tree

from .. import codes, ir
from ..errors import Diagnostic, sort_diagnostics
from ..source import Embedded, Locator, Pointer, Span
from .dsl import MAX_DEPTH, ShiftedSpans, Spans, decode_escape, decode_string, parse_tree, token_span

__all__ = ["lower_expression", "lower_file", "lower_path"]

_Node = Tree[Token] | Token

_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_STRING_TESTS: dict[str, ir.StringOp] = {
    "starts_with": "starts_with",
    "ends_with": "ends_with",
    "contains": "contains",
    "matches": "matches",
    "like": "like",
}
_ENVELOPE_FIELDS = ("type", "source", "subject")
# Context attributes the envelope writes itself (CloudEvents 1.0), so they cannot be extensions.
_ENVELOPE_OWN = frozenset({"id", "time", "specversion", "datacontenttype", "dataschema", "data"})
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")
_INTEGER = re.compile(r"[0-9]+")


def _join(a: Span, b: Span) -> Span:
    return Span(a.file, a.line, a.column, b.end_line, b.end_column)


def _tree(node: object) -> Tree[Token]:
    # The grammar guarantees which children are trees; this documents it for mypy.
    assert isinstance(node, Tree)
    return node


def _tok(node: object) -> Token:
    assert isinstance(node, Token)
    return node


def _present(children: list[Any]) -> list[Any]:
    """Children without Lark's placeholders for absent optional parts."""
    return [c for c in children if c is not None]


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


class _Lowerer:
    """One lowering run: where positions map to, the problems found, the quantifier names in scope."""

    def __init__(self, spans: Spans) -> None:
        self.spans = spans
        self.diags: list[Diagnostic] = []
        self.bound: list[str] = []  # innermost last
        self._deep_reported = False

    # --- helpers -------------------------------------------------------------------------------

    def span(self, node: _Node) -> Span:
        if isinstance(node, Token):
            return token_span(self.spans, node)
        m = node.meta
        if m.empty:
            return self.spans.span(1, 1, 1, 2)
        return self.spans.span(m.line, m.column, m.end_line, m.end_column)

    def error(self, diag: Diagnostic) -> None:
        self.diags.append(diag)

    def error_count(self) -> int:
        # Checkers called from here (CEL, patterns) may add warnings; only errors void a node.
        return sum(1 for d in self.diags if d.is_error)

    def too_deep(self, node: _Node) -> None:
        if not self._deep_reported:
            self._deep_reported = True
            self.error(codes.TOO_DEEP.at(self.span(node), what="expression", limit=MAX_DEPTH))

    def string(self, tok: Token) -> str | None:
        """The value of a STRING token; bad escapes are reported at their own columns."""
        value, bad = decode_string(str(tok.value))
        line, col = tok.line or 1, tok.column or 1
        for start, end in bad:
            self.error(
                codes.BAD_ESCAPE.at(
                    self.spans.span(line, col + start, line, col + end), seq=str(tok.value)[start:end]
                )
            )
        return None if bad else value

    def label(self, tok: Token) -> str | None:
        """A rule, target or adapter name: a bare LABEL or a quoted string."""
        return self.string(tok) if tok.type == "STRING" else str(tok.value)

    def number(self, tok: Token, negative: bool) -> int | float | None:
        text = str(tok.value)
        shown = ("-" if negative else "") + text
        try:
            value: int | float = int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:  # more digits than Python converts (about 4300)
            self.error(
                codes.DSL_BAD_NUMBER.at(self.span(tok), text=shown[:20] + "…", detail="has too many digits")
            )
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(codes.DSL_BAD_NUMBER.at(self.span(tok), text=shown, detail="is out of range"))
            return None
        return -value if negative else value

    def integer(self, node: Tree[Token], what: str) -> int | None:
        """``[MINUS] NUMBER`` that must be a whole number (an index, a priority)."""
        minus, num = node.children[-2:]
        tok = _tok(num)
        if not _INTEGER.fullmatch(str(tok.value)):
            text = ("-" if minus is not None else "") + str(tok.value)
            sp = self.span(tok) if minus is None else _join(self.span(minus), self.span(tok))
            self.error(codes.DSL_NOT_INTEGER.at(sp, what=what, text=text))
            return None
        value = self.number(tok, minus is not None)
        return None if value is None else int(value)

    # --- expressions ---------------------------------------------------------------------------

    def exprs(self, nodes: list[Any], depth: int) -> list[ir.Expr] | None:
        """Lower every node (so every problem is reported); None if any failed."""
        out = [self.expr(n, depth) for n in nodes]
        if any(e is None for e in out):
            return None
        return cast(list[ir.Expr], out)

    def expr(self, node: _Node, depth: int) -> ir.Expr | None:
        # ``depth`` is the depth of the node being built; the check comes before any recursion.
        if depth > MAX_DEPTH:
            self.too_deep(node)
            return None
        node = _tree(node)
        kind = str(node.data)
        c = node.children
        sp = self.span(node)
        d = depth + 1
        match kind:
            case "field":
                return self.field(node)
            case "string":
                s = self.string(_tok(c[0]))
                return None if s is None else ir.Literal(s, sp)
            case "number":
                n = self.number(_tok(c[0]), False)
                return None if n is None else ir.Literal(n, sp)
            case "true" | "false" | "null":
                return ir.Literal({"true": True, "false": False, "null": None}[kind], sp)
            case "template":
                return self.template(_tok(c[0]), depth)
            case "list":
                items = self.exprs(_present(c), d)
                return None if items is None else ir.ListExpr(tuple(items), sp)
            case "object":
                return self.object(node, d)
            case "call":
                return self.call(node, d)
            case "exists":
                f = self.field(_tree(c[0]))
                return None if f is None else ir.Exists(f, sp)
            case "any_" | "all_":
                return self.quantifier(node, "any" if kind == "any_" else "all", d)
            case "neg":
                return self.negate(node, d)
            case "sum" | "product":
                return self.arith(node, depth)
            case "compare":
                op = str(_tok(c[1]).value)
                assert op in _COMPARE_OPS
                pair = self.exprs([c[0], c[2]], d)
                return None if pair is None else ir.Compare(cast(Any, op), pair[0], pair[1], sp)
            case "in_" | "not_in":
                return self.membership(node, kind == "not_in", d)
            case "starts_with" | "ends_with" | "contains" | "matches" | "like":
                pair = self.exprs(c, d)
                return None if pair is None else ir.StringTest(_STRING_TESTS[kind], pair[0], pair[1], sp)
            case "not_":
                inner = self.expr(c[0], d)
                return None if inner is None else ir.Unary("not", inner, sp)
            case "and_test" | "or_test":
                return self.junction(node, kind == "and_test", d)
            case "conditional":
                parts = self.exprs(c, d)
                return None if parts is None else ir.Conditional(parts[0], parts[1], parts[2], sp)
        raise AssertionError(f"grammar rule {kind!r} has no lowering")

    def field(self, node: Tree[Token]) -> ir.Field | None:
        head, *rest = node.children
        head = _tok(head)
        var: str | None = None
        path: list[str | int] = []
        if head.type == "NAME" and str(head.value) in self.bound:
            var = str(head.value)  # a quantifier's variable; `x` in backticks is always an event field
        elif head.type == "NAME":
            path.append(str(head.value))
        elif head.type == "BACKTICK":
            path.append(str(head.value)[1:-1])
        ok = True
        for part in rest:
            if isinstance(part, Tree):
                index = self.integer(part, "an index")
                ok = ok and index is not None
                path.append(index if index is not None else 0)
            elif part.type == "STRING":
                key = self.string(part)
                ok = ok and key is not None
                path.append(key if key is not None else "")
            elif part.type == "BACKTICK":
                path.append(str(part.value)[1:-1])
            else:
                path.append(str(part.value))
        return ir.Field(tuple(path), var, self.span(node)) if ok else None

    def object(self, node: Tree[Token], depth: int) -> ir.ObjectExpr | None:
        # Duplicate keys are kept: the expression checker reports them (E352).
        items: list[tuple[str, ir.Expr]] = []
        ok = True
        for pair in _present(node.children):
            key_tok, value_node = _tree(pair).children
            key_tok = _tok(key_tok)
            key = self.string(key_tok) if key_tok.type == "STRING" else str(key_tok.value)
            value = self.expr(value_node, depth)
            if key is None or value is None:
                ok = False
            else:
                items.append((key, value))
        return ir.ObjectExpr(tuple(items), self.span(node)) if ok else None

    def call(self, node: Tree[Token], depth: int) -> ir.Expr | None:
        name_tok, *arg_nodes = node.children
        name = str(_tok(name_tok).value)
        args = self.exprs(_present(arg_nodes), depth)
        if args is None:
            return None
        sp = self.span(node)
        if name == "equals_ignore_case" and len(args) == 2:
            return ir.StringTest("equals_ignore_case", args[0], args[1], sp)
        # Arity and the function library are checked on the IR (functions.py).
        return ir.Call(name, tuple(args), sp)

    def quantifier(self, node: Tree[Token], kind: Lit["any", "all"], depth: int) -> ir.Quantifier | None:
        var_tok, coll_node, pred_node = node.children
        var = str(_tok(var_tok).value)
        collection = self.expr(coll_node, depth)
        self.bound.append(var)  # inner quantifiers shadow outer ones: lookups find the name anywhere
        try:
            predicate = self.expr(pred_node, depth)
        finally:
            self.bound.pop()
        if collection is None or predicate is None:
            return None
        return ir.Quantifier(kind, var, collection, predicate, self.span(node))

    def negate(self, node: Tree[Token], depth: int) -> ir.Expr | None:
        operand = self.expr(node.children[1], depth)
        if operand is None:
            return None
        sp = self.span(node)
        v = operand.value if isinstance(operand, ir.Literal) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return ir.Literal(-v, sp)  # `-5` is a number, not an operation
        return ir.Unary("-", operand, sp)

    def arith(self, node: Tree[Token], depth: int) -> ir.Expr | None:
        # `a - b + c` is a flat list [a, -, b, +, c]; it builds left-associated
        # Arith nodes, so operand k ends up (n - k) levels below this node.
        c = node.children
        operands, ops = c[0::2], c[1::2]
        n = len(operands)
        if depth + n - 1 > MAX_DEPTH:
            self.too_deep(node)
            return None
        lowered = [self.expr(x, depth + max(1, n - k)) for k, x in enumerate(operands)]
        if any(x is None for x in lowered):
            return None
        result = cast(ir.Expr, lowered[0])
        for op_tok, right in zip(ops, lowered[1:]):
            op = cast(Any, str(_tok(op_tok).value))
            right = cast(ir.Expr, right)
            result = ir.Arith(op, result, right, _join(result.span, right.span))
        return result

    def membership(self, node: Tree[Token], negated: bool, depth: int) -> ir.Expr | None:
        item_node, coll_node = node.children
        sp = self.span(node)
        coll_tree = coll_node if isinstance(coll_node, Tree) else None
        if coll_tree is not None and coll_tree.data == "call" and _tok(coll_tree.children[0]).value == "cidr":
            item = self.expr(item_node, depth)
            args = _present(coll_tree.children[1:])
            if len(args) != 1 or not (isinstance(args[0], Tree) and args[0].data == "string"):
                self.error(codes.DSL_BAD_CIDR_ARG.at(self.span(coll_tree)))
                return None
            text_tok = _tok(args[0].children[0])
            text = self.string(text_tok)
            if text is None or item is None:
                return None
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                self.error(codes.BAD_CIDR.at(self.span(text_tok), value=text, detail=str(exc)))
                return None
            return ir.CidrTest(item, str(network), negated, sp)
        pair = self.exprs([item_node, coll_node], depth)
        return None if pair is None else ir.In(pair[0], pair[1], negated, sp)

    def junction(self, node: Tree[Token], conjunction: bool, depth: int) -> ir.Expr | None:
        items = self.exprs(node.children, depth)
        if items is None:
            return None
        kind: type[ir.And | ir.Or] = ir.And if conjunction else ir.Or
        flat: list[ir.Expr] = []
        for e in items:
            # `(a and b) and c` is `a and b and c`: one n-ary node
            flat.extend(e.items if isinstance(e, kind) else (e,))
        return kind(tuple(flat), self.span(node))

    # --- template strings ------------------------------------------------------------------------

    def template(self, tok: Token, depth: int) -> ir.Template | None:
        """``f"Order {data.id}"``: text parts (with escapes, ``{{``/``}}``) and expression parts."""
        raw = str(tok.value)
        body = raw[2:-1]
        line = tok.line or 1
        base = (tok.column or 1) + 2  # file column of body[0]
        parts: list[str | ir.Expr] = []
        text: list[str] = []
        ok = True

        def bad(start: int, end: int, detail: str) -> None:
            self.error(
                codes.DSL_BAD_TEMPLATE.at(
                    self.spans.span(line, base + start, line, base + end), detail=detail
                )
            )

        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                value, j = decode_escape(body, i)
                if value is None:
                    self.error(
                        codes.BAD_ESCAPE.at(self.spans.span(line, base + i, line, base + j), seq=body[i:j])
                    )
                    ok = False
                else:
                    text.append(value)
                i = j
            elif body.startswith("{{", i) or body.startswith("}}", i):
                text.append(ch)
                i += 2
            elif ch == "}":
                bad(i, i + 1, "a single `}` must be written `}}`")
                ok = False
                i += 1
            elif ch == "{":
                end = _closing_brace(body, i + 1)
                if end is None:
                    bad(i, len(body), "`{` is not closed; write `{{` for a brace")
                    return None
                inner = body[i + 1 : end]
                if not inner.strip():
                    bad(i, end + 1, "`{}` holds no expression")
                    ok = False
                else:
                    value_expr = self.fragment(inner, ShiftedSpans(self.spans, line, base + i + 1), depth + 1)
                    if value_expr is None:
                        ok = False
                    else:
                        if text:
                            parts.append("".join(text))
                            text = []
                        parts.append(value_expr)
                i = end + 1
            else:
                j = i + 1
                while j < len(body) and body[j] not in "\\{}":
                    j += 1
                text.append(body[i:j])
                i = j
        if text:
            parts.append("".join(text))
        return ir.Template(tuple(parts), self.span(tok)) if ok else None

    def fragment(self, text: str, spans: ShiftedSpans, depth: int) -> ir.Expr | None:
        """An expression inside a template: parsed on its own, lowered in the same scope."""
        tree, diags = parse_tree(text, "expr_only", spans, "template expression")
        self.diags.extend(diags)
        if tree is None:
            return None
        outer = self.spans
        self.spans = spans
        try:
            return self.expr(tree.children[0], depth)
        finally:
            self.spans = outer

    # --- JSON values ---------------------------------------------------------------------------------

    def json(self, node: _Node, ptr: Pointer, acc: _Json) -> tuple[bool, Any]:
        """(ok, Python value) of a JSON tree, recording node spans in ``acc``."""
        node = _tree(node)
        kind = str(node.data)
        acc.values[ptr] = self.span(node)
        c = node.children
        if kind == "json_string":
            s = self.string(_tok(c[0]))
            acc.strings.add(ptr)
            return s is not None, s
        if kind == "json_number":
            n = self.number(_tok(c[1]), c[0] is not None)
            return n is not None, n
        if kind in ("json_true", "json_false", "json_null"):
            return True, {"json_true": True, "json_false": False, "json_null": None}[kind]
        ok = True
        if kind == "json_array":
            items = []
            for i, child in enumerate(_present(c)):
                good, value = self.json(child, ptr + (i,), acc)
                ok = ok and good
                items.append(value)
            return ok, items
        assert kind == "json_object"
        obj: dict[str, Any] = {}
        for pair in _present(c):
            key_tok, value_node = _tree(pair).children
            key = self.string(_tok(key_tok))
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

    def options(self, nodes: list[Any], what: str) -> tuple[bool, dict[str, Any], dict[str, Tree[Token]]]:
        """``name: json`` pairs (target options, input transformer) -> dict; also the value trees."""
        out: dict[str, Any] = {}
        trees: dict[str, Tree[Token]] = {}
        ok = True
        for opt in _present(nodes):
            name_tok, value_node = _tree(opt).children
            name = str(_tok(name_tok).value)
            if name in out:
                self.error(codes.DSL_DUPLICATE_NAME.at(self.span(name_tok), what=what, name=name))
                ok = False
                continue
            good, value = self.json(value_node, (), _Json())
            ok = ok and good
            out[name] = value
            trees[name] = _tree(value_node)
        return ok, out, trees

    # --- statements --------------------------------------------------------------------------------

    def path(self, node: _Node, what: str) -> ir.Path | None:
        f = self.field(_tree(node))
        if f is None:
            return None
        if not f.path:
            self.error(codes.DSL_EMPTY_PATH.at(self.span(node), what=what))
            return None
        return f.path

    def transform_step(self, node: Tree[Token], steps: _Steps) -> None:
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

    def input_transformer(self, node: Tree[Token]) -> ir.InputTransformer | None:
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

    def envelope(self, node: Tree[Token]) -> ir.Envelope | None:
        fmt_tok, *attrs = node.children
        ok = True
        if str(_tok(fmt_tok).value) != "cloudevents":
            self.error(codes.DSL_UNKNOWN_ENVELOPE.at(self.span(fmt_tok), name=str(_tok(fmt_tok).value)))
            ok = False
        fields: dict[str, ir.Expr] = {}
        extensions: list[tuple[str, ir.Expr]] = []
        seen: set[str] = set()
        for attr in _present(attrs):
            name_tok, value_node = _tree(attr).children
            name = str(_tok(name_tok).value)
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

    def labels(self, node: Tree[Token]) -> list[ir.TargetRef]:
        out = []
        for tok in node.children:
            tok = _tok(tok)
            name = self.label(tok)
            if name is not None:
                out.append(ir.TargetRef(name, self.span(tok)))
        return out

    def once(self, seen: set[str], stmt: str, node: Tree[Token], where: str) -> bool:
        """True the first time ``stmt`` appears in a rule or target; reports later ones."""
        if stmt in seen:
            self.error(codes.DSL_DUPLICATE_STATEMENT.at(self.span(node), stmt=stmt, where=where))
            return False
        seen.add(stmt)
        return True

    def rule(self, node: Tree[Token]) -> ir.Rule | None:
        label_tok, prio, *stmts = node.children
        label_tok = _tok(label_tok)
        name = self.label(label_tok)
        where = f"rule {name!r}"
        before = self.error_count()
        priority = 0 if prio is None else self.integer(_tree(prio), "priority")
        filters: list[ir.Filter] = []
        targets: list[ir.TargetRef] = []
        description: str | None = None
        on_match: ir.OnMatch = "continue"
        on_error: ir.OnError = "skip"
        enabled = True
        steps = _Steps()
        seen: set[str] = set()
        for st in stmts:
            st = _tree(st)
            kind = str(st.data)
            sp = self.span(st)
            c = st.children
            if kind == "description":
                text = self.string(_tok(c[0]))
                if self.once(seen, "description", st, where):
                    description = text
            elif kind == "when_filter":
                e = self.expr(c[0], 1)
                if e is not None:
                    filters.append(ir.Filter("when", e, sp))
            elif kind == "match_filter":
                pattern = self.pattern(_tree(c[0]))
                if pattern is not None:
                    filters.append(ir.Filter("match", pattern, sp))
            elif kind == "cel_filter":
                cel = self.cel(_tok(c[0]))
                if cel is not None:
                    filters.append(ir.Filter("cel", cel, sp))
            elif kind == "route":
                targets.extend(self.labels(_tree(c[0])))
            elif kind == "on_match":
                if self.once(seen, "on match", st, where):
                    on_match = cast(ir.OnMatch, str(_tok(c[-1]).value))
            elif kind == "on_error":
                if self.once(seen, "on error", st, where):
                    on_error = cast(ir.OnError, str(_tok(c[-1]).value))
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

    def pattern(self, node: Tree[Token]) -> ir.EventPattern | None:
        from ..pattern import lower_pattern  # written alongside; imported when a pattern appears

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
        from ..cel import check_cel

        text = self.string(tok)
        if text is None:
            return None
        start = self.spans.span(tok.line or 1, (tok.column or 1) + 1, tok.line or 1, (tok.column or 1) + 2)
        # Escapes shift columns a little; a CEL text is usually quoted with the other quote kind.
        self.diags.extend(check_cel(text, Embedded(start.file, text, ((start.line, start.column),))))
        return ir.Cel(text, self.span(tok))

    def target(self, node: Tree[Token]) -> ir.Target | None:
        label_tok, type_tok, args, body = node.children
        label_tok = _tok(label_tok)
        name = self.label(label_tok)
        where = f"target {name!r}"
        before = self.error_count()
        options: dict[str, Any] = {}
        if args is not None:
            _, options, _ = self.options(_tree(args).children, "option")
        partition: ir.Expr | None = None
        steps = _Steps()
        seen: set[str] = set()
        for st in _tree(body).children if body is not None else []:
            st = _tree(st)
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
            str(_tok(type_tok).value),
            ir.freeze(options),
            steps.transform(),
            partition,
            self.span(label_tok),
        )

    def file(self, tree: Tree[Token], name: str) -> ir.RuleSetIR | None:
        targets: list[ir.Target] = []
        rules: list[ir.Rule] = []
        defaults: list[ir.TargetRef] = []
        for item in tree.children:
            item = _tree(item)
            if item.data == "target_def":
                t = self.target(item)
                if t is not None:
                    targets.append(t)
            elif item.data == "rule_def":
                r = self.rule(item)
                if r is not None:
                    rules.append(r)
            else:
                defaults.extend(self.labels(_tree(item.children[0])))
        if any(d.is_error for d in self.diags):
            return None
        return ir.RuleSetIR(tuple(targets), tuple(rules), tuple(defaults), files=(name,))


def _closing_brace(body: str, start: int) -> int | None:
    """Index of the `}` closing a template part that starts at ``start`` (skips nested braces, quotes)."""
    depth = 1
    j = start
    while j < len(body):
        ch = body[j]
        if ch in "\"'":
            k = j + 1
            while k < len(body) and body[k] != ch:
                k += 2 if body[k] == "\\" else 1
            j = k
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


# --- entry points (called by dsl.py) ---------------------------------------------------------------


def lower_expression(tree: Tree[Token], spans: Spans) -> tuple[ir.Expr | None, list[Diagnostic]]:
    """An ``expr_only`` tree -> expression (None when any error was reported)."""
    low = _Lowerer(spans)
    e = low.expr(tree.children[0], 1)
    return (None if low.error_count() else e), sort_diagnostics(low.diags)


def lower_path(tree: Tree[Token], spans: Spans) -> tuple[ir.Path | None, list[Diagnostic]]:
    """A ``path_only`` tree -> field path."""
    low = _Lowerer(spans)
    p = low.path(tree.children[0], "a transform")
    return (None if low.error_count() else p), sort_diagnostics(low.diags)


def lower_file(tree: Tree[Token], spans: Spans, name: str) -> tuple[ir.RuleSetIR | None, list[Diagnostic]]:
    """A ``rules_file`` tree -> rule set."""
    low = _Lowerer(spans)
    rs = low.file(tree, name)
    return rs, sort_diagnostics(low.diags)
