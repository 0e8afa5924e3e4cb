"""The reference evaluator of the expression language: what an expression *means*.

Position in the pipeline::

    IR expression ──▶ **evaluate / truth** (this module: slow, plain, the oracle)
                  └─▶ compile/ (fast) ── tested to agree with this module

It is written to be obviously correct, not fast: a direct walk over the IR,
one branch per node type, following ``docs/expressions.md`` rule by rule.
It also renders expressions back to source text (:func:`render_expr`) and
explains why a filter did not match (:func:`explain_expr`).

Invariants:
  * :func:`evaluate` never raises on any event: a missing field, a value of
    the wrong type or a failed operation is ``MISSING``, and any comparison
    involving ``MISSING`` is false;
  * a filter holds only when its value is the boolean ``true``
    (:func:`truth`); ``and``/``or``/``not`` combine such verdicts;
  * key order inside the event never changes a result.
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from . import ir
from .functions import FUNCTIONS
from .values import (
    MAX_BUILT_STRING,
    MISSING,
    finite_number,
    get_path,
    is_array,
    is_number,
    is_object,
    json_equal,
    number_text,
    to_text,
    type_name,
)

Bindings = Mapping[str, Any]
_NO_BINDINGS: Bindings = {}


# --- public API -------------------------------------------------------------------------------------


def evaluate(expr: ir.Expr, event: Any, bindings: Bindings | None = None) -> Any:
    """The value of ``expr`` for ``event``: a JSON value, or ``MISSING``.  Never raises.

    ``bindings`` gives values to quantifier variables (``Field(path, var=...)``).
    """
    try:
        return _eval(expr, event, bindings if bindings is not None else _NO_BINDINGS)
    except RecursionError:
        # Only an expression nested deeper than the parser allows (E105) gets here.
        return MISSING


def truth(expr: ir.Expr, event: Any) -> bool:
    """The filter verdict: true only when ``expr`` is the boolean ``true``."""
    try:
        return _verdict(expr, event, _NO_BINDINGS)
    except RecursionError:
        return False


def explain_expr(expr: ir.Expr, event: Any) -> str | None:
    """``None`` when the filter holds, else the first failing condition and the value seen.

    Examples: ``"data.total: 950 is not > 1000"``, ``"data.country: missing"``,
    ``"data.country: 'FR' is not in ['US', 'CA']"``; for ``or``:
    ``"none of the alternatives holds: …; …"``.
    """
    try:
        if _verdict(expr, event, _NO_BINDINGS):
            return None
        return _explain(expr, event, _NO_BINDINGS)
    except RecursionError:
        return "the expression is nested too deeply to evaluate"


def render_expr(expr: ir.Expr) -> str:
    """``expr`` as source text in canonical form (minimal parentheses, double-quoted strings).

    ``parse_expression(render_expr(e))`` gives back ``e`` (spans aside).  A
    ``Cel`` node renders as its CEL source text, which is not part of the
    expression language.
    """
    try:
        return _render(expr, frozenset())
    except RecursionError:
        return "<expression nested too deeply>"


# --- evaluation -----------------------------------------------------------------------------------


def _verdict(expr: ir.Expr, event: Any, b: Bindings) -> bool:
    """Does ``expr`` hold?  (``Cel`` nodes use CEL's own notion of truth.)"""
    if isinstance(expr, ir.Cel):
        return _cel_truth(expr.source, event)
    return _eval(expr, event, b) is True


def _eval(e: ir.Expr, event: Any, b: Bindings) -> Any:
    if isinstance(e, ir.Literal):
        return e.value
    if isinstance(e, ir.Field):
        return _field(e, event, b)
    if isinstance(e, ir.ListExpr):
        # MISSING never appears inside a value: a missing element is left out.
        items = (_eval(x, event, b) for x in e.items)
        return [v for v in items if v is not MISSING]
    if isinstance(e, ir.ObjectExpr):
        obj: dict[str, Any] = {}
        for key, x in e.items:
            v = _eval(x, event, b)
            if v is not MISSING:
                obj[key] = v
            else:
                # A later missing duplicate key must not leave an earlier value behind.
                obj.pop(key, None)
        return obj
    if isinstance(e, ir.Unary):
        if e.op == "not":
            return not _verdict(e.operand, event, b)
        v = _eval(e.operand, event, b)
        return finite_number(-v) if is_number(v) else MISSING
    if isinstance(e, ir.Arith):
        return arith(e.op, _eval(e.left, event, b), _eval(e.right, event, b))
    if isinstance(e, ir.Compare):
        return compare(e.op, _eval(e.left, event, b), _eval(e.right, event, b))
    if isinstance(e, ir.And):
        return all(_verdict(x, event, b) for x in e.items)
    if isinstance(e, ir.Or):
        return any(_verdict(x, event, b) for x in e.items)
    if isinstance(e, ir.In):
        return member(_eval(e.item, event, b), _eval(e.collection, event, b), e.negated)
    if isinstance(e, ir.Exists):
        return _field(e.field, event, b) is not MISSING
    if isinstance(e, ir.StringTest):
        return string_test(e.op, _eval(e.left, event, b), _eval(e.right, event, b))
    if isinstance(e, ir.CidrTest):
        return cidr_test(_eval(e.item, event, b), e.network, e.negated)
    if isinstance(e, ir.Call):
        fn = FUNCTIONS.get(e.name)
        if fn is None or not fn.accepts_count(len(e.args)):
            return MISSING  # check_expr reports these (E306, E307)
        return fn.impl(*(_eval(a, event, b) for a in e.args))
    if isinstance(e, ir.Quantifier):
        coll = _eval(e.collection, event, b)
        if not is_array(coll):
            return False  # `any` and `all` alike: no array, no verdict to vouch for
        results = (_verdict(e.predicate, event, {**b, e.var: item}) for item in coll)
        return any(results) if e.kind == "any" else all(results)
    if isinstance(e, ir.Conditional):
        return _eval(e.then if _verdict(e.cond, event, b) else e.otherwise, event, b)
    if isinstance(e, ir.Template):
        return "".join(p if isinstance(p, str) else to_text(_eval(p, event, b)) for p in e.parts)
    if isinstance(e, ir.Cel):
        return _cel_value(e.source, event)
    return MISSING  # not an expression node: nothing to mean


def _field(f: ir.Field, event: Any, b: Bindings) -> Any:
    if f.var is None:
        return get_path(event, f.path)
    if f.var not in b:
        return MISSING  # an unbound variable (check_expr reports E332)
    return get_path(b[f.var], f.path)


def arith(op: str, a: Any, b: Any) -> Any:
    """``a op b``: numbers (``+`` also joins two strings); anything else, /0 or overflow is MISSING.

    Two ints give an int, except ``/`` (true division, always a float);
    ``%`` takes the sign of the divisor (``-7 % 3 == 2``), as Python does.
    """
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b if len(a) + len(b) <= MAX_BUILT_STRING else MISSING
    if not (is_number(a) and is_number(b)):
        return MISSING
    try:
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op == "/":
            r = a / b if b != 0 else MISSING
        elif op == "%":
            r = a % b if b != 0 else MISSING
        else:
            return MISSING
    except (OverflowError, ZeroDivisionError, ValueError):
        return MISSING
    return finite_number(r)


def compare(op: str, a: Any, b: Any) -> bool:
    """A comparison: false whenever either side is missing.

    ``==``/``!=`` use JSON equality; ordering needs two numbers or two strings
    (code-point order).  ``!=`` is *not* ``not ==``: both sides must be present.
    """
    if a is MISSING or b is MISSING:
        return False
    if op == "==":
        return json_equal(a, b)
    if op == "!=":
        return not json_equal(a, b)
    if is_number(a) and is_number(b):
        pass
    elif not (isinstance(a, str) and isinstance(b, str)):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    return False


def member(item: Any, collection: Any, negated: bool) -> bool:
    """``item in collection`` / ``not in``: both need a present item and an array."""
    if item is MISSING or not is_array(collection):
        return False
    found = any(json_equal(item, x) for x in collection)
    return not found if negated else found


# -- string predicates --


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, or ``None`` when it is invalid.

    Memoised (each pattern is compiled once); the cache is invisible to callers.
    """
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def parse_wildcard(pattern: str) -> tuple[str, ...] | None:
    """A ``like`` pattern as its literal pieces between ``*`` (``None`` when invalid).

    ``"a*b\\*c"`` -> ``("a", "b*c")``.  ``\\*`` is a literal star and ``\\\\`` a
    literal backslash; any other backslash is invalid.
    """
    pieces: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "*\\":
                return None
            cur.append(pattern[i + 1])
            i += 2
            continue
        if c == "*":
            pieces.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    pieces.append("".join(cur))
    return tuple(pieces)


def wildcard_match(pieces: tuple[str, ...], text: str) -> bool:
    """Does ``text`` match the pieces of a ``*`` pattern?

    Linear scans only (no backtracking): the first piece is a prefix, the last
    a suffix, and each middle piece is taken at its leftmost place, which is
    always a best choice when ``*`` is the only wildcard.
    """
    if len(pieces) == 1:
        return text == pieces[0]
    first, last = pieces[0], pieces[-1]
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    pos = len(first)
    for piece in pieces[1:-1]:
        at = text.find(piece, pos, end)
        if at < 0:
            return False
        pos = at + len(piece)
    return True


def string_test(op: str, a: Any, b: Any) -> bool:
    """A string predicate: false unless both sides are strings (and a pattern is valid)."""
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    if op == "starts_with":
        return a.startswith(b)
    if op == "ends_with":
        return a.endswith(b)
    if op == "contains":
        return b in a
    if op == "equals_ignore_case":
        return a.casefold() == b.casefold()
    if op == "matches":
        rx = compile_regex(b)
        return rx is not None and rx.search(a) is not None
    if op == "like":
        pieces = parse_wildcard(b)
        return pieces is not None and wildcard_match(pieces, a)
    return False


# -- CIDR --


@functools.lru_cache(maxsize=256)
def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def parse_address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address held in a string (``None`` for anything else: ints are not addresses here)."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def cidr_test(item: Any, network: str, negated: bool) -> bool:
    """``item in cidr(network)``; ``not in`` also needs a valid address (like ``!=``)."""
    addr = parse_address(item)
    net = parse_network(network)
    if addr is None or net is None:
        return False
    inside = addr.version == net.version and addr in net
    return not inside if negated else inside


# -- CEL (another module; imported lazily so this module stays importable alone) --


def _cel_module() -> Any:
    # Looked up by name at call time: the CEL module is optional here and imports this one's
    # neighbours, so a static import would tie the two together.
    return importlib.import_module(f"{__package__}.cel")


def _cel_value(source: str, event: Any) -> Any:
    try:
        return from_cel(_cel_module().evaluate_cel(source, event))
    except Exception:
        # CEL errors are reported by the CEL checker; at run time they just mean "no value".
        return MISSING


def from_cel(value: Any) -> Any:
    """A CEL result as a plain JSON value (CEL's own types subclass Python's, bool among ints).

    Values JSON cannot hold (errors, bytes, timestamps, durations) are ``MISSING``;
    so is a container holding one.  Iterative, like every walk over event data.
    """
    root: list[Any] = [None]
    # Work items: (source value, container to store into, key or index).
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        v, into, at = stack.pop()
        if v is None:
            out: Any = None
        elif isinstance(v, bool) or (isinstance(v, int) and type(v).__name__ == "BoolType"):
            # celpy's BoolType subclasses int, not bool; matched by name so that this
            # module needs no import of celpy.
            out = bool(v)
        elif isinstance(v, (bytes, bytearray)):
            return MISSING
        elif isinstance(v, str):
            out = str(v)
        elif isinstance(v, int):
            out = int(v)
        elif isinstance(v, float):
            out = float(v)
        elif isinstance(v, Mapping):
            out = {}
            for k, item in v.items():
                if not isinstance(k, str):
                    return MISSING
                stack.append((item, out, str(k)))
        elif isinstance(v, (list, tuple)):
            out = [None] * len(v)
            stack.extend((item, out, i) for i, item in enumerate(v))
        else:
            return MISSING
        into[at] = out
    return root[0]


def _cel_truth(source: str, event: Any) -> bool:
    try:
        return _cel_module().cel_truth(source, event) is True
    except Exception:
        return False


# --- rendering back to source ------------------------------------------------------------------------

# Binding strength, lowest first (docs/expressions.md, "Precedence").
_COND, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _ATOM = range(9)

_STRING_OPS = {
    "starts_with": "starts with",
    "ends_with": "ends with",
    "contains": "contains",
    "matches": "matches",
    "like": "like",
}

KEYWORDS = frozenset(
    {
        "and", "or", "not", "in", "true", "false", "null", "if", "then", "else", "exists", "any",
        "all", "cidr", "starts", "ends", "with", "contains", "matches", "like",
    }
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _level(e: ir.Expr) -> int:
    if isinstance(e, ir.Conditional):
        return _COND
    if isinstance(e, ir.Or):
        return _OR if len(e.items) > 1 else _level(e.items[0]) if e.items else _ATOM
    if isinstance(e, ir.And):
        return _AND if len(e.items) > 1 else _level(e.items[0]) if e.items else _ATOM
    if isinstance(e, ir.Unary):
        return _NOT if e.op == "not" else _NEG
    if isinstance(e, (ir.Compare, ir.In, ir.CidrTest)):
        return _CMP
    if isinstance(e, ir.StringTest):
        return _ATOM if e.op == "equals_ignore_case" else _CMP
    if isinstance(e, ir.Arith):
        return _ADD if e.op in "+-" else _MUL
    if (
        isinstance(e, ir.Literal)
        and isinstance(e.value, (int, float))
        and not isinstance(e.value, bool)
        and _number_literal(e.value).startswith("-")
    ):
        return _NEG
    if isinstance(e, ir.Cel):
        return _COND  # foreign text: always parenthesised inside a larger expression
    return _ATOM


def _number_literal(v: int | float) -> str:
    if isinstance(v, float):
        if v != v:
            return "(0.0 / 0.0)"
        if v in (float("inf"), float("-inf")):
            return "1e999" if v > 0 else "-1e999"
        return repr(v)
    return number_text(v)


_SURROGATE = re.compile("[\ud800-\udfff]")


def string_literal(s: str) -> str:
    """A double-quoted string literal with JSON escapes (lone surrogates escaped too)."""
    text = json.dumps(s, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _key_is_plain(key: str) -> bool:
    return _IDENT.fullmatch(key) is not None and key not in KEYWORDS


def render_path(path: ir.Path, var: str | None = None, bound: frozenset[str] = frozenset()) -> str:
    """A field path as written: ``data.items[0].price``, ``$["detail-type"]``, ``item.price``.

    An event path whose first key is a variable in scope, a keyword or not an
    identifier starts from ``$`` so it cannot be mistaken for something else.
    """
    out: list[str] = []
    if var is not None:
        out.append(var)
    elif not path:
        return "$"
    elif isinstance(path[0], str) and _key_is_plain(path[0]) and path[0] not in bound:
        out.append(path[0])
        path = path[1:]
    else:
        out.append("$")
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif _key_is_plain(step):
            out.append(f".{step}")
        else:
            out.append(f"[{string_literal(step)}]")
    return "".join(out)


def _render(e: ir.Expr, bound: frozenset[str]) -> str:
    def sub(x: ir.Expr, minimum: int) -> str:
        text = _render(x, bound)
        return f"({text})" if _level(x) < minimum else text

    if isinstance(e, ir.Literal):
        v = e.value
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return string_literal(v)
        return _number_literal(v)
    if isinstance(e, ir.Field):
        return render_path(e.path, e.var, bound)
    if isinstance(e, ir.ListExpr):
        return "[" + ", ".join(_render(x, bound) for x in e.items) + "]"
    if isinstance(e, ir.ObjectExpr):
        keys = (k if _key_is_plain(k) else string_literal(k) for k, _ in e.items)
        return "{" + ", ".join(f"{k}: {_render(x, bound)}" for k, (_, x) in zip(keys, e.items)) + "}"
    if isinstance(e, ir.Unary):
        if e.op == "not":
            return "not " + sub(e.operand, _NOT)
        inner = sub(e.operand, _NEG)
        # "- -x" keeps the two minus signs apart; "--x" might lex as something else.
        return "-" + (" " + inner if inner.startswith("-") else inner)
    if isinstance(e, ir.Arith):
        lvl = _ADD if e.op in "+-" else _MUL
        # Left-associative: the right operand needs strictly tighter binding.
        return f"{sub(e.left, lvl)} {e.op} {sub(e.right, lvl + 1)}"
    if isinstance(e, ir.Compare):
        return f"{sub(e.left, _CMP + 1)} {e.op} {sub(e.right, _CMP + 1)}"
    if isinstance(e, (ir.And, ir.Or)):
        if not e.items:
            return "true" if isinstance(e, ir.And) else "false"
        word, lvl = (" and ", _AND) if isinstance(e, ir.And) else (" or ", _OR)
        if len(e.items) == 1:
            return _render(e.items[0], bound)
        # A nested `and` inside `and` (or `or` inside `or`) is written flat: the parser
        # flattens it too, and the meaning is the same.
        flat: list[ir.Expr] = []
        for x in e.items:
            if type(x) is type(e) and len(x.items) > 1:
                flat.extend(x.items)
            else:
                flat.append(x)
        return word.join(sub(x, lvl + 1) for x in flat)
    if isinstance(e, ir.In):
        word = " not in " if e.negated else " in "
        return sub(e.item, _CMP + 1) + word + sub(e.collection, _CMP + 1)
    if isinstance(e, ir.Exists):
        return f"exists({_render(e.field, bound)})"
    if isinstance(e, ir.StringTest):
        if e.op == "equals_ignore_case":
            return f"equals_ignore_case({_render(e.left, bound)}, {_render(e.right, bound)})"
        return f"{sub(e.left, _CMP + 1)} {_STRING_OPS[e.op]} {sub(e.right, _CMP + 1)}"
    if isinstance(e, ir.CidrTest):
        word = " not in " if e.negated else " in "
        return f"{sub(e.item, _CMP + 1)}{word}cidr({string_literal(e.network)})"
    if isinstance(e, ir.Call):
        return f"{e.name}(" + ", ".join(_render(a, bound) for a in e.args) + ")"
    if isinstance(e, ir.Quantifier):
        coll = _render(e.collection, bound)
        pred = _render(e.predicate, bound | {e.var})
        return f"{e.kind}({e.var} in {coll}: {pred})"
    if isinstance(e, ir.Conditional):
        return (
            f"if {sub(e.cond, _OR)} then {sub(e.then, _OR)} else {_render(e.otherwise, bound)}"
        )
    if isinstance(e, ir.Template):
        out = ['f"']
        for p in e.parts:
            if isinstance(p, str):
                out.append(string_literal(p)[1:-1].replace("{", "{{").replace("}", "}}"))
            else:
                inner = _render(p, bound)
                # "{{" / "}}" would read as escaped braces: an object literal needs parentheses.
                if inner.startswith("{") or inner.endswith("}"):
                    inner = f"({inner})"
                out.append("{" + inner + "}")
        out.append('"')
        return "".join(out)
    if isinstance(e, ir.Cel):
        return e.source
    return "<?>"


# --- explanations -------------------------------------------------------------------------------------

_SHOW_LIMIT = 80


def show(value: Any, limit: int = _SHOW_LIMIT) -> str:
    """A value for a message: ``'FR'``, ``950``, ``['US', 'CA']``, ``missing``; cut at ``limit``."""
    out: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, _Text):
            piece = item.text
        elif item is MISSING:
            piece = "missing"
        elif item is None:
            piece = "null"
        elif isinstance(item, bool):
            piece = "true" if item else "false"
        elif is_number(item):
            piece = number_text(item)
        elif isinstance(item, str):
            piece = repr(item[: limit + 1])
        elif is_array(item):
            pending: list[Any] = [_Text("[")]
            for i, v in enumerate(item):
                if i:
                    pending.append(_Text(", "))
                pending.append(v)
                if i > limit:
                    break  # the output is cut long before this
            pending.append(_Text("]"))
            stack.extend(reversed(pending))
            continue
        elif is_object(item):
            pending = [_Text("{")]
            for i, (k, v) in enumerate(item.items()):
                if i:
                    pending.append(_Text(", "))
                pending.append(_Text(repr(str(k)[: limit + 1]) + ": "))
                pending.append(v)
                if i > limit:
                    break
            pending.append(_Text("}"))
            stack.extend(reversed(pending))
            continue
        else:
            piece = "?"
        out.append(piece)
        size += len(piece)
    text = "".join(out)
    return text if len(text) <= limit and not stack else text[:limit] + "…"


class _Text:
    """Literal output on :func:`show`'s work stack."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _label(e: ir.Expr, b: Bindings) -> str:
    return _render(e, frozenset(b))


def _missing_reason(e: ir.Expr, event: Any, b: Bindings) -> str:
    """Why ``e`` has no value: the first missing field inside it, when there is one."""
    field = _first_missing_field(e, event, b)
    if field is None:
        return f"{_label(e, b)}: no value"
    if field is e:
        return f"{_label(e, b)}: missing"
    return f"{_label(field, b)}: missing (so {_label(e, b)} has no value)"


def _first_missing_field(e: ir.Expr, event: Any, b: Bindings) -> ir.Field | None:
    # Pre-order, left to right, looking only where evaluation looked.
    stack: list[ir.Expr] = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ir.Field):
            if _field(x, event, b) is MISSING:
                return x
            continue
        kids: list[ir.Expr]
        if isinstance(x, ir.Conditional):
            kids = [x.cond, x.then if _verdict(x.cond, event, b) else x.otherwise]
        elif isinstance(x, ir.Quantifier):
            kids = [x.collection]  # the predicate sees bound elements, not this scope
        else:
            kids = list(children(x))
        stack.extend(reversed(kids))
    return None


