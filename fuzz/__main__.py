"""``python -m fuzz``: run the fuzz targets for a bounded time or number of cases.

    python -m fuzz --seconds 60                  # the CI run (both targets, alternating)
    python -m fuzz --seconds 1800 --seed 7       # a long run
    python -m fuzz --target events --seed 7 --replay 1234   # re-run one case, print its input

Exit status: 0 when no case failed, 1 when some did (each distinct finding is written
as JSON to ``--out``, with the case input and the command that replays it).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from fuzz.seeds import load_seeds
from fuzz.targets import Failure, Fuzzer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--target", choices=["rules", "events", "both"], default="both")
    ap.add_argument("--seconds", type=float, default=60.0, help="stop after this much wall time")
    ap.add_argument("--cases", type=int, default=0, help="stop after this many cases (0: no limit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replay", type=int, default=None, help="run case N only and print it")
    ap.add_argument("--time-budget", type=float, default=2.0, help="CPU seconds one case may take")
    ap.add_argument("--mem-budget", type=int, default=512, help="MiB the resident set may grow by in a run")
    ap.add_argument("--out", default="fuzz-findings", help="folder for failing cases")
    ap.add_argument("--progress", type=float, default=30.0, help="print counts every N seconds")
    args = ap.parse_args(argv)

    seeds = load_seeds()
    for note in seeds.notes:
        print(f"note: {note}", flush=True)
    fz = Fuzzer(seeds, args.time_budget, args.mem_budget * 2**20)
    targets = ["rules", "events"] if args.target == "both" else [args.target]
    print(f"seeds: {len(seeds.yaml_texts)} YAML, {len(seeds.dsl_texts)} rule-language files, "
          f"{len(seeds.events)} events; {len(fz.rule_sets)} rule sets for events", flush=True)

    if args.replay is not None:
        for t in targets:
            f = fz.one(t, args.seed, args.replay)
            print(json.dumps({"target": t, "failure": _as_dict(f) if f else None}, indent=2, default=str))
        return 1 if f else 0

    # A watchdog for what the CPU timer cannot interrupt: a C extension that never returns (the
    # process's CPU time runs on) or a read that blocks (wall time runs on).  CPU time, not wall
    # time, is the first measure: on a loaded machine a niced run can wait many seconds per case.
    state = {"case": "", "since": time.monotonic(), "cpu": time.process_time()}
    cpu_limit, wall_limit = max(30.0, args.time_budget * 15), 600.0

    def watchdog() -> None:
        while True:
            time.sleep(1.0)
            cpu = time.process_time() - state["cpu"]  # type: ignore[operator]
            wall = time.monotonic() - state["since"]  # type: ignore[operator]
            if cpu > cpu_limit or wall > wall_limit:
                print(f"HANG: case {state['case']} ran {cpu:.0f} s of CPU time, {wall:.0f} s of wall time",
                      flush=True)
                import os

                os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()

    out = Path(args.out)
    found: dict[str, Failure] = {}
    failures = 0
    start = last = time.monotonic()
    i = 0
    while True:
        now = time.monotonic()
        if now - start >= args.seconds or (args.cases and i >= args.cases):
            break
        target = targets[i % len(targets)]
        state["case"] = f"--target {target} --seed {args.seed} --replay {i // len(targets)}"
        state["since"], state["cpu"] = now, time.process_time()
        f = fz.one(target, args.seed, i // len(targets))
        i += 1
        if f is not None:
            failures += 1
            sig = f.signature()
            if sig not in found:
                found[sig] = f
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{f.target}-{f.kind}-{len(found):03d}.json").write_text(
                    json.dumps(_as_dict(f), indent=2, default=str))
                print(f"FAIL [{f.kind}] {f.target}: {f.message[:300]}\n  replay: python -m fuzz {f.case['replay']}",
                      flush=True)
        if now - last >= args.progress:
            last = now
            _report(fz, failures, found, now - start)
    _report(fz, failures, found, time.monotonic() - start)
    return 1 if found else 0


def _report(fz: Fuzzer, failures: int, found: dict[str, Failure], elapsed: float) -> None:
    s = fz.stats
    print(f"[{elapsed:7.0f} s] cases: rules {s.cases['rules']}, events {s.cases['events']} "
          f"(rule files loaded {s.loaded}, rejected with RuleError {s.rejected}; engine comparisons {s.compared}); "
          f"failing cases {failures}, distinct findings {len(found)}", flush=True)


def _as_dict(f: Failure) -> dict[str, object]:
    return {"kind": f.kind, "target": f.target, "message": f.message, "case": f.case, "trace": f.trace}


if __name__ == "__main__":
    sys.exit(main())
