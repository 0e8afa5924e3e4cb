"""Per-target delivery settings: retries, timeout, dead letter, ordering, in-flight bound.

Position in the pipeline::

    ir.Target.options ──**settings_of**──▶ TargetSettings ──▶ the dispatcher's lane for that target

The options are the ones every target type shares (their schema is
``rules_engine.check.target_types.COMMON_OPTIONS_SCHEMA``, checked at load time)::

    retry: {attempts: 6, backoff: exponential, initial: 0.2, max: 10, jitter: 0.2, max_age: 60}
    timeout: 10          # seconds for one attempt to be confirmed
    dead_letter: audit   # a target that receives what could not be delivered
    ordered: false       # true: same partition key, delivered in order
    max_in_flight: 256   # unconfirmed messages at once (backpressure beyond)

Why these defaults (docs/delivery.md, "Retries"): a sidecar holds undelivered
messages in memory while its caller waits to acknowledge its input, so it
retries for about a minute (enough to ride out a broker restart, a rolling
deploy or a burst of 503s) rather than EventBridge's 24 hours; what is still
undelivered then belongs in a durable dead letter, not in a router's memory.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["RetryPolicy", "TargetSettings", "settings_of"]

Backoff = Literal["exponential", "linear"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` counts every attempt, the first included (1 = never retry)."""

    attempts: int = 6
    backoff: Backoff = "exponential"
    initial: float = 0.2
    max: float = 10.0
    jitter: float = 0.2
    max_age: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1-based)."""
        base = self.initial * (2 ** (failures - 1) if self.backoff == "exponential" else failures)
        base = min(base, self.max)
        # Jitter only shortens the wait (by up to that fraction), so ``max`` stays a true bound
        # and many senders retrying at once spread out.
        return base * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True, slots=True)
class TargetSettings:
    retry: RetryPolicy = RetryPolicy()
    timeout: float = 10.0
    dead_letter: str | None = None
    ordered: bool = False
    max_in_flight: int = 256
    batch: int = 64


def settings_of(options: Mapping[str, Any], max_in_flight: int = 256) -> TargetSettings:
    """The shared options of a target (checked at load time, so read without re-validating)."""
    r = options.get("retry") or {}
    d = RetryPolicy()
    retry = RetryPolicy(
        attempts=int(r.get("attempts", d.attempts)),
        backoff="linear" if r.get("backoff") == "linear" else "exponential",
        initial=float(r.get("initial", d.initial)),
        max=float(r.get("max", d.max)),
        jitter=float(r.get("jitter", d.jitter)),
        max_age=float(r.get("max_age", d.max_age)),
    )
    dl = options.get("dead_letter")
    return TargetSettings(
        retry=retry,
        timeout=float(options.get("timeout", 10.0)),
        dead_letter=dl if isinstance(dl, str) else None,
        ordered=bool(options.get("ordered", False)),
        max_in_flight=int(options.get("max_in_flight", max_in_flight)),
        batch=int(options.get("batch", 64)),
    )
