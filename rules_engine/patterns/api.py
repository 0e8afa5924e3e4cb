"""AWS ``TestEventPattern``, offline: one pattern, one event, a verdict.

Position: the EventBridge dialect's own public entry point, on top of its two
halves, validation (``lower.py``) and the reference matcher (``evaluate.py``).
``rules_engine.test_event_pattern`` and ``rules-engine test-pattern`` use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic, RuleError
from rules_engine.model.source import Locator, Source, Span
from rules_engine.model.values import kind_of
from rules_engine.patterns.evaluate import match_pattern
from rules_engine.patterns.json_spans import loads_strict, too_deep_at
from rules_engine.patterns.lower import lower_pattern, parse_pattern_json

__all__ = ["MAX_EVENT_DEPTH", "test_event_pattern"]

MAX_EVENT_DEPTH = 512
"""Nesting an event given as text may have."""


def _decode_event(text: str) -> tuple[Any, list[Diagnostic], Source]:
    source = Source("<event>", text)
    deep = too_deep_at(text, MAX_EVENT_DEPTH)
    if deep is not None:
        return None, [codes.EVENT_TOO_DEEP.at(source.span(deep, deep + 1), limit=MAX_EVENT_DEPTH)], source
    try:
        return loads_strict(text), [], source
    except json.JSONDecodeError as err:
        return None, [codes.EVENT_JSON.at(Span.point(source.name, err.lineno, err.colno), detail=err.msg)], source
    except ValueError as err:
        return None, [codes.EVENT_JSON.at(Span.point(source.name, 1, 1), detail=str(err))], source


def test_event_pattern(pattern: str | Mapping[str, Any], event: str | Mapping[str, Any]) -> bool:
    """Like AWS ``TestEventPattern``: does ``event`` match ``pattern``?

    Raises :class:`RuleError` for an invalid pattern (its diagnostics carry
    AWS's reason) and for an event that is not a JSON object.
    """
    if isinstance(pattern, str):
        lowered, diags = parse_pattern_json(pattern)
        sources = {"<pattern>": Source("<pattern>", pattern)}
    else:
        lowered, diags = lower_pattern(pattern, Locator("<pattern>"), ())
        sources = {}
    if lowered is None:
        raise RuleError(diags, sources)
    if isinstance(event, str):
        decoded, diags, source = _decode_event(event)
        if diags:
            raise RuleError(diags, {source.name: source})
    else:
        decoded = event
    if not isinstance(decoded, Mapping):
        raise RuleError([codes.EVENT_NOT_OBJECT.at(None, found=kind_of(decoded))])
    return match_pattern(lowered, decoded)


test_event_pattern.__test__ = False  # type: ignore[attr-defined]
