"""The reloader: notices rule-file changes and reloads the live rule set, once per burst.

Position in the pipeline::

    file events (watchdog) ─┐
    content-hash poll ──────┼─▶ debounce ─▶ fingerprint changed? ─▶ LiveRuleSet.reload (worker thread)
    SIGHUP / request() ─────┘        (one owned asyncio task)

Why both a watcher and a poll: watchdog reports changes within milliseconds,
but events can be missed (network file systems, an inotify queue overflow, a
watch limit) and a Kubernetes ConfigMap update shows up only as a symlink swap
of ``..data``.  So every event is only a hint: the decision to reload is always
"has the content hash of the rule files changed since the version we last
acted on?", and the poll asks the same question every ``poll_interval``.

A burst of events (a ``git checkout`` writing many files, an editor writing a
temp file and renaming it) is folded into one reload: the reload starts once
no event arrived for ``debounce`` seconds (at most ``max_delay`` after the
first).  Should a load still see a half-written tree, ``LiveRuleSet`` detects
it (the hash moved during the load) and loads again.

Loading and compiling run in a worker thread, never on the event loop.  One
task does all reloads, so they never overlap; the signal handler and the
watchdog thread only set a flag and wake that task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from rules_engine.reload.live import LiveRuleSet, ReloadAttempt
from rules_engine.reload.snapshot import fingerprint

__all__ = ["Reloader"]

log = logging.getLogger("rules_engine.reload")

# Events that reading a file produces (our own fingerprinting and loading among them): not changes.
_READ_EVENTS: Final = frozenset({"opened", "closed_no_write"})
STOP_TIMEOUT_S: Final = 5.0


class _Hint(FileSystemEventHandler):
    """Runs in watchdog's thread: any change under a watched folder wakes the reloader."""

    def __init__(self, reloader: Reloader) -> None:
        self._reloader = reloader

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _READ_EVENTS:
            self._reloader.request("watch", force=False)


class Reloader:
    """Watches ``paths`` (default: the live rule set's paths) and reloads ``live`` on change.

    ``debounce``: quiet time after the last event before reloading.  ``poll_interval``:
    how often the content hash is compared anyway.  ``watch=False`` disables watchdog
    (poll, SIGHUP and :meth:`request` only).  Use ``async with`` or start/stop.
    """

    def __init__(
        self,
        live: LiveRuleSet,
        paths: Sequence[str] | None = None,
        *,
        debounce: float = 0.2,
        poll_interval: float = 2.0,
        max_delay: float = 1.0,
        watch: bool = True,
    ) -> None:
        if debounce < 0 or poll_interval <= 0 or max_delay < debounce:
            raise ValueError("need debounce >= 0, poll_interval > 0 and max_delay >= debounce")
        self._live = live
        self._watch_paths = tuple(str(p) for p in (paths if paths is not None else live.paths))
        self._debounce = debounce
        self._poll_interval = poll_interval
        self._max_delay = max_delay
        self._watch = watch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._observer: BaseObserver | None = None
        self._sighup_loop: asyncio.AbstractEventLoop | None = None
        # Set by request() on the loop thread, consumed by the worker task.
        self._pending: str | None = None
        self._force = False
        # The content hash last acted on: a check reloads only when the files moved away from it.
        self._seen = live.version

    @property
    def watching(self) -> bool:
        """Is watchdog running (False: changes are found by the poll only)?"""
        return self._observer is not None and self._observer.is_alive()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("Reloader already started")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._watch:
            self._observer = await asyncio.to_thread(self._start_observer)
        self._task = asyncio.create_task(self._run(), name="rules-engine-reloader")

    async def stop(self) -> None:
        """Stop watching and polling; a reload in progress finishes in its thread."""
        if self._sighup_loop is not None:
            self._sighup_loop.remove_signal_handler(signal.SIGHUP)
            self._sighup_loop = None
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, STOP_TIMEOUT_S)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, STOP_TIMEOUT_S)

    async def __aenter__(self) -> Reloader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def install_sighup(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Reload on SIGHUP (forced: even when the content hash did not change).  Main thread only."""
        loop = loop or self._loop or asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request, "sighup")
        self._sighup_loop = loop

    def request(self, trigger: str = "manual", *, force: bool = True) -> None:
        """Ask for a check (``force=False``: reload only if the files changed) or a reload.

        Thread-safe and non-blocking; requests that arrive close together fold into one.
        The outcome is in ``live.status`` and the subscribers' callbacks.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to wake
            loop.call_soon_threadsafe(self._note, trigger, force)

    # --- the worker task --------------------------------------------------------------------

    def _note(self, trigger: str, force: bool) -> None:
        if force or self._pending is None:
            self._pending = trigger
        self._force = self._force or force
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None and self._loop is not None
        wake, loop = self._wake, self._loop
        while True:
            try:
                await asyncio.wait_for(wake.wait(), self._poll_interval)
            except TimeoutError:
                trigger, force = "poll", False
            else:
                # Debounce: wait for a quiet spell, but no longer than max_delay in all.
                deadline = loop.time() + self._max_delay
                while True:
                    wake.clear()
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        await asyncio.wait_for(wake.wait(), min(self._debounce, left))
                    except TimeoutError:
                        break
                trigger, force = self._pending or "watch", self._force
                self._pending, self._force = None, False
            try:
                await asyncio.to_thread(self._check, trigger, force)
            except Exception:  # noqa: BLE001 - keep watching whatever one check did
                log.exception("rule reload check (%s) failed", trigger)

    def _check(self, trigger: str, force: bool) -> ReloadAttempt | None:
        """In a worker thread: reload when forced or when the files' content hash moved."""
        seen = fingerprint(self._live.paths)
        if not force and seen == self._seen:
            return None
        attempt = self._live.reload(trigger)
        # After a success the loaded version is the reference (if the files moved on
        # since, the next check sees it); after a failure, the content that failed, so
        # the same broken files are not reported again on every poll.
        self._seen = attempt.version if attempt.version is not None else seen
        return attempt

    def _start_observer(self) -> BaseObserver | None:
        observer = Observer()
        handler = _Hint(self)
        scheduled = 0
        for folder, recursive in _watch_roots(self._watch_paths):
            try:
                observer.schedule(handler, folder, recursive=recursive)
                scheduled += 1
            except OSError as e:  # e.g. the inotify watch limit: the poll still finds changes
                log.warning("cannot watch %s (%s); relying on the %.1f s poll", folder, e, self._poll_interval)
        if not scheduled:
            return None
        try:
            observer.start()
        except OSError as e:
            log.warning("cannot start the file watcher (%s); relying on the %.1f s poll", e, self._poll_interval)
            return None
        return observer


def _watch_roots(paths: Sequence[str]) -> list[tuple[str, bool]]:
    """Folders to watch: a folder recursively; a file through its parent folder (so a rename onto
    it, or a ConfigMap's ``..data`` symlink swap beside it, is seen)."""
    roots: dict[str, bool] = {}
    for p in paths:
        path = Path(p)
        if path.is_dir():
            folder, recursive = str(path), True
        else:
            parent = path.parent if str(path.parent) else Path(os.curdir)
            if not parent.is_dir():
                continue
            folder, recursive = str(parent), False
        roots[folder] = roots.get(folder, False) or recursive
    return list(roots.items())
