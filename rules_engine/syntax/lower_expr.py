"""Lowering of expressions, templates and field paths: parse tree -> IR.

Position in the pipeline::

    rule text ──dsl──▶ parse tree ──**lower_expr** (+ lower_dsl)──▶ IR ──check──▶ diagnostics

The expression half of the rule language's lowering: :class:`ExprLowerer` turns
an expression, a template string or a field path into IR, and
:mod:`rules_engine.syntax.lower_dsl` builds on it for files, rules, targets and
transforms.  Also the entry point for expressions and paths written in YAML
files (through :func:`rules_engine.syntax.dsl.parse_expression`).

The tree comes from :mod:`rules_engine.syntax.dsl` and is already known to be
syntactically valid; what can still be wrong is reported here: bad escapes,
numbers out of range, invalid CIDR blocks, broken templates.  Names, types and
functions are checked later, on the IR.

Invariants:
  * every IR node gets the span of the text it came from;
  * expression trees are at most :data:`~rules_engine.syntax.dsl.MAX_DEPTH`
    deep, so nothing downstream recurses without bound;
  * the result is None whenever an error was reported (never a partial IR).
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Final, cast
from typing import Literal as Lit

from lark import Token

from rules_engine.cel.check import check_cel
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic, sort_diagnostics
from rules_engine.model.source import Embedded, Span
from rules_engine.syntax.dsl import MAX_DEPTH, parse_tree
from rules_engine.syntax.dsl_tokens import decode_escape, decode_string
from rules_engine.syntax.dsl_tree import Node, ShiftedSpans, Spans, token_span

__all__ = [
    "AnyNode",
    "ExprLowerer",
    "as_token",
    "as_tree",
    "join_spans",
    "lower_expression",
    "lower_path",
    "present",
]

AnyNode = Node | Token
"""A child in the parse tree (absent optional parts, None, are filtered out first)."""

_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_STRING_TESTS: dict[str, ir.StringOp] = {
    "starts_with": "starts_with",
    "ends_with": "ends_with",
    "contains": "contains",
    "matches": "matches",
    "like": "like",
}
_INTEGER = re.compile(r"[0-9]+")


# --- helpers shared with lower_dsl ------------------------------------------------------------------


def join_spans(a: Span, b: Span) -> Span:
    """From the start of ``a`` to the end of ``b``."""
    return Span(a.file, a.line, a.column, b.end_line, b.end_column)


def as_tree(node: object) -> Node:
    # The grammar guarantees which children are trees; this documents it for mypy.
    assert isinstance(node, Node)
    return node


def as_token(node: object) -> Token:
    assert isinstance(node, Token)
    return node


def present(children: list[Any]) -> list[Any]:
    """Children without Lark's placeholders for absent optional parts."""
    return [c for c in children if c is not None]


# Top-level names of CloudEvents and EventBridge envelopes: a dotted path that starts with one of
# them reads the event on purpose (W306 stays quiet).
_ENVELOPE_NAMES: Final = frozenset({
    "id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data",
    "version", "account", "region", "resources", "detail", "detail-type",
})
_WORD: Final = re.compile(r"[a-z][a-z0-9_]*")


