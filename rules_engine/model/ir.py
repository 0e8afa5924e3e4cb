"""The rule model (IR): what both file formats lower to, and what every later stage reads.

Position in the pipeline::

    YAML / rule language ──lower──▶ **IR** ──check──▶ diagnostics
                                      └──compile──▶ compiled rule set

Invariants:
  * every node is a frozen, slotted dataclass holding tuples, never lists or
    dicts, so an IR value is immutable and can be shared between threads and
    compiled rule sets;
  * every node carries the :class:`~rules_engine.model.source.Span` it came from
    (``span`` is excluded from equality, so the same rule written in YAML and
    in the rule language compares equal);
  * a field path is a tuple of keys: ``data.total`` is ``("data", "total")``;
    in expressions an ``int`` element indexes an array (``items[0]``);
  * JSON-like option values (target options, metadata) are frozen with
    :func:`freeze` and thawed with :func:`thaw`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias
from typing import Literal as Lit

from rules_engine.model.source import Span

Path: TypeAlias = tuple[str | int, ...]
Scalar: TypeAlias = str | int | float | bool | None

_NOSPAN = Span("<none>", 0, 0, 0, 1)


def _span() -> Any:
    return field(default=_NOSPAN, compare=False, repr=False)


# --- frozen JSON --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrozenMap:
    """An immutable, hashable JSON object (insertion order kept)."""

    items: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        return default

    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.items)


def freeze(value: Any) -> Any:
    """JSON value -> hashable value (dict -> FrozenMap, list -> tuple)."""
    if isinstance(value, Mapping):
        return FrozenMap(tuple((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`."""
    if isinstance(value, FrozenMap):
        return {k: thaw(v) for k, v in value.items}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


# --- EventBridge patterns -------------------------------------------------------------------
# A pattern lowers to a tree of PatternAnd / PatternOr nodes whose leaves are
# PatternField: "the event value(s) at this path satisfy one of these matchers".
# Paths are absolute from the event root, with keys exactly as the pattern wrote
# them (a key may itself contain dots).  Arrays in the event are transparent:
# a path reaches every element of every array along the way.


