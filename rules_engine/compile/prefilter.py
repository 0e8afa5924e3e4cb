"""Compile stage 5: a raw-byte prefilter, so that most events that cannot match are never decoded.

Position in the pipeline::

    Normalised (formulas over atoms) ──**build_prefilter**──▶ Prefilter
    event bytes ──Prefilter.rejects──▶ []                  (no rule can match: not decoded at all)
                                   └─▶ decode ──▶ match     (a candidate remains, or the text is unusual)

For every rule, the *literals* that any matching event's raw JSON text must
contain are derived from its atoms (``normalize.py``), in a bounded DNF: the
rule is a candidate only if, for some alternative, all its literals occur in
the text.  An EventBridge field's literal is **bound to its key**: for
``{"properties": {"MAPBLKLOT": ["1430022"]}}`` it is the pattern
``"MAPBLKLOT"\\s*:\\s*(?:\\[|"1430022")`` (the key, then the value or an
array).  One Hyperscan scan of the event for every literal of the rule set (the
optional extra ``fast``; without it, no prefilter) decides::

    {"type":"Feature","properties":{"MAPBLKLOT":"1613035",...}}   no literal -> [] without decoding
    {"type":"Feature","properties":{"MAPBLKLOT":"1430022",...}}   a hit -> decode, match as usual

Literals per operator (only string operators give one; every other atom
constrains nothing here)::

    EventBridge, after the key "k" : (an array, or)      expressions (free: anywhere)
    exact "v"                       "v"                  == "v" / in [...]   "v" then the value's end
    prefix "p"                      "p                   starts with         "p…" then the end
    suffix "s"                      "…s"                 ends with           s" then the end
    equals-ignore-case / prefix / suffix (ASCII)         equals_ignore_case  "v", 3+ letters, caselessly
                                    the same, caselessly
    wildcard "a*b*c"                "a…b…c"              contains "x"        x (3+ characters)

A bound literal is selective whatever its length (``"ST_TYPE":"st"`` caselessly,
the wildcard ``"2*0*1*7"``); a free one must be long enough not to be in every
event (``on"`` ends ``"Polygon"``).

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
  * A bound literal accepts every key the dotted name can be read from
    (``a.b.c``: ``"a.b.c"``, ``"b.c"``, ``"c"``, as ``field_values`` reads it), any
    whitespace around the colon, and any array after the key (not looked into);
    inside a string ``[^"\\n]*`` stands for any characters (no backslash: a quote
    ends the string, and a raw newline is not allowed in one).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate
from operator import add
from typing import Any, cast

from rules_engine.compile.literals import Alternatives, Literal, rule_literals
from rules_engine.compile.normalize import Normalised
from rules_engine.compile.scanners import HyperscanScanner, PythonScanner, quick_screen, scanner_for
from rules_engine.model.events import MAX_EVENT_BYTES

MAX_LITERALS = 32
"""A rule set with more literals than this gets no prefilter.  Compiling the scanner is the cost: Hyperscan
takes milliseconds per pattern with its value-end context (7,618 literals of 10,000 mixed rules: over a
minute), and with that many rules nearly every event holds some literal anyway (docs/performance.md)."""

BATCH_BYTES = 960 << 10
"""``to_decode`` joins events into buffers of about this size for one scan each (measured on city lots:
256 KB buffers were 1.1x slower, 64 KB 1.3x).  Below the decoder's size limit, so that a buffer seldom
needs its parts' sizes checked one by one."""

BACKENDS = ("auto", "hyperscan", "python")
"""``auto``: Hyperscan when installed, else no prefilter (measured: one ``bytes.__contains__`` per literal
costs more than it saves on the CL2 sets); ``python`` forces the pure-Python scanner (tests use it)."""

_MAX = MAX_EVENT_BYTES
_SEP = b"\n"  # joins a batch (``Prefilter._batch``)
_BYTE_TYPES = frozenset({bytes, bytearray})  # parts whose ``len`` is their size in bytes
_FIRST_COUNT = 256  # events in the first buffer of a batch (then sized by the bytes seen)
_MAX_COUNT = 1 << 13  # most events in one buffer (its size is not checked per event: a slice of the batch, copied)
_JOIN_CAP = 4 * BATCH_BYTES  # a larger joined buffer is split in halves before it is scanned
_JSON_SPACE = b" \t\n\r"


# --- the prefilter --------------------------------------------------------------------------------------


