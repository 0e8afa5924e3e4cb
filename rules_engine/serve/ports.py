"""What the sidecar needs from the layers below it, as Protocols.

Position in the pipeline::

    serve/ ──uses──▶ reload.LiveRuleSet (the rule set that swaps) and deliver.Dispatcher (targets)

serve/ is written against these shapes, so the app can be built over any object that has them (the
real ``Dispatcher`` and ``LiveRuleSet`` in production, the same classes in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from rules_engine.reload import ReloadAttempt, ReloadStatus
from rules_engine.route.router import Decision
from rules_engine.ruleset import RuleSet


class DecisionOutcome(Protocol):
    """How one decision ended (``deliver.Outcome``)."""

    @property
    def rule(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def attempts(self) -> int: ...

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


class DispatchOutcome(Protocol):
    """The result of one event's dispatch (``deliver.DispatchResult``)."""

    @property
    def outcomes(self) -> Sequence[DecisionOutcome]: ...

    @property
    def delivered(self) -> int: ...

    @property
    def dead_lettered(self) -> int: ...

    @property
    def failed(self) -> int: ...


class DispatcherPort(Protocol):
    async def start(self) -> None: ...

    async def dispatch(self, decisions: Sequence[Decision], *, event: Any, version: str) -> DispatchOutcome: ...

    async def dispatch_many(
        self, batch: Iterable[tuple[Sequence[Decision], Any]], *, version: str
    ) -> Sequence[DispatchOutcome]: ...

    async def update_targets(self, targets: Sequence[Any]) -> None: ...

    def health(self) -> Mapping[str, Any]: ...

    async def close(self, timeout: float = 10.0) -> None: ...


class LiveRules(Protocol):
    """The rule set reference that swaps atomically on reload (``reload.LiveRuleSet``)."""

    @property
    def current(self) -> RuleSet: ...

    @property
    def status(self) -> ReloadStatus: ...

    def reload(self, trigger: str = "manual") -> ReloadAttempt: ...

    def subscribe(self, on_reload: Callable[[RuleSet, ReloadAttempt], None] | None = None,
                  on_failure: Callable[[ReloadAttempt], None] | None = None) -> None: ...
