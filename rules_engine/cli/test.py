"""``rules-engine test [PATH...]``: run the rule unit tests (``*_test.yaml``) found under the paths.

Thin: finds the files, runs them (rules_engine/author/testing.py), renders the report.
Exit 0: every test passed (and coverage reached ``--threshold``); 1: a failure, an invalid test
(E710-E712), or coverage below the threshold; 2: usage (no test files found).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from rules_engine.author.test_report import render_json, render_junit, render_text, total_coverage
from rules_engine.author.testing import find_test_files, run_test_files
from rules_engine.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, add_max_file_size


def add_parser(sub: Any) -> None:
    p = sub.add_parser("test", help="run rule unit tests (*_test.yaml beside the rules)",
                       description="Run the rule unit tests in *_test.yaml files (found in folders, recursively): "
                       "each test gives an event and what should happen: the rules that match, the targets, the "
                       "payloads (docs/authoring.md).")
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="test files or folders (default: .)")
    p.add_argument("--format", choices=("text", "json", "junit"), default="text")
    p.add_argument("--coverage", action="store_true",
                   help="report which rules, targets and conditions (each or branch, each pattern field) "
                   "were exercised")
    p.add_argument("--threshold", type=float, default=None, metavar="PERCENT",
                   help="fail when total coverage is below PERCENT (implies --coverage)")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    add_max_file_size(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    files = find_test_files(args.paths)
    if not files:
        sys.stderr.write(f"rules-engine: error: no *_test.yaml files under {', '.join(args.paths)}\n")
        return EXIT_USAGE
    with_coverage = args.coverage or args.threshold is not None
    results = run_test_files(files, with_coverage, args.max_file_size)
    if args.format == "json":
        out.write(render_json(results))
    elif args.format == "junit":
        out.write(render_junit(results))
    else:
        out.write(render_text(results, args.verbose))
    failed = any(r.diagnostics or any(not c.ok for c in r.cases) for r in results)
    if args.threshold is not None:
        got = total_coverage(results)
        if got < args.threshold:
            sys.stderr.write(f"coverage {got:.1f}% is below the threshold of {args.threshold:g}%\n")
            failed = True
    return EXIT_FAIL if failed else EXIT_OK
