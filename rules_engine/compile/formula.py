"""The vocabulary of compile stage 1: atoms (the tests an index or a check can run) and formulas
(and / or / not over atoms), shared by :mod:`.normalize` and the dialect lowerings that build on
it (:mod:`.cesql_lower`).

Position in the pipeline::

    filters ──normalise / cesql_lower──▶ **Formula over atoms** ──index, codegen──▶ match(event)

Invariant: every value here is immutable and hashable; formulas are built only through
:func:`all_of` / :func:`any_of` (or the constructors for single items), so they stay flat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from rules_engine.model import ir

# --- atoms --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldAtom:
    """EventBridge: some value at ``name`` satisfies one of ``matchers`` (or exists:false holds)."""

    name: str
    path: tuple[str, ...]
    matchers: tuple[ir.Matcher, ...]


@dataclass(frozen=True, slots=True)
class ValueAtom:
    """Expression: ``op`` applied to the single value at ``path`` and a constant ``operand``.

    ops: ``== != < <= > >=`` (scalar operand), ``in`` / ``not in`` (tuple of scalars),
    ``exists``, ``starts_with ends_with equals_ignore_case contains matches like`` (str),
    ``cidr`` / ``not cidr`` (network text).
    """

    path: ir.Path
    op: str
    operand: Any


@dataclass(frozen=True, slots=True)
class OpaqueAtom:
    """A part no index can see: an expression subtree (``kind="expr"``) or CEL text (``"cel"``)."""

    kind: str
    text: str
    node: ir.Expr | None = None


Atom: TypeAlias = FieldAtom | ValueAtom | OpaqueAtom

# --- formulas -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FAtom:
    pid: int


@dataclass(frozen=True, slots=True)
class FConst:
    value: bool


@dataclass(frozen=True, slots=True)
class FNot:
    item: Formula


@dataclass(frozen=True, slots=True)
class FAnd:
    items: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class FOr:
    items: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class FPattern:
    """A whole EventBridge pattern whose fields might meet in one array.

    ``body`` treats fields independently; when two of ``names`` took their
    values through arrays, event-ruler's array-consistency rule may still
    reject the event, so the reference matcher decides (``pattern``)::

        {"employees": [{"first": "Anna", "last": "Smith"}, {"first": "Peter", "last": "Jones"}]}
        first=Anna AND last=Jones: body holds, consistency does not -> no match
    """

    body: Formula
    pattern: ir.EventPattern
    names: tuple[str, ...]


Formula: TypeAlias = FAtom | FConst | FNot | FAnd | FOr | FPattern

TRUE = FConst(True)
FALSE = FConst(False)


def all_of(items: Iterable[Formula]) -> Formula:
    """The conjunction, flattened and simplified (TRUE items dropped, a FALSE item decides)."""
    out: list[Formula] = []
    for f in items:
        if f == TRUE:
            continue
        if f == FALSE:
            return FALSE
        out.extend(f.items if isinstance(f, FAnd) else (f,))
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else FAnd(tuple(out))


def any_of(items: Iterable[Formula]) -> Formula:
    """The disjunction, flattened and simplified (FALSE items dropped, a TRUE item decides)."""
    out: list[Formula] = []
    for f in items:
        if f == FALSE:
            continue
        if f == TRUE:
            return TRUE
        out.extend(f.items if isinstance(f, FOr) else (f,))
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else FOr(tuple(out))
