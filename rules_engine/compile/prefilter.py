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

import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, cast

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

BATCH_BYTES = 960 << 10
"""``to_decode`` joins events into buffers of about this size for one scan each (measured on city lots:
256 KB buffers were 1.1x slower, 64 KB 1.3x).  Below the decoder's size limit, so that a buffer seldom
needs its parts' sizes checked one by one."""

BACKENDS = ("auto", "hyperscan", "python")
"""``auto``: Hyperscan when installed, else no prefilter (measured: one ``bytes.__contains__`` per literal
costs more than it saves on the CL2 sets); ``python`` forces the pure-Python scanner (tests use it)."""

_MAX = MAX_EVENT_BYTES
_SEP = b"\n"  # joins a batch (``Prefilter._batch``)
_PLUS_ONE = (1).__add__
_FIRST_COUNT = 256  # events in the first buffer of a batch (then sized by the bytes seen)
_MAX_COUNT = 1 << 16


@dataclass(frozen=True, slots=True)
class Literal:
    """A pattern some matching event's raw text must contain (``caseless``: ASCII case ignored).

    ``regex`` is what the scanners look for (Hyperscan and ``re`` read it alike), ``text`` its
    readable form (``--show``, tests) and ``needle`` a fixed byte string every occurrence holds
    (b"": none; the pure-Python scanner tests it first).  Two kinds:

    * **bound** to a key (EventBridge fields): ``"STREET"\\s*:\\s*(?:\\[|"MISS)`` -- the value
      right after the field's key is a string that starts the right way, or an array (any array
      counts as a hit: its elements are not examined).  The key is every spelling the dotted name
      can take in an event (``a.b.c`` may be the keys ``a.b.c``, ``b.c`` or ``c``: ``field_values``);
    * **free**: the value's text anywhere (expressions), with the value's end after it, so that a
      key spelled the same (``"BLKLOT":`` for the prefix ``"BL``) is no hit.  After a string
      *value*, JSON has optional whitespace and ``,``, ``}`` or ``]``; after a key, ``:``.

    Inside a string ``[^"\\n]*`` is exact: without a backslash in the text (else the event is
    decoded anyway), a quote ends the string and no raw newline is in it.
    """

    text: bytes
    caseless: bool
    regex: bytes
    needle: bytes = b""
    body: bytes = b""  # bound: the value's pattern after the colon (``_quick``); b"": free


_VALUE_END = rb"\s*[,}\]]"
_IN_STRING = b'[^"\\n]*'


def _esc(text: str, caseless: bool = False) -> bytes:
    """``text`` as a regular expression matching its UTF-8 bytes (ASCII letters as ``[aA]`` if caseless)."""
    out = []
    for c in text.encode("utf-8"):
        ch = chr(c)
        if caseless and ch.isascii() and ch.isalpha():
            out.append(b"[%c%c]" % (ord(ch.lower()), ord(ch.upper())))
        elif c < 128 and ch.isalnum():
            out.append(b"%c" % c)
        else:
            out.append(b"\\x%02x" % c)
    return b"".join(out)


MIN_CASELESS = 3
"""A free ignore-case literal shorter than this (not counting quotes) is not used: measured, the CL2 sets with
two-character ignore-case values ran slower with the prefilter (``on"`` ends ``"Polygon"`` in every event).
Bound literals have no minimum: the key makes them selective."""