class ExprLowerer:
    """One lowering run: where positions map to, the problems found, the quantifier names in scope.

    :mod:`~rules_engine.syntax.lower_dsl` extends it with files, rules and targets.
    """

    def __init__(self, spans: Spans) -> None:
        self.spans = spans
        self.diags: list[Diagnostic] = []
        self.bound: list[str] = []  # innermost last
        self._deep_reported = False
        # Within one top-level expression: quantifier variables declared, and bare names read as
        # event fields (E332 when one of those is a quantifier's variable used outside it).
        self._outermost = True
        self._declared: set[str] = set()
        self._free: list[tuple[str, Span]] = []

    # --- helpers -------------------------------------------------------------------------------

    def span(self, node: AnyNode) -> Span:
        if isinstance(node, Token):
            return token_span(self.spans, node)
        if not node.line:
            return self.spans.span(1, 1, 1, 2)
        return self.spans.span(node.line, node.column, node.end_line, node.end_column)

    def error(self, diag: Diagnostic) -> None:
        self.diags.append(diag)

    def error_count(self) -> int:
        # Checkers called from here (CEL, patterns) may add warnings; only errors void a node.
        return sum(1 for d in self.diags if d.is_error)

    def too_deep(self, node: AnyNode) -> None:
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

    def integer(self, node: Node, what: str) -> int | None:
        """``[MINUS] NUMBER`` that must be a whole number (an index, a priority)."""
        minus, num = node.children[-2:]
        tok = as_token(num)
        if not _INTEGER.fullmatch(str(tok.value)):
            text = ("-" if minus is not None else "") + str(tok.value)
            sp = self.span(tok) if minus is None else join_spans(self.span(minus), self.span(tok))
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

    def expr(self, node: AnyNode, depth: int) -> ir.Expr | None:
        if not self._outermost:
            return self._expr(node, depth)
        self._outermost, self._declared, self._free = False, set(), []
        try:
            e = self._expr(node, depth)
        finally:
            self._outermost = True
        for name, sp in self._free:
            if name in self._declared:
                self.error(codes.UNKNOWN_VARIABLE.at(sp, notes=[
                    f"{name!r} is bound only inside its any({name} in ...: ...) / all({name} in ...: ...)",
                    f"to read the event's field {name!r} here, write $.{name} or `{name}`",
                ], name=name))
        return e

    def _expr(self, node: AnyNode, depth: int) -> ir.Expr | None:
        # ``depth`` is the depth of the node being built; the check comes before any recursion.
        if depth > MAX_DEPTH:
            self.too_deep(node)
            return None
        node = as_tree(node)
        kind = str(node.data)
        c = node.children
        sp = self.span(node)
        d = depth + 1
        match kind:
            case "field":
                return self.field(node)
            case "string":
                s = self.string(as_token(c[0]))
                return None if s is None else ir.Literal(s, sp)
            case "number":
                n = self.number(as_token(c[0]), False)
                return None if n is None else ir.Literal(n, sp)
            case "true" | "false" | "null":
                return ir.Literal({"true": True, "false": False, "null": None}[kind], sp)
            case "template":
                return self.template(as_token(c[0]), depth)
            case "list":
                items = self.exprs(present(c), d)
                return None if items is None else ir.ListExpr(tuple(items), sp)
            case "object":
                return self.object(node, d)
            case "call":
                return self.call(node, d)
            case "exists":
                f = self.field(as_tree(c[0]))
                return None if f is None else ir.Exists(f, sp)
            case "any_" | "all_":
                return self.quantifier(node, "any" if kind == "any_" else "all", d)
            case "neg":
                return self.negate(node, d)
            case "sum" | "product":
                return self.arith(node, depth)
            case "compare":
                op = str(as_token(c[1]).value)
                assert op in _COMPARE_OPS
                pair = self.exprs([c[0], c[2]], d)
                if pair is not None and op in ("==", "!="):
                    self.dotted_word(pair, c[2])
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

    def dotted_word(self, pair: list[ir.Expr], right: AnyNode) -> None:
        """W306 for ``type == order.created``: a bare dotted path of lowercase words outside the
        envelope compared with a field is probably text the author forgot to quote (written as
        ``$.order.created`` it is read on purpose, and not warned about)."""
        field = pair[1]
        if not (isinstance(pair[0], ir.Field) and isinstance(field, ir.Field) and field.var is None):
            return
        tree = as_tree(right)
        head = tree.children[0] if str(tree.data) == "field" and tree.children else None
        if not (isinstance(head, Token) and head.type == "NAME" and len(field.path) >= 2
                and all(isinstance(p, str) and _WORD.fullmatch(p) for p in field.path)
                and field.path[0] not in _ENVELOPE_NAMES):
            return
        text = ".".join(str(p) for p in field.path)
        self.diags.append(codes.DOTTED_WORD_IS_A_FIELD.at(
            field.span, notes=[f'to compare with the text, quote it: "{text}"',
                               f"to read that field on purpose, write $.{text}"], text=text))

    def field(self, node: Node) -> ir.Field | None:
        head, *rest = node.children
        head = as_token(head)
        var: str | None = None
        path: list[str | int] = []
        if head.type == "NAME" and str(head.value) in self.bound:
            var = str(head.value)  # a quantifier's variable; `x` in backticks is always an event field
        elif head.type == "NAME":
            path.append(str(head.value))
            self._free.append((str(head.value), self.span(head)))
        elif head.type == "BACKTICK":
            path.append(str(head.value)[1:-1])
        ok = True
        for part in rest:
            if isinstance(part, Node):
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

    def object(self, node: Node, depth: int) -> ir.ObjectExpr | None:
        # Duplicate keys are kept: the expression checker reports them (E352).
        items: list[tuple[str, ir.Expr]] = []
        ok = True
        for pair in present(node.children):
            key_tok, value_node = as_tree(pair).children
            key_tok = as_token(key_tok)
            key = self.string(key_tok) if key_tok.type == "STRING" else str(key_tok.value)
            value = self.expr(value_node, depth)
            if key is None or value is None:
                ok = False
            else:
                items.append((key, value))
        return ir.ObjectExpr(tuple(items), self.span(node)) if ok else None

    def call(self, node: Node, depth: int) -> ir.Expr | None:
        name_tok, *arg_nodes = node.children
        name = str(as_token(name_tok).value)
        args = self.exprs(present(arg_nodes), depth)
        if args is None:
            return None
        sp = self.span(node)
        if name == "equals_ignore_case" and len(args) == 2:
            return ir.StringTest("equals_ignore_case", args[0], args[1], sp)
        if name == "cel":
            return self.cel_call(args, sp)
        # Arity and the function library are checked on the IR (functions.py).
        return ir.Call(name, tuple(args), sp)

    def cel_call(self, args: list[ir.Expr], sp: Span) -> ir.Cel | None:
        """``cel("data.total * 2")``: a CEL expression as a value, with cel-python's meaning.

        Checked now, like a ``cel`` filter, with positions inside the string mapped
        into the file (the text starts one column after the opening quote).
        """
        arg = args[0] if len(args) == 1 else None
        if not isinstance(arg, ir.Literal) or not isinstance(arg.value, str):
            self.error(codes.CEL_CALL_ARG.at(sp))
            return None
        where = Embedded.plain(arg.span.file, arg.value, arg.span.line, arg.span.column + 1)
        diags = check_cel(arg.value, where)
        self.diags.extend(diags)
        if any(d.is_error for d in diags):
            return None
        return ir.Cel(arg.value, sp)

    def quantifier(self, node: Node, kind: Lit["any", "all"], depth: int) -> ir.Quantifier | None:
        var_tok, coll_node, pred_node = node.children
        var = str(as_token(var_tok).value)
        self._declared.add(var)
        mark = len(self._free)
        collection = self.expr(coll_node, depth)
        # any(data in data.items: ...): the collection can only mean the event field
        self._free[mark:] = [(n, sp) for n, sp in self._free[mark:] if n != var]
        self.bound.append(var)  # inner quantifiers shadow outer ones: lookups find the name anywhere
        try:
            predicate = self.expr(pred_node, depth)
        finally:
            self.bound.pop()
        if collection is None or predicate is None:
            return None
        return ir.Quantifier(kind, var, collection, predicate, self.span(node))

    def negate(self, node: Node, depth: int) -> ir.Expr | None:
        operand = self.expr(node.children[1], depth)
        if operand is None:
            return None
        sp = self.span(node)
        v = operand.value if isinstance(operand, ir.Literal) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return ir.Literal(-v, sp)  # `-5` is a number, not an operation
        return ir.Unary("-", operand, sp)

    def arith(self, node: Node, depth: int) -> ir.Expr | None:
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
        for op_tok, right in zip(ops, lowered[1:], strict=True):
            op = cast(Any, str(as_token(op_tok).value))
            right = cast(ir.Expr, right)
            result = ir.Arith(op, result, right, join_spans(result.span, right.span))
        return result

    def membership(self, node: Node, negated: bool, depth: int) -> ir.Expr | None:
        item_node, coll_node = node.children
        sp = self.span(node)
        coll_tree = coll_node if isinstance(coll_node, Node) else None
        if (
            coll_tree is not None
            and coll_tree.data == "call"
            and as_token(coll_tree.children[0]).value == "cidr"
        ):
            item = self.expr(item_node, depth)
            args = present(coll_tree.children[1:])
            if len(args) != 1 or not (isinstance(args[0], Node) and args[0].data == "string"):
                self.error(codes.DSL_BAD_CIDR_ARG.at(self.span(coll_tree)))
                return None
            text_tok = as_token(args[0].children[0])
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

    def junction(self, node: Node, conjunction: bool, depth: int) -> ir.Expr | None:
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

    # --- field paths (transform targets) --------------------------------------------------------------

    def path(self, node: AnyNode, what: str) -> ir.Path | None:
        """A field that names a place to write: not ``$`` alone (``what`` names the statement)."""
        f = self.field(as_tree(node))
        if f is None:
            return None
        if not f.path:
            self.error(codes.DSL_EMPTY_PATH.at(self.span(node), what=what))
            return None
        return f.path


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


def lower_expression(tree: Node, spans: Spans) -> tuple[ir.Expr | None, list[Diagnostic]]:
    """An ``expr_only`` tree -> expression (None when any error was reported)."""
    low = ExprLowerer(spans)
    e = low.expr(tree.children[0], 1)
    return (None if low.error_count() else e), sort_diagnostics(low.diags)


def lower_path(tree: Node, spans: Spans) -> tuple[ir.Path | None, list[Diagnostic]]:
    """A ``path_only`` tree -> field path."""
    low = ExprLowerer(spans)
    p = low.path(tree.children[0], "a transform")
    return (None if low.error_count() else p), sort_diagnostics(low.diags)
