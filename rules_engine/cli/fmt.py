"""``rules-engine fmt [PATH...] [--check] [--diff] [--write]``: the canonical layout of rule files.

Thin: finds the files, calls :func:`rules_engine.author.fmt.format_source`, then prints, writes, diffs or
checks.  No path (or ``-``) formats standard input to standard output (``--from`` names its format).
Exit 0: done (or nothing would change); 1: with ``--check``, some file would change, or a file has errors;
2: usage.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any, TextIO

from rules_engine.author.fmt import format_source
from rules_engine.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    FORMATS,
    add_max_file_size,
    read_input,
    render_diagnostics,
)
from rules_engine.loader import collect_files, format_of


def add_parser(sub: Any) -> None:
    p = sub.add_parser("fmt", help="format rule files in the canonical layout (comments kept, meaning kept)",
                       description="Format rule files: the rule language is printed in one canonical layout, YAML "
                       "is re-indented; comments stay. The result always loads to exactly the same rules (checked). "
                       "Without --write, --check or --diff the formatted text goes to standard output.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders; none or '-' reads standard input")
    p.add_argument("--check", action="store_true", help="exit 1 if any file would change (write nothing)")
    p.add_argument("--diff", action="store_true", help="show what would change as a unified diff")
    p.add_argument("--write", action="store_true", help="rewrite the files in place")
    add_max_file_size(p)
    p.add_argument("--from", dest="source_format", choices=tuple(FORMATS), default="rules",
                   help="format of standard input (default: rules)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    paths = args.paths or ["-"]
    if paths == ["-"]:
        source = read_input("-", max_bytes=args.max_file_size)
        if source is None:
            return EXIT_USAGE
        text, diags = format_source(source, FORMATS[args.source_format])
        if text is None:
            render_diagnostics(diags, {source.name: source})
            return EXIT_FAIL
        if args.check or args.diff:
            return _report(out, args, source.name, source.text, text)
        out.write(text)
        return EXIT_OK
    files, diags = collect_files([p for p in paths if p != "-"])
    if diags:
        render_diagnostics(diags, {})
        if any(d.is_error for d in diags):
            return EXIT_FAIL  # warnings (W101: a FIFO skipped) leave the other files to format
    if len(files) > 1 and not (args.write or args.check or args.diff):
        sys.stderr.write("rules-engine: error: several files: use --write, --check or --diff\n")
        return EXIT_USAGE
    status = EXIT_OK
    for name in files:
        source = read_input(name, max_bytes=args.max_file_size)
        fmt = format_of(name)
        if source is None or fmt is None:
            status = EXIT_FAIL
            continue
        text, diags = format_source(source, fmt)
        if text is None:
            render_diagnostics(diags, {source.name: source})
            status = EXIT_FAIL
            continue
        if args.write:
            if text != source.text:
                Path(name).write_text(text, encoding="utf-8")
                sys.stderr.write(f"formatted {name}\n")
        if args.check or args.diff:
            status = max(status, _report(out, args, name, source.text, text))
        elif not args.write:
            out.write(text)
    return status


def _report(out: TextIO, args: argparse.Namespace, name: str, before: str, after: str) -> int:
    if before == after:
        return EXIT_OK
    if args.diff:
        out.writelines(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                            f"{name} (original)", f"{name} (formatted)"))
    if args.check:
        sys.stderr.write(f"would reformat {name}\n")
        return EXIT_FAIL
    return EXIT_OK
