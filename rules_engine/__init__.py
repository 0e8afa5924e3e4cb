"""rules-engine: a declarative event-routing rules engine.

Public API (stable)::

    load(*paths)                     -> RuleSet   # files or folders of *.yaml, *.yml, *.rules
    loads(text, format="yaml"|"dsl") -> RuleSet
    test_event_pattern(pattern, event) -> bool   # AWS TestEventPattern, offline
    RuleError                                     # .diagnostics: code, message, file, line, column
"""

from __future__ import annotations

from typing import Any

from rules_engine.check.target_types import TargetTypes  # target types and the check of their options
from rules_engine.loader import MAX_FILE_BYTES, build, load_paths
from rules_engine.loader import decode as _decode_source
from rules_engine.model.errors import Diagnostic, RuleError
from rules_engine.model.gc_pause import gc_paused
from rules_engine.patterns.api import test_event_pattern as _test_event_pattern
from rules_engine.ruleset import RuleSet, content_version

__all__ = ["Diagnostic", "RuleError", "RuleSet", "load", "loads", "test_event_pattern", "__version__"]
__version__ = "0.1.0"


def _finish(result: Any, engine: str) -> RuleSet:
    if result.ir is None or result.errors:
        raise RuleError(result.diagnostics, result.sources)
    return RuleSet(
        result.ir,
        version=content_version(list(result.sources.values())),
        warnings=result.warnings,
        sources=result.sources,
        engine=engine,
    )


def load(*paths: str, engine: str = "compiled", max_file_bytes: int = MAX_FILE_BYTES) -> RuleSet:
    """Load rule files (or folders, recursively) together into one checked RuleSet.

    Raises :class:`RuleError` with every diagnostic when anything is wrong.  The cyclic garbage
    collector is held off while it runs (``model/gc_pause.py``: a big load made mostly garbage-free
    objects, and the collector's passes over them cost about 40% of it).
    """
    with gc_paused():
        return _finish(load_paths([str(p) for p in paths], max_file_bytes, catalog=TargetTypes()), engine)


def loads(text: str | bytes, format: str = "yaml", name: str = "<string>", engine: str = "compiled") -> RuleSet:
    """Load rules from a string in ``format`` ``"yaml"`` or ``"dsl"`` (the rule language)."""
    if format not in ("yaml", "dsl"):
        raise ValueError(f"format must be 'yaml' or 'dsl', not {format!r}")
    data = text.encode("utf-8") if isinstance(text, str) else text
    src, diags = _decode_source(data, name)
    if src is None:
        raise RuleError(diags)
    with gc_paused():
        return _finish(build([(src, format)], catalog=TargetTypes()), engine)


def test_event_pattern(pattern: Any, event: Any) -> bool:
    """AWS TestEventPattern, offline: does ``event`` match the EventBridge ``pattern``?

    Each argument is JSON text or an already decoded object.  An invalid
    pattern raises :class:`RuleError` whose diagnostics carry AWS's reason.
    """
    return _test_event_pattern(pattern, event)


test_event_pattern.__test__ = False  # type: ignore[attr-defined]
