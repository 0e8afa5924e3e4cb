"""What every command shares: the exit codes (part of the interface: CI scripts depend on them),
reading a rule file or standard input, rendering diagnostics."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rules_engine import load
from rules_engine.loader import MAX_FILE_BYTES, decode, discover_sets, read_source
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic, RuleError, render_text, sort_diagnostics
from rules_engine.model.source import Source
from rules_engine.ruleset import RuleSet

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_BAD_EVENTS = 3

FORMATS = {"yaml": "yaml", "rules": "dsl"}
"""Format names on the command line (``--to``, ``--from``) -> the loader's names."""


def add_max_file_size(parser: Any) -> None:
    """``--max-file-size``: the same option on every command that reads rule files."""
    parser.add_argument("--max-file-size", type=int, default=MAX_FILE_BYTES, metavar="BYTES",
                        help=f"refuse rule files larger than this (E104; default {MAX_FILE_BYTES})")


def read_input(path: str, name: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Source | None:
    """The file (or standard input for ``-``) as a Source; diagnostics and None when unreadable.

    A file is read like any rule file (``loader.read_source``: regular files only, the size
    limit); standard input is read up to the limit."""
    if path == "-":
        src, diags = decode(sys.stdin.buffer.read(max_bytes + 1), name or "<stdin>", max_bytes)
    else:
        src, diags = read_source(path, max_bytes)
    if src is None:
        render_diagnostics(diags, {})
    return src


def load_one_set(paths: Sequence[str], engine: str, max_file_size: int) -> RuleSet:
    """The one rule set dry-run and compile work on, by validate's rule for what a rule set is
    (``loader.discover_sets``): a folder without rule files of its own groups independent rule
    sets, so naming it is E150 with the sets it holds, instead of merging them
    (docs/validate-in-ci.md).  Paths named together (``--rules`` repeated) load together, as
    validate does with files."""
    problems = []
    for p in paths:
        sets = discover_sets(p) if Path(p).is_dir() else []
        if len(sets) > 1:
            shown = [", ".join(s) for s in sets]
            problems.append(codes.SEVERAL_RULE_SETS.at(
                None, notes=[f"rule sets found: {'; '.join(shown[:8])}{' …' if len(shown) > 8 else ''}",
                             "name one of them (--rules may be given several times to load paths together)"],
                path=p, count=len(sets)))
    if problems:
        raise RuleError(problems)
    return load(*paths, engine=engine, max_file_bytes=max_file_size)


def render_diagnostics(diags: Sequence[Diagnostic], sources: Mapping[str, Source]) -> None:
    sys.stderr.write(render_text(sort_diagnostics(diags), sources) + "\n")
