"""The JSON bodies of the sidecar's reload endpoints, as pure functions of the reload status.

Position in the pipeline::

    LiveRuleSet.status / reload() ──**rules_body / reload_body**──▶ (HTTP status, JSON body) ──serve/──▶ client

serve/ owns the HTTP; these functions own the shape, so the library, the CLI
and the sidecar describe a reload the same way.
"""

from __future__ import annotations

from typing import Any

from rules_engine.reload.live import ReloadAttempt, ReloadStatus

__all__ = ["reload_body", "rules_body"]


def rules_body(status: ReloadStatus) -> dict[str, Any]:
    """GET /rules: the serving version, when it was loaded, and how the reloads went."""
    return status.to_dict()


def reload_body(attempt: ReloadAttempt, status: ReloadStatus) -> tuple[int, dict[str, Any]]:
    """POST /-/reload: ``(200, {...})`` with the serving version after a successful reload,
    ``(422, {...})`` with the diagnostics after a failed one (the old version keeps serving)."""
    body: dict[str, Any] = {
        "result": attempt.result,
        "version": status.version,
        "changed": attempt.changed,
        "previous": attempt.previous,
        "message": attempt.message,
        "duration_s": round(attempt.duration_s, 6),
        "diagnostics": [d.to_dict() for d in attempt.diagnostics],
    }
    if not attempt.ok:
        body["rendered"] = attempt.rendered
    return (200 if attempt.ok else 422), body
