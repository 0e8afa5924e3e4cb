"""``rules-engine dry-run --rules PATH ...``: evaluate events and show matched rules and decisions
(and why, with ``--explain``); nothing is delivered."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from rules_engine.cli.common import (
    EXIT_BAD_EVENTS,
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    add_max_file_size,
    load_one_set,
)
from rules_engine.model.errors import RuleError, render_text
from rules_engine.model.events import decode_event
from rules_engine.ruleset import RuleSet

NAME = "dry-run"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("dry-run", help="evaluate events against rules and show the decisions",
                       description="Evaluate events against a rule set without delivering anything. Events come from "
                       "--event FILE (one JSON object), --events FILE (JSON Lines) or standard input (JSON Lines).")
    p.add_argument("--rules", action="append", required=True, metavar="PATH", help="rule file or folder (repeatable)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--event", metavar="FILE", help="one event (a JSON object)")
    src.add_argument("--events", metavar="FILE", help="events as JSON Lines ('-' for standard input)")
    p.add_argument("--explain", action="store_true", help="for every rule: why it matched or what failed")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--engine", choices=("compiled", "reference"), default="compiled")
    add_max_file_size(p)
    p.add_argument("--ingestion-time", metavar="ISO8601", type=_iso_time, default=None,
                   help="the time transforms see as the event's ingestion time (default: none, so the output "
                   "does not depend on the clock)")
    p.set_defaults(run=run)


def _events(args: argparse.Namespace) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of each event."""
    if args.event:
        yield 1, Path(args.event).read_bytes()
        return
    stream = sys.stdin.buffer if (args.events in (None, "-")) else open(args.events, "rb")
    try:
        for n, line in enumerate(stream, 1):
            if line.strip():
                yield n, line
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        rs = load_one_set(args.rules, args.engine, args.max_file_size)
    except RuleError as e:
        sys.stderr.write(render_text(e.diagnostics, e.sources) + "\n")
        return EXIT_FAIL
    targets_of = {r.name: [t.name for t in r.targets] for r in rs.rules}
    bad = 0
    index = 0
    try:
        for lineno, raw in _events(args):
            index += 1
            try:
                event = decode_event(raw, name=f"line {lineno}")
            except RuleError as e:
                bad += 1
                d = e.diagnostics[0]
                where = args.event or args.events or "<stdin>"
                sys.stderr.write(f"{where}:{lineno}: error[{d.code}]: {d.message} (event skipped)\n")
                continue
            _print_event(out, args, rs, targets_of, index, lineno, event)
    except OSError as e:
        sys.stderr.write(f"rules-engine: error: cannot read events: {e.strerror or e}\n")
        return EXIT_USAGE
    if bad:
        sys.stderr.write(f"{bad} malformed event(s) skipped\n")
        return EXIT_BAD_EVENTS
    return EXIT_OK


def _print_event(
    out: TextIO,
    args: argparse.Namespace,
    rs: RuleSet,
    targets_of: dict[str, list[str]],
    index: int,
    lineno: int,
    event: dict[str, Any],
) -> None:
    event_id = event.get("id")
    names = rs.match(event)
    matched = [(n, targets_of[n]) for n in names]
    verdicts = rs.explain(event) if args.explain else None
    decisions = rs.evaluate(event, now=args.ingestion_time)
    if args.format == "json":
        obj: dict[str, Any] = {"index": index, "line": lineno, "id": event_id, "version": rs.version,
                               "matched": [{"rule": n, "targets": t} for n, t in matched]}
        if not names and rs.ir.default_targets:
            obj["default_targets"] = [t.name for t in rs.ir.default_targets]
        obj["decisions"] = [d.to_dict() for d in decisions]
        if verdicts is not None:
            obj["explain"] = [v.to_dict() for v in verdicts]
        out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
        return
    label = f"event {index}" + (f" (id {event_id})" if event_id is not None else "")
    if not names:
        tail = ""
        if rs.ir.default_targets:
            tail = " -> default route: " + ", ".join(t.name for t in rs.ir.default_targets)
        out.write(f"{label}: no rule matched{tail}\n")
        _print_decisions(out, decisions, "<default>", [t.name for t in rs.ir.default_targets])
    else:
        out.write(f"{label}: {len(names)} rule(s) matched\n")
    if verdicts is None:
        for rule, targets in matched:
            out.write(f"  ✓ {rule} -> {', '.join(targets) or '(no targets)'}\n")
            _print_decisions(out, decisions, rule, targets)
        return
    width = max((len(v.rule) for v in verdicts), default=0)
    for v in verdicts:
        if v.status == "matched":
            out.write(f"  ✓ {v.rule:<{width}}  matched -> {', '.join(v.targets) or '(no targets)'}\n")
            _print_decisions(out, decisions, v.rule, v.targets)
        elif v.status == "no match":
            out.write(f"  ✗ {v.rule:<{width}}  {v.reason}\n")
        elif v.status == "disabled":
            out.write(f"  - {v.rule:<{width}}  disabled\n")
        else:
            out.write(f"  - {v.rule:<{width}}  not evaluated: rule {v.stopped_by!r} matched and stops\n")


def _print_decisions(out: TextIO, decisions: list[Any], rule: str, targets: Sequence[str]) -> None:
    """Each target's rendered payload (compact JSON) under the rule that sent it, in target order."""
    by_target: dict[str, list[Any]] = {}
    for d in decisions:
        if d.rule == rule:
            meant = dict(d.headers).get("x-rules-engine-target", d.target)  # a dead letter names its target
            by_target.setdefault(meant, []).append(d)
    for name in dict.fromkeys(targets):
        if name not in by_target:
            out.write(f"      → {name}: not sent again (an earlier rule routed this event there; deduplicate)\n")
        for d in by_target.get(name, ()):
            e = d.error
            if d.action == "skip":
                out.write(f"      → {d.target}: skipped: error[{e.code}] {e.message}\n")
                continue
            body = json.dumps(d.payload, ensure_ascii=False, separators=(",", ":"), default=str)
            if d.action == "dead_letter":
                out.write(f"      → {d.target}: dead letter for {name} (error[{e.code}] {e.message}): {body}\n")
            elif e is not None:
                out.write(f"      → {d.target}: {body}  (null-filled: error[{e.code}] {e.message})\n")
            else:
                out.write(f"      → {d.target}: {body}\n")


def _iso_time(text: str) -> Any:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
