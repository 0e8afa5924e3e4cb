"""Diagnostics as SARIF 2.1.0, the format code-scanning interfaces read (GitHub shows each result inline).

Position in the pipeline::

    [Diagnostic] ──**to_sarif**──▶ one SARIF log (one run, this tool, one result per diagnostic)

Only what SARIF 2.1.0 requires and what GitHub code scanning uses: the driver's rules (code, title, help
link), and per result its rule, level, message and region (1-based lines and columns, end column exclusive).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rules_engine import __version__
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP = "https://github.com/rules-engine/rules-engine/blob/main/docs/diagnostics.md"


def _uri(path: str) -> str:
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return rel.replace(os.sep, "/")


def _level(code: str) -> str:
    return "note" if code in codes.INFORMATIONAL else "warning" if code.startswith("W") else "error"


def to_sarif(diags: Sequence[Diagnostic]) -> dict[str, Any]:
    used = sorted({d.code for d in diags})
    rules = [{"id": c, "name": codes.TABLE[c].title.title().replace(" ", "") if c in codes.TABLE else c,
              "shortDescription": {"text": codes.TABLE[c].title if c in codes.TABLE else c},
              "helpUri": HELP,
              "defaultConfiguration": {"level": _level(c)}} for c in used]
    index = {c: i for i, c in enumerate(used)}
    results = []
    for d in diags:
        text = d.message + "".join(f"\n{n}" for n in d.notes)
        result: dict[str, Any] = {"ruleId": d.code, "ruleIndex": index[d.code],
                                  "level": "error" if d.is_error else _level(d.code),
                                  "message": {"text": text}}
        if d.span is not None:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(d.span.file)},
                "region": {"startLine": d.span.line, "startColumn": d.span.column,
                           "endLine": d.span.end_line, "endColumn": d.span.end_column},
            }}]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "rules-engine", "version": __version__, "informationUri": HELP,
                                "rules": rules}},
            "results": results,
        }],
    }
