"""``rules-engine lint PATH... [--format text|json|github|sarif]``: shadowed, unsatisfiable, overlapping,
correlated rules and exceptions of more general ones.

Thin: loads each rule set (as ``validate`` groups them), runs :func:`rules_engine.author.lint.lint`, renders
the findings with the load warnings (unused targets …) through the diagnostic renderer.
Exit 0: no finding (or only warnings without ``--strict``); 1: load errors, or findings with ``--strict``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from rules_engine.author.lint import lint
from rules_engine.author.sarif import to_sarif
from rules_engine.cli.common import EXIT_FAIL, EXIT_OK, add_max_file_size
from rules_engine.loader import discover_sets, load_paths
from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic, render_github, render_text, sort_diagnostics
from rules_engine.model.source import Source


def add_parser(sub: Any) -> None:
    p = sub.add_parser("lint", help="find shadowed, unsatisfiable, overlapping, correlated rules, exceptions "
                       "and redundant conditions",
                       description="Static analysis of rule sets: every finding is a coded warning with its "
                       "position, and an example event (checked with the engine) where one exists "
                       "(docs/authoring.md#lint-it).")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text")
    p.add_argument("--strict", action="store_true",
                   help="findings fail the run (exit 1); informational ones (W406) do not")
    add_max_file_size(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    files = [p for p in args.paths if not Path(p).is_dir()]
    sets = [files] if files else []
    for p in args.paths:
        if Path(p).is_dir():
            sets.extend(discover_sets(p) or [[p]])
    diags: list[Diagnostic] = []
    sources: dict[str, Source] = {}
    unknown: list[str] = []
    searched: list[str] = []
    failed = False
    for rule_set in sets:
        res = load_paths(rule_set, args.max_file_size)
        sources.update(res.sources)
        diags.extend(res.diagnostics)
        if res.ir is None:
            failed = True
            continue
        found = lint(res.ir)
        diags.extend(found.diagnostics)
        unknown.extend(found.unknown)
        searched.extend(found.searched)
    diags = sort_diagnostics(diags)
    if args.format == "sarif":
        out.write(json.dumps(to_sarif(diags), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "json":
        out.write(json.dumps({"diagnostics": [d.to_dict() for d in diags], "unknown": unknown,
                              "searched": searched},
                             indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        if diags:
            out.write(render_github(diags) + "\n")
    else:
        if diags:
            out.write(render_text(diags, sources) + "\n")
        for u in unknown + searched:
            out.write(f"note: {u}\n")
        n_err = sum(d.is_error for d in diags)
        out.write(f"{len(sets)} rule set(s): {n_err} error(s), {len(diags) - n_err} finding(s)\n")
    if failed or any(d.is_error for d in diags) or (
            args.strict and any(d.code not in codes.INFORMATIONAL for d in diags)):
        return EXIT_FAIL
    return EXIT_OK
