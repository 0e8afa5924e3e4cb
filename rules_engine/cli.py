"""The ``rules-engine`` command: a thin shell over the public API.

Subcommands::

    validate PATH...            check rule files (exit 0 valid, 1 errors, 2 usage)
    dry-run --rules PATH ...    evaluate events and show matched rules (and why, with --explain)
    test-pattern --pattern P --event E   AWS TestEventPattern offline (exit 0 match, 1 no match, 2 invalid)
    compile --rules PATH [--show stats|tree|source] [--format text|json|mermaid|dot]   the compiled structure

Exit codes are part of the interface: CI scripts depend on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from .errors import Diagnostic, RuleError, render_github, render_text, sort_diagnostics
from .loader import MAX_FILE_BYTES, LoadResult, discover_sets, load_paths
from .ruleset import RuleSet

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_BAD_EVENTS = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: exit 2 with a short message
        self.print_usage(sys.stderr)
        print(f"rules-engine: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rules-engine", description="Declarative event-routing rules engine.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"rules-engine {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    v = sub.add_parser("validate", help="check rule files; exit 1 on any error",
                       description="Check rule files (*.yaml, *.yml, *.rules) and folders. Files named together form "
                       "one rule set; a folder that directly holds rule files is one rule set with everything below it; "
                       "a folder without rule files of its own groups independent rule sets (its sub-folders).")
    v.add_argument("paths", nargs="+", metavar="PATH")
    v.add_argument("--format", choices=("text", "json", "github"), default="text")
    v.add_argument("--strict", action="store_true", help="warnings fail the run too")
    v.add_argument("--max-file-size", type=int, default=MAX_FILE_BYTES, metavar="BYTES")
    v.add_argument("-q", "--quiet", action="store_true", help="print problems only")

    d = sub.add_parser("dry-run", help="evaluate events against rules and show the decisions",
                       description="Evaluate events against a rule set without delivering anything. Events come from "
                       "--event FILE (one JSON object), --events FILE (JSON Lines) or standard input (JSON Lines).")
    d.add_argument("--rules", action="append", required=True, metavar="PATH", help="rule file or folder (repeatable)")
    src = d.add_mutually_exclusive_group()
    src.add_argument("--event", metavar="FILE", help="one event (a JSON object)")
    src.add_argument("--events", metavar="FILE", help="events as JSON Lines ('-' for standard input)")
    d.add_argument("--explain", action="store_true", help="for every rule: why it matched or what failed")
    d.add_argument("--format", choices=("text", "json"), default="text")
    d.add_argument("--engine", choices=("compiled", "reference"), default="compiled")
    d.add_argument("--ingestion-time", metavar="ISO8601", type=_iso_time, default=None,
                   help="the time transforms see as the event's ingestion time (default: none, so the output "
                   "does not depend on the clock)")

    t = sub.add_parser("test-pattern", help="test one EventBridge pattern against one event (like AWS TestEventPattern)")
    t.add_argument("--pattern", required=True, metavar="FILE_OR_JSON")
    t.add_argument("--event", required=True, metavar="FILE_OR_JSON")

    c = sub.add_parser("compile", help="compile a rule set and show its decision structure",
                       description="Compile rules into the shared decision structure and show it: statistics, the "
                       "structure as a tree, the generated Python source, or a Mermaid / Graphviz drawing of how "
                       "rules share predicates (docs/compile.md).")
    c.add_argument("--rules", action="append", required=True, metavar="PATH", help="rule file or folder (repeatable)")
    c.add_argument("--show", choices=("stats", "tree", "source"), default="stats")
    c.add_argument("--format", choices=("text", "json", "mermaid", "dot"), default="text",
                   help="mermaid / dot draw the structure; json applies to stats")
    for command in _authoring_commands():
        command.add_parser(sub)
    return p


def _authoring_commands() -> tuple[Any, ...]:
    from . import cli_convert

    return (cli_convert,)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args, sys.stdout)
        if args.command == "dry-run":
            return cmd_dry_run(args, sys.stdout)
        if args.command == "test-pattern":
            return cmd_test_pattern(args, sys.stdout)
        if args.command == "compile":
            return cmd_compile(args, sys.stdout)
        if getattr(args, "run", None) is not None:
            code: int = args.run(args, sys.stdout)
            return code
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    _parser().print_help(sys.stderr)
    return EXIT_USAGE


# --- validate -------------------------------------------------------------------------


def _rule_sets(paths: Sequence[str]) -> list[list[str]]:
    files = [p for p in paths if not Path(p).is_dir()]
    sets = [files] if files else []
    for p in paths:
        if Path(p).is_dir():
            found = discover_sets(p)
            sets.extend(found if found else [[p]])
    return sets


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    results: list[tuple[list[str], LoadResult]] = []
    for rule_set in _rule_sets(args.paths):
        results.append((rule_set, load_paths(rule_set, args.max_file_size)))
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
            n_rules = sum(len(r.ir.rules) for _, r in results if r.ir is not None)
            status = "ok" if not errors else "FAILED"
            out.write(
                f"{status}: {sum(len(files) for files, _ in results)} file(s), {len(results)} rule set(s), {n_rules} rule(s); "
                f"{len(errors)} error(s), {len(warnings)} warning(s)\n"
            )
    if errors or (args.strict and warnings):
        return EXIT_FAIL
    return EXIT_OK


# --- dry-run ----------------------------------------------------------------------------


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


def cmd_dry_run(args: argparse.Namespace, out: TextIO) -> int:
    from . import load
    from .events import decode_event

    try:
        rs = load(*args.rules, engine=args.engine)
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
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


# --- compile ------------------------------------------------------------------------------


def cmd_compile(args: argparse.Namespace, out: TextIO) -> int:
    import time

    from . import load
    from .compile.compiled import compile_ruleset
    from .compile.show import show_dot, show_mermaid, show_stats, show_tree

    try:
        rs = load(*args.rules, engine="reference")
    except RuleError as e:
        sys.stderr.write(render_text(e.diagnostics, e.sources) + "\n")
        return EXIT_FAIL
    started = time.perf_counter()
    compiled = compile_ruleset(rs.ir)
    seconds = time.perf_counter() - started
    if args.format == "mermaid":
        out.write(show_mermaid(compiled))
    elif args.format == "dot":
        out.write(show_dot(compiled))
    elif args.show == "tree":
        out.write(show_tree(compiled))
    elif args.show == "source":
        out.write(compiled.source)
    else:
        out.write(show_stats(compiled, seconds, "json" if args.format == "json" else "text"))
    return EXIT_OK


# --- test-pattern -------------------------------------------------------------------------


def _json_arg(value: str, what: str) -> str:
    s = value.lstrip()
    if s.startswith(("{", "[", '"')) or not Path(value).exists():
        return value
    return Path(value).read_text(encoding="utf-8")


def cmd_test_pattern(args: argparse.Namespace, out: TextIO) -> int:
    from .pattern import test_event_pattern

    try:
        pattern = _json_arg(args.pattern, "pattern")
        event = _json_arg(args.event, "event")
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
