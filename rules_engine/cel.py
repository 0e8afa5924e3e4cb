"""CEL filters: load-time checking and the reference evaluation through cel-python.

Position in the pipeline::

    rule file ──lower──▶ ir.Cel(source) ──check_cel──▶ diagnostics
                              │
                              ├── reference.py: cel_truth / explain_cel   (this module, the oracle)
                              └── compile/cel_codegen.py                  (fast path; falls back to CelProgram)

The evaluator is cel-python's own (``celpy``); this module decides what a CEL
filter sees (docs/cel.md, "Variables"):

* ``event`` is the whole event;
* each well-known envelope field present at the event's top level is also a
  variable of its own name (CloudEvents attributes and EventBridge fields,
  :data:`ENVELOPE`), so ``type == "order.created" && data.total > 1000`` reads
  like the CloudEvents spec.  A declared name that the event lacks is *absent*
  from the activation, so cel-python's error-as-value rules apply to it.

Events are JSON and are converted by :func:`to_cel` exactly like
``celpy.json_to_cel`` (a JSON ``3`` is an ``int``, ``3.0`` a ``double``), with
one difference: an integer outside the int64 range becomes a ``double``
instead of failing the whole conversion.

Invariants: nothing here raises on user input (texts that do not parse, events
that are not JSON, expressions cel-python cannot evaluate all become a
``CELEvalError`` value or a diagnostic); no module-level mutable state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import celpy
import re2  # type: ignore[import-untyped]
from celpy import celtypes
from celpy.adapter import CELJSONEncoder
from celpy.celparser import CELParseError, CELParser
from celpy.evaluation import CELEvalError, Evaluator, base_functions, celstr, eval_error
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from . import codes
from .errors import Diagnostic
from .source import Embedded, Source

__all__ = [
    "DECLARED",
    "ENVELOPE",
    "MAX_NESTING",
    "MAX_TREE_DEPTH",
    "CelProgram",
    "cel_truth",
    "check_cel",
    "evaluate_cel",
    "explain_cel",
    "parse_cel",
    "to_cel",
]

# CloudEvents 1.0 context attributes plus ``data``, then the EventBridge envelope.
ENVELOPE: Final = frozenset(
    {
        "id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data",
        "version", "account", "region", "resources", "detail",
    }
)
DECLARED: Final[frozenset[str]] = ENVELOPE | {"event"}
"""Variable names a CEL filter may use (macro variables come on top, in their scope)."""

MAX_NESTING: Final = 32
"""Brackets ``( [ {`` nested deeper than this are refused before parsing."""

MAX_TREE_DEPTH: Final = 400
"""Depth of cel-python's parse tree.  Its evaluator recurses about five Python
frames per level under a recursion limit of 2500 (which ``celpy.Environment``
sets), and a parenthesis costs ten levels: 400 keeps a safe margin for callers."""

# Macros are recognised by name in ``member.name(...)`` position; they bind a variable.
MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
_EXTENSION_MACROS: Final = frozenset({"reduce", "min"})  # cel-python extensions
FUNCTIONS: Final = frozenset(n for n in base_functions if n.isidentifier())
"""Functions (and methods) cel-python knows: ``size``, ``int``, ``startsWith`` …"""

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

_UNDECLARED_NOTE: Final = (
    'write event.{name} or event["{name}"]: a CEL filter sees the whole event as `event`, '
    "and by their own names only the envelope fields {envelope}"
)


# --- events ---------------------------------------------------------------------------------------


def json_number(value: int) -> Any:
    """A JSON integer as a CEL value: ``int`` in the int64 range, else ``double``."""
    if _INT64_MIN <= value <= _INT64_MAX:
        return celtypes.IntType(value)
    try:
        return celtypes.DoubleType(float(value))
    except OverflowError:  # more than ~308 digits: the nearest double is infinite
        return celtypes.DoubleType(float("inf") if value > 0 else float("-inf"))


def to_cel(value: Any) -> Any:
    """A decoded JSON value as cel-python values (``celpy.json_to_cel`` plus :func:`json_number`).

    Raises ``ValueError`` for values that JSON cannot hold.
    """
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return json_number(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if value is None:
        return None
    if isinstance(value, Mapping):
        return celtypes.MapType({to_cel(k): to_cel(v) for k, v in value.items()})
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return celtypes.ListType([to_cel(v) for v in value])
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def activation(event: Mapping[str, Any]) -> dict[str, Any]:
    """The variables of one evaluation: ``event`` and the envelope fields the event has."""
    whole = to_cel(event)
    if not isinstance(whole, celtypes.MapType):
        raise TypeError("an event must be a JSON object")
    names: dict[str, Any] = {"event": whole}
    for name in ENVELOPE:
        if name in whole:
            names[name] = whole[name]
    return names


# --- parsing ------------------------------------------------------------------------------------------


class CelTooDeep(ValueError):
    """The expression is nested deeper than :data:`MAX_NESTING` or :data:`MAX_TREE_DEPTH`."""

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__(f"CEL expression is nested deeper than {limit} levels")
        self.offset = offset
        self.limit = limit


def _bracket_nesting(text: str) -> int:
    """Offset where brackets first nest deeper than MAX_NESTING, or -1.

    A cheap scan that skips string literals and comments, so that a 5,000-deep
    expression is refused before the parser builds a 50,000-level tree.
    """
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "([{":
            depth += 1
            if depth > MAX_NESTING:
                return i
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n" and len(quote) == 1:
                    break  # unterminated: the parser will say so
                i += 1
            i += len(quote) - 1
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
        i += 1
    return -1


def tree_depth(tree: Tree[Any]) -> int:
    """Depth of a lark tree, computed without recursion."""
    best = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, d + 1))
    return best


def parse_cel(text: str) -> Tree[Any]:
    """cel-python's parse tree for ``text``.

    Raises :class:`CelTooDeep` or ``celpy.CELParseError``; :func:`check_cel`
    turns both into diagnostics.
    """
    off = _bracket_nesting(text)
    if off >= 0:
        raise CelTooDeep(off, MAX_NESTING)
    tree: Tree[Any] = CELParser().parse(text)
    if tree_depth(tree) > MAX_TREE_DEPTH:
        raise CelTooDeep(0, MAX_TREE_DEPTH)
    return tree


# --- evaluation ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CelProgram:
    """One CEL expression, parsed once, ready to evaluate against many events.

    ``runner`` is cel-python's ``Runner`` (None when the text does not parse;
    ``problem`` then says why and every evaluation is that error).  The runner
    keeps no state between evaluations: each call builds a fresh activation.
    """

    text: str
    runner: Any
    problem: str | None = None

    @staticmethod
    def build(text: str, tree: Tree[Any] | None = None) -> CelProgram:
        try:
            ast = tree if tree is not None else parse_cel(text)
            # Environment() also raises the interpreter's recursion limit to 2500;
            # cel-python's evaluator needs it (see MAX_TREE_DEPTH).
            return CelProgram(text, celpy.Environment(runner_class=_LinearRunner).program(ast))
        except CELParseError as ex:
            return CelProgram(text, None, codes.CEL_SYNTAX.format(detail=_syntax_detail(text, ex)[0]))
        except Exception as ex:  # too deep, or cel-python refused the tree
            return CelProgram(text, None, str(ex))

    def evaluate(self, event: Mapping[str, Any]) -> Any:
        """cel-python's result: a celpy value or a ``CELEvalError`` value.  Never raises."""
        if self.runner is None:
            return CELEvalError(self.problem or "invalid CEL expression")
        try:
            ctx = activation(event)
        except (ValueError, TypeError, RecursionError) as ex:
            return CELEvalError(f"the event is not JSON: {ex}", type(ex), ex.args)
        try:
            return self.runner.evaluate(ctx)
        except CELEvalError as ex:
            return ex
        except Exception as ex:
            # cel-python itself raised (``null.exists(x, true)``, ``int(1.0/0.0)``,
            # recursion): that evaluation has no value, which a filter reads as false.
            return CELEvalError(f"{type(ex).__name__}: {ex}", type(ex), ex.args)

    def truth(self, event: Mapping[str, Any]) -> bool:
        """True iff the result is the CEL bool ``true`` (errors and non-bools are false)."""
        return is_true(self.evaluate(event))

    def explain(self, event: Mapping[str, Any]) -> str | None:
        """None when the expression is true; else why not."""
        return explain_value(self.evaluate(event))


class _LinearMacros(Evaluator):
    """cel-python's evaluator with ``exists`` and ``all`` linear in the size of the list.

    cel-python folds a macro's results with ``||`` / ``&&``; when both operands are not bools
    (errors, say) the fold makes a "no such overload" error whose text holds both operands'
    text, so each further such element doubles the error's size: exponential time and memory
    in the list's length (issue 9, defect 1).  This fold keeps cel-python's verdict and, for up
    to two non-bool results, its exact value; from the third on the error is no longer combined
    again (CEL says the result is *an* error; which one is not specified).  Everything else is
    cel-python's own.
    """

    def member_dot_arg(self, tree: Tree[Any]) -> Any:
        method = tree.children[1]
        if not (isinstance(method, Token) and method.value in ("exists", "all")):
            return super().member_dot_arg(tree)
        members = self.visit(tree.children[0])
        if isinstance(members, CELEvalError):
            return members
        body = self.build_ss_macro_eval(tree)
        exists = method.value == "exists"
        op = eval_error("no such overload", TypeError)(celtypes.logical_or if exists else celtypes.logical_and)
        first: Any = _NONE
        combined: Any = _NONE
        for item in members:
            r = body(item)
            if isinstance(r, celtypes.BoolType):
                if bool(r) == exists:  # true || anything is true; false && anything is false
                    return celtypes.BoolType(exists)
            elif first is _NONE:
                first = r
            elif combined is _NONE:
                combined = op(first, r)
        if first is _NONE:
            return celtypes.BoolType(not exists)
        return first if combined is _NONE else combined


_NONE: Final = object()  # "no such result yet" (CEL null is a result)


class _LinearRunner(celpy.InterpretedRunner):
    def evaluate(self, context: Any) -> Any:
        return _LinearMacros(ast=self.ast, activation=self.new_activation()).evaluate(context)


def is_true(value: Any) -> bool:
    return isinstance(value, celtypes.BoolType) and bool(value)


def evaluate_cel(text: str, event: Mapping[str, Any]) -> Any:
    """Evaluate once (parses ``text`` each call; hold a :class:`CelProgram` to reuse it)."""
    return CelProgram.build(text).evaluate(event)


def cel_truth(text: str, event: Mapping[str, Any]) -> bool:
    return CelProgram.build(text).truth(event)


def explain_cel(text: str, event: Mapping[str, Any]) -> str | None:
    return CelProgram.build(text).explain(event)


# --- explanations -------------------------------------------------------------------------------------

_CEL_TYPE_NAMES: Final = {
    celtypes.BoolType: "bool",
    celtypes.IntType: "int",
    celtypes.UintType: "uint",
    celtypes.DoubleType: "double",
    celtypes.StringType: "string",
    celtypes.BytesType: "bytes",
    celtypes.ListType: "list",
    celtypes.MapType: "map",
    celtypes.TimestampType: "timestamp",
    celtypes.DurationType: "duration",
    type(None): "null",
    float: "double",
    int: "int",
    str: "string",
    list: "list",
}
_OPERATOR_NAMES: Final = {
    "relation_eq": "==", "relation_ne": "!=", "relation_lt": "<", "relation_le": "<=",
    "relation_gt": ">", "relation_ge": ">=", "relation_in": "in", "addition_add": "+",
    "addition_sub": "-", "multiplication_mul": "*", "multiplication_div": "/",
    "multiplication_mod": "%", "unary_not": "!", "unary_neg": "-",
}
_TOKEN_RE: Final = re.compile(r"Token\('RULE', '(\w+)'\)|'?(\w+)'?")
_CLASS_RE: Final = re.compile(r"<class '([\w.]+)'>")


def cel_type_name(value: Any) -> str:
    return _CEL_TYPE_NAMES.get(type(value), type(value).__name__)


def _class_name(m: re.Match[str]) -> str:
    short = m.group(1).rsplit(".", 1)[-1]
    for cls, name in _CEL_TYPE_NAMES.items():
        if cls.__name__ == short:
            return name
    return short


def error_text(err: BaseException) -> str:
    """cel-python's error message, made readable (no activation dumps, CEL type names)."""
    text = str(err.args[0]) if err.args else type(err).__name__
    cut = text.find(" (in activation")
    if cut >= 0:
        text = text[:cut]
    for rule, op in _OPERATOR_NAMES.items():
        text = text.replace(f"Token('RULE', '{rule}')", repr(op)).replace(f"'{rule}'", repr(op))
    text = _CLASS_RE.sub(_class_name, text)
    if text in ("no such key", "invalid_argument") and len(err.args) > 2 and err.args[2]:
        text = f"{text}: {', '.join(repr(a) for a in err.args[2])}"
    return text


def _show(value: Any) -> str:
    try:
        text = CELJSONEncoder(ensure_ascii=False).encode(value)
    except Exception:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def explain_value(value: Any) -> str | None:
    if isinstance(value, celtypes.BoolType):
        return None if value else codes.CEL_FALSE.format()
    if isinstance(value, CELEvalError):
        return codes.CEL_EVAL_ERROR.format(detail=error_text(value))
    return codes.CEL_NOT_BOOL.format(kind=cel_type_name(value), value=_show(value))


# --- load-time checking ---------------------------------------------------------------------------------

# Grammar rules that merely pass one child through (``expr → conditionalor → … → primary``).
_PASS_THROUGH: Final = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary",
     "member", "primary", "paren_expr"}
)


