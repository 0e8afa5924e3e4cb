"""What every command shares: the exit codes (part of the interface: CI scripts depend on them),
reading a rule file or standard input, rendering diagnostics."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from rules_engine.loader import decode
from rules_engine.model.errors import Diagnostic, render_text, sort_diagnostics
from rules_engine.model.source import Source

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_BAD_EVENTS = 3

FORMATS = {"yaml": "yaml", "rules": "dsl"}
"""Format names on the command line (``--to``, ``--from``) -> the loader's names."""


def read_input(path: str, name: str | None = None) -> Source | None:
    """The file (or standard input for ``-``) as a Source; a usage message and None when unreadable."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as e:
        sys.stderr.write(f"rules-engine: error: cannot read {path!r}: {e.strerror or e}\n")
        return None
    src, diags = decode(data, name or ("<stdin>" if path == "-" else path))
    if src is None:
        render_diagnostics(diags, {})
    return src


def render_diagnostics(diags: Sequence[Diagnostic], sources: Mapping[str, Source]) -> None:
    sys.stderr.write(render_text(sort_diagnostics(diags), sources) + "\n")
