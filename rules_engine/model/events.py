"""Event bytes -> event: the decode step in front of matching.

Position in the pipeline::

    event bytes ──**decode_event**──▶ event (dict) ──▶ CompiledRuleSet.match

Limits keep hostile input bounded: an event larger than ``max_bytes`` or
nested deeper than orjson's limit (1,024 levels) is refused with a code.
An event must be a JSON object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from rules_engine.model import codes
from rules_engine.model.errors import RuleError
from rules_engine.model.source import Span
from rules_engine.model.values import type_name

MAX_EVENT_BYTES = 1024 * 1024


def decode_event(raw: bytes | bytearray | memoryview | str | Mapping[str, Any], max_bytes: int = MAX_EVENT_BYTES,
                 name: str = "<event>") -> dict[str, Any]:
    """Decode one event; raise :class:`RuleError` (E501–E504) for bad input.

    Any other Python value (None, a number, a list, ...) is refused with E502 like the
    same value given as JSON text, so every public entry point answers any input with a
    ``RuleError``, never a raw ``TypeError``.
    """
    if isinstance(raw, Mapping):
        return dict(raw) if not isinstance(raw, dict) else raw
    if not isinstance(raw, (bytes, bytearray, memoryview, str)):
        kind = type_name(raw)
        found = _with_article(kind) if kind != "unknown" else f"a Python {type(raw).__name__}"
        raise RuleError([codes.EVENT_NOT_OBJECT.at(None, found=found)])
    # A str is encoded for its size only when it could be over the limit (UTF-8 takes at most 4 bytes a
    # character), so the common small event costs no copy here.  A memoryview's ``len`` counts its items,
    # which may be wider than a byte: its size is ``nbytes``.
    if isinstance(raw, str):
        size = len(raw.encode("utf-8")) if 4 * len(raw) > max_bytes else len(raw)
    else:
        size = raw.nbytes if isinstance(raw, memoryview) else len(raw)
    if size > max_bytes:
        raise RuleError([codes.EVENT_TOO_LARGE.at(None, size=size, limit=max_bytes)])
    # A byte-order mark is accepted at the start, as in rule files (editors on Windows write one).
    if isinstance(raw, str):
        raw = raw.removeprefix("\ufeff")
    elif raw[:3] == b"\xef\xbb\xbf":
        raw = bytes(raw[3:])
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        msg = str(e)
        if "depth limit" in msg or "recursion" in msg.lower():
            raise RuleError([codes.EVENT_TOO_DEEP.at(None, limit=1024)]) from None
        bad = _bad_utf8(raw)
        if bad is not None:
            raise RuleError([codes.EVENT_JSON.at(Span.point(name, *bad[:2]), detail=bad[2])]) from None
        line, col = getattr(e, "lineno", 1), getattr(e, "colno", 1)
        raise RuleError([codes.EVENT_JSON.at(Span.point(name, line, col), detail=e.msg)]) from None
    if not isinstance(value, dict):
        raise RuleError([codes.EVENT_NOT_OBJECT.at(None, found=_with_article(type_name(value)))])
    return value


def _bad_utf8(raw: bytes | bytearray | memoryview | str) -> tuple[int, int, str] | None:
    """(line, column, detail) of the first byte that is not UTF-8 (orjson only says "surrogates")."""
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as e:
            good = raw[: e.start]
            return (good.count("\n") + 1, e.start - (good.rfind("\n") + 1) + 1,
                    f"unpaired surrogate U+{ord(raw[e.start]):04X} at character {e.start}")
        return None
    data = bytes(raw)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[: e.start].decode("utf-8", errors="replace")
        return (good.count("\n") + 1, len(good) - (good.rfind("\n") + 1) + 1,
                f"invalid UTF-8 at byte {e.start} (0x{data[e.start]:02x})")
    return None


def _with_article(name: str) -> str:
    return name if name == "null" else ("an " if name[0] in "aeiou" else "a ") + name
