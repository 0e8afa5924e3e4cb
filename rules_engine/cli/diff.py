"""``rules-engine diff OLD NEW --events FILE.jsonl``: what a rule change does to recorded traffic.

Thin: loads both rule sets (paths, or ``REV:path`` for a git revision of a path), replays the events
(rules_engine/author/diff.py), renders the report.  Exit 0: done (1 with ``--fail-on-change`` when some
event would be routed differently); 1: a rule set does not load; 2: usage (events unreadable, bad revision).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from typing import Any, TextIO

from rules_engine import load
from rules_engine.author.diff import diff_events, materialize, render_markdown, render_text
from rules_engine.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, add_max_file_size
from rules_engine.model.errors import RuleError
from rules_engine.model.errors import render_text as render_diagnostics


def add_parser(sub: Any) -> None:
    p = sub.add_parser("diff", help="replay recorded events through two rule sets and report what changes",
                       description="Replay recorded events (JSON Lines) through the OLD and the NEW rule set and "
                       "report, grouped, the events newly matched, no longer matched, routed to different targets "
                       "or with a changed payload, counted per rule and target, with examples. OLD and NEW are "
                       "files or folders, or REV:path for a path at a git revision (HEAD~1:rules/).")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--events", required=True, metavar="FILE", help="recorded events, one JSON object per line "
                   "('-' for standard input)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when any event is routed differently")
    add_max_file_size(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="rules-engine-diff-") as work:
        try:
            old_path, new_path = materialize(args.old, work), materialize(args.new, work)
        except ValueError as e:
            sys.stderr.write(f"rules-engine: error: {e}\n")
            return EXIT_USAGE
        sets = []
        for path in (old_path, new_path):
            try:
                sets.append(load(path, max_file_bytes=args.max_file_size))
            except RuleError as e:
                sys.stderr.write(render_diagnostics(e.diagnostics, e.sources) + "\n")
                return EXIT_FAIL
    try:
        stream = sys.stdin.buffer if args.events == "-" else open(args.events, "rb")
    except OSError as e:
        sys.stderr.write(f"rules-engine: error: cannot read events: {e.strerror or e}\n")
        return EXIT_USAGE
    with stream:
        report = diff_events(sets[0], sets[1], stream, args.old, args.new)
    if args.format == "json":
        out.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
    elif args.format == "markdown":
        out.write(render_markdown(report))
    else:
        out.write(render_text(report))
    return EXIT_FAIL if args.fail_on_change and report.changed else EXIT_OK
