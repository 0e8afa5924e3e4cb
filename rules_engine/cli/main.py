"""The ``rules-engine`` command: the argument parser and the dispatch to one module per subcommand.

Subcommands::

    validate PATH...            check rule files (exit 0 valid, 1 errors, 2 usage)
    dry-run --rules PATH ...    evaluate events and show matched rules (and why, with --explain)
    test-pattern --pattern P --event E   AWS TestEventPattern offline (exit 0 match, 1 no match, 2 invalid)
    compile --rules PATH [--show stats|tree|source] [--format text|json|mermaid|dot]   the compiled structure
    convert FILE --to yaml|rules   one rule format to the other (docs/authoring.md)
    run --rules PATH --events FILE.jsonl|-   evaluate and deliver (exit 0 nothing lost, 1 lost, 3 bad lines)
    serve --rules PATH [--config FILE]   the sidecar (docs/sidecar.md)

Exit codes are part of the interface: CI scripts depend on them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rules_engine import __version__
from rules_engine.cli import compile, convert, diff, dry_run, fmt, lint, run, serve, test, test_pattern, validate
from rules_engine.cli.common import EXIT_OK, EXIT_USAGE

COMMANDS = (validate, dry_run, run, test_pattern, compile, test, fmt, lint, diff, convert, serve)
"""The subcommands in the order ``--help`` lists them; each has ``add_parser(sub)`` and ``run(args, out)``."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: exit 2 with a short message
        self.print_usage(sys.stderr)
        print(f"rules-engine: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rules-engine", description="Declarative event-routing rules engine.")
    p.add_argument("--version", action="version", version=f"rules-engine {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.run(args, sys.stdout)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
