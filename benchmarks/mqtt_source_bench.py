"""MQTT source benchmark: Mosquitto -> ``rules-engine serve`` (``type: mqtt`` source, QoS 1 shared
subscription, PUBACK after delivery) -> a ``file`` target, beside a raw aiomqtt consumer measured in the same
run (same subscription and manual acks: ``orjson.loads`` then PUBACK each message, nothing routed).

    PYTHONPATH=. python benchmarks/mqtt_source_bench.py [--events 20000] [--batch 64] [--runs 3]

MQTT keeps no stream, so the backlog is made the MQTT way: the consumer's persistent session subscribes and
goes away, ``--events`` messages are published into it, then the consumer (raw or the sidecar, pinned to
CPU 0) comes back under that client id and drains it.  The rate is events over the time from the first
event consumed to the last.  A private Mosquitto is started on a free port with ``max_queued_messages 0``:
the machine's broker keeps at most 1,000 messages queued per client (its default) and drops QoS 1 messages
past that, which would cut the backlog (docs/sidecar.md says so for production).  Prints a Markdown table
with medians and the ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EVENT = ('{"specversion":"1.0","id":"bench-%d","source":"/bench","type":"order.created",'
         '"datacontenttype":"application/json","data":{"order_id":"A1","total":1500}}')

PREPARE = r"""
import sys, threading, paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
port, client_id, topic, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
V2 = mqtt.CallbackAPIVersion.VERSION2
props = Properties(PacketTypes.CONNECT)
props.SessionExpiryInterval = 3600
sub = mqtt.Client(V2, client_id=client_id, protocol=mqtt.MQTTv5)
done = threading.Event()
sub.on_subscribe = lambda *a: done.set()
sub.connect("127.0.0.1", port, clean_start=True, properties=props)
sub.loop_start()
sub.subscribe("$share/bench/" + topic, qos=1)
assert done.wait(10)
sub.disconnect()
sub.loop_stop()
pub = mqtt.Client(V2, protocol=mqtt.MQTTv5)
pub.max_inflight_messages_set(1000)
pub.max_queued_messages_set(0)
pub.connect("127.0.0.1", port)
pub.loop_start()
for info in [pub.publish(topic, EVENT % i, qos=1) for i in range(n)]:
    info.wait_for_publish(60)
pub.disconnect()
pub.loop_stop()
""".replace("EVENT", repr(EVENT))

RAW = r"""
import asyncio, sys, time, orjson, aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
port, client_id, topic, n, batch = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
async def consume():
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = batch * 5
    props.SessionExpiryInterval = 0
    client = aiomqtt.Client("127.0.0.1", port, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
                            clean_start=False, properties=props)
    client._client.manual_ack_set(True)
    async with client:
        got, t0 = 0, 0.0
        async for m in client.messages:
            if got == 0:
                t0 = time.perf_counter()
            orjson.loads(m.payload)
            client._client.ack(m.mid, 1)
            got += 1
            if got == n:
                break
        print(n / (time.perf_counter() - t0), flush=True)
asyncio.run(consume())
"""

BROKER = "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n"

RULES = """\
targets:
  out: {type: file, path: %s}
rules:
  - name: orders
    match: {type: [order.created]}
    targets: [out]
"""


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if (os.cpu_count() or 1) > 1 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(port: int, client_id: str, topic: str, n: int) -> None:
    """The consumer's session subscribed and away, ``n`` messages queued in it."""
    subprocess.run([*pinned(1), sys.executable, "-c", PREPARE, str(port), client_id, topic, str(n)], check=True,
                   timeout=600)


def raw_run(port: int, n: int, batch: int) -> float:
    topic, client_id = f"bench/{uuid.uuid4().hex[:8]}", f"raw-{uuid.uuid4().hex[:8]}"
    prepare(port, client_id, topic, n)
    out = subprocess.run([*pinned(0), sys.executable, "-c", RAW, str(port), client_id, topic, str(n), str(batch)],
                         capture_output=True, text=True, check=True, timeout=600)
    return float(out.stdout.strip())


def lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def sidecar_run(port: int, n: int, batch: int, tmp: Path) -> float:
    topic, client_id = f"bench/{uuid.uuid4().hex[:8]}", f"sidecar-{uuid.uuid4().hex[:8]}"
    prepare(port, client_id, topic, n)
    out = tmp / f"out-{client_id}.jsonl"
    (tmp / "rules.yaml").write_text(RULES % out)
    (tmp / "sidecar.yaml").write_text(
        "logging: {level: warning}\nreload: {watch: false}\n"
        f"sources:\n  - {{name: bench, type: mqtt, url: 'mqtt://127.0.0.1:{port}', stream: '{topic}', group: bench,\n"
        f"     consumer: {client_id}, session_expiry: 0, batch: {batch}}}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([*pinned(0), sys.executable, "-m", "rules_engine", "serve", "--rules",
                               str(tmp / "rules.yaml"), "--config", str(tmp / "sidecar.yaml"), "--port", "0"],
                              env=env, stderr=subprocess.DEVNULL)
    try:
        first = last = 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and server.poll() is None:
            count = lines(out)
            now = time.perf_counter()
            if count and not first:
                first = now
            if count >= n:
                last = now
                break
            time.sleep(0.005)
        if not last:
            raise SystemExit(f"the sidecar routed {lines(out)} of {n} events")
        return n / (last - first)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    raw: list[float] = []
    side: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        conf = Path(d) / "mosquitto.conf"
        conf.write_text(BROKER.format(port=port))
        broker = subprocess.Popen([*pinned(1), "mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            for _ in range(args.runs):  # interleaved, so both see the same load
                raw.append(raw_run(port, args.events, args.batch))
                side.append(sidecar_run(port, args.events, args.batch, Path(d)))
        finally:
            broker.terminate()
            broker.wait(timeout=30)
    mr, ms = statistics.median(raw), statistics.median(side)
    print(f"MQTT source, a backlog of {args.events} events drained, {args.runs} runs, batch {args.batch} (medians)\n")
    print("| consumer | events/s | runs |")
    print("|---|---:|---|")
    print(f"| raw aiomqtt (loads + PUBACK) | {mr:,.0f} | " + ", ".join(f"{x:,.0f}" for x in raw) + " |")
    print(f"| rules-engine serve, mqtt source -> file | {ms:,.0f} | " + ", ".join(f"{x:,.0f}" for x in side) + " |")
    print(f"\nsidecar / raw: {ms / mr:.0%}")


if __name__ == "__main__":
    main()
