"""The wildcard-complexity check: how much work the wildcard patterns of one field can cause.

Position in the pipeline::

    pattern.lower_pattern ── wildcard patterns of one field ──**wildcard_complexity**──▶
        a count, compared with WILDCARD_COMPLEXITY_LIMIT (over it: E315 "Rule is too complex")

event-ruler refuses rules whose wildcards, taken together, could keep too many
partial matches alive for one input value: ``"*a*a*a*"`` alone scores 8 and
passes, ``"*a*a*a*a*a*a*"`` scores 14 and is refused.  This module is our
reading of that limit.  It looks only at pattern strings: the
syntax of each wildcard (no ``**``, escapes) is checked by lower.py before.

Pure: no I/O; exploration is bounded by ``cap``.
"""

from __future__ import annotations

__all__ = ["WILDCARD_COMPLEXITY_LIMIT", "wildcard_complexity"]

WILDCARD_COMPLEXITY_LIMIT = 10
"""Most wildcard-pattern positions one input may keep alive on one field (see :func:`wildcard_complexity`)."""

_STAR = -1


def _wildcard_tokens(pattern: str) -> list[int]:
    out: list[int] = []
    data = pattern.encode("utf-8", "surrogatepass")
    i = 0
    while i < len(data):
        if data[i] == 0x5C and i + 1 < len(data):
            out.append(data[i + 1])
            i += 2
        else:
            out.append(_STAR if data[i] == 0x2A else data[i])
            i += 1
    return out


def wildcard_complexity(patterns: list[str], cap: int = 10_000, stop_above: int | None = None) -> int:
    """How many wildcard-pattern positions one input value can keep alive at once.

    This is our reading of event-ruler's MachineComplexityEvaluator ("the
    maximum number of wildcard rule prefixes that could match a theoretical
    input value"): the wildcard patterns of one field run as one position
    automaton (a position before a ``*`` loops on any byte), and we take the
    largest set of live positions over every input, exploring sets of positions
    with one representative byte for "anything else".  Patterns without a ``*``
    are exact and do not count.  Returns ``cap`` when exploration runs too long.

    With ``stop_above``, exploration ends at the first set of live positions larger than it and
    that size is returned: the loader only asks "over the limit?", and a long hostile pattern
    (a 300-character wildcard with dozens of stars, found by the fuzzer) then costs
    milliseconds instead of seconds of exploring up to ``cap`` large sets.
    """
    tokens = [_wildcard_tokens(p) for p in patterns]
    tokens = [t for t in tokens if _STAR in t]
    if not tokens:
        return 0

    def closure(states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        todo = list(states)
        out = set(states)
        while todo:
            k, pos = todo.pop()
            if pos < len(tokens[k]) and tokens[k][pos] == _STAR and (k, pos + 1) not in out:
                out.add((k, pos + 1))
                todo.append((k, pos + 1))
        return frozenset(out)

    alphabet = {b for t in tokens for b in t if b != _STAR}
    alphabet.add(next(b for b in range(256) if b not in alphabet))
    start = closure({(k, 0) for k in range(len(tokens))})
    seen = {start}
    todo = [start]
    worst = len(start)
    if stop_above is not None and worst > stop_above:
        return worst
    while todo:
        current = todo.pop()
        for byte in alphabet:
            nxt: set[tuple[int, int]] = set()
            for k, pos in current:
                if pos < len(tokens[k]):
                    if tokens[k][pos] == _STAR:
                        nxt.add((k, pos))
                    elif tokens[k][pos] == byte:
                        nxt.add((k, pos + 1))
            if not nxt:
                continue
            state = closure(nxt)
            if state not in seen:
                if len(seen) >= cap:
                    return cap
                seen.add(state)
                todo.append(state)
                worst = max(worst, len(state))
                if stop_above is not None and worst > stop_above:
                    return worst
    return worst
