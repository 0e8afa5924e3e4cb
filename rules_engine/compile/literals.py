"""Compile stage 5a: the literals any matching event's raw JSON text must contain (``prefilter.py``
scans for them).

For every rule, the literals come from its atoms (``normalize.py``) in a bounded DNF
(:data:`Alternatives`): the rule can match only if, for some alternative, every literal occurs in
the text.  The table of literals per operator and the invariants that make them necessary
conditions (never a false negative) are in ``prefilter.py``'s docstring and docs/compile.md § 5a.
Pure: nothing here reads an event or a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rules_engine.compile.decode import spelled_plainly
from rules_engine.compile.formula import FieldAtom, ValueAtom
from rules_engine.compile.normalize import Normalised, branches
from rules_engine.compile.runtime import wildcard_pieces
from rules_engine.model import ir
from rules_engine.patterns.operands import ip_value

MAX_ALTERNATIVES = 16
"""Most literal alternatives one rule keeps (a larger product drops a conjunct: a weaker, still necessary test)."""

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
    body: bytes = b""  # bound: the value's pattern after the colon (``quick_screen``); b"": free


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


def _lit(s: str, *, before: str = "", after: str = "", caseless: bool = False) -> Literal | None:
    """A free literal: ``before`` + ``s`` + ``after`` anywhere, followed by the value's end when it ends
    with the closing quote or starts with the opening one (then the rest of the string, ``"p``)."""
    if not s or not spelled_plainly(s) or (caseless and not s.isascii()):
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
    if not spelled_plainly(name):
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
        if not all(spelled_plainly(p) for p in pieces) or (caseless and not all(p.isascii() for p in pieces)):
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
