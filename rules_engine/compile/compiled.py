"""The compiled rule set: every rule evaluated in one pass over the event.

Position in the pipeline::

    RuleSetIR ──**compile_ruleset**──▶ CompiledRuleSet ──match(event) / match_raw(bytes)──▶ matched rules

The compiler is a named, ordered list of pure stages (:data:`STAGES`), run in
that order by :func:`compile_ruleset` and timed when it is given a clock::

    normalise   filters -> formulas over shared atoms; one anchor per branch   (normalize.py, entries.py)
    index       anchors -> per-name / per-path tables, one per kind            (index.py, kinds.py)
    generate    one specialised ``match(event)`` function, Python source       (codegen*.py)
    decoder     msgspec types naming only the keys some rule reads              (decode.py)
    prefilter   literals every match's raw text holds: reject before decoding   (prefilter.py)

A :class:`CompiledRuleSet` is immutable and shared between threads; a reload
builds a new one and swaps one reference.  Its answers are the reference
evaluator's (``reference.matching_rules``), in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules_engine.compile.cel_codegen import compile_cel
from rules_engine.compile.cesql_codegen import compile_cesql
from rules_engine.compile.codegen import Generated, generate
from rules_engine.compile.codegen_probes import key_prefix
from rules_engine.compile.codegen_struct import StructMatch, raw_matcher, struct_match
from rules_engine.compile.decode import EventDecoder, name_splits, plan_decoder
from rules_engine.compile.formula import FieldAtom, OpaqueAtom, ValueAtom
from rules_engine.compile.index import Index, atom_leaves, build_index
from rules_engine.compile.normalize import Normalised, normalise
from rules_engine.compile.prefilter import MAX_LITERALS, Prefilter, build_prefilter, coverage
from rules_engine.model import ir


@dataclass(frozen=True, slots=True)
class Stats:
    """What ``rules-engine compile --show stats`` prints."""

    rules: int
    atoms: int  # atom occurrences over all rules
    predicates: int  # distinct atoms
    paths: int  # names / paths / subtrees the rule set reads (-1: it may read anything)
    decoded_paths: int  # key paths the partial decoder names (dotted names in every split); -1: full decode
    indexed: int  # predicates used as anchors (looked up, not scanned)
    candidate_only: int  # predicates run only for candidate rules
    exact_rules: int  # rules decided by their anchor alone
    always_candidates: int  # rules checked for every event
    cel_fallbacks: int  # CEL filters run by cel-python (not translated)
    expr_fallbacks: int  # expression filters run by the reference evaluator (too deep to translate)
    closures: int  # rules whose check is too deep for generated source
    partial_decode: bool  # raw events are decoded partially
    prefilter_rules: int = 0  # rules whose matches need literals in the raw text
    prefilter_literals: int = 0
    prefilter_backend: str = ""  # "": no prefilter (some rule has no literal, or it is turned off)
    struct_match: bool = False  # plain raw events are matched on msgspec's structs (codegen_struct.py)

    def _prefilter_off(self) -> str:
        if self.prefilter_rules < self.rules:
            n = self.rules - self.prefilter_rules
            return f"off ({n} rule{'' if n == 1 else 's'} without literals: every event is decoded)"
        if self.prefilter_literals > MAX_LITERALS:
            return f"off (more than {MAX_LITERALS} literals)"
        return "off (Hyperscan is not installed: pip install 'rules-engine[fast]')"

    def rows(self) -> list[tuple[str, Any]]:
        return [
            ("rules", self.rules),
            ("atoms", self.atoms),
            ("distinct predicates", self.predicates),
            ("paths read", self.paths if self.paths >= 0 else "all (a CEL fallback or $ reads anything)"),
            ("key paths decoded", self.decoded_paths if self.decoded_paths >= 0 else "all (full decode)"),
            ("indexed predicates", self.indexed),
            ("candidate-only predicates", self.candidate_only),
            ("rules decided by the index", self.exact_rules),
            ("rules checked for every event", self.always_candidates),
            ("CEL fallbacks", self.cel_fallbacks),
            ("expression fallbacks", self.expr_fallbacks),
            ("partial decoding", "yes" if self.partial_decode else "no (full decode)"),
            ("matching decoded structs", "yes (plain events)" if self.struct_match else "no (dicts)"),
            ("prefilter rules covered", f"{self.prefilter_rules} of {self.rules}"),
            ("prefilter literals", self.prefilter_literals),
            ("prefilter", self.prefilter_backend or self._prefilter_off()),
        ]


@dataclass(frozen=True, slots=True)
class CompiledRuleSet:
    """Enabled rules in evaluation order, their shared index and the generated matcher.

    ``match`` is the generated function itself (one attribute lookup on the
    hot path): ``compiled.match(event) -> list[ir.Rule]``.
    """

    rules: tuple[ir.Rule, ...]
    normalised: Normalised
    index: Index
    generated: Generated
    decoder: EventDecoder
    match: Callable[[Mapping[str, Any]], list[ir.Rule]]
    timings: tuple[tuple[str, float], ...] = ()  # (stage, seconds) when compiled with a clock
    prefilter: Prefilter | None = None  # the raw-byte prefilter (prefilter.py); None: every event is decoded
    match_struct: StructMatch | None = None  # ``match`` on msgspec's structs (codegen_struct.py); None: dicts
    # decode and match one raw event (``codegen_struct.raw_matcher``); built from the fields above
    decode_match: Callable[[Any], list[ir.Rule]] = field(init=False, repr=False, compare=False)
    # the per-event test of ``matching_raw``: the prefilter's, only when it has a quick screen (``screen``)
    _screen: Callable[[Any], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # made here, so dataclasses.replace never keeps a stale one
        object.__setattr__(self, "decode_match", raw_matcher(self.match, self.decoder, self.match_struct))
        pf = self.prefilter
        object.__setattr__(self, "_screen", pf.screen if pf is not None and pf.quick is not None else None)

    def matching(self, event: Mapping[str, Any]) -> list[ir.Rule]:
        """The Matcher protocol of ``ruleset.py``."""
        return self.match(event)

    def matching_raw(self, raw: bytes | bytearray | memoryview | str) -> list[ir.Rule]:
        """Matched rules for raw JSON; decodes only what the rules read (E5xx ``RuleError`` on bad input)."""
        screen = self._screen
        if screen is not None and screen(raw):
            return []
        return self.decode_match(raw)

    def matching_raw_many(self, raws: Sequence[bytes | bytearray | memoryview | str]) -> list[Sequence[ir.Rule]]:
        """``matching_raw`` for a batch: one prefilter scan for the whole batch (``prefilter.py``).
        An event the prefilter rejects gets the empty tuple (shared, nothing to allocate or collect)."""
        dm, pf = self.decode_match, self.prefilter
        if pf is None:
            return [dm(raw) for raw in raws]
        out: list[Sequence[ir.Rule]] = [()] * len(raws)
        for k in pf.to_decode(raws):
            out[k] = dm(raws[k])
        return out

    @property
    def source(self) -> str:
        return self.generated.source

    def stats(self) -> Stats:
        n = self.normalised
        covered, literals = coverage(n)
        anchors = {p for r in n.rules if r.anchors for p in r.anchors}
        return Stats(
            rules=len(self.rules),
            atoms=n.atom_count,
            predicates=len(n.atoms),
            paths=read_count(n),
            decoded_paths=len(self.decoder.paths) if self.decoder.paths is not None else -1,
            indexed=len(anchors),
            candidate_only=len(n.atoms) - len(anchors),
            exact_rules=sum(1 for r in n.rules if r.exact),
            always_candidates=len(self.index.always),
            cel_fallbacks=self.generated.cel_fallbacks,
            expr_fallbacks=self.generated.expr_fallbacks,
            closures=self.generated.closures,
            partial_decode=self.decoder.partial is not None,
            struct_match=self.match_struct is not None,
            prefilter_rules=covered,
            prefilter_literals=literals,
            prefilter_backend=self.prefilter.backend if self.prefilter is not None else "",
        )


def read_count(n: Normalised) -> int:
    """Distinct EventBridge names, expression paths and subtrees read (-1: anything)."""
    seen: set[Any] = set()
    for atom in n.atoms:
        if isinstance(atom, FieldAtom):
            seen.add(("name", atom.name))
        elif isinstance(atom, ValueAtom):
            seen.add(("path", atom.path))
        elif atom.kind == "cel":
            fields = compile_cel(atom.text).fields
            if fields is None:
                return -1
            seen.update(("path", f) for f in fields)
        elif atom.kind == "cesql":
            seen.update(("path", (name,)) for name in compile_cesql(atom.text).attributes)
        else:
            assert atom.node is not None
            for path in _expr_paths(atom.node):
                if path == ():
                    return -1
                seen.add(("path", path))
    return len(seen)


def plan_reads(n: Normalised) -> EventDecoder:
    """The partial decoder of what ``n`` reads, with its typed paths: the name leaves (read only as
    EventBridge names' plain spellings and prefix of no other path read: a scalar or an array there, or
    nothing the name can see) and the refused spellings (read only as a name's dotted spellings,
    ``("a.b", "c")`` for ``a.b.c``)."""
    kinds = _reads_by_kind(n)
    if kinds is None:
        return plan_decoder(None)
    plain, dotted, other = kinds
    every = plain | dotted | other
    inner = {p[:j] for p in every for j in range(1, len(p))}
    return plan_decoder(every, plain - dotted - other - inner, dotted - plain - other)


def _reads_by_kind(
    n: Normalised,
) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]], set[tuple[str, ...]]] | None:
    """(names' plain spellings, names' dotted spellings, paths other atoms read); None: anything."""
    plain: set[tuple[str, ...]] = set()
    dotted: set[tuple[str, ...]] = set()
    out: set[tuple[str, ...]] = set()
    for atom in n.atoms:
        if isinstance(atom, FieldAtom):
            splits = name_splits(atom.name)
            if splits is None:
                return None
            segs = tuple(atom.name.split("."))  # one of the splits: every segment a key of its own
            plain.add(segs)
            dotted.update(sp for sp in splits if sp != segs)
        elif isinstance(atom, ValueAtom):
            out.add(key_prefix(atom.path))
        elif isinstance(atom, OpaqueAtom) and atom.kind == "cel":
            fields = compile_cel(atom.text).fields
            if fields is None:
                return None
            out.update(fields)
        elif isinstance(atom, OpaqueAtom) and atom.kind == "cesql":
            out.update((name,) for name in compile_cesql(atom.text).attributes)  # top-level attributes only
        else:
            assert isinstance(atom, OpaqueAtom) and atom.node is not None
            for path in _expr_paths(atom.node):
                out.add(key_prefix(path))
    if () in out:
        return None
    return plain, dotted, out


def _expr_paths(e: ir.Expr) -> Iterator[ir.Path]:
    """Event paths an expression reads (fields of bound variables read inside values already read)."""
    stack: list[Any] = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ir.Field):
            if x.var is None:
                yield x.path
            continue
        if isinstance(x, ir.Cel):
            yield ()  # CEL inside an expression: read everything
            continue
        for name in getattr(x, "__slots__", ()):
            if name == "span":
                continue
            v = getattr(x, name)
            if isinstance(v, tuple):
                for item in v:
                    if isinstance(item, tuple):
                        stack.extend(i for i in item if not isinstance(i, str))
                    elif not isinstance(item, (str, int, float, bool)) and item is not None:
                        stack.append(item)
            elif not isinstance(v, (str, int, float, bool)) and v is not None:
                stack.append(v)


# --- the stages -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Work:
    """What the stages have made so far, for one compile (local to it, never shared)."""

    rs: ir.RuleSetIR
    normalised: Normalised | None = None
    leaves: tuple[Callable[[Any], bool] | None, ...] = ()
    index: Index | None = None
    generated: Generated | None = None
    decoder: EventDecoder | None = None
    prefilter_backend: str | None = "auto"
    prefilter: Prefilter | None = None
    match_struct: StructMatch | None = None


def _normalise(w: _Work) -> None:
    w.normalised = normalise(w.rs)


def _index(w: _Work) -> None:
    assert w.normalised is not None
    w.leaves = atom_leaves(w.normalised)  # one exact per-value test per atom, shared by the index and the checks
    w.index = build_index(w.normalised, w.leaves)


def _generate(w: _Work) -> None:
    assert w.normalised is not None and w.index is not None
    w.generated = generate(w.normalised, w.index, tuple(r.rule for r in w.normalised.rules), w.leaves)


def _decoder(w: _Work) -> None:
    assert w.normalised is not None
    w.decoder = plan_reads(w.normalised)


def _struct(w: _Work) -> None:
    assert w.generated is not None and w.decoder is not None
    w.match_struct = struct_match(w.generated, w.decoder)


def _prefilter(w: _Work) -> None:
    assert w.normalised is not None
    if w.prefilter_backend is not None:
        w.prefilter = build_prefilter(w.normalised, w.prefilter_backend)


@dataclass(frozen=True, slots=True)
class Stage:
    """One named step of the compiler: it reads what earlier stages made and adds its own product."""

    name: str
    doc: str
    run: Callable[[_Work], None]


STAGES: tuple[Stage, ...] = (
    Stage("normalise", "filters -> formulas over shared atoms; anchors", _normalise),
    Stage("index", "anchors -> hash maps, tries of affixes, sorted bounds", _index),
    Stage("generate", "specialised match(event) as Python source", _generate),
    Stage("decoder", "msgspec types for the keys rules read", _decoder),
    Stage("struct", "match on those types for plain events (no dicts)", _struct),
    Stage("prefilter", "literals every match leaves in the raw text; one scan rejects the rest", _prefilter),
)
"""The compiler, as data: :func:`compile_ruleset` runs these in order (and times each when asked)."""


def compile_ruleset(rs: ir.RuleSetIR, *, clock: Callable[[], float] | None = None,
                    prefilter: str | None = "auto") -> CompiledRuleSet:
    """Compile every enabled rule of ``rs`` into one structure by running :data:`STAGES` in order.

    Pure (no I/O, no clock) unless ``clock`` is given: then each stage is timed with it and the
    seconds are in :attr:`CompiledRuleSet.timings` (``rules-engine compile --show stats`` prints them).
    ``prefilter``: the scanner of the raw-byte prefilter (``prefilter.BACKENDS``), None for none.
    """
    work = _Work(rs, prefilter_backend=prefilter)
    timings: list[tuple[str, float]] = []
    for stage in STAGES:
        started = clock() if clock is not None else 0.0
        stage.run(work)
        if clock is not None:
            timings.append((stage.name, clock() - started))
    assert work.normalised is not None and work.index is not None
    assert work.generated is not None and work.decoder is not None
    rules = tuple(r.rule for r in work.normalised.rules)
    return CompiledRuleSet(rules, work.normalised, work.index, work.generated, work.decoder,
                           work.generated.function, tuple(timings), work.prefilter, work.match_struct)
