"""The operands of EventBridge's numeric and IP matchers: what a number and an IP literal are.

Position: shared by validation (``lower.py``), the reference matcher
(``evaluate.py``) and the compiler (``compile/``), so all three agree; it
imports nothing of the pipeline.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["NUMERIC_LIMIT", "ip_value", "looks_like_ip"]

NUMERIC_LIMIT = 5.0e9
"""Numeric matching works on values in [-5.0e9, 5.0e9] (event-ruler's ComparableNumber range)."""

_IPV4_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_RE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def looks_like_ip(text: str) -> bool:
    """The shapes event-ruler tries as IP literals (anything else is never an IP)."""
    return bool(_IPV4_RE.fullmatch(text) or _IPV6_RE.fullmatch(text))


def ip_value(text: str) -> tuple[int, int] | None:
    """``(4 or 6, address as int)`` for an IP literal, else None.

    IPv4 is four decimal parts 0..255 without leading zeros (those are
    ambiguous, octal in some parsers); an IPv4-mapped IPv6 address counts as
    its IPv4 address, as Java's InetAddress does.
    """
    if _IPV4_RE.fullmatch(text):
        parts = text.split(".")
        if any(len(p) > 1 and p[0] == "0" for p in parts) or any(int(p) > 255 for p in parts):
            return None
        return 4, int(ipaddress.IPv4Address(text))
    if _IPV6_RE.fullmatch(text):
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = addr.ipv4_mapped
        if mapped is not None:
            return 4, int(mapped)
        return 6, int(addr)
    return None