MIN_BARE = 3
"""A free literal with no quote (``contains``) shorter than this is not used: ``0`` is in
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
    """A free literal: ``before`` + ``s`` + ``after`` anywhere, followed by the value's end when it ends
    with the closing quote or starts with the opening one (then the rest of the string, ``"p``)."""
    if not s or not _spelled(s) or (caseless and not s.isascii()):
        return None
    if not before and not after and len(s) < MIN_BARE:
        return None
    if len(s) < 2 and not (before and after):
        return None  # "2 or 7" (a one-character prefix or suffix) is in most events: it would reject few
    if caseless and len(s) < MIN_CASELESS:
        return None  # "st" ignoring case is in half the city lots (ST_TYPE): scanning costs more than it saves
    text = (before + (s.lower() if caseless else s) + after).encode("utf-8")
    regex = _esc(before) + _esc(s, caseless) + _esc(after)
    if after:
        regex += _VALUE_END
    elif before:
        regex += _IN_STRING + b'"' + _VALUE_END
    return Literal(text, caseless, regex, b"" if caseless else text)


def _empty_string() -> Literal:
    return Literal(b'""', False, b'""' + _VALUE_END, b'""')


def _key_regex(name: str) -> bytes | None:
    """The keys that can hold the value at the dotted ``name`` (``patterns.evaluate.field_values``: the
    name's suffixes that start after a dot, or the whole name): for ``a.b.c``, ``["\\x2e]c"``, every key
    that is ``c`` or ends with ``.c``.  A superset of the three spellings (a looser test, never a missed
    one): the exact ``"(?:a\\.b\\.|b\\.)?c"`` made Hyperscan scan 1.9x slower (CL2 SUFFIX)."""
    if not _spelled(name):
        return None
    last = name.rsplit(".", 1)[-1]
    return (b'["\\x2e]' if "." in name else b'"') + _esc(last) + b'"'


def _bound(name: str, text: str, body: bytes, caseless: bool) -> Literal | None:
    """A literal bound to the key of ``name``: the value after it is an array, or a string matching
    ``body`` (the regular expression from the opening quote on)."""
    key = _key_regex(name)
    if key is None:
        return None
    shown = f'"{name}":{text}'
    regex = key + rb"\s*:\s*(?:\[|" + body + b")"
    needle = name.rsplit(".", 1)[-1].encode("utf-8") + b'"'
    return Literal(shown.encode("utf-8"), caseless, regex, needle, b"(?:\\[|" + body + b")")


def bound_literal(name: str, m: ir.Matcher) -> Literal | None:
    """The literal a leaf value satisfying ``m`` at the field ``name`` leaves: its key, then the value."""

    def body(pieces: Sequence[str], *, start: bool, end: bool, caseless: bool = False) -> bytes | None:
        if not all(_spelled(p) for p in pieces) or (caseless and not all(p.isascii() for p in pieces)):
            return None
        out = b'"' + (b"" if start else _IN_STRING) + _IN_STRING.join(_esc(p, caseless) for p in pieces)
        return out + b'"' if end else out

    got: bytes | None
    caseless = False
    if isinstance(m, ir.MExact):
        v = m.value
        if not isinstance(v, str) or ip_value(v) is not None:
            return None
        got, text = body((v,), start=True, end=True), f'"{v}"'
    elif isinstance(m, ir.MPrefix):
        caseless = m.ignore_case
        got, text = body((m.value,), start=True, end=False, caseless=caseless), f'"{m.value}'
    elif isinstance(m, ir.MSuffix):
        caseless = m.ignore_case
        got, text = body((m.value,), start=False, end=True, caseless=caseless), f'{m.value}"'
    elif isinstance(m, ir.MEqualsIgnoreCase):
        caseless = True
        got, text = body((m.value,), start=True, end=True, caseless=True), f'"{m.value}"'
    elif isinstance(m, ir.MWildcard):
        got, text = body(wildcard_pieces(m.pattern), start=True, end=True), f'"{m.pattern}"'
    else:
        return None  # numbers, ranges, anything-but, exists, CIDR
    if got is None:
        return None
    return _bound(name, text.lower() if caseless else text, got, caseless)


def matcher_literals(m: ir.Matcher, name: str | None = None) -> Alternatives | None:
    """What a leaf value satisfying ``m`` leaves in the text (bound to ``name``'s key when given and
    spelled plainly); None: nothing usable."""
    if name is not None and _key_regex(name) is not None:
        return _one(bound_literal(name, m))
    if isinstance(m, ir.MExact):
        v = m.value
        if not isinstance(v, str) or ip_value(v) is not None:
            return None
        return _one(_lit(v, before='"', after='"') if v else _empty_string())
    if isinstance(m, ir.MPrefix):
        return _one(_lit(m.value, before='"', caseless=m.ignore_case))
    if isinstance(m, ir.MSuffix):
        return _one(_lit(m.value, after='"', caseless=m.ignore_case))
    if isinstance(m, ir.MEqualsIgnoreCase):
        return _one(_lit(m.value, before='"', after='"', caseless=True))
    return None  # wildcards (bound only), numbers, ranges, anything-but, exists, CIDR


def _one(lit: Literal | None) -> Alternatives | None:
    return None if lit is None else (frozenset((lit,)),)


def atom_literals(atom: Any) -> Alternatives | None:
    """The literal DNF of one atom (``normalize.Atom``); None when it leaves no usable literal."""
    alts: list[frozenset[Literal]] = []
    if isinstance(atom, FieldAtom):
        for m in atom.matchers:
            got = matcher_literals(m, ".".join(atom.path))
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
                lit = _lit(x, before='"', after='"') if x else _empty_string()
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


def _add_id(i: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
    found.add(i)


def _add_hit(i: int, _start: int, end: int, _flags: int, found: list[tuple[int, int]]) -> None:
    found.append((i, end))


class _Hyperscan:
    """Two Hyperscan block-mode databases, compiled on first use, and scratch space per thread: every
    literal, and the separator check of a joined batch (a newline not between ``}`` and ``{``).

    Lazy: a reload pays no Hyperscan compile (0.02-0.5 s for a few literals, more under load) until an
    event is scanned.  The literal database reports every occurrence with its end offset (``to_decode``
    scans a joined batch); each literal ends at most once per occurrence of its key or value, so a
    per-event scan sees few callbacks.  The backslash is looked for with ``bytes.find``: as a one-byte
    pattern in the literal database it made the scan 2.7x slower (CL2 EXACT, docs/performance.md), and
    so did the separator check, which gets its own database (reported once at most: single-match).
    If a database cannot be built, the scanner reports a backslash for every text: every event is
    decoded (slower, never wrong).
    """

    name = "hyperscan"

    def __init__(self, literals: Sequence[Literal], backslash: int) -> None:
        import hyperscan

        self._hs = hyperscan
        self._patterns = tuple(enumerate(lit.regex for lit in literals))
        self._backslash = backslash
        self._dbs: tuple[Any, Any] | None = None
        self._failed = False
        self._lock = threading.Lock()
        self._local = threading.local()  # scratch space belongs to one scanning thread at a time

    def _compile(self) -> tuple[Any, Any] | None:
        with self._lock:
            if self._dbs is None and not self._failed:
                hs = self._hs
                try:
                    self._dbs = (
                        self._database(self._patterns, 0),
                        self._database(((0, rb"[^}]\n|\n[^{]"),), hs.HS_FLAG_SINGLEMATCH),
                    )
                except hs.error:  # pragma: no cover - every literal is a plain pattern Hyperscan accepts
                    self._failed = True
            return self._dbs

    def _database(self, patterns: Sequence[tuple[int, bytes]], flags: int) -> Any:
        db = self._hs.Database(mode=self._hs.HS_MODE_BLOCK)
        db.compile(
            expressions=[p for _, p in patterns],
            ids=[i for i, _ in patterns],
            elements=len(patterns),
            flags=[flags] * len(patterns),
        )
        return db

    def _scratch(self) -> tuple[Any, Any, Any, Any] | None:
        """(literal database, its scratch, separator database, its scratch) of this thread."""
        s = getattr(self._local, "scratch", None)
        if s is None:
            dbs = self._dbs if self._dbs is not None else self._compile()
            if dbs is None:
                return None
            s = self._local.scratch = (dbs[0], self._hs.Scratch(dbs[0]), dbs[1], self._hs.Scratch(dbs[1]))
        return s

    def hits(self, data: bytes) -> set[int]:
        found: set[int] = set()
        s = getattr(self._local, "scratch", None) or self._scratch()
        if s is None:
            found.add(self._backslash)
            return found
        s[0].scan(data, match_event_handler=_add_id, context=found, scratch=s[1])
        if b"\\" in data:
            found.add(self._backslash)
        return found

    def hits_joined(self, data: bytes) -> list[tuple[int, int]] | None:
        """(literal id, end offset) of every occurrence in a joined batch; None: no database (decode all)."""
        found: list[tuple[int, int]] = []
        s = getattr(self._local, "scratch", None) or self._scratch()
        if s is None:
            return None
        s[0].scan(data, match_event_handler=_add_hit, context=found, scratch=s[1])
        return found

    def separated(self, data: bytes) -> bool:
        """Every newline in ``data`` stands between ``}`` and ``{`` (False also when there is no database)."""
        s = getattr(self._local, "scratch", None) or self._scratch()
        if s is None:
            return False
        bad: list[int] = []
        s[2].scan(data, match_event_handler=_seen, context=bad, scratch=s[3])  # reported once at most
        return not bad


def _seen(i: int, _start: int, _end: int, _flags: int, found: list[int]) -> None:
    found.append(i)


class _Python:
    """``bytes.__contains__`` (C ``memmem``), then ``re`` for the literal's end.  Chosen explicitly only
    (``prefilter="python"``): slower than no prefilter on the CL2 sets, kept as a second scanner for tests."""

    name = "python"

    def __init__(self, literals: Sequence[Literal], backslash: int) -> None:
        self._checks = tuple((i, lit.needle or None, re.compile(lit.regex).search) for i, lit in enumerate(literals))
        self._backslash = backslash

    def hits(self, data: bytes) -> set[int]:
        found = set()
        for i, text, search in self._checks:
            if (text is None or text in data) and search(data) is not None:
                found.add(i)
        if b"\\" in data:
            found.add(self._backslash)
        return found


MAX_QUICK_KEYS = 4
"""Most distinct keys the quick screen searches for (one ``re`` search each)."""


def _quick(literals: Sequence[Literal]) -> tuple[Callable[[bytes], Any], ...] | None:
    """The quick screen: one Python ``re`` search per distinct key, ``KEY"\\s*:\\s*(?:\\[|v1|v2…)``, which
    finds some literal when any occurs (each bound literal's match holds the key's last segment, its
    quote and the value: a necessary condition).  ``re`` looks for the fixed start ``KEY"`` with a fast
    substring search: about 0.5 µs on a 900-byte city lot, against 1.5 µs for a Hyperscan call from
    Python (the binding's fixed cost).  None: some literal is free, or there are too many keys."""
    groups: dict[bytes, list[bytes]] = {}
    for lit in literals:
        if not lit.body:
            return None
        groups.setdefault(lit.needle, []).append(lit.body)
    if not groups or len(groups) > MAX_QUICK_KEYS:
        return None
    return tuple(
        re.compile(re.escape(needle) + rb"\s*:\s*(?:" + b"|".join(dict.fromkeys(bodies)) + b")").search
        for needle, bodies in groups.items()
    )


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
        """``rejects`` while the gate says scanning pays; False (decode) while it is paused."""
        gate = self.gate
        if gate.skip > 0:  # "> 0": racing threads may take it below zero
            gate.skip -= 1
            return False
        if type(raw) is bytes and raw[:1] == b"{" and raw[-1:] == b"}" and len(raw) <= _MAX and raw.isascii():
            quick = self.quick  # the common case inline (``_plain_ascii``): one call fewer per event
            if quick is None:
                found = self.scanner.hits(raw)
                got = (not found and not self.caseless) or self._rejects_hits(raw, found)
            elif b"\\" in raw:
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
        if not isinstance(scanner, _Hyperscan):
            if adaptive:
                return [k for k, raw in enumerate(raws) if not self.screen(raw)]
            return [k for k, raw in enumerate(raws) if not self.rejects(raw)]
        n = len(raws)
        keep: list[int] = []
        gate = self.gate
        count = _FIRST_COUNT  # events per buffer: adjusted to the sizes seen, towards BATCH_BYTES
        k = 0
        while k < n:
            if adaptive and gate.skip > 0:
                stop = min(n, k + gate.skip)
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
        self, scanner: _Hyperscan, raws: Sequence[bytes | bytearray | memoryview | str], start: int, stop: int
    ) -> tuple[list[int], int, int]:
        """(positions kept, parts scanned, bytes joined) of ``raws[start:stop]``.

        Fast path (all bytes): the parts are joined with newlines and scanned at once when the buffer is
        ASCII, starts with ``{``, ends with ``}``, no part is over the size limit and every newline in it
        stands between ``}`` and ``{`` (``separated``): then every part is ``{...}``, proven without a loop
        in Python.  Otherwise the parts are taken one by one (``_plain_object``), then joined."""
        part = raws[start:stop]
        if set(map(type, part)) == {bytes}:
            data = _SEP.join(cast("list[bytes]", part))
            if (
                data.isascii()
                and data[:1] == b"{"
                and data[-1:] == b"}"
                and (len(data) <= _MAX or max(map(len, part)) <= _MAX)
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
            got = self._scan_joined(scanner, data, chunk, plain_ascii=False)
            kept += where if got is None else [where[k] for k in got]
        return kept, len(chunk), size

    def _scan_joined(
        self, scanner: _Hyperscan, data: bytes, chunk: list[bytes], *, plain_ascii: bool = True
    ) -> list[int] | None:
        """The parts of ``data`` (the ``chunk`` joined with newlines) to decode, by index; None: no
        database (decode all).

        A match counts for the part it ends in, found from the parts' lengths (never from newlines:
        a part may hold its own); a match across a separator can only add a candidate.  The lengths
        are summed only when something was found.  ``plain_ascii`` False: parts may be non-ASCII (then
        every caseless literal counts as present)."""
        hits = scanner.hits_joined(data)
        if hits is None:
            return None
        p = data.find(b"\\")
        if not hits and p < 0 and (plain_ascii or not self.caseless):
            return []
        ends = list(accumulate(map(_PLUS_ONE, map(len, chunk))))  # just past each part's separator
        if self.single:  # any hit makes a candidate (every alternative is one literal): which one is moot
            keep = {bisect_right(ends, end - 1) for _, end in hits}
            while p >= 0:
                k = bisect_right(ends, p)
                keep.add(k)
                p = data.find(b"\\", ends[k])
            if not plain_ascii and self.caseless:
                keep.update(k for k, one in enumerate(chunk) if not one.isascii())
            return sorted(keep)
        per: dict[int, set[int]] = {}
        backslash = {len(self.literals)}
        while p >= 0:  # rare: every part with a backslash is decoded, found with one search per part
            k = bisect_right(ends, p)
            per[k] = backslash
            p = data.find(b"\\", ends[k])
        for i, end in hits:  # a match ends inside part k: ends[k-1] < end <= ends[k]
            k = bisect_right(ends, end - 1)
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
    quick = _quick(literals)
    single = all(len(alt) == 1 for alts in per_rule for alt in alts)
    if not literals:
        scanner: Any = _Python((), 0)  # no rule can match at all: every object is rejected
    else:
        scanner = _backend(backend, literals, len(literals))
        if scanner is None and quick is None:
            return None
        if scanner is None:  # no Hyperscan: the quick screen decides plain events, ``re`` the others
            scanner = _Python(literals, len(literals))
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