@dataclass(frozen=True, slots=True)
class MExact:
    """Exact value: string, number (300 == 300.0), boolean or null."""

    value: Scalar
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MPrefix:
    value: str
    ignore_case: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MSuffix:
    value: str
    ignore_case: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MEqualsIgnoreCase:
    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MWildcard:
    """``*`` matches zero or more characters; ``\\*`` and ``\\\\`` are escapes (kept raw here)."""

    pattern: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MNumeric:
    """All conditions hold: ``(("<", 10.0), (">=", 0.0))``; ``=`` is numeric equality."""

    conditions: tuple[tuple[str, float], ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MExists:
    present: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MCidr:
    """IPv4 or IPv6 network, normalised text form (``10.0.0.0/24``)."""

    network: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MAnythingBut:
    """Matches a present value that matches none of ``inner``.

    ``inner`` holds MExact (values, numbers included), MPrefix, MSuffix,
    MEqualsIgnoreCase or MWildcard matchers.
    """

    inner: tuple[Matcher, ...]
    span: Span = _span()


Matcher: TypeAlias = (
    MExact | MPrefix | MSuffix | MEqualsIgnoreCase | MWildcard | MNumeric | MExists | MCidr | MAnythingBut
)


@dataclass(frozen=True, slots=True)
class PatternField:
    """The value(s) at ``path`` satisfy at least one of ``matchers``."""

    path: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PatternAnd:
    """Every field test and every ``$or`` group holds."""

    fields: tuple[PatternField, ...]
    ors: tuple[PatternOr, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PatternOr:
    """At least one alternative holds (``$or``)."""

    alternatives: tuple[PatternAnd, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EventPattern:
    root: PatternAnd
    span: Span = _span()


# --- expressions ------------------------------------------------------------------------------
# Semantics (docs/expressions.md): a missing field or a value of the wrong type
# makes a comparison false, never an error.


@dataclass(frozen=True, slots=True)
class Literal:
    value: Scalar
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Field:
    """A value read from the event (``var is None``) or from a bound variable.

    ``data.total`` -> ``Field(("data", "total"))``; inside ``any(item in data.items: item.price > 3)``
    ``item.price`` -> ``Field(("price",), var="item")``.
    """

    path: Path
    var: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ObjectExpr:
    items: tuple[tuple[str, Expr], ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    op: Lit["not", "-"]
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Arith:
    op: Lit["+", "-", "*", "/", "%"]
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    op: Lit["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    span: Span = _span()


MIRRORED: Final[Mapping[str, Lit["==", "!=", "<", "<=", ">", ">="]]] = {
    "==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=",
}
"""The comparison with its operands swapped: ``a < b`` is ``b > a`` (used to put the event field on the left)."""


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class In:
    """``item in collection`` (``negated``: ``not in``)."""

    item: Expr
    collection: Expr
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Exists:
    field: Field
    span: Span = _span()


StringOp: TypeAlias = Lit["starts_with", "ends_with", "contains", "matches", "like", "equals_ignore_case"]


@dataclass(frozen=True, slots=True)
class StringTest:
    """String predicates: ``matches`` is a regular expression, ``like`` a ``*`` wildcard."""

    op: StringOp
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CidrTest:
    """``ip in cidr("10.0.0.0/8")``; ``network`` is normalised."""

    item: Expr
    network: str
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A library function (``lower``, ``upper``, ``length`` …, see ``functions.py``)."""

    name: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Quantifier:
    """``any(item in data.items: item.price > 3)`` / ``all(...)``."""

    kind: Lit["any", "all"]
    var: str
    collection: Expr
    predicate: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Conditional:
    """``if cond then a else b``."""

    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Template:
    """A string template: literal text parts and expression parts, concatenated."""

    parts: tuple[str | Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cel:
    """A CEL expression, kept as source text; parsed and checked by ``cel/``."""

    source: str
    span: Span = _span()


Expr: TypeAlias = (
    Literal | Field | ListExpr | ObjectExpr | Unary | Arith | Compare | And | Or | In | Exists
    | StringTest | CidrTest | Call | Quantifier | Conditional | Template | Cel
)


# --- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cesql:
    """A CESQL filter (CloudEvents SQL Expression Language), kept as source text; parsed and
    checked by the ``cesql`` dialect, evaluated by it (reference) and by compile/ (compiled)."""

    source: str
    span: Span = _span()


SubscriptionDialect: TypeAlias = Lit["exact", "prefix", "suffix", "all", "any", "not", "cesql"]


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    """One filter expression of the CloudEvents Subscriptions API, as Knative triggers write them::

        {exact: {type: com.github.push}}   -> SubscriptionFilter("exact", (("type", "com.github.push"),))
        {not: {prefix: {source: /test}}}   -> SubscriptionFilter("not", items=(SubscriptionFilter("prefix", ...),))
        {cesql: "type LIKE 'a%'"}          -> SubscriptionFilter("cesql", cesql=Cesql("type LIKE 'a%'"))

    ``attributes`` for exact/prefix/suffix (every pair must hold), ``items`` for all/any/not
    (``not`` has exactly one), ``cesql`` for the cesql dialect.
    """

    dialect: SubscriptionDialect
    attributes: tuple[tuple[str, str], ...] = ()
    items: tuple[SubscriptionFilter, ...] = ()
    cesql: Cesql | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter of a rule: ``match`` (EventBridge pattern), ``when`` (expression), ``cel``,
    ``cesql`` or ``filters`` (Knative trigger filters: an ``all`` SubscriptionFilter).

    A rule's filters must all hold.
    """

    kind: Lit["match", "when", "cel", "cesql", "filters"]
    node: EventPattern | Expr | Cesql | SubscriptionFilter
    span: Span = _span()


# --- transforms ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetField:
    path: Path
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rename:
    source: Path
    dest: Path
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Drop:
    paths: tuple[Path, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Keep:
    """Projection: only these paths survive."""

    paths: tuple[Path, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Replace:
    """Build a new payload from scratch (the original event stays readable)."""

    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InputTransformer:
    """EventBridge input transformer: ``<var>`` placeholders filled from JSON paths."""

    paths_map: tuple[tuple[str, str], ...]
    template: str
    span: Span = _span()


TransformStep: TypeAlias = SetField | Rename | Drop | Keep | Replace | InputTransformer


@dataclass(frozen=True, slots=True)
class Envelope:
    """Wrap the payload as a CloudEvents 1.0 structured-mode JSON envelope."""

    type: Expr | None = None
    source: Expr | None = None
    subject: Expr | None = None
    extensions: tuple[tuple[str, Expr], ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Transform:
    """Steps applied in order to a copy of the event, then the optional envelope."""

    steps: tuple[TransformStep, ...] = ()
    envelope: Envelope | None = None
    span: Span = _span()


# --- rules, targets, rule sets --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A named destination: adapter ``type`` plus its options (frozen JSON)."""

    name: str
    type: str
    options: FrozenMap = FrozenMap()
    transform: Transform | None = None
    partition_key: Expr | None = None
    span: Span = _span()
    option_spans: OptionSpans = field(default=(), compare=False, repr=False)
    """Where each option (and each value inside one) is written, by pointer ``(name, ...)``;
    for diagnostics about options (E6xx), whichever rule-file format they came from."""

    @property
    def file(self) -> str:
        return self.span.file

    def option_span(self, pointer: tuple[str | int, ...], key: bool = False) -> Span:
        """The span of the option value at ``pointer`` (of its key with ``key``), or of its
        nearest written parent, or the target's."""
        best, best_len = self.span, -1
        for p, key_span, value_span in self.option_spans:
            if len(p) > best_len and pointer[: len(p)] == p:
                exact = len(p) == len(pointer)
                best, best_len = (key_span if key or not exact else value_span), len(p)
        return best


OptionSpans: TypeAlias = tuple[tuple[tuple[str | int, ...], Span, Span], ...]


def option_spans(
    options: Mapping[str, Any],
    key_of: Callable[[tuple[str | int, ...]], Span | None],
    value_of: Callable[[tuple[str | int, ...]], Span | None],
) -> OptionSpans:
    """Spans of every node of ``options``: (pointer, key span, value span)."""
    out: list[tuple[tuple[str | int, ...], Span, Span]] = []

    def walk(value: Any, ptr: tuple[str | int, ...]) -> None:
        vs = value_of(ptr)
        ks = key_of(ptr) or vs
        if ks is not None and vs is not None:
            out.append((ptr, ks, vs))
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, ptr + (str(k),))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, ptr + (i,))

    for k, v in options.items():
        walk(v, (str(k),))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TargetRef:
    name: str
    span: Span = _span()


OnMatch: TypeAlias = Lit["continue", "stop"]
OnError: TypeAlias = Lit["skip", "dead_letter", "null_fill"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One routing rule.  ``filters`` must all hold; no filters matches every event."""

    name: str
    filters: tuple[Filter, ...] = ()
    targets: tuple[TargetRef, ...] = ()
    description: str | None = None
    priority: int = 0
    enabled: bool = True
    transform: Transform | None = None
    on_match: OnMatch = "continue"
    on_error: OnError = "skip"
    span: Span = _span()

    @property
    def file(self) -> str:
        return self.span.file


@dataclass(frozen=True, slots=True)
class RuleSetIR:
    """Everything loaded together.  Rules keep file order (files in load order)."""

    targets: tuple[Target, ...] = ()
    rules: tuple[Rule, ...] = ()
    default_targets: tuple[TargetRef, ...] = ()
    deduplicate: bool = True
    metadata: FrozenMap = FrozenMap()
    files: tuple[str, ...] = ()

    def target(self, name: str) -> Target | None:
        for t in self.targets:
            if t.name == name:
                return t
        return None

    def ordered_rules(self) -> tuple[Rule, ...]:
        """Enabled rules in evaluation order: priority (higher first), then file order."""
        indexed = [(i, r) for i, r in enumerate(self.rules) if r.enabled]
        indexed.sort(key=lambda p: (-p[1].priority, p[0]))
        return tuple(r for _, r in indexed)


def merge(parts: list[RuleSetIR]) -> RuleSetIR:
    """Rule sets of several files, in order; name clashes are left to ``check``."""
    targets: list[Target] = []
    rules: list[Rule] = []
    defaults: list[TargetRef] = []
    files: list[str] = []
    meta: list[tuple[str, Any]] = []
    dedupe = True
    for p in parts:
        targets.extend(p.targets)
        rules.extend(p.rules)
        defaults.extend(p.default_targets)
        files.extend(p.files)
        meta.extend(p.metadata.items)
        dedupe = dedupe and p.deduplicate
    return RuleSetIR(tuple(targets), tuple(rules), tuple(defaults), dedupe, FrozenMap(tuple(meta)), tuple(files))