def children(e: ir.Expr) -> tuple[ir.Expr, ...]:
    """The direct sub-expressions of ``e``, in source order."""
    if isinstance(e, (ir.ListExpr, ir.And, ir.Or)):
        return e.items
    if isinstance(e, ir.ObjectExpr):
        return tuple(x for _, x in e.items)
    if isinstance(e, ir.Unary):
        return (e.operand,)
    if isinstance(e, (ir.Arith, ir.Compare, ir.StringTest)):
        return (e.left, e.right)
    if isinstance(e, ir.In):
        return (e.item, e.collection)
    if isinstance(e, ir.Exists):
        return (e.field,)
    if isinstance(e, ir.CidrTest):
        return (e.item,)
    if isinstance(e, ir.Call):
        return e.args
    if isinstance(e, ir.Quantifier):
        return (e.collection, e.predicate)
    if isinstance(e, ir.Conditional):
        return (e.cond, e.then, e.otherwise)
    if isinstance(e, ir.Template):
        return tuple(p for p in e.parts if not isinstance(p, str))
    return ()


_MIRRORED: dict[str, Any] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _is_constant(e: ir.Expr) -> bool:
    """A literal, or a list of literals: its text says all about its value."""
    return isinstance(e, ir.Literal) or (
        isinstance(e, ir.ListExpr) and all(isinstance(x, ir.Literal) for x in e.items)
    )


