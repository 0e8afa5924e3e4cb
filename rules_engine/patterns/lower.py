"""EventBridge patterns: validate a decoded JSON pattern and lower it to ``ir.EventPattern``.

Position in the pipeline::

    match: {…} in YAML / raw JSON text ──**lower_pattern / parse_pattern_json**──▶ ir.EventPattern
                                                       └──▶ diagnostics (E105, E113, E310..E318)

Validation follows aws/event-ruler's ``JsonRuleCompiler`` (the engine behind
EventBridge), and every rejection carries AWS's own reason text, so a user can
paste the message into a search engine: ``Event pattern is not valid. Reason:
"int" must be an object or an array``.  Unlike AWS we do not stop at the first
problem: every offending node gets its own diagnostic with its own span.

Lowering rules (see docs/event-patterns.md):

  * nested objects become absolute paths: ``{"detail": {"state": [...]}}`` is the
    field ``("detail", "state")``; keys stay as written, dots included;
  * ``$or`` adds no path step: ``{"detail": {"$or": [{"a": …}, {"b": …}]}}`` is
    ``detail.a OR detail.b``;
  * a field name assigned twice in one branch keeps the *last* assignment, as
    event-ruler's rule maps do (``"a.b"`` and ``"a": {"b"}`` are one name).
    When that happens across ``$or`` groups the tree would change meaning, so
    the pattern is lowered to its explicit list of branches instead.

Two neighbours do one job each for this module: ``json_spans.py`` finds the
positions of raw JSON text (:class:`JsonLocator`), ``wildcard.py`` measures
wildcard complexity (:func:`wildcard_complexity`).  Validation never imports the
evaluator (``evaluate.py``): the operand rules both need live in ``operands.py``.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
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
    PatternOr,
)
from rules_engine.model.source import Locator, Pointer, Source, Span
from rules_engine.model.values import is_number
from rules_engine.patterns.json_spans import JsonLocator, json_spans, loads_strict, too_deep_at
from rules_engine.patterns.operands import NUMERIC_LIMIT, ip_value, looks_like_ip
from rules_engine.patterns.wildcard import WILDCARD_COMPLEXITY_LIMIT, wildcard_complexity

__all__ = [
    "MAX_BRANCHES",
    "MAX_DEPTH",
    "lower_pattern",
    "parse_pattern_json",
]

MAX_DEPTH = 64
"""Object/array nesting a pattern may use (AWS states no limit; ours keeps recursion bounded)."""

MAX_BRANCHES = 1024
"""Branches a pattern may expand to when it must be lowered as an explicit list of branches."""

# Names a key inside a $or branch may not have (event-ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
_RESERVED_IN_OR = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
        "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
        "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
        "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
    }
)  # fmt: skip

_NUMBER_RANGE = "Value must be between -5.0E9 and 5.0E9, inclusive"
_EIC_LIST = "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
_AB_VALUE = "Value of anything-but must be an array or single string/number value."
_TOO_MANY_NUMERIC = "Too many elements in numeric expression"  # event-ruler uses it for anything-but too
_ONE_KEY = "Only one key allowed in match expression"


def _json_text(v: Any) -> str:
    """What Jackson's ``getText()`` shows for a token, as event-ruler quotes it in messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Mapping):
        return "{"
    if isinstance(v, list | tuple):
        return "["
    return str(v)


class _Invalid(Exception):
    """One problem inside a match expression: stops that expression, not the pattern."""

    def __init__(self, code: codes.Code, reason: str, pointer: Pointer, key: bool = False) -> None:
        super().__init__(reason)
        self.code, self.reason, self.pointer, self.key = code, reason, pointer, key


# --- intermediate form: fields and $or groups in key order --------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the dotted name event-ruler compiles the path to
    node: PatternField


@dataclass(frozen=True, slots=True)
class _Or:
    alternatives: tuple[tuple[tuple[_Field | _Or, ...], Span], ...]
    span: Span


_Items = tuple[_Field | _Or, ...]


