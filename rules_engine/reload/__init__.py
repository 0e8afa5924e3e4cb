"""Hot reload: a rule set that swaps atomically while it serves, and the reloader that drives it.

Position in the layers (imports point down)::

    cli/ ─▶ serve/ ─▶ **reload/** ─▶ deliver/ ─▶ the public API (load, RuleSet, RuleError)

* :class:`LiveRuleSet` holds the serving :class:`~rules_engine.RuleSet` (lock-free
  reads, one atomic swap per reload, last known good on failure) and its
  :class:`ReloadStatus`.
* :class:`Reloader` watches the files (watchdog, a content-hash poll, SIGHUP),
  folds bursts into one reload and runs it off the event loop.
* :func:`rules_body` and :func:`reload_body` are the JSON bodies of ``GET /rules``
  and ``POST /-/reload``.

See docs/reload.md.
"""

from __future__ import annotations

from rules_engine.reload.live import LiveRuleSet, OnFailure, OnReload, ReloadAttempt, ReloadStatus
from rules_engine.reload.report import reload_body, rules_body
from rules_engine.reload.snapshot import fingerprint
from rules_engine.reload.watch import Reloader

__all__ = [
    "LiveRuleSet",
    "OnFailure",
    "OnReload",
    "ReloadAttempt",
    "ReloadStatus",
    "Reloader",
    "fingerprint",
    "reload_body",
    "rules_body",
]
