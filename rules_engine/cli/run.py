"""``rules-engine run``: evaluate events and deliver them through the targets' adapters.

Position in the pipeline::

    JSON Lines ─▶ RuleSet.evaluate ─▶ [Decision] ─▶ deliver.Dispatcher ─▶ adapters ─▶ summary (stderr)

Events are read one line at a time; up to ``--max-pending`` events are being
delivered at once (the dispatcher's per-target bound applies beneath), so a
long input streams in bounded memory.  The summary counts per target what was
delivered, retried, dead-lettered and lost, and the possible duplicates: messages
delivered after an attempt whose outcome was unknown (a timeout, a broken
connection), which the target may hold twice; the exit status is 1 when anything
was lost (neither delivered nor dead-lettered), 3 when only malformed input
lines were skipped, 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any, TextIO

from rules_engine import load
from rules_engine.cli.common import EXIT_BAD_EVENTS, EXIT_FAIL, EXIT_OK, EXIT_USAGE, add_max_file_size
from rules_engine.deliver import Dispatcher, DispatchResult, Message
from rules_engine.model.errors import RuleError, render_text
from rules_engine.model.events import decode_event
from rules_engine.route.router import Decision
from rules_engine.ruleset import RuleSet

__all__ = ["Summary", "add_parser", "run", "run_events"]

PROGRESS_MIN_BYTES = 1 << 20  # a progress bar only for inputs worth waiting for


class Summary:
    """Counts per target (a DeliveryObserver) and the rendering of the final table."""

    def __init__(self) -> None:
        self.ok: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.dups: Counter[str] = Counter()
        self.events = 0
        self.decisions = 0
        self.bad_lines = 0
        self.lost_details: list[str] = []

    # --- DeliveryObserver -----------------------------------------------------------------
    def delivered(self, target: str, rule: str, seconds: float) -> None:
        self.ok[target] += 1

    def retried(self, target: str, reason: str) -> None:
        self.retries[target] += 1

    def dead_lettered(self, target: str, rule: str, code: str, reason: str, message: Message) -> None:
        self.dead[target] += 1

    def failed(self, target: str, rule: str, reason: str) -> None:
        self.lost[target] += 1

    def possible_duplicate(self, target: str, rule: str) -> None:
        """Delivered after an attempt whose outcome was unknown (a timeout, a broken connection)."""
        self.dups[target] += 1

    # --- results --------------------------------------------------------------------------
    def add(self, result: DispatchResult) -> None:
        for o in result.outcomes:
            if o.status == "failed" and len(self.lost_details) < 20:
                self.lost_details.append(f"error[{o.code}]: {o.message}")

    def render(self, seconds: float) -> str:
        names = sorted(set(self.ok) | set(self.retries) | set(self.dead) | set(self.lost))
        width = max([len("target"), *(len(n) for n in names)])
        lines = [f"{'target':<{width}}  delivered  retried  dead-lettered  lost  possible-dups"]
        for n in names:
            lines.append(f"{n:<{width}}  {self.ok[n]:>9}  {self.retries[n]:>7}  {self.dead[n]:>13}  {self.lost[n]:>4}"
                         f"  {self.dups[n]:>13}")
        lost, dups = sum(self.lost.values()), sum(self.dups.values())
        lines.append(f"{self.events} event(s), {self.decisions} decision(s) in {seconds:.2f}s; "
                     + ("nothing lost" if not lost else f"{lost} LOST"))
        if dups:
            lines.append(f"{dups} possible duplicate(s): delivered after an attempt whose outcome was unknown "
                         "(a timeout or a broken connection), so the target may hold them twice")
        return "\n".join(lines + self.lost_details) + "\n"


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for n, line in enumerate(stream, 1):
        if line.strip():
            yield n, line


def _progress(path: str | None, err: TextIO) -> Any:
    if path in (None, "-") or not err.isatty():
        return None
    try:
        size = os.path.getsize(str(path))
    except OSError:
        return None
    if size < PROGRESS_MIN_BYTES:
        return None
    try:  # optional (the [progress] extra): without it, no bar
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=size, unit="B", unit_scale=True, desc="events", file=err, leave=False)


async def run_events(rs: RuleSet, events: str | None, err: TextIO, *, max_pending: int = 512,
                     close_timeout: float = 30.0, chunk: int = 64) -> Summary:
    """Deliver every event of ``events`` (a JSON Lines file, or standard input for None/'-').

    Events go to the dispatcher ``chunk`` at a time (``Dispatcher.dispatch_many``: one call, one wake-up
    per chunk, the lanes send them as batches); at most ``max_pending`` events are in delivery at once.
    """
    summary = Summary()
    dispatcher = Dispatcher(rs.targets, observer=summary)
    await dispatcher.start()
    pending: set[asyncio.Task[list[DispatchResult]]] = set()
    room = asyncio.Semaphore(max(1, max_pending // chunk))  # chunks in delivery at once
    bar = _progress(events, err)

    def done(task: asyncio.Task[list[DispatchResult]]) -> None:
        pending.discard(task)
        room.release()
        if not task.cancelled() and task.exception() is None:
            for result in task.result():
                summary.add(result)

    async def send(batch: list[tuple[list[Decision], Any]]) -> None:
        await room.acquire()  # bounded: at most max_pending events in delivery
        task = asyncio.create_task(dispatcher.dispatch_many(batch, version=rs.version))
        pending.add(task)
        task.add_done_callback(done)
        await asyncio.sleep(0)  # the reading loop is synchronous: let the chunk start now

    stream: IO[bytes] = sys.stdin.buffer if events is None or events == "-" else open(events, "rb")
    batch: list[tuple[list[Decision], Any]] = []
    try:
        for lineno, raw in _lines(stream):
            if bar is not None:
                bar.update(len(raw))
            try:
                event = decode_event(raw, name=f"line {lineno}")
            except RuleError as e:
                summary.bad_lines += 1
                d = e.diagnostics[0]
                err.write(f"{events or '<stdin>'}:{lineno}: error[{d.code}]: {d.message} (event skipped)\n")
                continue
            decisions = rs.evaluate(event)
            summary.events += 1
            summary.decisions += sum(1 for x in decisions if x.action != "skip")
            batch.append((decisions, event))
            if len(batch) >= chunk:
                await send(batch)
                batch = []
        if batch:
            await send(batch)
        if pending:
            await asyncio.gather(*pending)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        if bar is not None:
            bar.close()
        await dispatcher.close(close_timeout)
    return summary


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="evaluate events and deliver them to the targets; exit 1 if any is lost",
                       description="Evaluate events (JSON Lines) against a rule set and deliver every decision through "
                       "its target's adapter, with retries and dead letters (docs/delivery.md). Prints a summary per "
                       "target on standard error; exit 0 when everything was delivered or dead-lettered, 1 when "
                       "anything was lost, 3 when malformed lines were skipped.")
    p.add_argument("--rules", action="append", required=True, metavar="PATH", help="rule file or folder (repeatable)")
    p.add_argument("--events", metavar="FILE", default="-", help="events as JSON Lines ('-' for standard input)")
    p.add_argument("--engine", choices=("compiled", "reference"), default="compiled")
    add_max_file_size(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """0 all delivered or dead-lettered, 1 something lost (or rule errors), 3 bad input lines."""
    err = sys.stderr
    try:
        rs = load(*args.rules, engine=args.engine, max_file_bytes=args.max_file_size)
    except RuleError as e:
        err.write(render_text(e.diagnostics, e.sources) + "\n")
        return EXIT_FAIL
    started = time.monotonic()
    try:
        summary = asyncio.run(run_events(rs, args.events, err))
    except OSError as e:
        err.write(f"rules-engine: error: cannot read events: {e.strerror or e}\n")
        return EXIT_USAGE
    err.write(summary.render(time.monotonic() - started))
    if sum(summary.lost.values()):
        return EXIT_FAIL
    if summary.bad_lines:
        err.write(f"{summary.bad_lines} malformed event(s) skipped\n")
        return EXIT_BAD_EVENTS
    return EXIT_OK