def _operand(e: ir.Expr, v: Any, b: Bindings) -> str:
    """The right-hand side of a message: the value, plus the expression when it is not a constant."""
    if _is_constant(e):
        return show(v)
    return f"{_label(e, b)} ({show(v)})"


_STRING_FAIL = {
    "starts_with": "does not start with",
    "ends_with": "does not end with",
    "contains": "does not contain",
    "matches": "does not match",
    "like": "is not like",
    "equals_ignore_case": "does not equal (ignoring case)",
}


def _explain(e: ir.Expr, event: Any, b: Bindings) -> str:
    """Why ``e`` does not hold (the caller knows it does not)."""
    if isinstance(e, ir.And):
        for x in e.items:
            if not _verdict(x, event, b):
                return _explain(x, event, b)
        return f"{_label(e, b)} is false"  # unreachable while _verdict and _explain agree
    if isinstance(e, ir.Or):
        if not e.items:
            return "an empty 'or' never holds"
        return "none of the alternatives holds: " + "; ".join(_explain(x, event, b) for x in e.items)
    if isinstance(e, ir.Unary) and e.op == "not":
        return f"{_label(e.operand, b)} holds (negated by 'not')"
    if isinstance(e, ir.Compare):
        if _is_constant(e.left) and not _is_constant(e.right):
            # "1000 < data.total" reads better as "data.total: 950 is not > 1000".
            e = ir.Compare(_MIRRORED[e.op], e.right, e.left, e.span)
        lv, rv = _eval(e.left, event, b), _eval(e.right, event, b)
        if lv is MISSING:
            return _missing_reason(e.left, event, b)
        if rv is MISSING:
            return _missing_reason(e.right, event, b)
        head = f"{_label(e.left, b)}: {show(lv)}"
        if e.op == "!=":
            return f"{head} equals {_operand(e.right, rv, b)}"
        if e.op != "==" and not (
            (is_number(lv) and is_number(rv)) or (isinstance(lv, str) and isinstance(rv, str))
        ):
            return (
                f"{head} ({type_name(lv)}) cannot be ordered against "
                f"{_operand(e.right, rv, b)} ({type_name(rv)})"
            )
        return f"{head} is not {e.op} {_operand(e.right, rv, b)}"
    if isinstance(e, ir.In):
        iv, cv = _eval(e.item, event, b), _eval(e.collection, event, b)
        if iv is MISSING:
            return _missing_reason(e.item, event, b)
        if cv is MISSING:
            return _missing_reason(e.collection, event, b)
        if not is_array(cv):
            return f"{_label(e.collection, b)}: {show(cv)} is not an array"
        if _is_constant(e.item) and not _is_constant(e.collection):
            # `"vip" in data.tags`: the collection is what the event supplied.
            word = "contains" if e.negated else "does not contain"
            return f"{_label(e.collection, b)}: {show(cv)} {word} {show(iv)}"
        word = "is in" if e.negated else "is not in"
        return f"{_label(e.item, b)}: {show(iv)} {word} {_operand(e.collection, cv, b)}"
    if isinstance(e, ir.Exists):
        return f"{_label(e.field, b)}: missing"
    if isinstance(e, ir.StringTest):
        lv, rv = _eval(e.left, event, b), _eval(e.right, event, b)
        for side, v in ((e.left, lv), (e.right, rv)):
            if v is MISSING:
                return _missing_reason(side, event, b)
            if not isinstance(v, str):
                return f"{_label(side, b)}: {show(v)} is a {type_name(v)}, not a string"
        if e.op == "matches" and compile_regex(rv) is None:
            return f"{_label(e.right, b)}: {show(rv)} is not a valid regular expression"
        if e.op == "like" and parse_wildcard(rv) is None:
            return f"{_label(e.right, b)}: {show(rv)} is not a valid wildcard pattern"
        return f"{_label(e.left, b)}: {show(lv)} {_STRING_FAIL[e.op]} {_operand(e.right, rv, b)}"
    if isinstance(e, ir.CidrTest):
        iv = _eval(e.item, event, b)
        block = f"cidr({string_literal(e.network)})"
        if iv is MISSING:
            return _missing_reason(e.item, event, b)
        if parse_network(e.network) is None:
            return f"{block} is not a valid network"
        if parse_address(iv) is None:
            return f"{_label(e.item, b)}: {show(iv)} is not an IP address"
        word = "is in" if e.negated else "is not in"
        return f"{_label(e.item, b)}: {show(iv)} {word} {block}"
    if isinstance(e, ir.Quantifier):
        coll = _eval(e.collection, event, b)
        if coll is MISSING:
            return _missing_reason(e.collection, event, b)
        where = _label(e.collection, b)
        if not is_array(coll):
            return f"{where}: {show(coll)} is not an array"
        pred = _render(e.predicate, frozenset(b) | {e.var})
        if e.kind == "all":
            for i, item in enumerate(coll):
                inner = {**b, e.var: item}
                if not _verdict(e.predicate, event, inner):
                    return f"{where}[{i}]: {_explain(e.predicate, event, inner)}"
        if not coll:
            return f"{where}: the array is empty, so no element satisfies {pred}"
        first = _explain(e.predicate, event, {**b, e.var: coll[0]})
        more = f" (first: {where}[0]: {first})"
        return f"no element of {where} satisfies {pred}{more}"
    if isinstance(e, ir.Conditional):
        taken = e.then if _verdict(e.cond, event, b) else e.otherwise
        return _explain(taken, event, b)
    if isinstance(e, ir.Cel):
        try:
            why = _cel_module().explain_cel(e.source, event)
        except Exception:
            why = None
        return f"CEL {e.source}: {why}" if isinstance(why, str) else f"CEL condition does not hold: {e.source}"
    if isinstance(e, ir.Literal):
        return f"the condition is the constant {_label(e, b)}"
    v = _eval(e, event, b)
    if v is MISSING:
        return _missing_reason(e, event, b)
    return f"{_label(e, b)}: {show(v)} is not true"