class _Lowering:
    """One call of :func:`lower_pattern`: the locator, the pointer prefix, and the problems found."""

    def __init__(self, locator: Locator, base: Pointer) -> None:
        self.locator = locator
        self.base = base
        self.diags: list[Diagnostic] = []

    def value_span(self, rel: Pointer) -> Span:
        return self.locator.value(self.base + rel)

    def key_span(self, rel: Pointer) -> Span:
        return self.locator.key(self.base + rel)

    def fail(self, code: codes.Code, reason: str, rel: Pointer, key: bool = False) -> None:
        span = self.key_span(rel) if key else self.value_span(rel)
        self.diags.append(code.at(span, reason=reason))

    # structure ------------------------------------------------------------------------------

    def obj(self, value: Mapping[Any, Any], rel: Pointer, path: tuple[str, ...], depth: int, in_or: bool) -> _Items:
        if depth > MAX_DEPTH:
            self.diags.append(codes.TOO_DEEP.at(self.value_span(rel), what="event pattern", limit=MAX_DEPTH))
            return ()
        if not value:
            self.fail(codes.PATTERN_STRUCTURE, "Empty objects are not allowed", rel)
            return ()
        items: list[_Field | _Or] = []
        for key, child in value.items():
            here = rel + (key,)
            if not isinstance(key, str):
                self.diags.append(codes.NON_STRING_KEY.at(self.key_span(here), found=type(key).__name__))
                continue
            if key == "$or":
                group = self.or_group(child, here, path, depth)
                if group is not None:
                    items.append(group)
                continue
            if in_or and key in _RESERVED_IN_OR:
                reason = f"{key} is Ruler reserved fieldName which cannot be used inside $or."
                self.fail(codes.PATTERN_OR, reason, here, key=True)
                continue
            if isinstance(child, Mapping):
                items.extend(self.obj(child, here, path + (key,), depth + 1, in_or))
            elif isinstance(child, list | tuple):
                f = self.field(child, here, path + (key,))
                if f is not None:
                    items.append(_Field(".".join(path + (key,)), f))
            else:
                self.fail(codes.PATTERN_STRUCTURE, f'"{key}" must be an object or an array', here)
        return tuple(items)

    def or_group(self, value: Any, rel: Pointer, path: tuple[str, ...], depth: int) -> _Or | None:
        if depth + 1 > MAX_DEPTH:
            self.diags.append(codes.TOO_DEEP.at(self.value_span(rel), what="event pattern", limit=MAX_DEPTH))
            return None
        if not isinstance(value, list | tuple):
            self.fail(codes.PATTERN_OR, "It must be an Array followed with $or.", rel)
            return None
        alternatives = []
        ok = True
        for i, alt in enumerate(value):
            if not isinstance(alt, Mapping):
                self.fail(codes.PATTERN_OR, "Only JSON object is allowed in array of $or relationship.", rel + (i,))
                ok = False
                continue
            alternatives.append((self.obj(alt, rel + (i,), path, depth + 1, True), self.value_span(rel + (i,))))
        if len(value) < 2:
            self.fail(codes.PATTERN_OR, "There must have at least 2 Objects in $or relationship.", rel)
            return None
        return _Or(tuple(alternatives), self.key_span(rel)) if ok else None

    def field(self, values: list[Any] | tuple[Any, ...], rel: Pointer, path: tuple[str, ...]) -> PatternField | None:
        if not values:
            self.fail(codes.PATTERN_STRUCTURE, "Empty arrays are not allowed", rel)
            return None
        matchers: list[Matcher] = []
        for i, v in enumerate(values):
            here = rel + (i,)
            try:
                if isinstance(v, Mapping):
                    matchers.append(self.expression(v, here))
                elif v is None or isinstance(v, str | bool):
                    matchers.append(MExact(v, self.value_span(here)))
                elif is_number(v) and math.isfinite(v):
                    matchers.append(MExact(v, self.value_span(here)))
                else:
                    reason = "Match value must be String, number, true, false, or null"
                    raise _Invalid(codes.PATTERN_OPERAND, reason, here)
            except _Invalid as bad:
                self.fail(bad.code, bad.reason, bad.pointer, bad.key)
        if len(matchers) != len(values):
            return None
        return PatternField(path, tuple(matchers), self.key_span(rel))

    # match expressions --------------------------------------------------------------------------

    def expression(self, expr: Mapping[Any, Any], rel: Pointer) -> Matcher:
        if not expr:
            raise _Invalid(codes.PATTERN_STRUCTURE, "Match expression name not found", rel)
        name = next(iter(expr))
        here = rel + (name,)
        operand = expr[name]
        span = self.value_span(rel)
        extra = _TOO_MANY_NUMERIC if name in ("numeric", "anything-but") else _ONE_KEY
        matcher: Matcher
        if name == "exactly":
            matcher = MExact(self.string(operand, here, "exact match pattern must be a string"), span)
        elif name in ("prefix", "suffix"):
            if isinstance(operand, Mapping):
                text = self.ignore_case_operand(operand, here, name)
                matcher = MPrefix(text, True, span) if name == "prefix" else MSuffix(text, True, span)
            else:
                text = self.string(operand, here, f"{name} match pattern must be a string")
                matcher = MPrefix(text, False, span) if name == "prefix" else MSuffix(text, False, span)
        elif name == "equals-ignore-case":
            text = self.string(operand, here, "equals-ignore-case match pattern must be a string")
            matcher = MEqualsIgnoreCase(text, span)
        elif name == "wildcard":
            text = self.string(operand, here, "wildcard match pattern must be a string")
            self.wildcard_syntax(text, here)
            matcher = MWildcard(text, span)
        elif name == "numeric":
            matcher = MNumeric(self.numeric(operand, here), span)
        elif name == "exists":
            if not isinstance(operand, bool):
                raise _Invalid(codes.PATTERN_OPERAND, "exists match pattern must be either true or false.", here)
            matcher = MExists(operand, span)
        elif name == "cidr":
            # event-ruler's wording for a non-string CIDR really is the prefix one
            text = self.string(operand, here, "prefix match pattern must be a string")
            matcher = MCidr(self.cidr(text, here), span)
        elif name == "anything-but":
            matcher = MAnythingBut(self.anything_but(operand, here), span)
        else:
            raise _Invalid(codes.PATTERN_UNKNOWN_MATCH, f"Unrecognized match type {name}", here, key=True)
        if len(expr) > 1:
            second = list(expr)[1]
            raise _Invalid(codes.PATTERN_STRUCTURE, extra, rel + (second,), key=True)
        return matcher

    @staticmethod
    def string(operand: Any, rel: Pointer, reason: str) -> str:
        if not isinstance(operand, str):
            raise _Invalid(codes.PATTERN_OPERAND, reason, rel)
        return operand

    def ignore_case_operand(self, operand: Mapping[Any, Any], rel: Pointer, kind: str) -> str:
        """``{"prefix": {"equals-ignore-case": "x"}}`` and the suffix twin."""
        if not operand:
            raise _Invalid(codes.PATTERN_STRUCTURE, f"{kind.capitalize()} expression name not found", rel)
        op = next(iter(operand))
        if op != "equals-ignore-case":
            raise _Invalid(codes.PATTERN_UNKNOWN_MATCH, f"Unsupported {kind} pattern: {op}", rel + (op,), key=True)
        text = self.string(operand[op], rel + (op,), "equals-ignore-case match pattern must be a string")
        if len(operand) > 1:
            raise _Invalid(codes.PATTERN_STRUCTURE, _ONE_KEY, rel + (list(operand)[1],), key=True)
        return text

    def wildcard_syntax(self, text: str, rel: Pointer) -> None:
        """event-ruler's rules: no ``**``; a backslash escapes only ``*`` or ``\\``.

        Positions count UTF-8 bytes of the value *with its opening quote*, as
        event-ruler reports them (``"arn:…:**"`` -> pos 26 for the second-from
        ``*`` at byte 25).
        """
        data = text.encode("utf-8", "surrogatepass")  # a YAML "\\ud800" escape gives a lone surrogate
        i = 0
        while i < len(data):
            if data[i] == 0x2A and i + 1 < len(data) and data[i + 1] == 0x2A:
                reason = f"Consecutive wildcard characters at pos {i + 1}"
                raise _Invalid(codes.PATTERN_WILDCARD, reason, rel)
            if data[i] == 0x5C:
                if i + 1 < len(data) and data[i + 1] in (0x2A, 0x5C):
                    i += 2
                    continue
                raise _Invalid(codes.PATTERN_WILDCARD, f"Invalid escape character at pos {i + 1}", rel)
            i += 1

    def numeric(self, operand: Any, rel: Pointer) -> tuple[tuple[str, float], ...]:
        if not isinstance(operand, list | tuple):
            raise _Invalid(codes.PATTERN_NUMERIC, "Value of numeric must be an array.", rel)
        items = list(operand)

        def token(i: int) -> Any:
            return items[i] if i < len(items) else _END

        def bad(reason: str, i: int) -> _Invalid:
            return _Invalid(codes.PATTERN_NUMERIC, reason, rel + (i,) if i < len(items) else rel)

        first = token(0)
        if not isinstance(first, str):
            raise bad(f"Invalid member in numeric match: {_token_text(first)}", 0)
        op, value = first, token(1)
        if op not in ("=", "<", "<=", ">", ">="):
            raise bad(f"Unrecognized numeric range operator: {op}", 0)
        if not is_number(value):
            raise bad(f"Value of {'equals' if op == '=' else op} must be numeric", 1)
        self.in_range(value, rel + (1,))
        if op in ("=", "<", "<="):
            if len(items) > 2:
                raise bad(_TOO_MANY_NUMERIC, 2)
            return ((op, float(value)),)
        if len(items) == 2:
            return ((op, float(value)),)
        op2 = token(2)
        if not isinstance(op2, str):
            raise bad(f"Bad value in numeric range: {_token_text(op2)}", 2)
        if op2 not in ("<", "<="):
            raise bad(f"Bad numeric range operator: {op2}", 2)
        top = token(3)
        if not is_number(top):
            raise bad(f"Value of {op2} must be numeric", 3)
        if len(items) > 4:
            raise bad("Too many terms in numeric range expression", 4)
        self.in_range(top, rel + (3,))
        if not value < top:
            raise bad("Bottom must be less than top", 3)
        return ((op, float(value)), (op2, float(top)))

    @staticmethod
    def in_range(value: Any, rel: Pointer) -> None:
        if not (isinstance(value, int | float) and -NUMERIC_LIMIT <= value <= NUMERIC_LIMIT):
            raise _Invalid(codes.PATTERN_NUMERIC, _NUMBER_RANGE, rel)

    def cidr(self, text: str, rel: Pointer) -> str:
        """event-ruler's CIDR checks, in its order; returns ``address/bits`` (host bits kept)."""
        parts = text.split("/")
        while parts and parts[-1] == "":  # Java's String.split drops trailing empty strings
            parts.pop()
        if len(parts) != 2:
            raise _Invalid(codes.PATTERN_CIDR, "Malformed CIDR, one '/' required", rel)
        address, mask = parts
        if not re.fullmatch(r"[+-]?[0-9]{1,10}", mask) or not -(2**31) <= int(mask) < 2**31:
            raise _Invalid(codes.PATTERN_CIDR, "Malformed CIDR, mask bits must be an integer", rel)
        bits = int(mask)
        if bits < 0:
            raise _Invalid(codes.PATTERN_CIDR, "Malformed CIDR, mask bits must not be negative", rel)
        if not looks_like_ip(address):
            raise _Invalid(codes.PATTERN_CIDR, f"Nonstandard IP address: {address}", rel)
        parsed = ip_value(address)
        if parsed is None:
            raise _Invalid(codes.PATTERN_CIDR, f"Invalid IP address: {address}", rel)
        version, number = parsed
        if version == 4 and bits > 31:
            raise _Invalid(codes.PATTERN_CIDR, "IPv4 mask bits must be < 32", rel)
        if version == 6 and bits > 127:
            raise _Invalid(codes.PATTERN_CIDR, "IPv6 mask bits must be < 128", rel)
        normal = ipaddress.IPv4Address(number) if version == 4 else ipaddress.IPv6Address(number)
        return f"{normal}/{bits}"

    def anything_but(self, operand: Any, rel: Pointer) -> tuple[Matcher, ...]:
        span = self.value_span(rel)
        if isinstance(operand, Mapping):
            if not operand:
                raise _Invalid(codes.PATTERN_STRUCTURE, "Anything-But expression name not found", rel)
            op = next(iter(operand))
            here = rel + (op,)
            if op not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
                raise _Invalid(codes.PATTERN_UNKNOWN_MATCH, f"Unsupported anything-but pattern: {op}", here, key=True)
            inner = operand[op]
            if not (isinstance(inner, str | list | tuple) or is_number(inner)):
                raise _Invalid(codes.PATTERN_OPERAND, _AB_VALUE, here)
            entries = list(enumerate(inner)) if isinstance(inner, list | tuple) else [(None, inner)]
            out: list[Matcher] = []
            for i, text in entries:
                at = here if i is None else here + (i,)
                out.append(self.anything_but_text(op, text, at, self.value_span(at)))
            if len(operand) > 1:
                raise _Invalid(codes.PATTERN_STRUCTURE, _TOO_MANY_NUMERIC, rel + (list(operand)[1],), key=True)
            return tuple(out)
        if isinstance(operand, list | tuple):
            kinds = set()
            values: list[Matcher] = []
            for i, v in enumerate(operand):
                if isinstance(v, str):
                    kinds.add("string")
                elif is_number(v):
                    kinds.add("number")
                    self.in_range(v, rel + (i,))
                else:
                    reason = "Inside anything but list, start|null|boolean is not supported."
                    raise _Invalid(codes.PATTERN_OPERAND, reason, rel + (i,))
                values.append(MExact(v, self.value_span(rel + (i,))))
            if len(kinds) != 1:
                reason = "Inside anything but list, either all values are number or string, mixed type is not supported"
                raise _Invalid(codes.PATTERN_OPERAND, reason, rel)
            return tuple(values)
        if isinstance(operand, str):
            return (MExact(operand, span),)
        if is_number(operand):
            self.in_range(operand, rel)
            return (MExact(operand, span),)
        raise _Invalid(codes.PATTERN_OPERAND, _AB_VALUE, rel)

    def anything_but_text(self, op: str, text: Any, rel: Pointer, span: Span) -> Matcher:
        if not isinstance(text, str):
            if op == "equals-ignore-case":
                raise _Invalid(codes.PATTERN_OPERAND, _EIC_LIST, rel)
            if op == "wildcard":
                raise _Invalid(codes.PATTERN_OPERAND, "wildcard match pattern must be a string", rel)
            raise _Invalid(codes.PATTERN_OPERAND, "prefix/suffix match pattern must be a string", rel)
        if op == "equals-ignore-case":
            return MEqualsIgnoreCase(text, span)
        if op == "wildcard":
            self.wildcard_syntax(text, rel)
            return MWildcard(text, span)
        if text == "":
            raise _Invalid(codes.PATTERN_OPERAND, "Null prefix/suffix not allowed", rel)
        return MPrefix(text, False, span) if op == "prefix" else MSuffix(text, False, span)


