"""Load-time checks of a CESQL filter: its syntax and the errors that can be known before any
event arrives (section 3.3: "some error checks SHOULD be done at compile time").

Where it sits: CESQL text ──parse──▶ Expr ──**check**──▶ diagnostics (E134, E380..E383, E105),
each at its position in the enclosing file through an :class:`~rules_engine.source.Embedded`.
Pure; never raises.

What is an error at load time, because no event could make the filter pass or the part work:
  * E134: the text is not CESQL (a ParseError), or an integer literal is outside 32 bits;
  * E380: a call that no built-in function takes (a MissingFunctionError on every event);
  * E381: a filter whose value is always an Integer or a String (section 1.2: it must be Boolean);
  * E382: a part without attributes that reports an error whenever it is evaluated
    (``INT('ABC')``, ``5 / 0``, ``LEFT(x, -1)``): evaluated once here, with no event;
  * E383: ``data`` or ``data_base64``, which CESQL does not address (section 1).
"""

from __future__ import annotations

from rules_engine.cesql import ast
from rules_engine.cesql.evaluate import evaluate
from rules_engine.cesql.functions import overloads
from rules_engine.cesql.parse import MAX_DEPTH, parse
from rules_engine.cesql.values import NOT_ATTRIBUTES, Type
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Embedded


def check_cesql(text: str, where: Embedded) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse and check a CESQL filter: the tree (None when it cannot be read) and the diagnostics."""
    tree, problem = parse(text)
    if tree is None:
        assert problem is not None
        span = where.offset_span(problem.start, problem.end)
        if problem.too_deep:
            return None, [codes.TOO_DEEP.at(span, what="CESQL expression", limit=MAX_DEPTH)]
        return None, [codes.CESQL_SYNTAX.at(span, notes=problem.notes, detail=problem.message)]
    return tree, check_tree(tree, where)


def check_tree(tree: ast.Expr, where: Embedded) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    nodes = ast.walk(tree)
    for node in nodes:
        span = where.offset_span(node.start, node.end)
        if isinstance(node, ast.Call) and not _dispatches(node):
            n = len(node.args)
            known = overloads(node.name)
            notes = [f"{node.name} is {' or '.join(f.signature for f in known)}"] if known else []
            out.append(codes.CESQL_UNKNOWN_FUNCTION.at(
                where.offset_span(node.start, node.start + len(node.name)), notes=notes, name=node.name,
                count=f"{n} argument{'s' if n != 1 else ''}"))
        elif isinstance(node, (ast.Attribute, ast.Exists)) and node.name in NOT_ATTRIBUTES:
            out.append(codes.CESQL_DATA.at(span, notes=("CESQL filters read context attributes and extensions only",),
                                           name=node.name))
    if not out:
        out.extend(_constant_errors(tree, where))
    kind = ast.static_type(tree)
    if kind in (Type.INTEGER, Type.STRING):
        out.append(codes.CESQL_NOT_BOOLEAN.at(
            where.offset_span(tree.start, tree.end), type=f"{'an' if kind is Type.INTEGER else 'a'} {kind.value}",
            notes=(("a filter passes an event only when its value is true (section 1.2); "
                   "compare it, for example `... = 'x'`"),)))
    return out


def _dispatches(call: ast.Call) -> bool:
    return any(f.accepts(len(call.args)) for f in overloads(call.name))


def _constant_errors(tree: ast.Expr, where: Embedded) -> list[Diagnostic]:
    """E382 for each error of the largest parts that read no attribute: such a part gives the
    same value and errors on every event, so evaluating it once here (with no event) finds them."""
    out: list[Diagnostic] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if ast.attributes(node):
            stack.extend(ast.children(node))
            continue
        _, errors = evaluate(node, {})
        for err in errors:
            out.append(codes.CESQL_ALWAYS_FAILS.at(where.offset_span(err.start, err.end), kind=err.kind.spec_name,
                                                   detail=err.message))
    return out