class Gate:
    """Whether scanning pays on the events seen lately (the cost model of "Filter Before You Parse",
    kept simple): after every ``WINDOW`` scanned events, a rejected share under ``MIN_SHARE`` pauses
    the scan for the next ``PAUSE`` events (decoded as without a prefilter), then it is measured again.

    Measured on the CL2 sets (docs/performance.md): a scan that rejects 45% of the events (the
    ``EQUALS_IGNORE_CASE`` set: ``"ST_TYPE":"st"`` holds in 55%) made matching 0.7x as fast; 70% and
    more paid.  The gate changes which events are scanned, never an answer (a paused event is decoded
    and matched).  Counters are shared by threads without a lock: a lost update only shifts a window.
    """

    __slots__ = ("rejected", "scanned", "skip")
    WINDOW = 1000
    MIN_SHARE = 0.5
    PAUSE = 20_000

    def __init__(self) -> None:
        self.scanned = self.rejected = self.skip = 0

    def note(self, scanned: int, rejected: int) -> None:
        self.scanned += scanned
        self.rejected += rejected
        if self.scanned >= self.WINDOW:
            if self.rejected < self.MIN_SHARE * self.scanned:
                self.skip = self.PAUSE
            self.scanned = self.rejected = 0


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
    gate: Gate = field(default_factory=Gate, repr=False, compare=False)
    quick: tuple[Callable[[bytes], Any], ...] | None = field(default=None, repr=False, compare=False)
    single: bool = False  # every alternative is one literal: a quick hit means "decode", no need to know which

    @property
    def backend(self) -> str:
        return str(self.scanner.name)

    def screen(self, raw: bytes | bytearray | memoryview | str) -> bool:
        """The per-event test (``matching_raw``): ``rejects`` through the quick screen while the gate says
        scanning pays; False (decode) while it is paused, and always without a quick screen: one Hyperscan
        call from Python per event costs about what decoding a city lot does since structs are matched
        directly (mixed 10 rules, 70% rejected: 4.6 µs an event with it, 3.6 without).  Batches scan."""
        quick = self.quick
        if quick is None:
            return False
        gate = self.gate
        if gate.skip > 0:  # "> 0": racing threads may take it below zero
            gate.skip -= 1
            return False
        if type(raw) is bytes and raw[:1] == b"{" and raw[-1:] == b"}" and len(raw) <= _MAX and raw.isascii():
            if b"\\" in raw:  # the common case inline (``_plain_ascii``): one call fewer per event
                got = False  # escapes: decode
            else:
                got = True
                for search in quick:
                    if search(raw) is not None:  # some literal occurs (ASCII text: caseless ones only if found)
                        got = False if self.single else self.rejects(raw)
                        break
        else:
            got = self.rejects(raw)
        gate.scanned += 1
        if got:
            gate.rejected += 1
        if gate.scanned >= gate.WINDOW:
            gate.note(0, 0)
        return got

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

    def to_decode(self, raws: Sequence[bytes | bytearray | memoryview | str], *, adaptive: bool = True) -> list[int]:
        """The positions of the events ``rejects`` would not reject, in order; with Hyperscan one
        scan per joined buffer of about ``BATCH_BYTES`` (fewer calls than one per event).
        ``adaptive``: the gate may pause the scan (those events are all kept, at no cost per event);
        off for statistics."""
        scanner = self.scanner
        if not isinstance(scanner, HyperscanScanner):
            if adaptive:
                return [k for k, raw in enumerate(raws) if not self.screen(raw)]
            return [k for k, raw in enumerate(raws) if not self.rejects(raw)]
        if not isinstance(raws, (list, tuple)):
            raws = list(raws)  # sliced below (a deque is a Sequence that cannot be)
        n = len(raws)
        keep: list[int] = []
        gate = self.gate
        count = _FIRST_COUNT  # events per buffer: adjusted to the sizes seen, towards BATCH_BYTES
        k = 0
        while k < n:
            skip = gate.skip  # read once: threads share the gate without a lock
            if adaptive and skip > 0:
                stop = min(n, k + skip)
                gate.skip -= stop - k
                keep.extend(range(k, stop))
                k = stop
                continue
            stop = min(n, k + count)
            kept, scanned, size = self._batch(scanner, raws, k, stop)
            if adaptive:
                gate.note(scanned, scanned - (len(kept) - (stop - k - scanned)))
            keep += kept
            count = max(1, min(_MAX_COUNT, count * BATCH_BYTES // max(size, 1)))
            k = stop
        keep.sort()
        return keep

    def _batch(
        self, scanner: HyperscanScanner, raws: Sequence[bytes | bytearray | memoryview | str], start: int, stop: int
    ) -> tuple[list[int], int, int]:
        """(positions kept, parts scanned, bytes joined) of ``raws[start:stop]``.

        Fast path (parts that join: bytes-like): the parts are joined with newlines and scanned at once when
        the buffer is ASCII, starts with ``{``, ends with ``}``, no part is over the size limit and every
        newline in it stands between ``}`` and ``{`` (``separated``): then every part is ``{...}``, proven
        without a loop in Python (not even over the parts' types: ``join`` refuses a str).  Otherwise the
        parts are taken one by one (``_plain_object``), then joined."""
        part = raws[start:stop]
        try:  # bytes-like parts join (bytes, bytearray, contiguous memoryviews); a str or anything else raises
            data = _SEP.join(cast("list[bytes]", part))
        except TypeError:
            data = None
        if data is not None:
            if len(data) > _JOIN_CAP and stop - start > 1:
                return self._halves(scanner, raws, start, stop)
            if (
                data.isascii()
                and data[:1] == b"{"
                and data[-1:] == b"}"
                # joined within the limit: so is every part (a part's bytes are in the buffer whatever its
                # type); else each part's size, when ``len`` gives it (bytes, bytearray)
                and (len(data) <= _MAX or (set(map(type, part)) <= _BYTE_TYPES and max(map(len, part)) <= _MAX))
                and scanner.separated(data)
            ):
                got = self._scan_joined(scanner, data, cast("list[bytes]", part))
                if got is None:
                    return list(range(start, stop)), 0, len(data)  # no database: decode all
                return [start + k for k in got], stop - start, len(data)
        kept: list[int] = []
        chunk: list[bytes] = []
        where: list[int] = []
        for k in range(start, stop):
            raw = raws[k]
            plain = raw if type(raw) is bytes and _plain_ascii(raw) else _plain_object(raw)
            if plain is None:
                kept.append(k)  # not plainly an object: decoded (which raises its error)
            else:
                chunk.append(plain)
                where.append(k)
        size = 0
        if chunk:
            data = _SEP.join(chunk)
            size = len(data)
            if size > _JOIN_CAP and len(chunk) > 1:
                return self._halves(scanner, raws, start, stop)
            got = self._scan_joined(scanner, data, chunk, plain_ascii=False)
            kept += where if got is None else [where[k] for k in got]
        return kept, len(chunk), size

    def _halves(
        self, scanner: HyperscanScanner, raws: Sequence[bytes | bytearray | memoryview | str], start: int, stop: int
    ) -> tuple[list[int], int, int]:
        """``_batch`` of each half: a buffer's count comes from the sizes seen before, so large events after
        small ones can join into more than ``_JOIN_CAP`` bytes (Hyperscan scans at most 4 GiB at once)."""
        mid = (start + stop) // 2
        kept1, scanned1, size1 = self._batch(scanner, raws, start, mid)
        kept2, scanned2, size2 = self._batch(scanner, raws, mid, stop)
        return kept1 + kept2, scanned1 + scanned2, size1 + size2

    def _scan_joined(
        self, scanner: HyperscanScanner, data: bytes, chunk: list[bytes], *, plain_ascii: bool = True
    ) -> list[int] | None:
        """The parts of ``data`` (the ``chunk`` joined with newlines) to decode, by index; None: no
        database (decode all).

        A match counts for the part it ends in, found from the parts' lengths (never from newlines:
        a part may hold its own); a match across a separator can only add a candidate.  The lengths
        are summed only when something was found, and must add up to the buffer's (a part whose ``len``
        is not its size in bytes, a memoryview of wider items, has every part of its buffer decoded).
        ``plain_ascii`` False: parts may be non-ASCII (then every caseless literal counts as present)."""
        hits = scanner.hits_joined(data)
        if hits is None:
            return None
        p = data.find(b"\\")
        if not hits and p < 0 and (plain_ascii or not self.caseless):
            return []
        located = _Parts.of(chunk, len(data))
        if located is None:
            return list(range(len(chunk)))  # a part's ``len`` is not its bytes (a memoryview of wider items)
        part = located.finder(len(hits))
        slashed: list[int] = []  # rare: every part with a backslash is decoded, found with one search per part
        while p >= 0:
            k = part(p)
            slashed.append(k)
            p = data.find(b"\\", located.after(k))
        if self.single:  # any hit makes a candidate (every alternative is one literal): which one is moot
            keep = {part(end - 1) for _, end in hits}
            keep.update(slashed)
            if not plain_ascii and self.caseless:
                keep.update(k for k, one in enumerate(chunk) if not one.isascii())
            return sorted(keep)
        backslash = {len(self.literals)}
        per: dict[int, set[int]] = dict.fromkeys(slashed, backslash)
        for i, end in hits:  # a match ends inside part k (or on the separator after it)
            k = part(end - 1)
            got = per.get(k)
            if got is None:
                per[k] = {i}
            elif got is not backslash:
                got.add(i)
        if not plain_ascii and self.caseless:  # non-ASCII text holds every caseless literal
            for k, one in enumerate(chunk):
                if k not in per and not one.isascii():
                    per[k] = set()
        return [k for k, found in per.items() if not self._rejects_hits(b"" if plain_ascii else chunk[k], found)]


class _Parts:
    """Where each part of a joined buffer (``_SEP.join(chunk)``) lies, from the parts' running lengths alone.

    ``cum[k]`` is the length of parts 0..k without separators, so part k holds bytes ``cum[k-1] + k`` to
    ``cum[k] + k`` (its separator counted as its own).  The part holding byte ``x`` is the least k with
    ``cum[k] + k >= x``; it lies between the least k with ``cum[k] >= x - (n - 1)`` (since
    ``cum[k] >= x - k``) and the least with ``cum[k] >= x`` (or n: the last part ends at the last byte) —
    a window of n bytes, one or two parts of a batch sized by ``BATCH_BYTES`` — so a look-up is two
    bisections of ``cum`` and one of that window.
    Building ``cum`` is one C-level pass: adding the separators to every length in Python (``ends``)
    cost twice as much, a tenth of a selective set's batch (docs/performance.md).
    """

    __slots__ = ("cum", "n", "_idx")

    def __init__(self, cum: list[int]) -> None:
        self.cum = cum
        self.n = len(cum)
        self._idx = range(self.n)

    @classmethod
    def of(cls, chunk: Sequence[bytes], size: int) -> _Parts | None:
        """The parts of a buffer of ``size`` bytes; None when their lengths do not add up to it."""
        cum = list(accumulate(map(len, chunk)))
        if not cum or cum[-1] + len(cum) - 1 != size:
            return None
        return cls(cum)

    def holding(self, x: int) -> int:
        """The index of the part holding byte ``x`` (0 <= x < size)."""
        cum, n = self.cum, self.n
        a = bisect_left(cum, x - n + 1)
        b = bisect_left(cum, x, a)
        return bisect_left(self._idx, x, a, b, key=self._end)

    def _end(self, k: int) -> int:
        return self.cum[k] + k

    def finder(self, lookups: int) -> Callable[[int], int]:
        """``holding``, or for more look-ups than a twelfth of the parts a bisection of the parts' ends (with
        their separators) built once: the break-even measured on city lots (0.54 µs a look-up through the
        window, 0.14 µs through the ends, 36 µs to build them for 1,064 parts)."""
        if lookups * 12 <= self.n:
            return self.holding
        ends = list(map(add, self.cum, range(1, self.n + 1)))  # just past each part's separator
        return partial(bisect_right, ends)

    def after(self, k: int) -> int:
        """The offset just past part ``k``'s separator."""
        return self.cum[k] + k + 1


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
        data2 = data.strip(_JSON_SPACE)  # bytes.strip() would also take \x0b and \x0c, which JSON refuses
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
    quick = quick_screen(literals)
    single = all(len(alt) == 1 for alts in per_rule for alt in alts)
    if not literals:
        scanner: Any = PythonScanner((), 0)  # no rule can match at all: every object is rejected
    else:
        scanner = scanner_for(backend, literals, len(literals))
        if scanner is None and quick is None:
            return None
        if scanner is None:  # no Hyperscan: the quick screen decides plain events, ``re`` the others
            scanner = PythonScanner(literals, len(literals))
    caseless = frozenset(i for i, lit in enumerate(literals) if lit.caseless)
    return Prefilter(
        literals, tuple(tuple(t) for t in triggers), caseless, len(per_rule), scanner, quick=quick, single=single
    )


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
    return len(events) - len(pf.to_decode(events, adaptive=False)), len(events)


Reject = Callable[[bytes | bytearray | memoryview | str], bool]
