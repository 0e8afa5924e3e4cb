"""Issue 14's event-ruler and quamina figures, carried over to this host through the engine they were taken beside.

Usage::

    python benchmarks/calibrate.py              # 2 rounds, about 3 minutes
    python benchmarks/calibrate.py --rounds 3

Position: a benchmark tool beside ``run.py``; prints numbers, asserts nothing about time (``run.py``
asserts every count).  Needs a git checkout (it reads the old engine from the history) and
``../shared/corpus/citylots``.

Why: ``run.py`` divides by the Java and Go figures issue 14 quotes, which were measured on the host the
issue was filed on.  Those programs cannot be built here (no Maven or Go module registry), so on a faster
or slower host the ratios drift with the host.  The issue also quotes our own engine's figures from the
same run (EXACT 416k, SUFFIX 371k, ANYTHING-BUT 229k, COMPLEX_ARRAYS 51k events/s from raw bytes).  That
engine is :data:`ISSUE_REV` in the history: this script runs it and the working tree's engine alternately,
round after round, and reports

* the speed-up since the issue, set by set (best column now ÷ the old engine's raw figure, same host,
  same run): independent of the host;
* the host factor: the old engine here ÷ its figure in the issue, for the four sets the issue quotes
  (their median scales every peer figure);
* each set's best figure against event-ruler and quamina scaled by that factor, with issue 14's targets.

The assumption, stated with the numbers: Java and Go speed up from host to host as CPython does (the four
factors' spread shows how far one factor fits all sets).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from run import EVENT_RULER, QUAMINA, SELECTIVE

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ISSUE_REV = "9813623"
"""The engine as it stood when issue 14 was filed: the parent of the first prefilter commit (the host
factors of the four quoted sets agreeing within about ±10% is the check that it is close enough)."""
ISSUE_OURS = {"EXACT": 416_000, "SUFFIX": 371_000, "ANYTHING-BUT": 229_000, "COMPLEX_ARRAYS": 51_000}
"""Our raw events/s in issue 14's side-by-side run, on its host."""
ARGS = ["--quick", "--no-peers", "--no-scaling"]


def run_benchmark(root: Path, out: Path) -> list[dict[str, Any]]:
    """``run.py`` of the tree at ``root`` in a child process; its JSON rows."""
    # PYTHONPATH: with the project installed editable, a script's own folder comes first on sys.path and
    # `import rules_engine` would find the installed tree, not ``root``'s
    done = subprocess.run([sys.executable, "benchmarks/run.py", *ARGS, "--json", str(out)], cwd=root,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)})
    if done.returncode != 0:
        sys.exit(f"calibrate: run.py in {root} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    rows: list[dict[str, Any]] = json.loads(out.read_text())
    return rows


def old_tree(where: Path) -> Path:
    """The engine at :data:`ISSUE_REV`, extracted beside a link to ``shared`` (its ``run.py`` finds the
    corpus at ``../shared``)."""
    tree = where / "engine"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", ISSUE_REV], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    (where / "shared").symlink_to(SHARED)
    return tree


def report(old: dict[str, float], now: dict[str, float]) -> str:
    factors = {s: old[s] / ours for s, ours in ISSUE_OURS.items() if s in old}
    f = statistics.median(factors.values())
    lines = [
        "host factor (issue's engine here / in the issue): "
        + ", ".join(f"{s} {v:.2f}" for s, v in factors.items()) + f"; median {f:.2f}",
        "",
        f"{'set':27} {'issue engine':>12} {'best now':>10} {'since issue':>11} {'ER here':>9} "
        f"{'x ER':>6} {'target':>6} {'x quamina':>9}",
    ]
    for s, er in EVENT_RULER.items():
        if s not in old or s not in now:
            continue
        want = 3.0 if s in SELECTIVE else 1.5
        ratio = now[s] / (er * f)
        verdict = "ok" if ratio >= want else "missed"
        qm = f"{now[s] / (QUAMINA[s] * f):.2f}" if s in QUAMINA else "-"
        lines.append(f"{s:27} {old[s]:12,.0f} {now[s]:10,.0f} {now[s] / old[s]:10.2f}x {er * f:9,.0f} "
                     f"{ratio:5.2f}x {want:5.1f}x {qm:>9}  {verdict}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="alternate old and new engine this many times")
    args = p.parse_args()
    if not (SHARED / "corpus" / "citylots" / "citylots-50k.jsonl.gz").exists():
        sys.exit(f"calibrate: {SHARED}/corpus/citylots is needed (the issue's figures are on those events)")
    old: dict[str, float] = {}
    now: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            tree = old_tree(Path(tmp))
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            sys.exit(f"calibrate: cannot read {ISSUE_REV} from the git history ({e})")
        for k in range(args.rounds):  # alternating: a burst of load hits both engines alike
            for row in run_benchmark(tree, Path(tmp) / f"old{k}.json"):
                old[row["workload"]] = max(old.get(row["workload"], 0.0), row["raw"])
            for row in run_benchmark(ROOT, Path(tmp) / f"now{k}.json"):
                best = max(row["raw"], row.get("on", 0.0), row.get("batch", 0.0))
                now[row["workload"]] = max(now.get(row["workload"], 0.0), best)
            print(f"round {k + 1} of {args.rounds} done", file=sys.stderr)
    print(f"best of {args.rounds} rounds; old engine {ISSUE_REV} (raw), now: the best of raw, prefilter and batch")
    print(report(old, now))


if __name__ == "__main__":
    main()
