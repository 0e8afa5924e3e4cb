"""Where target adapter types come from: the built-in names plus the
``rules_engine.adapters`` entry-point group, so a plugin package can add a
target type without touching the core (which never imports a concrete adapter).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .check import BUILTIN_TARGET_TYPES

ENTRY_POINT_GROUP = "rules_engine.adapters"


def known_target_types() -> frozenset[str]:
    """Built-in target types and those registered by installed plugins."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return BUILTIN_TARGET_TYPES | frozenset(names)
