"""``rules-engine test-pattern --pattern P --event E``: AWS TestEventPattern offline
(exit 0 match, 1 no match, 2 invalid)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from rules_engine import test_event_pattern
from rules_engine.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from rules_engine.model.errors import RuleError

NAME = "test-pattern"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("test-pattern",
                       help="test one EventBridge pattern against one event (like AWS TestEventPattern)")
    p.add_argument("--pattern", required=True, metavar="FILE_OR_JSON")
    p.add_argument("--event", required=True, metavar="FILE_OR_JSON")
    p.set_defaults(run=run)


def _json_arg(value: str) -> str:
    s = value.lstrip()
    if s.startswith(("{", "[", '"')) or not Path(value).exists():
        return value
    return Path(value).read_text(encoding="utf-8")


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        pattern = _json_arg(args.pattern)
        event = _json_arg(args.event)
    except (OSError, UnicodeDecodeError) as e:
        sys.stderr.write(f"rules-engine: error: {e}\n")
        return EXIT_USAGE
    try:
        ok = test_event_pattern(pattern, event)
    except RuleError as e:
        for d in e.diagnostics:
            sys.stderr.write(f"error[{d.code}]: {d.message}\n")
        return EXIT_USAGE
    out.write("match\n" if ok else "no match\n")
    return EXIT_OK if ok else EXIT_FAIL
