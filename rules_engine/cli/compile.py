"""``rules-engine compile --rules PATH [--show stats|tree|source] [--events FILE]``: the compiled structure."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from rules_engine.cli.common import EXIT_FAIL, EXIT_OK, add_max_file_size, load_one_set
from rules_engine.compile import compile_ruleset, show_dot, show_mermaid, show_source, show_stats, show_tree
from rules_engine.model.errors import RuleError, render_text

NAME = "compile"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("compile", help="compile a rule set and show its decision structure",
                       description="Compile rules into the shared decision structure and show it: statistics, the "
                       "structure as a tree, the generated Python source, or a Mermaid / Graphviz drawing of how "
                       "rules share predicates (docs/compile.md).")
    p.add_argument("--rules", action="append", required=True, metavar="PATH", help="rule file or folder (repeatable)")
    p.add_argument("--show", choices=("stats", "tree", "source"), default="stats")
    add_max_file_size(p)
    p.add_argument("--format", choices=("text", "json", "mermaid", "dot"), default="text",
                   help="mermaid / dot draw the structure; json applies to stats")
    p.add_argument("--events", metavar="FILE",
                   help="JSON events, one a line ('-': standard input): stats then say how many of them the "
                   "raw-byte prefilter rejects before decoding (docs/performance.md)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        rs = load_one_set(args.rules, "reference", args.max_file_size)
    except RuleError as e:
        sys.stderr.write(render_text(e.diagnostics, e.sources) + "\n")
        return EXIT_FAIL
    events: list[bytes] | None = None
    if args.events:
        try:
            data = sys.stdin.buffer.read() if args.events == "-" else Path(args.events).read_bytes()
        except OSError as e:
            sys.stderr.write(f"rules-engine: error: cannot read {args.events!r}: {e.strerror or e}\n")
            return EXIT_FAIL
        events = [line for line in data.splitlines() if line.strip()]
    started = time.perf_counter()
    compiled = compile_ruleset(rs.ir, clock=time.perf_counter)
    seconds = time.perf_counter() - started
    if args.format == "mermaid":
        out.write(show_mermaid(compiled))
    elif args.format == "dot":
        out.write(show_dot(compiled))
    elif args.show == "tree":
        out.write(show_tree(compiled))
    elif args.show == "source":
        out.write(show_source(compiled))
    else:
        out.write(show_stats(compiled, seconds, "json" if args.format == "json" else "text", events))
    return EXIT_OK
