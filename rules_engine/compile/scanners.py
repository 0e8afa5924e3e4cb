"""The scanners of the raw-byte prefilter (``prefilter.py``): Hyperscan (the optional extra ``fast``),
the quick ``re`` screen for the per-event path, and a pure-Python scanner kept for tests.

Each reports which literals (by index, plus a *backslash* sentinel: escapes may hide a literal, so
such text is decoded) occur in a text; the Hyperscan scanner also reports every occurrence's end in
a joined batch and checks a batch's separators.  Scratch space is per thread; nothing is global.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from rules_engine.compile.literals import Literal

_HS_LIMIT = 1 << 32  # hs_scan takes the length as an unsigned int


def _add_id(i: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
    found.add(i)


def _add_hit(i: int, _start: int, end: int, _flags: int, found: list[tuple[int, int]]) -> None:
    found.append((i, end))


class HyperscanScanner:
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
        """(literal id, end offset) of every occurrence in a joined batch; None: no database, or a buffer
        Hyperscan cannot scan whole (its length is an unsigned int: 4 GiB and more would be cut): decode all."""
        found: list[tuple[int, int]] = []
        s = getattr(self._local, "scratch", None) or self._scratch()
        if s is None or len(data) >= _HS_LIMIT:
            return None
        s[0].scan(data, match_event_handler=_add_hit, context=found, scratch=s[1])
        return found

    def separated(self, data: bytes) -> bool:
        """Every newline in ``data`` stands between ``}`` and ``{`` (False also when there is no database)."""
        s = getattr(self._local, "scratch", None) or self._scratch()
        if s is None or len(data) >= _HS_LIMIT:
            return False
        bad: list[int] = []
        s[2].scan(data, match_event_handler=_seen, context=bad, scratch=s[3])  # reported once at most
        return not bad


def _seen(i: int, _start: int, _end: int, _flags: int, found: list[int]) -> None:
    found.append(i)


class PythonScanner:
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


def quick_screen(literals: Sequence[Literal]) -> tuple[Callable[[bytes], Any], ...] | None:
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


def scanner_for(name: str, literals: Sequence[Literal], backslash: int) -> HyperscanScanner | PythonScanner | None:
    if name == "python":
        return PythonScanner(literals, backslash)
    try:
        return HyperscanScanner(literals, backslash)
    except ImportError:
        if name == "hyperscan":
            raise
        return None
