"""CESQL filter → the shared normalised form (formulas over atoms), so CESQL rules use the same
index as EventBridge patterns and expressions.

Where it sits: inside compile stage 1 (called by :mod:`.normalize`, building on :mod:`.formula`)::

    cesql tree ──**cesql_formula**──▶ Formula over ValueAtoms (indexable)
                                      and ``cesql`` OpaqueAtoms (cesql_codegen, run only for candidates)

A CESQL filter passes when its value is ``true`` *and* no error occurred, and an error in the
left operand of ``OR`` fails the whole filter (``myext = 'a' OR type = 't'`` does not pass an
event without ``myext``).  So a sub-expression is lowered to two formulas:

  T(e): e evaluates without error to a value that casts to ``true`` without error;
  F(e): the same, to ``false``.

  T(a AND b) = T(a) ∧ T(b)             F(a AND b) = F(a) ∨ (T(a) ∧ F(b))
  T(a OR b)  = T(a) ∨ (F(a) ∧ T(b))    F(a OR b)  = F(a) ∧ F(b)
  T(NOT a)   = F(a)                    F(NOT a)   = T(a)
  XOR from the same pieces; anything else is one opaque atom: T(e) = [e], F(e) = [NOT (e)].

and the filter is T(root).  An attribute compared with string literals becomes a ValueAtom.
CESQL casts a non-string attribute to its String form (``true``, ``10``, JSON text) before
comparing, while a ValueAtom only ever matches a string value; the two agree exactly when the
literal could not be such a form (it is not JSON text; a prefix does not start, a suffix does
not end, like one).  Otherwise the ValueAtom decides string values and a second branch
(:meth:`_Lower.holds`) lets the CESQL check decide the others.  A ``null`` attribute is missing in
CESQL, so "present" is ``exists ∧ ¬(== null)``.  ``IN`` casts the other way (the set to the
attribute's type), so its negation keeps the CESQL check: ``0 NOT IN ('')`` is an error, not true.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

from rules_engine.cesql import ast
from rules_engine.cesql.ast import static_type
from rules_engine.cesql.render import render
from rules_engine.cesql.subscriptions import cesql_tree
from rules_engine.cesql.values import NOT_ATTRIBUTES, Type
from rules_engine.compile.formula import FALSE, TRUE, Atom, FAtom, FNot, Formula, OpaqueAtom, ValueAtom, all_of, any_of
from rules_engine.model import ir

Pid = Callable[[Atom], int]

# First / last characters of the String form of a non-string JSON value (numbers, booleans,
# arrays, objects; a string is compared as it is).
_NON_STRING_FIRST = frozenset("-0123456789tf[{IN")
_NON_STRING_LAST = frozenset("0123456789e]}yN")


def _is_json_text(s: str) -> bool:
    try:
        json.loads(s)
    except ValueError:
        return False
    return True


def _pattern_kind(pattern: str) -> tuple[str, str] | None:
    """('==', s), ('starts_with', p) or ('ends_with', s) for LIKE patterns that are one of those."""
    chars: list[tuple[str, bool]] = []  # (character, is a wildcard)
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            chars.append((pattern[i + 1], False))
            i += 2
            continue
        chars.append((ch, ch in "%_"))
        i += 1
    wild = [n for n, (_, w) in enumerate(chars) if w]
    text = "".join(c for c, w in chars if not w)
    if not wild:
        return "==", text
    if len(wild) == 1 and chars[wild[0]][0] == "%":
        if wild[0] == len(chars) - 1:
            return "starts_with", text
        if wild[0] == 0:
            return "ends_with", text
    return None


def _exact(op: str, s: str) -> bool:
    if op == "==":
        return not _is_json_text(s)
    if op == "starts_with":
        return s != "" and s[0] not in _NON_STRING_FIRST
    return s != "" and s[-1] not in _NON_STRING_LAST


class _Lower:
    """T and F of each node, each computed at most once (so a long OR chain stays linear) and
    only when asked for (so no atom is interned that the filter's formula does not use)."""

    def __init__(self, pid: Pid, root: ast.Expr | None = None) -> None:
        self.pid = pid
        self.root = root
        self.memo: dict[tuple[int, bool], Formula] = {}

    def atom(self, a: Atom) -> Formula:
        return FAtom(self.pid(a))

    def present(self, path: tuple[str, ...]) -> Formula:
        return all_of((self.atom(ValueAtom(path, "exists", None)), FNot(self.atom(ValueAtom(path, "==", None)))))

    def test(self, e: ast.Expr) -> tuple[ast.Attribute, str, str | tuple[str, ...], bool, ast.Expr] | None:
        """(attribute, op, operand, negated, positive test) when ``e`` tests an attribute against string
        literals in a way a ValueAtom can (``=``/``!=``, ``LIKE`` without inner wildcards, ``IN``)."""
        attr: ast.Expr | None = None
        op, negated = "", False
        operand: str | tuple[str, ...] = ""
        if isinstance(e, ast.Binary) and e.op in ast.EQUALITY_OPS and isinstance(e.right, ast.Literal):
            if isinstance(e.right.value, str):
                attr, op, operand, negated = e.left, "==", e.right.value, e.op == "!="
        elif isinstance(e, ast.Like):
            kind = _pattern_kind(e.pattern)
            if kind is not None and kind[1] != "":
                attr, op, operand, negated = e.operand, kind[0], kind[1], e.negated
        elif isinstance(e, ast.In):
            values = [i.value for i in e.items if isinstance(i, ast.Literal) and isinstance(i.value, str)]
            if len(values) == len(e.items):
                attr, op, operand, negated = e.operand, "in", tuple(dict.fromkeys(values)), e.negated
        if not isinstance(attr, ast.Attribute) or attr.name in NOT_ATTRIBUTES:
            return None
        positive: ast.Expr = e
        if isinstance(e, ast.Binary):
            positive = ast.Binary("=", e.left, e.right)
        elif isinstance(e, (ast.Like, ast.In)):
            positive = dataclasses.replace(e, negated=False)
        return attr, op, operand, negated, positive

    def holds(self, attr: ast.Attribute, op: str, operand: str | tuple[str, ...], positive: ast.Expr) -> Formula:
        """T of a positive attribute test.  A string value is decided by the ValueAtom alone; a value of
        another type is compared through its String form, which only the CESQL check itself knows, so
        unless the literal could not be such a form a second branch asks it (anchored where possible)."""
        path = (attr.name,)
        string_test = self.atom(ValueAtom(path, op, operand))
        if isinstance(operand, tuple):
            unsafe = not all(_exact("==", v) for v in operand)
        else:
            unsafe = not _exact(op, operand)
        if not unsafe:
            return string_test
        def exact() -> Formula:
            return self.atom(OpaqueAtom("cesql", render(positive)))

        if op == "==" and isinstance(operand, str):
            j = json.loads(operand)
            if isinstance(j, bool):  # a Boolean's String form is exactly 'true' / 'false'
                return any_of((string_test, self.atom(ValueAtom(path, "==", j))))
            if isinstance(j, (int, float)) and not isinstance(j, bool) and math.isfinite(j):
                return any_of((string_test, all_of((self.atom(ValueAtom(path, "==", j)), exact()))))
        return any_of((string_test, all_of((self.present(path), exact()))))

    def _as_boolean(self, e: ast.Expr) -> ast.Expr:
        """The expression whose compiled check (value ``is True``, no error) is T(e).  Below a logic
        operator an operand is cast to Boolean (``NOT NOT 1`` passes), so a part that is not always
        a Boolean is asked as ``BOOL(e)``; the filter itself is not cast (a filter ``1`` never passes)."""
        if e is self.root or static_type(e) is Type.BOOLEAN:
            return e
        return ast.Call("BOOL", (e,))

    def formula(self, e: ast.Expr, want: bool) -> Formula:
        """T(e) when ``want`` is true, F(e) otherwise."""
        key = (id(e), want)
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self._formula(e, want)
        return got

    def _formula(self, e: ast.Expr, want: bool) -> Formula:
        t = self.formula

        def f(x: ast.Expr) -> Formula:
            return self.formula(x, not want)

        if isinstance(e, ast.Literal) and isinstance(e.value, bool):
            return TRUE if e.value == want else FALSE
        if isinstance(e, ast.Not):
            return self.formula(e.operand, not want)
        if isinstance(e, ast.Binary) and e.op in ast.LOGIC_OPS:
            a, b = e.left, e.right
            if e.op == "XOR":
                return any_of((all_of((t(a, True), t(b, not want))), all_of((t(a, False), t(b, want)))))
            if (e.op == "AND") == want:  # T(AND) and F(OR): both sides
                return all_of((t(a, want), t(b, want)))
            # T(OR) = T(a) ∨ (F(a) ∧ T(b));  F(AND) = F(a) ∨ (T(a) ∧ F(b))
            return any_of((t(a, want), all_of((f(a), t(b, want)))))
        if isinstance(e, ast.Exists) and e.name not in NOT_ATTRIBUTES:
            p = self.present((e.name,))
            return p if want else FNot(p)
        test = self.test(e)
        if test is None:
            return self.atom(OpaqueAtom("cesql", render(self._as_boolean(e) if want else ast.Not(e))))
        attr, op, operand, negated, positive = test
        holds = self.holds(attr, op, operand, positive)
        if want != negated:
            return holds
        if isinstance(positive, ast.In):
            # IN casts the set to the attribute's type (section 3.7): for a number or Boolean a text
            # that does not cast is an error, so "not in the set" is not the negation of "in the set"
            # (0 NOT IN ('') fails).  The negated test itself decides; present and not-in are its index.
            exact_negation = self.atom(OpaqueAtom("cesql", render(dataclasses.replace(positive, negated=True))))
            return all_of((self.present((attr.name,)), FNot(holds), exact_negation))
        return all_of((self.present((attr.name,)), FNot(holds)))


def cesql_formula(tree: ast.Expr, pid: Pid) -> Formula:
    """The formula of a CESQL filter: exactly the reference's verdict (``cesql.evaluate.matches``)."""
    return _Lower(pid, tree).formula(tree, True)


def _as_cesql(dialect: str, name: str, value: str) -> ast.Expr:
    """The CESQL test with exactly the Knative semantics of one ``exact``/``prefix``/``suffix`` pair:
    a missing attribute fails, any other value is compared through its String form."""
    attr = ast.Attribute(name)
    if dialect == "exact":
        return ast.Binary("=", attr, ast.Literal(value))
    fn = "LEFT" if dialect == "prefix" else "RIGHT"
    return ast.Binary("=", ast.Call(fn, (attr, ast.Literal(len(value)))), ast.Literal(value))


def subscription_formula(f: ir.SubscriptionFilter, pid: Pid) -> Formula:
    """The formula of Knative trigger filters: exactly ``cesql.subscriptions.subscription_holds``.
    Each dialect is a plain true/false (no error crosses a dialect), so ``all``/``any``/``not``
    are ∧/∨/¬ of their parts."""
    lw = _Lower(pid)

    def go(x: ir.SubscriptionFilter) -> Formula:
        if x.dialect in ("exact", "prefix", "suffix"):
            parts = []
            for name, value in x.attributes:
                path = (name,)
                if value == "" and x.dialect != "exact":
                    parts.append(lw.present(path))  # every String starts and ends with ''
                    continue
                op = {"exact": "==", "prefix": "starts_with", "suffix": "ends_with"}[x.dialect]
                test = _as_cesql(x.dialect, name, value)
                parts.append(lw.holds(ast.Attribute(name), op, value, test))
            return all_of(parts)
        if x.dialect == "all":
            return all_of(go(i) for i in x.items)
        if x.dialect == "any":
            return any_of(go(i) for i in x.items)
        if x.dialect == "not":
            inner = go(x.items[0])
            return FALSE if inner == TRUE else TRUE if inner == FALSE else FNot(inner)
        assert x.cesql is not None
        tree = cesql_tree(x.cesql.source)
        return FALSE if tree is None else _Lower(pid, tree).formula(tree, True)

    return go(f)
