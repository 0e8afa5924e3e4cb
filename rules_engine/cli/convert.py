"""``rules-engine convert FILE --to yaml|rules``: one rule format to the other, lossless to the IR.

Thin: reads the file, calls :func:`rules_engine.author.convert.convert_source`, writes the text or renders the
diagnostics (exit 1).  Standard input is ``-`` with ``--from``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from rules_engine.author.convert import convert_source
from rules_engine.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    FORMATS,
    add_max_file_size,
    read_input,
    render_diagnostics,
)
from rules_engine.loader import format_of


def add_parser(sub: Any) -> None:
    p = sub.add_parser("convert", help="convert a rule file between YAML and the rule language",
                       description="Write a rule file in the other format. The result lowers to exactly the same "
                       "rules (it is loaded again and compared); a construct the other format cannot express is "
                       "error E701, never dropped (docs/authoring.md).")
    p.add_argument("file", metavar="FILE", help="a .yaml/.yml or .rules file, or '-' for standard input")
    p.add_argument("--to", choices=tuple(FORMATS), help="output format (default: the other one)")
    p.add_argument("--from", dest="source_format", choices=tuple(FORMATS), help="input format (needed for '-')")
    p.add_argument("-o", "--output", metavar="PATH", help="write here instead of standard output")
    add_max_file_size(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    src_fmt = FORMATS[args.source_format] if args.source_format else format_of(args.file)
    if src_fmt is None:
        sys.stderr.write(f"rules-engine: error: cannot tell the format of {args.file!r}; use --from yaml|rules\n")
        return EXIT_USAGE
    dst_fmt = FORMATS[args.to] if args.to else ("dsl" if src_fmt == "yaml" else "yaml")
    source = read_input(args.file, max_bytes=args.max_file_size)
    if source is None:
        return EXIT_USAGE
    text, diags = convert_source(source, src_fmt, dst_fmt)
    if diags:
        render_diagnostics(diags, {source.name: source})
    if text is None:
        return EXIT_FAIL
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        out.write(text)
    return EXIT_OK
