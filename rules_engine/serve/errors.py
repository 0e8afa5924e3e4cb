"""Refusals of the sidecar: one exception carrying a diagnostic and the HTTP status that answers it.

Position in the pipeline::

    HTTP request ──binding / auth / limits──▶ **IngestError** ──▶ 4xx/5xx JSON body {"error": {...}}

Every refusal has a stable code from the code table (E660..E679), so a producer can act on it; nothing a
client sends may end in a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules_engine.model.codes import Code
from rules_engine.model.errors import Diagnostic


class IngestError(Exception):
    """A request the sidecar refuses: ``status`` is the HTTP answer, ``diagnostic`` says why."""

    def __init__(self, status: int, diagnostic: Diagnostic, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(diagnostic.message)
        self.status = status
        self.diagnostic = diagnostic
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, status: int, code: Code, headers: Mapping[str, str] | None = None, **args: Any) -> IngestError:
        return cls(status, code.at(None, **args), headers)

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.diagnostic)


def error_body(status: int, diag: Diagnostic, **extra: Any) -> dict[str, Any]:
    """The JSON error body every refusal uses: ``{"error": {"status", "code", "message", ...}}``."""
    err: dict[str, Any] = {"status": status, "code": diag.code, "message": diag.message}
    if diag.notes:
        err["notes"] = list(diag.notes)
    err.update(extra)
    return {"error": err}
