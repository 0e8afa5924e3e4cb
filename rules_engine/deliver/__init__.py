"""Delivery: decisions reach their targets through pluggable adapters.

Position in the pipeline::

    RuleSet.evaluate ─▶ [Decision] ─▶ **deliver** (Dispatcher ─▶ Adapter per target) ─▶ brokers, webhooks, files

See docs/delivery.md.  Nothing below this layer imports it; the loader learns
target types and their option checks from an injected :class:`AdapterRegistry`
(a ``TargetCatalog``), and adapters are found through the
``rules_engine.adapters`` entry-point group.
"""

from rules_engine.deliver.base import (
    CONFIRMED,
    Adapter,
    AdapterType,
    AdapterUnavailable,
    Health,
    Message,
    SendResult,
    permanent,
    transient,
)
from rules_engine.deliver.dispatcher import DeliveryObserver, Dispatcher, DispatchResult, Outcome
from rules_engine.deliver.policy import RetryPolicy, TargetSettings
from rules_engine.deliver.registry import AdapterRegistry, known_target_types

__all__ = [
    "CONFIRMED",
    "Adapter",
    "AdapterRegistry",
    "AdapterType",
    "AdapterUnavailable",
    "DeliveryObserver",
    "DispatchResult",
    "Dispatcher",
    "Health",
    "Message",
    "Outcome",
    "RetryPolicy",
    "SendResult",
    "TargetSettings",
    "known_target_types",
    "permanent",
    "transient",
]
