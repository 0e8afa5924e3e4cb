"""Hot-reload latency: from a rule file write to the new version serving (not a test).

Run:  .venv/bin/python benchmarks/reload_latency.py [--rules sample-rules/shop] [--writes 20] [--debounce 0.2]

Copies the rule folder to a temporary folder, serves it with a ``LiveRuleSet`` and a
``Reloader`` (watchdog + the default 2 s poll), then ``--writes`` times rewrites one rule
file through a temp file and a rename (as editors and ``kubectl``'s kubelet do), changing
its content, and measures the time from just before the write until ``live.current`` is
the new version (taken in the ``on_reload`` callback, right after the swap).  Prints the
median, the best and the worst, and the load + check + compile time alone (the rest is the
debounce and the file watcher).

It also checks the result: every write must produce exactly one successful reload to the
expected version, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rules_engine.reload import LiveRuleSet, ReloadAttempt, Reloader, fingerprint  # noqa: E402
from rules_engine.ruleset import RuleSet  # noqa: E402


async def measure(folder: Path, writes: int, debounce: float) -> tuple[list[float], list[float]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".rules"))
    target = files[0]
    original = target.read_text(encoding="utf-8")
    live = LiveRuleSet([str(folder)])
    published: dict[str, float] = {}
    loads: list[float] = []
    seen = threading.Event()

    def on_reload(rs: RuleSet, attempt: ReloadAttempt) -> None:
        if attempt.changed:
            published[rs.version] = time.perf_counter()
            loads.append(attempt.duration_s)
            seen.set()

    live.subscribe(on_reload, lambda a: print("unexpected failure:\n" + a.rendered, file=sys.stderr))
    latencies: list[float] = []
    async with Reloader(live, debounce=debounce):
        for n in range(writes):
            text = original + f"\n# benchmark write {n}\n"
            tmp = target.with_name("." + target.name + ".tmp")
            seen.clear()
            start = time.perf_counter()
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
            deadline = time.monotonic() + 10
            expected = None
            while time.monotonic() < deadline:
                await asyncio.sleep(0.001)
                if seen.is_set():
                    expected = fingerprint([str(folder)])
                    if expected in published:
                        break
            if expected is None or expected not in published:
                raise SystemExit(f"write {n}: the new version did not serve within 10 s")
            assert live.version == expected
            latencies.append(published[expected] - start)
            await asyncio.sleep(debounce + 0.1)  # let the watcher settle before the next write
    if live.status.reloads["success"] != writes or live.status.reloads["failure"]:
        raise SystemExit(f"expected {writes} reloads, got {dict(live.status.reloads)}")
    return latencies, loads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", default="sample-rules/shop", help="a rule folder (copied; not modified)")
    ap.add_argument("--writes", type=int, default=20)
    ap.add_argument("--debounce", type=float, default=0.2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rules"
        shutil.copytree(args.rules, folder)
        lat, loads = asyncio.run(measure(folder, args.writes, args.debounce))
    ms = [x * 1000 for x in lat]
    one, five, fifteen = os.getloadavg()
    load = f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
    print(f"rules: {args.rules}, {args.writes} writes, debounce {args.debounce:.3f} s, "
          f"Python {sys.version.split()[0]}, {load} (at the end)")
    print(f"write -> new version serving: median {statistics.median(ms):.0f} ms, "
          f"best {min(ms):.0f} ms, worst {max(ms):.0f} ms")
    print(f"of which load + check + compile: median {statistics.median(loads) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
