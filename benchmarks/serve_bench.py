"""HTTP ingest benchmark of the sidecar, beside a bare Starlette endpoint measured in the same run.

    python benchmarks/serve_bench.py [--duration 10] [--connections 32] [--batch 100]

Each server runs as its own process pinned to CPU 0 (uvicorn, one worker); wrk (`apt-get install wrk`)
runs pinned to CPU 1 and reports requests/s and latency percentiles.  Measured:

* **bare**: a Starlette endpoint that only parses the JSON body (``orjson.loads``) and answers 200;
* **single**: ``rules-engine serve`` ingesting one structured CloudEvent per request, routed to a ``file``
  target; the answer comes after the file write is confirmed;
* **batched**: the same with ``application/cloudevents-batch+json`` bodies of ``--batch`` events.

Targets (issue 12): single >= 50% of bare; batched >= 50,000 events/s.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EVENT = (b'{"specversion":"1.0","id":"bench-1","source":"/bench","type":"order.created",'
         b'"datacontenttype":"application/json","data":{"order_id":"A1","total":1500,"currency":"EUR",'
         b'"customer":{"id":"c-42","tier":"gold"},"items":[{"sku":"X1","qty":2},{"sku":"Y7","qty":1}]}}')

RULES = """\
targets:
  out: {type: file, path: %s}
rules:
  - name: orders
    match: {type: [order.created]}
    targets: [out]
"""


def bare_app() -> object:
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def events(request: Request) -> Response:
        orjson.loads(await request.body())
        return Response(b'{"ok":true}', media_type="application/json")

    return Starlette(routes=[Route("/events", events, methods=["POST"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def wrk(url: str, body: bytes, content_type: str, duration: int, connections: int, tmp: Path) -> dict[str, float]:
    script = tmp / "post.lua"
    body_file = tmp / "body.bin"
    body_file.write_bytes(body)
    script.write_text(
        f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{content_type}"\n'
        'done = function(summary, latency, requests)\n'
        '  io.write(string.format("STATS %d %d %d\\n",\n'
        '    summary.requests, summary.errors.status, latency:percentile(99)))\n'
        'end\n')
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-s", str(script), url],
                         capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"STATS (\d+) (\d+) (\d+)", out)
    assert m is not None, out
    return {"rps": rps, "requests": float(m.group(1)), "non2xx": float(m.group(2)), "p99_ms": int(m.group(3)) / 1000}


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_server:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare_server, log_level="error")  # type: ignore[arg-type]
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    py = sys.executable
    rows: list[tuple[str, dict[str, float], int]] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        proc = subprocess.Popen(["taskset", "-c", "0", py, str(Path(__file__).resolve()), "--bare-server", str(port)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            rows.append(("bare Starlette endpoint (parse JSON only)",
                         wrk(f"http://127.0.0.1:{port}/events", EVENT, "application/json", args.duration,
                             args.connections, tmp), 1))
        finally:
            stop(proc)
        out = tmp / "out.jsonl"
        (tmp / "rules.yaml").write_text(RULES % out)
        port = free_port()
        (tmp / "sidecar.yaml").write_text(
            f"listen: {{port: {port}}}\n"
            f"limits: {{max_batch_events: {max(args.batch, 1000)}, max_body_bytes: 67108864}}\n"
            "queue: {size: 1024, workers: 64}\nreload: {watch: false}\nlogging: {level: warning}\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(["taskset", "-c", "0", py, "-m", "rules_engine", "serve",
                                 "--rules", str(tmp / "rules.yaml"), "--config", str(tmp / "sidecar.yaml")],
                                cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            url = f"http://127.0.0.1:{port}/events"
            rows.append(("sidecar, single event (structured) -> file",
                         wrk(url, EVENT, "application/cloudevents+json", args.duration, args.connections, tmp), 1))
            batch = b"[" + b",".join([EVENT] * args.batch) + b"]"
            rows.append((f"sidecar, batches of {args.batch} -> file",
                         wrk(url, batch, "application/cloudevents-batch+json", args.duration,
                             max(4, args.connections // 4), tmp), args.batch))
        finally:
            stop(proc)
        delivered = sum(1 for _ in out.open("rb")) if out.exists() else 0
    bare_rps = rows[0][1]["rps"]
    print(f"\nHTTP ingest, {args.duration} s per row, wrk -t1 -c{args.connections} on CPU 1, server on CPU 0\n")
    print("| workload | requests/s | events/s | p99 latency | vs bare | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r, per in rows:
        print(f"| {name} | {r['rps']:,.0f} | {r['rps'] * per:,.0f} | {r['p99_ms']:.1f} ms | "
              f"{r['rps'] / bare_rps:.0%} | {r['non2xx']:,.0f} |")
    print(f"\nlines written to the file target: {delivered:,}")


if __name__ == "__main__":
    main()
