"""The typed, immutable CESQL syntax tree: what :mod:`.parse` builds and :mod:`.evaluate`,
:mod:`.check` and the compiler read.

Where it sits: CESQL text ──parse──▶ **Expr** ──check──▶ diagnostics; ──evaluate──▶ value + errors.

Every node carries ``start``/``end``: 0-based character offsets into the expression text
(end exclusive), so a diagnostic can point into the YAML string or rule file the text came
from.  Offsets take no part in equality: two trees that differ only in layout are equal.
Operators are stored in one canonical spelling (upper case, ``<>`` as ``!=``), function
names upper case, identifiers lower case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal as Lit

from rules_engine.cesql.functions import lookup
from rules_engine.cesql.values import Type, Value, type_of

LogicOp = Lit["AND", "OR", "XOR"]
CompareOp = Lit["=", "!=", "<", "<=", ">", ">="]
ArithOp = Lit["+", "-", "*", "/", "%"]
BinaryOp = LogicOp | CompareOp | ArithOp

LOGIC_OPS: frozenset[str] = frozenset({"AND", "OR", "XOR"})
ORDER_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
EQUALITY_OPS: frozenset[str] = frozenset({"=", "!="})
ARITH_OPS: frozenset[str] = frozenset({"+", "-", "*", "/", "%"})


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A context attribute or extension, by its (lower-case) name."""

    name: str
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Exists:
    name: str
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Expr
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: BinaryOp
    left: Expr
    right: Expr
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Like:
    """``operand [NOT] LIKE 'pattern'``; the pattern is always a string literal (section 3.4.3)."""

    operand: Expr
    pattern: str
    negated: bool = False
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class In:
    """``operand [NOT] IN (item, ...)``, at least one item."""

    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


Expr = Literal | Attribute | Exists | Not | Negate | Binary | Like | In | Call


def children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, (Not, Negate)):
        return (e.operand,)
    if isinstance(e, Binary):
        return (e.left, e.right)
    if isinstance(e, Like):
        return (e.operand,)
    if isinstance(e, In):
        return (e.operand, *e.items)
    if isinstance(e, Call):
        return e.args
    return ()


def walk(e: Expr) -> list[Expr]:
    """Every node of the tree, parents before children (iterative: trees can be deep)."""
    out: list[Expr] = []
    stack = [e]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(children(node)))
    return out


def attributes(e: Expr) -> frozenset[str]:
    """The attribute names an expression reads (through a value or EXISTS)."""
    return frozenset(n.name for n in walk(e) if isinstance(n, (Attribute, Exists)))


def static_type(e: Expr) -> Type | None:
    """The type an expression's value always has, or None when it depends on the event
    (a bare attribute) or on an unknown function."""
    if isinstance(e, Literal):
        return type_of(e.value)
    if isinstance(e, Attribute):
        return None
    if isinstance(e, Negate):
        return Type.INTEGER
    if isinstance(e, Binary):
        return Type.INTEGER if e.op in ARITH_OPS else Type.BOOLEAN
    if isinstance(e, Call):
        fn = lookup(e.name, len(e.args))
        return fn.returns if fn is not None else None
    return Type.BOOLEAN
