"""Scale-out on the broker: three `rules-engine serve` processes share one JetStream durable consumer over
a 20,000-event stream; one is killed with SIGKILL mid-stream, while it holds a share of the work.  At the
targets every event arrived at least once (the broker redelivers what the dead replica left unacked);
duplicates are counted and reported.

The events are published only once every replica answers ``/readyz`` (its target file is open and its
source is pulling from the consumer), and the last quarter only after the kill: a replica that starts late
on a loaded machine is not killed before it took any work (it used to be, and then had no target file), and
the kill is always mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import nats
import orjson
import pytest
from serve_helpers import require_service

ROOT = Path(__file__).resolve().parents[1]
N = 20_000
REPLICAS = 3


async def _create(stream: str, subject: str) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    await nc.jetstream().add_stream(name=stream, subjects=[subject])
    await nc.close()


async def _publish(subject: str, ids: range, after_each: Callable[[], object] = lambda: None) -> None:
    """Publish the events ``ids`` in chunks of 500, calling ``after_each`` after each chunk."""
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    js = nc.jetstream()
    for start in range(ids.start, ids.stop, 500):
        await asyncio.gather(*(js.publish(subject, orjson.dumps({"type": "order.created", "id": f"e{i}"}))
                               for i in range(start, min(ids.stop, start + 500))))
        after_each()
    await nc.close()


async def _drop(stream: str) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=5)
    await nc.jetstream().delete_stream(stream)
    await nc.close()


def _routed(folder: Path) -> tuple[list[list[str]], int]:
    """The ids in each replica's target file (none while a replica has not opened it) and the torn lines."""
    per: list[list[str]] = []
    torn = 0
    for r in range(REPLICAS):
        f = folder / f"out-{r}.jsonl"
        ids: list[str] = []
        for line in (f.read_bytes() if f.exists() else b"").splitlines():
            try:
                ids.append(orjson.loads(line)["id"])
            except orjson.JSONDecodeError:
                torn += 1  # a line the killed replica was writing when it died
        per.append(ids)
    return per, torn


def _all(folder: Path) -> list[str]:
    return [i for ids in _routed(folder)[0] for i in ids]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def stream() -> Iterator[str]:
    require_service(4222, "NATS")
    name = f"SCALE_{uuid.uuid4().hex[:10].upper()}"
    yield name
    asyncio.run(_drop(name))


def test_three_replicas_one_killed(tmp_path: Path, stream: str) -> None:
    subject = f"{stream.lower()}.events"
    asyncio.run(_create(stream, subject))
    procs: list[subprocess.Popen[bytes]] = []
    ports = [_free_port() for _ in range(REPLICAS)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    deadline = time.monotonic() + 180

    def alive(replicas: range = range(REPLICAS)) -> None:
        for r in replicas:
            assert procs[r].poll() is None, f"replica {r} exited:\n" + (tmp_path / f"replica-{r}.log").read_text()

    try:
        for r in range(REPLICAS):
            rules = tmp_path / f"rules-{r}.yaml"
            rules.write_text(f"targets:\n  out: {{type: file, path: {tmp_path}/out-{r}.jsonl, format: payload}}\n"
                             "rules:\n  - name: all\n    match: {type: [order.created]}\n    targets: [out]\n")
            cfg = tmp_path / f"sidecar-{r}.yaml"
            cfg.write_text(f"listen: {{port: {ports[r]}}}\nreload: {{watch: false}}\nlogging: {{level: warning}}\n"
                           f"sources:\n  - {{name: orders, type: jetstream, stream: {stream}, subject: {subject},"
                           f" durable: scale, batch: 100, ack_wait: 2, max_deliver: 20, nak_delay: 0.1}}\n")
            log = (tmp_path / f"replica-{r}.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "rules_engine", "serve", "--rules", str(rules),
                                           "--config", str(cfg)], cwd=tmp_path, env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
        # uvicorn answers only after the lifespan started: the target file is open, the source is pulling.
        while not all(_ready(port) for port in ports):
            alive()
            assert time.monotonic() < deadline, "the replicas did not get ready in time"
            time.sleep(0.1)
        killed_at: int | None = None

        def kill_when_due() -> bool:
            """Kill replica 0 mid-stream, with its share in hand: once every replica routed some events and
            a quarter of the stream was routed in all (checked while the first three quarters are published)."""
            nonlocal killed_at
            if killed_at is None:
                per = [len(ids) for ids in _routed(tmp_path)[0]]
                alive()
                assert time.monotonic() < deadline, f"routed per replica before the kill: {per}"
                if all(per) and sum(per) >= N // 4:
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait(timeout=10)
                    killed_at = len(_all(tmp_path))
            return killed_at is not None

        asyncio.run(_publish(subject, range(3 * N // 4), kill_when_due))
        while not kill_when_due():
            time.sleep(0.05)
        asyncio.run(_publish(subject, range(3 * N // 4, N)))  # the last quarter, for the survivors alone
        while len(set(_all(tmp_path))) < N:
            alive(range(1, REPLICAS))
            assert time.monotonic() < deadline, f"only {len(set(_all(tmp_path)))} of {N} events arrived"
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
    routed, torn = _routed(tmp_path)
    ids = [i for r in routed for i in r]
    unique = set(ids)
    per = [len(r) for r in routed]
    print(f"\n{N} events, {REPLICAS} replicas, one SIGKILLed after {killed_at} deliveries: "
          f"{len(unique)} arrived, {len(ids) - len(unique)} duplicates, {torn} torn lines, per replica {per}")
    assert unique == {f"e{i}" for i in range(N)}  # none lost
    assert [p.returncode for p in procs[1:]] == [0] * (REPLICAS - 1)  # the survivors shut down cleanly
    assert all(n > 0 for n in per), per  # the broker shared the work
    later = {f"e{i}" for i in range(3 * N // 4, N)}
    assert not later & set(routed[0])  # what was published after the kill went to the survivors alone
