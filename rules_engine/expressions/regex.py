"""``matches``: regular expressions on RE2, linear in the text, never backtracking.

Position: shared by the checker (``check.py``: E304/E354 at load time), the
reference evaluator (``evaluate.py``), explanations and the compiler; it
evaluates nothing else, so the checker can use it without importing the
evaluator.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = ["Regex", "compile_regex", "regex_problem"]


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Regex | None:
    """The pattern compiled by RE2 (linear time in the text, never backtracking), or ``None``
    when RE2 cannot run it (check_expr reports why when the rules load: E304 or E354).

    Memoised (each pattern is compiled once); the cache is invisible to callers.
    """
    try:
        return Regex(re2.compile(pattern, _re2_options()))
    except Exception:  # noqa: BLE001  # re2.error, or text RE2 cannot take (a lone surrogate)
        return None


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # keep RE2's C++ logger off stderr
    options.never_capture = True  # only whether it matches is asked
    return options


class Regex:
    """A compiled RE2 pattern with *search* semantics; text RE2 cannot take (a string holding a
    lone surrogate, which no JSON text decodes to) does not match."""

    __slots__ = ("_search",)

    def __init__(self, rx: Any) -> None:
        self._search = rx.search

    def search(self, text: str) -> bool:
        try:
            return self._search(text) is not None
        except (ValueError, UnicodeEncodeError):
            return False


def regex_problem(pattern: str) -> tuple[str, str] | None:
    """Why RE2 cannot run ``pattern``: ``("E354", detail)`` for a construct Python's ``re``
    knows but RE2 does not (backreferences, lookaround, atomic groups, possessive
    quantifiers), ``("E304", detail)`` for a pattern that is invalid anyway; None when fine."""
    try:
        re2.compile(pattern, _re2_options())
        return None
    except Exception as err:  # noqa: BLE001
        detail = err.args[0] if err.args else err
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return "E304", detail or "invalid pattern"
    return "E354", detail or "not supported by RE2"
