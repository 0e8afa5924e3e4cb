"""The reload switch: the sidecar's pipeline moves to each newly loaded rule set once its targets are open.

Position in the pipeline::

    LiveRules (reload) ──on_reload──▶ **RuleSwitch** ──▶ dispatcher.update_targets(new + old)
                                                       ──▶ pipeline.rules = new
                                                       ──▶ old set's jobs settled ──▶ update_targets(new)

``create_app`` (serve/app.py) builds one per app and attaches it in the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from rules_engine.reload import ReloadAttempt
from rules_engine.ruleset import RuleSet
from rules_engine.serve.metrics import Metrics
from rules_engine.serve.pipeline import Pipeline
from rules_engine.serve.ports import DispatcherPort, LiveRules

__all__ = ["SWITCH_TIMEOUT", "RuleSwitch"]

log = logging.getLogger("rules_engine.serve")

SWITCH_TIMEOUT = 30.0
"""Seconds a reload may take to open its new targets before the switch is given up (old set keeps routing)."""


def _both(new: Sequence[Any], old: Sequence[Any]) -> list[Any]:
    """The targets of a new rule set, then those of the old one it does not name (the new one wins a name)."""
    names = {t.name for t in new}
    return [*new, *(t for t in old if t.name not in names)]


class RuleSwitch:
    """Moves the pipeline to each newly loaded rule set once the set's targets are open.

    ``on_reload``/``on_failure`` are the live rule set's callbacks (they may come from another thread);
    the switch itself runs on the app's loop, one at a time.  Invariant: meanwhile the dispatcher holds
    both sets' targets (the new one's on a shared name), so no decision of either set finds its target
    gone; the old set's own targets are dropped once the jobs it routed have settled.
    """

    def __init__(self, live: LiveRules, pipeline: Pipeline, dispatcher: DispatcherPort, metrics: Metrics) -> None:
        self.live, self.pipeline, self.dispatcher, self.metrics = live, pipeline, dispatcher, metrics
        self.loop: asyncio.AbstractEventLoop | None = None  # set by attach, before any callback can come
        self._switching = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()

    def attach(self) -> None:
        """Take the running loop and subscribe to the live rule set (from the app's lifespan)."""
        self.loop = asyncio.get_running_loop()
        self.live.subscribe(self.on_reload, self.on_failure)

    def on_reload(self, rs: RuleSet, attempt: ReloadAttempt) -> None:
        self.metrics.reload_result(True, attempt.trigger)
        self.metrics.serving(rs.version, len(rs.rules))
        # The dispatcher learns the new targets on the loop (the callback may come from another thread);
        # only then does the pipeline route with the new set, so no decision names a target not yet open.
        loop = self.loop
        assert loop is not None, "attach() sets the loop before it subscribes"
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lambda: self._spawn(self._switch()))

    def on_failure(self, attempt: ReloadAttempt) -> None:
        self.metrics.reload_result(False, attempt.trigger)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def cancel(self) -> None:
        """Cancel the switches still running and wait for them (at shutdown)."""
        pending = list(self._background)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _switch(self) -> None:
        """Route with the newest set once its targets are open; drop the old set's own targets once the
        jobs it routed have settled."""
        pipeline, dispatcher = self.pipeline, self.dispatcher
        async with self._switching:
            rs = self.live.current  # the newest set, even if several reloads came in quick succession
            old = pipeline.rules
            if rs is old:
                return
            try:
                async with asyncio.timeout(SWITCH_TIMEOUT):
                    await dispatcher.update_targets(_both(rs.targets, old.targets))
            except Exception:  # noqa: BLE001 - reported; the previous set keeps routing, its targets kept
                log.exception("opening the targets of rule set %s failed; %s keeps routing", rs.version,
                              old.version)
                self.metrics.reload_result(False, "targets")
                return
            pipeline.rules = rs
            if not await pipeline.settled(old.version, SWITCH_TIMEOUT):
                log.warning("jobs routed by rule set %s still in flight after %s s; closing its targets",
                            old.version, SWITCH_TIMEOUT)
            try:
                async with asyncio.timeout(SWITCH_TIMEOUT):
                    await dispatcher.update_targets(rs.targets)  # drains what the old targets hold, closes them
            except Exception:  # noqa: BLE001 - reported; the new set routes already
                log.exception("closing the targets of rule set %s failed", old.version)