class _EndOfArray:
    """Stands for the ``]`` token when a numeric array is shorter than its operator needs."""


_END = _EndOfArray()


def _token_text(v: Any) -> str:
    return "]" if isinstance(v, _EndOfArray) else _json_text(v)


# --- from the intermediate form to the IR ----------------------------------------------------------


def _names(items: _Items) -> tuple[list[str], list[set[str]]]:
    """Own field names, and for each $or group every name any of its branches assigns."""
    own = [i.name for i in items if isinstance(i, _Field)]
    groups = []
    for i in items:
        if isinstance(i, _Or):
            names: set[str] = set()
            for alt, _ in i.alternatives:
                sub_own, sub_groups = _names(alt)
                names.update(sub_own, *sub_groups)
            groups.append(names)
    return own, groups


def _reassigns(items: _Items) -> bool:
    """Does some branch assign one name twice (so that the later assignment must win)?"""
    own, groups = _names(items)
    if len(own) != len(set(own)):
        return True
    seen = set(own)
    for names in groups:
        if seen & names:
            return True
        seen |= names
    return any(_reassigns(alt) for i in items if isinstance(i, _Or) for alt, _ in i.alternatives)


def _tree(items: _Items, span: Span) -> PatternAnd:
    fields = tuple(i.node for i in items if isinstance(i, _Field))
    ors = tuple(
        PatternOr(tuple(_tree(alt, alt_span) for alt, alt_span in i.alternatives), i.span)
        for i in items
        if isinstance(i, _Or)
    )
    return PatternAnd(fields, ors, span)


