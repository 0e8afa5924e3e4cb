"""The reference matcher for EventBridge patterns: slow, plain, and the oracle for the compiled engine.

Position in the pipeline::

    pattern ──lower (lower.py)──▶ ir.EventPattern ──▶ **match_pattern(pattern, event)** ──▶ bool
                                                   └──▶ **explain_pattern(pattern, event)** ──▶ why not

It reads the IR only, never pattern text, and follows aws/event-ruler's
``rulesForJSONEvent`` semantics (the engine behind EventBridge):

  * **Flattened names.** A field path is joined with ``.`` and compared with the
    event's keys joined with ``.``: the pattern key ``"state.status"`` finds
    ``{"state": {"status": …}}`` and the pattern path ``state → status`` finds
    the event key ``"state.status"``.  The walk only enters keys that are a
    prefix of the wanted name, so a huge event costs what the pattern looks at.
  * **Leaves only.** Values are the scalars (string, number, boolean, null)
    found at the name.  Arrays are transparent at every level (an array of
    arrays of objects is searched through); an object is not a value, so
    ``exists`` does not see intermediate nodes, and an empty array holds no value.
  * **Array consistency.** Two fields of one ``AND`` may not be satisfied by
    values taken from *different elements of the same array*::

        event   {"employees": [{"first": "Anna", "last": "Smith"},
                               {"first": "Peter", "last": "Jones"}]}
        pattern {"employees": {"first": ["Anna"], "last": ["Jones"]}}   -> no match

    Each value carries its *membership*: which element of which array it came
    from.  A field turns a set of consistent choices ("states") into the states
    extended by each matching value; an ``AND`` succeeds when a state survives
    every field and every ``$or`` group.
  * ``exists: false`` holds when the name has no value anywhere in the event.

Numbers follow event-ruler's ComparableNumber: numeric comparisons apply to
JSON numbers (never strings, never booleans) between -5.0e9 and 5.0e9 and
compare at full double precision.  An exact string that is an IP address
matches the same address in any textual form (``"2001:db8::1"`` and
``"2001:0db8:0:0:0:0:0:1"``), as event-ruler turns such exact values into
IP ranges.  See docs/event-patterns.md for the whole contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from rules_engine.model.ir import (
    EventPattern,
    MAnythingBut,
    Matcher,
    MCidr,
    MEqualsIgnoreCase,
    MExact,
    MExists,
    MNumeric,
    MPrefix,
    MSuffix,
    MWildcard,
    PatternAnd,
    PatternField,
)
from rules_engine.model.values import is_number
from rules_engine.patterns.operands import NUMERIC_LIMIT, ip_value

__all__ = [
    "Witness",
    "explain_pattern",
    "field_values",
    "match_pattern",
    "value_matches",
    "wildcard_matches",
]

# Where a value sits in the event: each array it came from, named by the
# array's identity during this evaluation (``id`` of the list, which lives as
# long as the event does), paired with the element index.  Identities rather
# than event paths keep the walk linear even for arrays nested 50,000 deep.
Membership: TypeAlias = tuple[tuple[int, int], ...]
State: TypeAlias = frozenset[tuple[int, int]]
# While walking, a membership grows as a cons list (parent, (array, index)).
_Chain: TypeAlias = "tuple[_Chain, tuple[int, int]] | None"

_EMPTY_STATE: State = frozenset()


@dataclass(frozen=True, slots=True)
class Witness:
    """One leaf value found at a field name, and the array elements it sits in."""

    value: Any
    membership: Membership


# --- reading the event -----------------------------------------------------------------------


def _unchain(chain: _Chain) -> Membership:
    out: list[tuple[int, int]] = []
    while chain is not None:
        chain, link = chain
        out.append(link)
    out.reverse()
    return tuple(out)


def field_values(event: Any, path: tuple[str, ...]) -> list[Witness]:
    """Every leaf value at the dotted name of ``path``; values nested in objects come first.

    Iterative (no recursion), and it only enters keys that can continue the
    name, so deeply nested or very large events cost only what is on the way.
    """
    name = ".".join(path)
    found: list[Witness] = []
    # (node, rest of the name still to consume or None when consumed, array memberships so far)
    stack: list[tuple[Any, str | None, _Chain]] = [(event, name, None)]
    while stack:
        node, rest, chain = stack.pop()
        if isinstance(node, list | tuple):
            # Arrays are transparent: every element continues with the same rest.
            array = id(node)
            for i in range(len(node) - 1, -1, -1):
                stack.append((node[i], rest, (chain, (array, i))))
        elif rest is None:
            if not isinstance(node, Mapping):
                found.append(Witness(node, _unchain(chain) if chain is not None else ()))
            # an object where a leaf is wanted is not a value (leaf-only semantics)
        elif isinstance(node, Mapping):
            # The keys that can continue the name are its prefixes ending at a
            # dot, and the whole rest: look those up instead of scanning keys.
            cut = len(rest)
            while cut != -1:
                key = rest[:cut]
                if key in node:
                    tail = rest[cut + 1 :] if cut < len(rest) else None
                    stack.append((node[key], tail, chain))
                cut = rest.rfind(".", 0, cut)
    return found


# --- single values ---------------------------------------------------------------------------


def _comparable(value: Any) -> float | None:
    """The value as a float when numeric matching applies to it, else None."""
    if not is_number(value):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not -NUMERIC_LIMIT <= value <= NUMERIC_LIMIT:
        return None
    return float(value)


def _same_exact(expected: Any, value: Any) -> bool:
    """Exact equality by JSON type: 300 == 300.0, but true != 1 and "1" != 1."""
    if expected is None or isinstance(expected, bool):
        return value is expected
    if isinstance(expected, str):
        return isinstance(value, str) and value == expected
    if is_number(expected) and is_number(value):
        a, b = _comparable(expected), _comparable(value)
        if a is not None and b is not None:
            return a == b
        # Outside the numeric range event-ruler compares the number's text;
        # decoded values approximate that by type and value.
        return type(expected) is type(value) and expected == value
    return False


def _char_equal_ignore_case(a: str, b: str) -> bool:
    """Java's ``equalsIgnoreCase`` rule, one code point at a time."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x != y and x.upper() != y.upper() and x.lower() != y.lower():
            return False
    return True


