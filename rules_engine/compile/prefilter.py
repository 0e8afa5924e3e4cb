"""Compile stage 5: a raw-byte prefilter, so that most events that cannot match are never decoded.

Position in the pipeline::

    Normalised (formulas over atoms) ──**build_prefilter**──▶ Prefilter
    event bytes ──Prefilter.rejects──▶ []                  (no rule can match: not decoded at all)
                                   └─▶ decode ──▶ match     (a candidate remains, or the text is unusual)

For every rule, the *literals* that any matching event's raw JSON text must
contain are derived from its atoms (``normalize.py``), in a bounded DNF: the
rule is a candidate only if, for some alternative, all its literals occur in
the text.  For ``{"properties": {"MAPBLKLOT": ["1430022"]}}`` the only literal
is ``"1430022"`` with its quotes; one Hyperscan scan of the event for every
literal of the rule set (the optional extra ``fast``; without it, no prefilter) decides::

    {"type":"Feature","properties":{"MAPBLKLOT":"1613035",...}}   no literal -> [] without decoding
    {"type":"Feature","properties":{"MAPBLKLOT":"1430022",...}}   "1430022" -> decode, match as usual

Literals per operator (only string operators give one; every other atom
constrains nothing here)::

    exact "v" / == "v" / in [...]       "v"         (one per value: an OR)
    prefix "p" / starts with            "p
    suffix "s" / ends with              s"
    equals-ignore-case / prefix / suffix, ASCII pattern: the same, matched ASCII-caselessly
    wildcard "a*b*c"                    "a  and  b  and  c"   (every fixed piece)
    contains "x" (expressions)          x

Invariants (no false negatives; each is a reason to decode as before):

  * Without a backslash anywhere in the text, a JSON string's characters are
    spelled literally in UTF-8, so ``"v"`` occurs whenever the value ``v``
    does.  An event holding any backslash (``\\u0041``, ``\\/``, ``\\"``) is
    decoded: the scan looks for ``\\`` too.
  * A literal is only derived from text JSON cannot spell otherwise: no
    ``"``, ``\\``, control characters or lone surrogates.  Exact strings that
    are IP addresses match other spellings (``eval_pattern.value_matches``):
    no literal.  Numbers, ``null``, booleans: no literal (``1``, ``1.0``, ``1e0``).
  * Ignore-case literals are ASCII and matched ASCII-caselessly; an event with
    any non-ASCII byte counts them all as present (``K``, the Kelvin sign,
    equals ``k`` ignoring case).
  * A rule with a branch that has no literal (numeric, anything-but, exists,
    CEL, ``not``) is a candidate for every event; a rule set with such a rule
    gets no prefilter at all (nothing could be rejected).
  * Text that is not plainly one JSON object (not ``{…}``), not UTF-8, or larger
    than the decoder's limit, is decoded, so bad input still raises its E5xx error.
    A rejected ``{…}`` is not otherwise validated: malformed JSON inside braces
    that no rule could match gives no match rather than an error.
  * Repeated keys only add text; the decoded value is still in it.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from rules_engine.compile.formula import FieldAtom, ValueAtom
from rules_engine.compile.normalize import Normalised, branches
from rules_engine.compile.runtime import wildcard_pieces
from rules_engine.model import ir
from rules_engine.model.events import MAX_EVENT_BYTES
from rules_engine.patterns.operands import ip_value

MAX_ALTERNATIVES = 16
"""Most literal alternatives one rule keeps (a larger product drops a conjunct: a weaker, still necessary test)."""

MAX_LITERALS = 32
"""A rule set with more literals than this gets no prefilter.  Compiling the scanner is the cost: Hyperscan
takes milliseconds per pattern with its value-end context (7,618 literals of 10,000 mixed rules: over a
minute), and with that many rules nearly every event holds some literal anyway (docs/performance.md)."""

BATCH_BYTES = 1 << 20
"""``to_decode`` joins events into buffers of about this size for one scan each."""

BACKENDS = ("auto", "hyperscan", "python")
"""``auto``: Hyperscan when installed, else no prefilter (measured: one ``bytes.__contains__`` per literal
costs more than it saves on the CL2 sets); ``python`` forces the pure-Python scanner (tests use it)."""

_SEP = b"\n"  # joins a batch: no literal holds a control character, so none spans two events


@dataclass(frozen=True, slots=True)
class Literal:
    """A byte string some matching event's raw text must contain (``caseless``: ASCII case ignored).

    ``end`` says where the string value it belongs to ends, so that a key spelled the same
    (``"BLKLOT":`` for the prefix ``"BL``) is no hit.  After a string *value*, JSON has
    optional whitespace and ``,``, ``}`` or ``]``; after a key, ``:``::

        END_NONE    anywhere (a middle piece of a wildcard, ``contains``)
        END_HERE    the literal ends with the value's closing quote ("v", s")
        END_LATER   the value goes on to its closing quote ("p): no '"' before it (no escapes: see above)
    """

    text: bytes
    caseless: bool
    end: int = 0


END_NONE, END_HERE, END_LATER = 0, 1, 2
_END_RE = {END_NONE: b"", END_HERE: rb"\s*[,}\]]", END_LATER: rb'[^"]*"\s*[,}\]]'}


def _regex(lit: Literal) -> bytes:
    """The literal and its end as a regular expression (Hyperscan and ``re`` read it alike)."""
    return b"".join(b"%c" % c if chr(c).isalnum() and c < 128 else b"\\x%02x" % c for c in lit.text) + _END_RE[lit.end]


MIN_CASELESS = 3
"""An ignore-case literal shorter than this (not counting quotes) is not used: measured, the CL2 sets with
two-character ignore-case values ran slower with the prefilter (it rejected 0-45% of events)."""

MIN_BARE = 3
"""A literal with no quote (a middle wildcard piece, ``contains``) shorter than this is not used: ``0`` is in
every event's numbers, and dropping a conjunct keeps a necessary condition."""


Alternatives = tuple[frozenset[Literal], ...]
"""A DNF: the text must contain every literal of at least one alternative; ``()`` never holds."""

# --- literals of atoms and rules ---------------------------------------------------------------------


def _spelled(s: str) -> bool:
    """Does JSON spell ``s`` only one way without backslashes (its characters, in UTF-8)?"""
    if any(c in s for c in '"\\') or any(ord(c) < 0x20 for c in s):
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only \\uXXXX can spell it
        return False
    return True


def _lit(s: str, *, before: str = "", after: str = "", caseless: bool = False) -> Literal | None:
    if not s or not _spelled(s) or (caseless and not s.isascii()):
        return None
    if not before and not after and len(s) < MIN_BARE:
        return None
    if len(s) < 2 and not (before and after):
        return None  # "2 or 7" (a one-character prefix or suffix) is in most events: it would reject few
    if caseless and len(s) < MIN_CASELESS:
        return None  # "st" ignoring case is in half the city lots (ST_TYPE): scanning costs more than it saves
    text = before + (s.lower() if caseless else s) + after
    end = END_HERE if after else END_LATER if before else END_NONE
    return Literal(text.encode("utf-8"), caseless, end)


def _one(lit: Literal | None) -> Alternatives | None:
    return None if lit is None else (frozenset((lit,)),)


def matcher_literals(m: ir.Matcher) -> Alternatives | None:
    """What a leaf value satisfying ``m`` leaves in the text; None: nothing usable."""
    if isinstance(m, ir.MExact):
        v = m.value
        if not isinstance(v, str) or ip_value(v) is not None:
            return None
        return _one(_lit(v, before='"', after='"') if v else Literal(b'""', False, END_HERE))
    if isinstance(m, ir.MPrefix):
        return _one(_lit(m.value, before='"', caseless=m.ignore_case))
    if isinstance(m, ir.MSuffix):
        return _one(_lit(m.value, after='"', caseless=m.ignore_case))
    if isinstance(m, ir.MEqualsIgnoreCase):
        return _one(_lit(m.value, before='"', after='"', caseless=True))
    if isinstance(m, ir.MWildcard):
        pieces = wildcard_pieces(m.pattern)
        if len(pieces) == 1:
            return _one(_lit(pieces[0], before='"', after='"') if pieces[0] else Literal(b'""', False, END_HERE))
        found: list[Literal | None] = [_lit(pieces[0], before='"'), _lit(pieces[-1], after='"')]
        found += [_lit(p) for p in pieces[1:-1]]
        got = frozenset(x for x in found if x is not None)
        return (got,) if got else None
    return None  # numbers, ranges, anything-but, exists, CIDR


def atom_literals(atom: Any) -> Alternatives | None:
    """The literal DNF of one atom (``normalize.Atom``); None when it leaves no usable literal."""
    alts: list[frozenset[Literal]] = []
    if isinstance(atom, FieldAtom):
        for m in atom.matchers:
            got = matcher_literals(m)
            if got is None:
                return None  # one matcher without a literal: the atom may hold without any
            alts.extend(got)
    elif isinstance(atom, ValueAtom):
        op, v = atom.op, atom.operand
        values = v if op == "in" else (v,)
        for x in values:
            if not isinstance(x, str):
                return None
            if op in ("==", "in"):
                lit = _lit(x, before='"', after='"') if x else Literal(b'""', False, END_HERE)
            elif op == "starts_with":
                lit = _lit(x, before='"')
            elif op == "ends_with":
                lit = _lit(x, after='"')
            elif op == "contains":
                lit = _lit(x)
            elif op == "equals_ignore_case":
                lit = (
                    _lit(x, before='"', after='"', caseless=True) if x.isascii() and x.casefold() == x.lower() else None
                )
            else:
                return None
            if lit is None:
                return None
            alts.append(frozenset((lit,)))
    else:
        return None  # opaque: arithmetic, quantifiers, CEL
    return tuple(dict.fromkeys(alts)) or None


def rule_literals(n: Normalised, ordinal: int, cache: dict[int, Alternatives | None]) -> Alternatives | None:
    """The literal DNF of one rule: a match satisfies some branch (``normalize.branches``), and every
    atom of that branch; None: some branch leaves no literal (the rule is a candidate for any text)."""
    out: list[frozenset[Literal]] = []
    for branch in branches(n.rules[ordinal].formula):
        acc: list[frozenset[Literal]] = [frozenset()]
        per_atom: list[Alternatives] = []
        for pid in sorted(branch):
            if pid not in cache:
                cache[pid] = atom_literals(n.atoms[pid])
            got = cache[pid]
            if got is not None:
                per_atom.append(got)
        for alts in sorted(per_atom, key=len):  # fewest alternatives first: the product stays small
            if len(acc) * len(alts) > MAX_ALTERNATIVES:
                continue  # dropping a conjunct keeps a necessary condition
            acc = list(dict.fromkeys(a | b for a in acc for b in alts))
        if acc == [frozenset()]:
            return None
        out.extend(acc)
        if len(out) > 4 * MAX_ALTERNATIVES:
            return None
    return tuple(dict.fromkeys(out))


# --- scanners ----------------------------------------------------------------------------------------


class _Hyperscan:
    """Hyperscan block-mode databases of every literal (plus ``\\``), scratch space per thread.

    Two databases: one reporting each literal once per event (``rejects``) and one reporting
    every occurrence with its offset (``to_decode`` scans a joined batch).
    """

    name = "hyperscan"

    def __init__(self, literals: Sequence[Literal], backslash: int) -> None:
        import hyperscan

        self._hs = hyperscan
        exprs = [_regex(lit) for lit in literals] + [b"\\x5c"]
        flags = [hyperscan.HS_FLAG_CASELESS if lit.caseless else 0 for lit in literals] + [0]
        self._single = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._single.compile(
            expressions=exprs,
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=[f | hyperscan.HS_FLAG_SINGLEMATCH for f in flags],
        )
        self._every = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._every.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
        self._local = threading.local()  # scratch space belongs to one scanning thread at a time

    def _scratch(self) -> tuple[Any, Any]:
        s = getattr(self._local, "scratch", None)
        if s is None:
            s = self._local.scratch = (self._hs.Scratch(self._single), self._hs.Scratch(self._every))
        return s

    def hits(self, data: bytes) -> set[int]:
        found: set[int] = set()
        add = found.add

        def on_match(i: int, start: int, end: int, flags: int, ctx: Any) -> None:
            add(i)

        self._single.scan(data, match_event_handler=on_match, scratch=self._scratch()[0])
        return found

    def hits_joined(self, data: bytes) -> list[tuple[int, int]]:
        """(literal id, end offset) of every occurrence in a joined batch."""
        found: list[tuple[int, int]] = []
        add = found.append

        def on_match(i: int, start: int, end: int, flags: int, ctx: Any) -> None:
            add((i, end))

        self._every.scan(data, match_event_handler=on_match, scratch=self._scratch()[1])
        return found


class _Python:
    """``bytes.__contains__`` (C ``memmem``), then ``re`` for the literal's end.  Chosen explicitly only
    (``prefilter="python"``): slower than no prefilter on the CL2 sets, kept as a second scanner for tests."""

    name = "python"

    def __init__(self, literals: Sequence[Literal], backslash: int) -> None:
        self._checks = tuple(
            (
                i,
                None if lit.caseless else lit.text,
                re.compile(_regex(lit), re.IGNORECASE if lit.caseless else 0).search
                if lit.caseless or lit.end
                else None,
            )
            for i, lit in enumerate(literals)
        )
        self._backslash = backslash

    def hits(self, data: bytes) -> set[int]:
        found = set()
        for i, text, search in self._checks:
            if (text is None or text in data) and (search is None or search(data) is not None):
                found.add(i)
        if b"\\" in data:
            found.add(self._backslash)
        return found


def _backend(name: str, literals: Sequence[Literal], backslash: int) -> _Hyperscan | _Python | None:
    if name == "python":
        return _Python(literals, backslash)
    try:
        return _Hyperscan(literals, backslash)
    except ImportError:
        if name == "hyperscan":
            raise
        return None


# --- the prefilter --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prefilter:
    """The literals of a rule set in which every rule has some, and how hits make candidates.

    ``triggers[i]`` lists, for literal ``i``, the rest of each alternative it triggers (the longest
    literal of an alternative triggers it): a rule is a candidate when some trigger hit and every
    literal of its rest hit too.
    """

    literals: tuple[Literal, ...]
    triggers: tuple[tuple[tuple[int, ...], ...], ...]
    caseless: frozenset[int]  # ids of caseless literals: all present on non-ASCII text
    covered: int  # rules with literals (here: all enabled rules)
    scanner: Any = field(repr=False)

    @property
    def backend(self) -> str:
        return str(self.scanner.name)

    def rejects(self, raw: bytes | bytearray | memoryview | str) -> bool:
        """True when no rule can match ``raw`` (decode nothing); False: decode and match as usual."""
        if type(raw) is bytes and _plain_ascii(raw):
            data = raw
        else:
            plain = _plain_object(raw)
            if plain is None:
                return False
            data = plain
        found = self.scanner.hits(data)
        if not found and not self.caseless:
            return True
        return self._rejects_hits(data, found)

    def _rejects_hits(self, data: bytes, found: set[int]) -> bool:
        if len(self.literals) in found:  # a backslash: some string may be spelled with escapes
            return False
        if self.caseless and not data.isascii():
            found |= self.caseless
        triggers = self.triggers
        for i in found:
            for rest in triggers[i]:
                if all(x in found for x in rest):
                    return False
        return True

    def to_decode(self, raws: Sequence[bytes | bytearray | memoryview | str]) -> list[int]:
        """The positions of the events ``rejects`` would not reject, in order; with Hyperscan one
        scan per joined batch of about ``BATCH_BYTES`` (fewer calls than one per event)."""
        scanner = self.scanner
        if not isinstance(scanner, _Hyperscan):
            return [k for k, raw in enumerate(raws) if not self.rejects(raw)]
        keep: list[int] = []
        chunk: list[bytes] = []
        where: list[int] = []  # position in raws of each chunk part
        size = 0
        for k, raw in enumerate(raws):
            if type(raw) is bytes and _plain_ascii(raw):
                data = raw
            else:
                plain = _plain_object(raw)
                if plain is None:
                    keep.append(k)
                    continue
                data = plain
            chunk.append(data)
            where.append(k)
            size += len(data) + 1
            if size >= BATCH_BYTES:
                keep += self._scan_chunk(scanner, chunk, where)
                chunk, where, size = [], [], 0
        if chunk:
            keep += self._scan_chunk(scanner, chunk, where)
        keep.sort()
        return keep

    def _scan_chunk(self, scanner: _Hyperscan, chunk: list[bytes], where: list[int]) -> list[int]:
        hits = scanner.hits_joined(_SEP.join(chunk))
        if not hits and not self.caseless:
            return []
        ends = list(accumulate(len(part) + 1 for part in chunk))  # just past each part's separator
        per: dict[int, set[int]] = {}
        for i, end in hits:  # a match ends inside part k: ends[k-1] < end < ends[k]
            k = bisect_right(ends, end - 1)
            got = per.get(k)
            if got is None:
                per[k] = {i}
            else:
                got.add(i)
        if self.caseless:  # non-ASCII text holds every caseless literal: parts without hits count too
            for k, part in enumerate(chunk):
                if k not in per and not part.isascii():
                    per[k] = set()
        return [where[k] for k, found in per.items() if not self._rejects_hits(chunk[k], found)]


def _plain_ascii(raw: bytes) -> bool:
    """The common case, tested first: ASCII bytes ``{…}`` within the size limit."""
    return raw[:1] == b"{" and raw[-1:] == b"}" and len(raw) <= MAX_EVENT_BYTES and raw.isascii()


def _plain_object(raw: bytes | bytearray | memoryview | str) -> bytes | None:
    """``raw`` as bytes when it may be rejected: it reads as one JSON object ``{…}`` within the size
    limit; None sends it to the decoder (which raises the E5xx error for bad input)."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            return None
    elif isinstance(raw, bytes):
        data = raw
    elif isinstance(raw, (bytearray, memoryview)):
        data = bytes(raw)
    else:
        return None  # not text at all: the decoder names what it is
    if len(data) > MAX_EVENT_BYTES:
        return None
    if data[:1] != b"{" or data[-1:] != b"}":
        data2 = data.strip()
        if data2[:1] != b"{" or data2[-1:] != b"}":
            return None
    if not data.isascii():
        try:
            data.decode("utf-8")  # the decoder names a bad byte (E501): reject only valid text
        except UnicodeDecodeError:
            return None
    return data


def build_prefilter(n: Normalised, backend: str = "auto") -> Prefilter | None:
    """The prefilter of a normalised rule set, or None when it could reject nothing (some rule has a
    branch without literals), its literals are more than ``MAX_LITERALS``, or (``auto``) Hyperscan is
    not installed."""
    if backend not in BACKENDS:
        raise ValueError(f"prefilter backend must be one of {BACKENDS}, not {backend!r}")
    cache: dict[int, Alternatives | None] = {}
    per_rule: list[Alternatives] = []
    ids: dict[Literal, int] = {}
    for r in n.rules:
        got = rule_literals(n, r.ordinal, cache)
        if got is None:
            return None
        per_rule.append(got)
        for alt in got:
            for lit in sorted(alt, key=lambda x: (x.text, x.caseless)):
                ids.setdefault(lit, len(ids))
        if len(ids) > MAX_LITERALS:
            return None  # stop early: a large rule set costs no more than its first literals
    literals = tuple(ids)
    triggers: list[list[tuple[int, ...]]] = [[] for _ in literals]
    for alts in per_rule:
        for alt in alts:
            order = sorted(alt, key=lambda x: (-len(x.text), x.text, x.caseless))
            rest = tuple(ids[x] for x in order[1:])
            if rest not in triggers[ids[order[0]]]:
                triggers[ids[order[0]]].append(rest)
    triggers.append([])  # the backslash sentinel triggers nothing itself
    if not literals:
        scanner: Any = _Python((), 0)  # no rule can match at all: every object is rejected
    else:
        scanner = _backend(backend, literals, len(literals))
        if scanner is None:
            return None
    caseless = frozenset(i for i, lit in enumerate(literals) if lit.caseless)
    return Prefilter(literals, tuple(tuple(t) for t in triggers), caseless, len(per_rule), scanner)


def coverage(n: Normalised) -> tuple[int, int]:
    """(rules with literals, literals) whether or not a prefilter is built: for ``--show stats``."""
    cache: dict[int, Alternatives | None] = {}
    lits: set[Literal] = set()
    covered = 0
    for r in n.rules:
        got = rule_literals(n, r.ordinal, cache)
        if got is not None:
            covered += 1
            for alt in got:
                lits |= alt
    return covered, len(lits)


def rejected_share(pf: Prefilter | None, raws: Iterable[bytes]) -> tuple[int, int]:
    """(events rejected before decoding, events) over a sample."""
    if pf is None:
        return 0, sum(1 for _ in raws)
    events = list(raws)
    return len(events) - len(pf.to_decode(events)), len(events)


Reject = Callable[[bytes | bytearray | memoryview | str], bool]
