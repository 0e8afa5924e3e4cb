"""The adapter registry: target types (check/target_types.py) that can also build adapters.

Position in the pipeline::

    TargetTypes (names, option schemas) ─▶ **AdapterRegistry.create** ─▶ one Adapter per target ─▶ Dispatcher
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from rules_engine.check.target_types import BUILTIN_ADAPTERS, ENTRY_POINT_GROUP, TargetTypes
from rules_engine.deliver.base import Adapter, AdapterType

__all__ = ["BUILTIN_ADAPTERS", "ENTRY_POINT_GROUP", "AdapterRegistry", "known_target_types"]


class AdapterRegistry(TargetTypes):
    """Target types by name (built-in, plugin, ``extra``), and the adapters they make."""

    def __init__(self, extra: Mapping[str, AdapterType] | None = None, *, plugins: bool = True) -> None:
        super().__init__(extra, plugins=plugins)

    def create(self, type_: str, name: str, options: Mapping[str, Any]) -> Adapter:
        return cast(AdapterType, self.get(type_))(name, options)


def known_target_types() -> frozenset[str]:
    """Built-in target types and those registered by installed plugins."""
    return AdapterRegistry().types()
