"""Scale-out on the broker: three `rules-engine serve` processes share one JetStream durable consumer over
a 20,000-event stream; one is killed with SIGKILL mid-stream.  At the targets every event arrived at least
once (the broker redelivers what the dead replica left unacked); duplicates are counted and reported."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import orjson
import pytest
from serve_helpers import require_service

ROOT = Path(__file__).resolve().parents[1]
N = 20_000


async def _fill(stream: str, subject: str) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[subject])
    for start in range(0, N, 500):
        await asyncio.gather(*(js.publish(subject, orjson.dumps({"type": "order.created", "id": f"e{i}"}))
                               for i in range(start, min(N, start + 500))))
    await nc.close()


async def _drop(stream: str) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    await nc.jetstream().delete_stream(stream)
    await nc.close()


def _ids(folder: Path) -> tuple[list[str], int]:
    ids: list[str] = []
    torn = 0
    for f in sorted(folder.glob("out-*.jsonl")):
        for line in f.read_bytes().splitlines():
            try:
                ids.append(orjson.loads(line)["id"])
            except orjson.JSONDecodeError:
                torn += 1  # a line the killed replica was writing when it died
    return ids, torn


@pytest.fixture
def stream() -> Iterator[str]:
    require_service(4222, "NATS")
    name = f"SCALE_{uuid.uuid4().hex[:10].upper()}"
    yield name
    asyncio.run(_drop(name))


def test_three_replicas_one_killed(tmp_path: Path, stream: str) -> None:
    subject = f"{stream.lower()}.events"
    asyncio.run(_fill(stream, subject))
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        for r in range(3):
            rules = tmp_path / f"rules-{r}.yaml"
            rules.write_text(f"targets:\n  out: {{type: file, path: {tmp_path}/out-{r}.jsonl, format: payload}}\n"
                             "rules:\n  - name: all\n    match: {type: [order.created]}\n    targets: [out]\n")
            cfg = tmp_path / f"sidecar-{r}.yaml"
            cfg.write_text(f"listen: {{port: 0}}\nreload: {{watch: false}}\nlogging: {{level: warning}}\n"
                           f"sources:\n  - {{name: orders, type: jetstream, stream: {stream}, subject: {subject},"
                           f" durable: scale, batch: 100, ack_wait: 2, max_deliver: 20, nak_delay: 0.1}}\n")
            log = (tmp_path / f"replica-{r}.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "rules_engine", "serve", "--rules", str(rules),
                                           "--config", str(cfg)], cwd=tmp_path, env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        # Mid-stream, once every replica has taken work (under load one may start seconds after the others).
        while len(_ids(tmp_path)[0]) < N // 4 or not all(_took_work(tmp_path / f"out-{r}.jsonl") for r in range(3)):
            assert time.monotonic() < deadline, "replicas routed too little in time (or one took no work)"
            assert len(set(_ids(tmp_path)[0])) < N, "two replicas routed everything before the third took any"
            assert all(p.poll() is None for p in procs), (tmp_path / "replica-0.log").read_text()
            time.sleep(0.05)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=10)
        killed_at = len(_ids(tmp_path)[0])
        while len(set(_ids(tmp_path)[0])) < N:
            assert time.monotonic() < deadline, f"only {len(set(_ids(tmp_path)[0]))} of {N} events arrived"
            time.sleep(0.1)
    finally:
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
    ids, torn = _ids(tmp_path)
    unique = set(ids)
    print(f"\n{N} events, 3 replicas, one SIGKILLed after {killed_at} deliveries: "
          f"{len(unique)} arrived, {len(ids) - len(unique)} duplicates, {torn} torn lines")
    assert unique == {f"e{i}" for i in range(N)}  # none lost
    assert [p.returncode for p in procs[1:]] == [0, 0]  # the survivors shut down cleanly
    per = [sum(1 for _ in (tmp_path / f"out-{r}.jsonl").open("rb")) for r in range(3)]
    assert all(n > 0 for n in per), per  # the broker shared the work


def _took_work(out: Path) -> bool:
    return out.exists() and out.stat().st_size > 0