def simple_ident(node: Any) -> str | None:
    """The name when ``node`` is nothing but an identifier (``x``), else None."""
    while isinstance(node, Tree) and node.data in _PASS_THROUGH and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "ident":
        return str(node.children[0])
    return None


def string_literal(node: Any) -> str | None:
    """The value when ``node`` is nothing but a string literal, else None."""
    while isinstance(node, Tree) and node.data in _PASS_THROUGH and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "literal":
        tok = node.children[0]
        if isinstance(tok, Token) and tok.type in ("STRING_LIT", "MLSTRING_LIT"):
            try:
                return str(celstr(tok))
            except Exception:
                return None
    return None


def regex_problem(pattern: str) -> str | None:
    """RE2's complaint about ``pattern`` (what ``matches()`` uses), or None."""
    options = re2.Options()
    options.log_errors = False  # keep RE2's C++ logger off stderr
    try:
        re2.compile(pattern, options)
    except re2.error as ex:
        detail = ex.args[0] if ex.args else ex
        return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    except Exception as ex:
        return str(ex)
    return None


def _args(node: Any) -> list[Any]:
    """Argument trees of an ``exprlist`` (or none)."""
    if isinstance(node, Tree) and node.data == "exprlist":
        return list(node.children)
    return []


class _Checker:
    """Walks a parse tree once, collecting diagnostics; positions map through ``where``."""

    def __init__(self, where: Embedded) -> None:
        self.where = where
        self.out: list[Diagnostic] = []

    def span_of(self, node: Any) -> Any:
        if isinstance(node, Token) and node.line is not None:
            return self.where.span(node.line, node.column or 1, node.end_line, node.end_column)
        meta = getattr(node, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            return self.where.span(meta.line, meta.column, meta.end_line, meta.end_column)
        return self.where.span(1, 1)

    def name(self, tok: Any, bound: frozenset[str]) -> None:
        name = str(tok)
        if name in bound or name in DECLARED:
            return
        note = _UNDECLARED_NOTE.format(name=name, envelope=", ".join(sorted(ENVELOPE)))
        self.out.append(
            codes.CEL_CHECK.at(self.span_of(tok), notes=(note,), detail=f"undeclared reference to '{name}'")
        )

    def regex(self, node: Any) -> None:
        pattern = string_literal(node)
        if pattern is None:
            return
        problem = regex_problem(pattern)
        if problem is not None:
            self.out.append(codes.BAD_REGEX.at(self.span_of(node), pattern=pattern, detail=problem))

    def arity(self, where: Any, name: str, expected: int, got: int) -> bool:
        if expected == got:
            return True
        plural = "argument" if expected == 1 else "arguments"
        self.out.append(
            codes.CEL_MACRO_ARITY.at(self.span_of(where), name=name, expected=f"{expected} {plural}", got=got)
        )
        return False

    def walk(self, root: Tree[Any]) -> None:
        # Iterative: the tree may be MAX_TREE_DEPTH deep.
        stack: list[tuple[Any, frozenset[str]]] = [(root, frozenset())]
        while stack:
            node, bound = stack.pop()
            if not isinstance(node, Tree):
                continue
            kids = node.children
            kind = node.data
            if kind in ("ident", "dot_ident"):
                self.name(kids[0], bound)
            elif kind == "dot_ident_arg":
                self.name(kids[0], bound)
                stack.extend((a, bound) for a in _args(kids[1] if len(kids) > 1 else None))
            elif kind == "ident_arg":
                fname = str(kids[0])
                args = _args(kids[1] if len(kids) > 1 else None)
                if fname in ("has", "dyn"):
                    self.arity(kids[0], fname, 1, len(args))
                elif fname not in FUNCTIONS:
                    self.out.append(codes.CEL_UNKNOWN_FUNCTION.at(self.span_of(kids[0]), name=fname))
                elif fname == "matches" and len(args) == 2:
                    self.regex(args[1])
                stack.extend((a, bound) for a in args)
            elif kind == "member_dot_arg":
                member, name_tok = kids[0], kids[1]
                args = _args(kids[2] if len(kids) > 2 else None)
                stack.append((member, bound))
                self.method(name_tok, args, bound, stack)
            elif kind == "member_object":
                self.out.append(
                    codes.CEL_UNSUPPORTED.at(self.span_of(node), what="message construction (Type{field: value})")
                )
                stack.extend((c, bound) for c in kids[1:])
            else:
                stack.extend((c, bound) for c in kids)

    def method(self, tok: Any, args: list[Any], bound: frozenset[str], stack: list[tuple[Any, frozenset[str]]]) -> None:
        name = str(tok)
        if name in MACROS or name == "reduce":
            n_vars = 1 if name in MACROS else 2
            if not self.arity(tok, name, n_vars + 1 if name in MACROS else 4, len(args)):
                stack.extend((a, bound) for a in args)
                return
            names = [simple_ident(a) for a in args[:n_vars]]
            if any(v is None for v in names):
                self.out.append(codes.CEL_MACRO_VARIABLE.at(self.span_of(tok), name=name))
                stack.extend((a, bound) for a in args[n_vars:])
                return
            inner = bound | {v for v in names if v is not None}
            if name == "reduce":
                stack.append((args[2], bound))
                stack.append((args[3], inner))
            else:
                stack.append((args[1], inner))
            return
        if name == "min":
            self.arity(tok, name, 0, len(args))
        elif name not in FUNCTIONS:
            self.out.append(codes.CEL_UNKNOWN_FUNCTION.at(self.span_of(tok), name=name))
        elif name == "matches" and len(args) == 1:
            self.regex(args[0])
        stack.extend((a, bound) for a in args)


def _terminal_text(name: str) -> str | None:
    parser = CELParser.CEL_PARSER
    friendly = {"IDENT": "a name", "INT_LIT": "a number", "STRING_LIT": "a string"}
    if name in friendly:
        return friendly[name]
    if parser is None:
        return None
    try:
        term = parser.get_terminal(name)
    except Exception:
        return None
    if type(term.pattern).__name__ == "PatternStr":
        return repr(term.pattern.value)
    return None


def _expected_note(expected: Any) -> tuple[str, ...]:
    names = sorted(str(e) for e in (expected or ()))
    if not names:
        return ()
    if "IDENT" in names and "INT_LIT" in names:
        return ("expected an expression",)
    shown = [t for t in (_terminal_text(n) for n in names) if t]
    if not shown or len(shown) > 8:
        return ()
    return ("expected one of: " + ", ".join(sorted(set(shown))),)


def _syntax_detail(text: str, err: CELParseError) -> tuple[str, tuple[int, int, int | None, int | None], tuple[str, ...]]:
    """(detail, (line, column, end_line, end_column), notes) of a parse error."""
    cause = err.__context__
    if isinstance(cause, UnexpectedToken):
        tok = cause.token
        notes = _expected_note(cause.expected)
        if tok.type == "$END":
            # Point just past the last character, where something is missing.
            line, col = Source("", text).position(len(text.rstrip()))
            return "unexpected end of expression", (line, col, None, None), notes
        where = (tok.line or 1, tok.column or 1, tok.end_line, tok.end_column)
        return f"unexpected {str(tok)!r}", where, notes
    if isinstance(cause, UnexpectedCharacters):
        pos = cause.pos_in_stream if cause.pos_in_stream is not None else 0
        char = text[pos] if 0 <= pos < len(text) else "?"
        detail = "string literal is not closed" if char in "\"'" else f"unexpected character {char!r}"
        return detail, (cause.line, cause.column, None, None), ()
    first = str(err.args[0]).strip().splitlines()[0] if err.args else "invalid expression"
    return first, (err.line or 1, err.column or 1, None, None), ()


def check_cel(text: str, where: Embedded) -> list[Diagnostic]:
    """Parse and check a CEL filter at load time.  Pure; never raises.

    Reports syntax errors (CEL_SYNTAX), expressions nested too deeply to
    evaluate (TOO_DEEP), identifiers that are not variables (CEL_CHECK),
    unknown functions, malformed macros and invalid regular expressions in
    ``matches()``, each at its position in the enclosing file.
    """
    try:
        off = _bracket_nesting(text)
        if off >= 0:
            return [codes.TOO_DEEP.at(where.offset_span(off, off + 1), what="CEL expression", limit=MAX_NESTING)]
        try:
            tree: Tree[Any] = CELParser().parse(text)
        except CELParseError as ex:
            detail, (line, col, eline, ecol), notes = _syntax_detail(text, ex)
            return [codes.CEL_SYNTAX.at(where.span(line, col, eline, ecol), notes=notes, detail=detail)]
        if tree_depth(tree) > MAX_TREE_DEPTH:
            note = "every operator and bracket adds a level; split the expression or use `in [...]`"
            return [
                codes.TOO_DEEP.at(
                    where.offset_span(0, max(1, len(text))), notes=(note,), what="CEL expression",
                    limit=MAX_TREE_DEPTH,
                )
            ]
        checker = _Checker(where)
        checker.walk(tree)
        return sorted(checker.out, key=Diagnostic.sort_key)
    except RecursionError:
        return [codes.TOO_DEEP.at(where.span(1, 1), what="CEL expression", limit=MAX_TREE_DEPTH)]
    except Exception as ex:  # a defect in the checker must not hide the rule file's other problems
        return [codes.CEL_SYNTAX.at(where.span(1, 1), detail=f"cannot be checked: {type(ex).__name__}: {ex}")]