def wildcard_matches(pattern: str, text: str) -> bool:
    """``*`` is zero or more characters; ``\\*`` and ``\\\\`` are a literal star and backslash.

    Plain backtracking over the last star (no regular expressions): a pattern
    is a list of tokens, each a character or STAR.
    """
    tokens: list[str | None] = []  # None is a star
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            tokens.append(pattern[i + 1])
            i += 2
            continue
        tokens.append(None if c == "*" else c)
        i += 1
    t = p = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(tokens) and tokens[p] is not None and tokens[p] == text[t]:
            p += 1
            t += 1
        elif p < len(tokens) and tokens[p] is None:
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            # let the last star eat one more character and retry
            star_t += 1
            t = star_t
            p = star_p + 1
        else:
            return False
    while p < len(tokens) and tokens[p] is None:
        p += 1
    return p == len(tokens)


def _cidr_contains(network: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    address, _, bits_text = network.rpartition("/")
    base = ip_value(address)
    seen = ip_value(value)
    if base is None or seen is None or base[0] != seen[0]:
        return False
    width = 32 if base[0] == 4 else 128
    # event-ruler's range runs from the written address (host bits kept) to
    # the top of its block, so "10.0.0.5/24" covers 10.0.0.5 .. 10.0.0.255.
    top = base[1] | ((1 << (width - int(bits_text))) - 1)
    return base[1] <= seen[1] <= top


_NUMERIC_OPS = {
    "=": lambda x, v: x == v,
    "<": lambda x, v: x < v,
    "<=": lambda x, v: x <= v,
    ">": lambda x, v: x > v,
    ">=": lambda x, v: x >= v,
}


def value_matches(matcher: Matcher, value: Any, *, ip_exact: bool = True) -> bool:
    """Does one leaf value satisfy one matcher?  (``MExists`` is decided by the field.)

    ``ip_exact``: an exact string that is an IP literal also matches other
    spellings of that address; inside ``anything-but`` it does not (event-ruler
    keeps anything-but values as plain strings).
    """
    if isinstance(matcher, MExact):
        if _same_exact(matcher.value, value):
            return True
        if ip_exact and isinstance(matcher.value, str) and isinstance(value, str):
            want = ip_value(matcher.value)
            return want is not None and want == ip_value(value)
        return False
    if isinstance(matcher, MPrefix):
        if not isinstance(value, str):
            return False
        if matcher.ignore_case:
            return _char_equal_ignore_case(value[: len(matcher.value)], matcher.value)
        return value.startswith(matcher.value)
    if isinstance(matcher, MSuffix):
        if not isinstance(value, str):
            return False
        if matcher.ignore_case:
            n = len(matcher.value)
            return len(value) >= n and _char_equal_ignore_case(value[len(value) - n :], matcher.value)
        return value.endswith(matcher.value)
    if isinstance(matcher, MEqualsIgnoreCase):
        return isinstance(value, str) and _char_equal_ignore_case(value, matcher.value)
    if isinstance(matcher, MWildcard):
        return isinstance(value, str) and wildcard_matches(matcher.pattern, value)
    if isinstance(matcher, MNumeric):
        x = _comparable(value)
        return x is not None and all(_NUMERIC_OPS[op](x, v) for op, v in matcher.conditions)
    if isinstance(matcher, MCidr):
        return _cidr_contains(matcher.network, value)
    if isinstance(matcher, MAnythingBut):
        # any present leaf (null, booleans and numbers included) that no inner matcher takes
        return not any(value_matches(m, value, ip_exact=False) for m in matcher.inner)
    if isinstance(matcher, MExists):
        return matcher.present
    raise TypeError(f"not a pattern matcher: {matcher!r}")


# --- fields, AND, OR ---------------------------------------------------------------------------


class _Evaluation:
    """One (pattern, event) evaluation: the values of every field, read once."""

    def __init__(self, pattern: EventPattern, event: Any) -> None:
        self.values: dict[str, list[Witness]] = {}
        for f in _all_fields(pattern.root):
            name = ".".join(f.path)
            if name not in self.values:
                self.values[name] = field_values(event, f.path)
        # An array matters for consistency only when values of two different
        # names pass through it; ignoring the others keeps the state sets small
        # (one state, in the common case) without changing any verdict.
        users: dict[int, set[str]] = {}
        in_arrays = [name for name, witnesses in self.values.items() if any(w.membership for w in witnesses)]
        for name in in_arrays if len(in_arrays) > 1 else ():
            for w in self.values[name]:
                for loc, _ in w.membership:
                    users.setdefault(loc, set()).add(name)
        self.shared: frozenset[int] = frozenset(loc for loc, names in users.items() if len(names) > 1)

    def field(self, f: PatternField, states: Iterable[State]) -> set[State]:
        """The states extended by each value of ``f`` that satisfies one of its matchers."""
        witnesses = self.values[".".join(f.path)]
        states = list(states)
        out: set[State] = set()
        if not witnesses and any(isinstance(m, MExists) and not m.present for m in f.matchers):
            out.update(states)
        for w in witnesses:
            if not any(_witness_matches(m, w.value) for m in f.matchers):
                continue
            for s in states:
                merged = _merge(s, w.membership, self.shared)
                if merged is not None:
                    out.add(merged)
        return out

    def conjunction(self, node: PatternAnd, states: set[State]) -> set[State]:
        for f in node.fields:
            states = self.field(f, states)
            if not states:
                return states
        for group in node.ors:
            grown: set[State] = set()
            for alt in group.alternatives:
                grown |= self.conjunction(alt, states)
            states = grown
            if not states:
                return states
        return states


def _witness_matches(matcher: Matcher, value: Any) -> bool:
    if isinstance(matcher, MExists):
        return matcher.present  # a witness exists, so exists:true holds and exists:false does not
    return value_matches(matcher, value)


def _merge(state: State, membership: Membership, shared: frozenset[int]) -> State | None:
    """``state`` plus the (shared) array elements of ``membership``; None if one array's element differs."""
    if not shared:
        return state
    chosen = dict(state)
    picked = [(loc, index) for loc, index in membership if loc in shared]
    for loc, index in picked:
        if chosen.get(loc, index) != index:
            return None
    return state.union(picked)


def _all_fields(node: PatternAnd) -> list[PatternField]:
    out: list[PatternField] = []
    todo = [node]
    while todo:
        n = todo.pop()
        out.extend(n.fields)
        for group in n.ors:
            todo.extend(group.alternatives)
    return out


def match_pattern(pattern: EventPattern, event: Any) -> bool:
    """True when ``event`` (a decoded JSON object) matches ``pattern``."""
    return bool(_Evaluation(pattern, event).conjunction(pattern.root, {_EMPTY_STATE}))


# --- explanations ------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


def _describe(m: Matcher) -> str:
    if isinstance(m, MExact):
        return _show(m.value)
    if isinstance(m, MPrefix | MSuffix):
        kind = "prefix" if isinstance(m, MPrefix) else "suffix"
        return f"{kind} {_show(m.value)}" + (" (ignoring case)" if m.ignore_case else "")
    if isinstance(m, MEqualsIgnoreCase):
        return f"equals-ignore-case {_show(m.value)}"
    if isinstance(m, MWildcard):
        return f"wildcard {_show(m.pattern)}"
    if isinstance(m, MNumeric):
        return "numeric " + " and ".join(f"{op} {_show(v)}" for op, v in m.conditions)
    if isinstance(m, MExists):
        return f"exists: {_show(m.present)}"
    if isinstance(m, MCidr):
        return f"cidr {m.network}"
    return "anything-but [" + ", ".join(_describe(i) for i in m.inner) + "]"


def _why_not(value: Any, matchers: tuple[Matcher, ...]) -> str:
    shown = _show(value)
    if all(isinstance(m, MExact) for m in matchers):
        if len(matchers) == 1:
            return f"{shown} is not {_describe(matchers[0])}"
        return f"{shown} is not one of [{', '.join(_describe(m) for m in matchers)}]"
    if len(matchers) == 1 and isinstance(matchers[0], MNumeric):
        x = _comparable(value)
        if x is None:
            if is_number(value):
                return f"{shown} is outside the numeric range [-5.0e9, 5.0e9]"
            return f"{shown} is not a number"
        for op, v in matchers[0].conditions:
            if not _NUMERIC_OPS[op](x, v):
                return f"{shown} is not {op} {_show(v)}"
    if len(matchers) == 1:
        return f"{shown} does not match {_describe(matchers[0])}"
    return f"{shown} matches none of {', '.join(_describe(m) for m in matchers)}"


def _explain_field(ev: _Evaluation, f: PatternField) -> str:
    name = ".".join(f.path)
    witnesses = ev.values[name]
    if not witnesses:
        return f"{name}: missing"
    values = [w.value for w in witnesses]
    if all(isinstance(m, MExists) and not m.present for m in f.matchers):
        return f"{name}: present ({_show(values[0] if len(values) == 1 else values)}), expected missing"
    if len(values) == 1:
        return f"{name}: {_why_not(values[0], f.matchers)}"
    wanted = ", ".join(_describe(m) for m in f.matchers)
    return f"{name}: none of {_show(values)} matches {wanted}"


def _explain_and(ev: _Evaluation, node: PatternAnd, states: set[State]) -> str:
    done: list[str] = []
    for f in node.fields:
        grown = ev.field(f, states)
        if not grown:
            if ev.field(f, {_EMPTY_STATE}):
                name = ".".join(f.path)
                return (
                    f"{name}: matches only in a different element of the same array "
                    f"than {', '.join(done) or 'the rest of the pattern'}"
                )
            return _explain_field(ev, f)
        states = grown
        done.append(".".join(f.path))
    for group in node.ors:
        grown = set()
        for alt in group.alternatives:
            grown |= ev.conjunction(alt, states)
        if not grown:
            reasons = [_explain_and(ev, alt, states) for alt in group.alternatives]
            return "no $or alternative matched: " + "; ".join(reasons)
        states = grown
    return "no match"  # unreachable when called on a failing node


def explain_pattern(pattern: EventPattern, event: Any) -> str | None:
    """None when ``event`` matches; else one sentence about the first condition that fails.

    ``"detail.state: 'running' is not one of ['stopped', 'terminated']"``,
    ``"detail.total: 950 is not > 1000"``, ``"detail.country: missing"``.
    """
    ev = _Evaluation(pattern, event)
    if ev.conjunction(pattern.root, {_EMPTY_STATE}):
        return None
    return _explain_and(ev, pattern.root, {_EMPTY_STATE})
