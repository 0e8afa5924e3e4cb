"""``rules-engine validate PATH...``: check rule files (exit 0 valid, 1 errors, 2 usage)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rules_engine.cli.common import EXIT_FAIL, EXIT_OK, add_max_file_size
from rules_engine.deliver import AdapterRegistry
from rules_engine.loader import LoadResult, discover_sets, load_paths
from rules_engine.model.errors import Diagnostic, render_github, render_text, sort_diagnostics

NAME = "validate"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("validate", help="check rule files; exit 1 on any error",
                       description="Check rule files (*.yaml, *.yml, *.rules) and folders. Files named together form "
                       "one rule set; a folder that directly holds rule files is one rule set with everything "
                       "below it; "
                       "a folder without rule files of its own groups independent rule sets (its sub-folders).")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument("--strict", action="store_true", help="warnings fail the run too")
    add_max_file_size(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    p.set_defaults(run=run)


def _rule_sets(paths: Sequence[str]) -> list[list[str]]:
    files = [p for p in paths if not Path(p).is_dir()]
    sets = [files] if files else []
    for p in paths:
        if Path(p).is_dir():
            found = discover_sets(p)
            sets.extend(found if found else [[p]])
    return sets


def run(args: argparse.Namespace, out: TextIO) -> int:
    results: list[tuple[list[str], LoadResult]] = []
    registry = AdapterRegistry()  # target types, built-in and plugin, and the check of their options
    for rule_set in _rule_sets(args.paths):
        results.append((rule_set, load_paths(rule_set, args.max_file_size, catalog=registry)))
    diags: list[Diagnostic] = sort_diagnostics(d for _, r in results for d in r.diagnostics)
    sources = {k: v for _, r in results for k, v in r.sources.items()}
    errors = [d for d in diags if d.is_error]
    warnings = [d for d in diags if not d.is_error]
    if args.format == "json":
        payload = {
            "valid": not errors and not (args.strict and warnings),
            "errors": len(errors),
            "warnings": len(warnings),
            "files": sorted(sources),
            "diagnostics": [d.to_dict() for d in diags],
        }
        out.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        if diags:
            out.write(render_github(diags) + "\n")
    else:
        if diags:
            out.write(render_text(diags, sources) + "\n")
        if not args.quiet:
            n_rules = sum(r.rules_found for _, r in results)
            status = "ok" if not errors else "FAILED"
            out.write(
                f"{status}: {len(sources)} file(s), {len(results)} rule set(s), "
                f"{n_rules} rule(s); "
                f"{len(errors)} error(s), {len(warnings)} warning(s)\n"
            )
    if errors or (args.strict and warnings):
        return EXIT_FAIL
    return EXIT_OK
