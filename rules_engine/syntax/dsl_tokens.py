"""Decoding of the rule language's string tokens: escapes and quoted strings to their values.

Position in the pipeline::

    rule text ──dsl──▶ parse tree ──**lower_expr (dsl_tokens)**──▶ IR ──check──▶ diagnostics

Pure functions over the raw text of one token, called by the lowering
(:mod:`rules_engine.syntax.lower_expr`) for STRING tokens and the literal parts
of template strings.  A bad escape is never an exception: it is returned as an
offset range so that the lowering can report it with a caret.
"""

from __future__ import annotations

import re

__all__ = ["decode_escape", "decode_string"]

_SIMPLE_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


def decode_escape(raw: str, i: int) -> tuple[str | None, int]:
    """Decode the escape that starts with the backslash at ``raw[i]``.

    Returns (text, index after the escape); text is None for an invalid escape.
    JSON escapes plus ``\\'``; a ``\\u`` surrogate pair makes one character and a
    lone surrogate is invalid (it could not be written out as UTF-8).
    """
    c = raw[i + 1] if i + 1 < len(raw) else ""
    if c in _SIMPLE_ESCAPES and c:
        return _SIMPLE_ESCAPES[c], i + 2
    if c != "u" or not _HEX4.fullmatch(raw, i + 2, i + 6):
        return None, i + 2
    code = int(raw[i + 2 : i + 6], 16)
    if 0xD800 <= code <= 0xDBFF and raw.startswith("\\u", i + 6) and _HEX4.fullmatch(raw, i + 8, i + 12):
        low = int(raw[i + 8 : i + 12], 16)
        if 0xDC00 <= low <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), i + 12
    if 0xD800 <= code <= 0xDFFF:
        return None, i + 6
    return chr(code), i + 6


def decode_string(raw: str) -> tuple[str, list[tuple[int, int]]]:
    """The value of a STRING token (quotes included) and the (start, end) offsets of bad escapes."""
    body_end = len(raw) - 1
    out: list[str] = []
    bad: list[tuple[int, int]] = []
    i = 1
    while i < body_end:
        j = raw.find("\\", i, body_end)
        if j == -1:
            out.append(raw[i:body_end])
            break
        out.append(raw[i:j])
        text, i = decode_escape(raw, j)
        i = min(i, body_end)
        if text is None:
            bad.append((j, i))
        else:
            out.append(text)
    return "".join(out), bad