class _TooManyBranches(Exception):
    pass


def _branches(items: _Items, start: list[dict[str, PatternField]]) -> list[dict[str, PatternField]]:
    """event-ruler's expansion: a list of name -> field maps, later keys overriding earlier ones."""
    branches = start
    for item in items:
        if isinstance(item, _Field):
            for b in branches:
                b[item.name] = item.node
            continue
        grown: list[dict[str, PatternField]] = []
        for alt, _ in item.alternatives:
            grown.extend(_branches(alt, [dict(b) for b in branches]))
            if len(grown) > MAX_BRANCHES:
                raise _TooManyBranches
        branches = grown
    return branches


def _wildcards_by_name(items: _Items, out: dict[str, list[tuple[str, Span]]]) -> None:
    for item in items:
        if isinstance(item, _Or):
            for alt, _ in item.alternatives:
                _wildcards_by_name(alt, out)
            continue
        for m in item.node.matchers:
            inner = m.inner if isinstance(m, MAnythingBut) else (m,)
            for w in inner:
                if isinstance(w, MWildcard):
                    out.setdefault(item.name, []).append((w.pattern, m.span))


# --- public API ---------------------------------------------------------------------------------------


def lower_pattern(value: object, locator: Locator, pointer: Pointer) -> tuple[EventPattern | None, list[Diagnostic]]:
    """Validate a decoded pattern (found at ``pointer`` of the document ``locator`` knows) and lower it.

    Returns ``(pattern, [])`` or ``(None, diagnostics)``; every problem is
    reported, each at the span of the node that causes it.
    """
    lowering = _Lowering(locator, tuple(pointer))
    if not isinstance(value, Mapping):
        lowering.fail(codes.PATTERN_STRUCTURE, "Filter is not an object", ())
        return None, lowering.diags
    items = lowering.obj(value, (), (), 1, False)
    if lowering.diags:
        return None, lowering.diags

    wildcards: dict[str, list[tuple[str, Span]]] = {}
    _wildcards_by_name(items, wildcards)
    for found in wildcards.values():
        if wildcard_complexity([p for p, _ in found], stop_above=WILDCARD_COMPLEXITY_LIMIT) > WILDCARD_COMPLEXITY_LIMIT:
            reason = (
                "Rule is too complex - try using fewer wildcard characters or fewer repeating "
                "character sequences after a wildcard character"
            )
            lowering.diags.append(codes.PATTERN_WILDCARD.at(found[0][1], reason=reason))
    if lowering.diags:
        return None, lowering.diags

    span = lowering.value_span(())
    if not _reassigns(items):
        root = _tree(items, span)
    else:
        try:
            branches = _branches(items, [{}])
        except _TooManyBranches:
            reason = f"$or groups expand to more than {MAX_BRANCHES} combinations"
            return None, [codes.PATTERN_TOO_LARGE.at(span, reason=reason)]
        if len(branches) == 1:
            root = PatternAnd(tuple(branches[0].values()), (), span)
        else:
            alts = tuple(PatternAnd(tuple(b.values()), (), span) for b in branches)
            root = PatternAnd((), (PatternOr(alts, span),), span)
    return EventPattern(root, span), []


def parse_pattern_json(text: str, file: str = "<pattern>") -> tuple[EventPattern | None, list[Diagnostic]]:
    """Validate and lower the raw JSON text of a pattern.

    A duplicated key keeps its *last* value (AWS documents this); JSON syntax
    errors are E113 with their line and column; nesting deeper than
    :data:`MAX_DEPTH` is E105 before the JSON parser ever recurses.
    """
    source = Source(file, text)
    # Only a guard for json.loads' recursion: lower_pattern applies MAX_DEPTH to the
    # pattern's own structure (match expressions add a few brackets of their own).
    deep = too_deep_at(text, MAX_DEPTH + 8)
    if deep is not None:
        return None, [codes.TOO_DEEP.at(source.span(deep, deep + 1), what="event pattern", limit=MAX_DEPTH)]
    try:
        value = loads_strict(text)
    except json.JSONDecodeError as err:
        span = Span.point(file, err.lineno, err.colno)
        return None, [codes.JSON_SYNTAX.at(span, detail=err.msg)]
    except ValueError as err:
        return None, [codes.JSON_SYNTAX.at(Span.point(file, 1, 1), detail=str(err))]
    return lower_pattern(value, JsonLocator(source, json_spans(source)), ())
