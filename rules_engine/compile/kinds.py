"""The compiler's vocabulary: every kind of index entry, each with its table, lane and constant.

Position in the pipeline::

    entries.py: operator ──▶ Entry(**Kind**, key, rank)
    index.py:   entries of one name / path by kind ──**Kind.build**──▶ one table per kind (tables.py)
    codegen:    per lane (``LANES``), the tables of its kinds in declaration order ──probe──▶ lines

A :class:`Kind` names one way an event value can satisfy an atom; its
:class:`~rules_engine.compile.tables.Spec` says everything the later stages
need.  A new operator is: its entries in ``entries.py``, reusing a kind here
or adding one line (reusing a table class or adding one in ``tables.py``);
nothing in ``index.py`` or ``codegen_probes.py``.  EventBridge names and
expression paths share every kind that is the same concept on both (an exact
string, a prefix, a range of numbers, presence); only the operators of one
dialect have kinds of their own (``IP``, wildcards, ASCII ignore-case on one
side; ``CASEFOLD``, string ranges, ``!=`` on the other).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from enum import Enum, unique
from typing import Final

from rules_engine.compile.negative import Negative
from rules_engine.compile.tables import (
    Affix,
    Always,
    CheckedAffix,
    Exact,
    IpExact,
    Item,
    Lane,
    Ranges,
    Scan,
    Segments,
    Spec,
    Table,
)


@unique  # two kinds with one Spec would silently be one kind
class Kind(Enum):
    """Every way an index stores an entry (``Entry.kind``), in probe order within each lane."""

    _value_: Spec

    # strings (both dialects unless said)
    EXACT_STR = Spec(Exact, Lane.STR, "XS")
    IP = Spec(IpExact, Lane.STR, "IP")  # EventBridge: exact IP address, any spelling
    ANY_STRING = Spec(Always, Lane.STR, "SA")  # prefix / suffix "": any string
    PREFIX = Spec(Affix, Lane.STR, "PF", op="prefix")
    SUFFIX = Spec(Affix, Lane.STR, "SF", op="suffix")
    WILD_PREFIX = Spec(CheckedAffix, Lane.STR, "WP", op="prefix")  # EventBridge wildcard with a literal prefix
    WILD_SUFFIX = Spec(CheckedAffix, Lane.STR, "WS", op="suffix")
    ICASE_EQ = Spec(Exact, Lane.ASCII, "IE")  # EventBridge ignore-case, ASCII patterns (keyed lower-case)
    ICASE_PREFIX = Spec(Affix, Lane.ASCII, "IPF", op="prefix")
    ICASE_SUFFIX = Spec(Affix, Lane.ASCII, "ISF", op="suffix")
    ICASE_OTHER = Spec(Scan, Lane.STR, "SC")  # EventBridge ignore-case, non-ASCII pattern: scanned
    CASEFOLD = Spec(Exact, Lane.STR, "CF", key="{}.casefold()")  # expressions: equals_ignore_case
    STR_GT = Spec(Ranges, Lane.STR, "SGT", op="gt")  # expressions: string ordering
    STR_GE = Spec(Ranges, Lane.STR, "SGE", op="ge")
    STR_LT = Spec(Ranges, Lane.STR, "SLT", op="lt")
    STR_LE = Spec(Ranges, Lane.STR, "SLE", op="le")
    # numbers (EventBridge keys are floats)
    EXACT_NUM = Spec(Exact, Lane.NUM, "XN")
    GT = Spec(Ranges, Lane.NUM, "GT", op="gt")
    GE = Spec(Ranges, Lane.NUM, "GE", op="ge")
    LT = Spec(Ranges, Lane.NUM, "LT", op="lt")
    LE = Spec(Ranges, Lane.NUM, "LE", op="le")
    SEGMENT = Spec(Segments, Lane.NUM, "SG")  # EventBridge: a numeric range of two bounds
    # null, booleans
    EXACT_CONST = Spec(Exact, Lane.CONST, "XC")
    # any value
    ANYTHING_BUT = Spec(Negative, Lane.VALUE, "NA", op="anything-but")  # EventBridge
    NOT_EQUAL = Spec(Negative, Lane.VALUE, "NE", op="not-equal")  # expressions: != / not in
    SCAN = Spec(Scan, Lane.VALUE, "SC")  # what only a leaf decides (CIDR, contains, complex numeric...)
    # presence
    PRESENT = Spec(Always, Lane.PRESENCE, "ET")  # exists: true / exists(path)
    ABSENT = Spec(Always, Lane.PRESENCE, "EF")  # EventBridge exists: false

    @property
    def spec(self) -> Spec:
        return self._value_

    @property
    def lane(self) -> Lane:
        return self._value_.lane

    @property
    def tag(self) -> str:
        return self._value_.tag

    def build(self, items: list[Item]) -> Table:
        """The table of this kind holding ``items`` (the entries of one name or path)."""
        return self._value_.table.build(self._value_, items)


def in_lane(lane: Lane) -> tuple[Kind, ...]:
    return tuple(k for k in Kind if k.lane is lane)


LANES: Final[Mapping[Lane, tuple[Kind, ...]]] = {lane: in_lane(lane) for lane in Lane}
"""The kinds probed in each lane, in declaration (probe) order."""


def string_groups() -> Iterator[tuple[Lane, tuple[Kind, ...]]]:
    """The string lane's probes in order, consecutive ASCII kinds grouped (they share one ``isascii`` test)."""
    kinds = [k for k in Kind if k.lane in (Lane.STR, Lane.ASCII)]
    for lane, group in itertools.groupby(kinds, key=lambda k: k.lane):
        yield lane, tuple(group)
