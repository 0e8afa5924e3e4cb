"""The dispatcher's own rules, with in-process adapter types (no service needed): ordering by
partition key, the in-flight bound, batching; the stdout and file adapters; and the entry-point
path a third-party adapter takes (a plugin package made on the fly as a dist-info on sys.path)."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from delivery_helpers import Counts, target

import rules_engine
from rules_engine.deliver import CONFIRMED, AdapterRegistry, Dispatcher, Health, Message, SendResult, transient
from rules_engine.model.errors import RuleError
from rules_engine.route.router import Decision


class Recorder:
    """Confirms after a short pause; fails the first attempt of every message whose payload says so."""

    options_schema: ClassVar[Mapping[str, Any]] = {"properties": {"pause": {"type": "number"}}}
    sent: ClassVar[list[Any]] = []
    active: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    failed_once: ClassVar[set[Any]] = set()

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.pause = float(options.get("pause", 0.0))

    async def open(self) -> None:
        return None

    async def send(self, batch: Sequence[Message]) -> Sequence[SendResult]:
        cls = type(self)
        cls.active += len(batch)
        cls.peak = max(cls.peak, cls.active)
        try:
            await asyncio.sleep(self.pause)
            out: list[SendResult] = []
            for m in batch:
                if m.payload.get("flaky") and m.id not in cls.failed_once:
                    cls.failed_once.add(m.id)
                    out.append(transient("busy", "try again"))
                else:
                    cls.sent.append(m.payload)
                    out.append(CONFIRMED)
            return out
        finally:
            cls.active -= len(batch)

    async def health(self) -> Health:
        return Health(True)

    async def close(self, timeout: float) -> None:
        return None


@pytest.fixture
def recorder() -> type[Recorder]:
    Recorder.sent, Recorder.active, Recorder.peak, Recorder.failed_once = [], 0, 0, set()
    return Recorder


async def test_ordered_target_keeps_each_partition_key_in_order(recorder: type[Recorder]) -> None:
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    d = Dispatcher([target("t", "rec", ordered=True, retry={"initial": 0.01, "jitter": 0})], registry=reg)
    await d.start()
    # Every third message of key "a" fails once: without ordering, its retry would land after later ones.
    evs = [({"i": i}, Decision("r", "t", {"i": i, "key": "a" if i % 2 else "b", "flaky": i % 3 == 0},
                               "a" if i % 2 else "b")) for i in range(30)]
    results = await asyncio.gather(*(d.dispatch([dec], event=ev, version="v") for ev, dec in evs))
    await d.close()
    assert all(r.ok for r in results)
    for key in ("a", "b"):
        seen = [p["i"] for p in recorder.sent if p["key"] == key]
        assert seen == sorted(seen) and len(seen) == 15


async def test_in_flight_bound_is_never_exceeded(recorder: type[Recorder]) -> None:
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    counts = Counts()
    d = Dispatcher([target("t", "rec", pause=0.01, max_in_flight=8, batch=3)], registry=reg, observer=counts)
    await d.start()
    results = await asyncio.gather(*(d.dispatch([Decision("r", "t", {"i": i})], event={}, version="v") for i in range(100)))
    await d.close()
    assert all(r.ok for r in results) and counts.ok["t"] == 100
    assert 1 < recorder.peak <= 8  # batched and concurrent, within the bound


async def test_skip_decisions_are_not_sent_and_unknown_targets_are_failed(recorder: type[Recorder]) -> None:
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    d = Dispatcher([target("t", "rec")], registry=reg)
    await d.start()
    res = await d.dispatch([Decision("r", "t", None, action="skip"), Decision("r", "gone", {"x": 1})], event={}, version="v")
    await d.close()
    assert (res.delivered, res.failed) == (0, 1) and recorder.sent == []


async def test_close_settles_what_is_still_retrying(recorder: type[Recorder]) -> None:
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    counts = Counts()
    d = Dispatcher([target("t", "rec", retry={"initial": 30, "jitter": 0})], registry=reg, observer=counts)
    await d.start()
    task = asyncio.create_task(d.dispatch([Decision("r", "t", {"flaky": True})], event={}, version="v"))
    for _ in range(200):  # bounded: until the first attempt failed and a retry is waiting
        if counts.retries["t"]:
            break
        await asyncio.sleep(0.01)
    await d.close(timeout=0.1)
    res = await asyncio.wait_for(task, 5)  # settled by close, not after the 30 s retry
    o = res.outcomes[0]
    assert (o.status, o.code, o.detail) == ("failed", "E611", "shutdown") and counts.lost["t"] == 1


async def test_file_adapter_appends_json_lines_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    d = Dispatcher([target("f", "file", path=str(path), rotate_bytes=2048, keep=2, fsync="always")])
    await d.start()
    for i in range(60):
        await d.dispatch([Decision("r", "f", {"i": i, "pad": "x" * 40}, "k")], event={}, version="v")
    await d.close()
    files = sorted(tmp_path.joinpath("out").iterdir())
    assert [f.name for f in files] == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert all(f.stat().st_size <= 2048 for f in files)
    lines = [json.loads(x) for f in reversed(files) for x in f.read_text().splitlines()]
    assert lines[-1] == {"rule": "r", "target": "f", "partition_key": "k", "payload": {"i": 59, "pad": "x" * 40}}
    assert [x["payload"]["i"] for x in lines] == list(range(60 - len(lines), 60))  # oldest rotated out, order kept


async def test_stdout_adapter_writes_records(capsys: pytest.CaptureFixture[str]) -> None:
    d = Dispatcher([target("o", "stdout"), target("p", "stdout", format="payload")])
    await d.start()
    await d.dispatch([Decision("r", "o", {"a": 1}), Decision("r", "p", {"b": 2})], event={}, version="v")
    await d.close()
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(['{"rule":"r","target":"o","payload":{"a":1}}', '{"b":2}'])


async def test_update_targets_keeps_unchanged_adapters(recorder: type[Recorder], tmp_path: Path) -> None:
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    d = Dispatcher([target("t", "rec"), target("f", "file", path=str(tmp_path / "a.jsonl"))], registry=reg)
    await d.start()
    before = d._lanes["t"]
    await d.update_targets([target("t", "rec"), target("f", "file", path=str(tmp_path / "b.jsonl"))])
    assert d._lanes["t"] is before and set(d.health()) == {"t", "f"}
    res = await d.dispatch([Decision("r", "f", {"x": 1})], event={}, version="v")
    await d.close()
    assert res.ok and (tmp_path / "b.jsonl").exists()


PLUGIN = '''
"""A third-party target type: keeps messages in memory (tests only)."""
from typing import Any
SENT: list[Any] = []

class MemoryAdapter:
    options_schema = {"required": ["bucket"], "properties": {"bucket": {"type": "string"}}}

    def __init__(self, name, options):
        self.name = name
        self.bucket = options["bucket"]

    async def open(self):
        return None

    async def send(self, batch):
        from rules_engine.deliver import CONFIRMED
        SENT.extend((self.bucket, m.payload) for m in batch)
        return [CONFIRMED] * len(batch)

    async def health(self):
        from rules_engine.deliver import Health
        return Health(True)

    async def close(self, timeout):
        return None
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An installed plugin package: a module plus a dist-info whose entry point names it."""
    name = f"re_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[rules_engine.adapters]\nmemory = {name}:MemoryAdapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


async def test_plugin_adapter_found_through_its_entry_point(plugin: str) -> None:
    text = "target m = memory(bucket: \"b1\")\nrule r {\n  when x == 1\n  route to m\n}\n"
    rs = rules_engine.loads(text, format="dsl")
    with pytest.raises(RuleError) as e:  # the plugin's own option schema applies at load time
        rules_engine.loads(text.replace('bucket: "b1"', "bukket: 1"), format="dsl")
    assert [d.code for d in e.value.diagnostics] == ["E603", "E601"]  # sorted by position: target, then option
    d = Dispatcher(rs.targets)
    await d.start()
    res = await d.dispatch(rs.evaluate({"x": 1}), event={"x": 1}, version=rs.version)
    await d.close()
    assert res.ok and sys.modules[plugin].SENT == [("b1", {"x": 1})]


async def test_file_adapter_group_commits_concurrent_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches that arrive while a write is under way are written together (one write, one fsync), every
    line whole, every message once."""
    import rules_engine.deliver.adapters.file as file_adapter

    syncs: list[int] = []
    sends: list[int] = []
    real_fsync, real_send = file_adapter.os.fsync, file_adapter.FileAdapter.send
    monkeypatch.setattr(file_adapter.os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])

    async def counting_send(self: Any, batch: Sequence[Message]) -> Sequence[SendResult]:
        sends.append(len(batch))
        return await real_send(self, batch)

    monkeypatch.setattr(file_adapter.FileAdapter, "send", counting_send)
    path = tmp_path / "events.jsonl"
    d = Dispatcher([target("f", "file", path=str(path), batch=4, max_in_flight=64)])
    await d.start()
    results = await d.dispatch_many([([Decision("r", "f", {"i": i})], {"i": i}) for i in range(400)], version="v")
    await d.close()
    assert len(results) == 400 and all(r.ok and r.delivered == 1 for r in results)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert sorted(x["payload"]["i"] for x in lines) == list(range(400))
    assert sum(sends) == 400 and len(sends) >= 100  # the lane sent batches of at most 4
    assert len(syncs) < len(sends) / 2  # most batches shared a write and its fsync with others


async def test_dispatch_many_answers_per_event_in_order(recorder: type[Recorder]) -> None:
    """One result per event, in order, each with its own decisions' outcomes (skips not counted, unknown
    targets failed), over more decisions than the in-flight bound (admission waits, nothing hangs)."""
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    counts = Counts()
    d = Dispatcher([target("t", "rec", max_in_flight=8, batch=3, retry={"initial": 0.01, "jitter": 0})],
                   registry=reg, observer=counts)
    await d.start()
    batch: list[tuple[list[Decision], dict[str, int]]] = []
    for i in range(60):
        decs = [Decision("r", "t", {"i": i, "flaky": i % 7 == 0})]
        if i % 5 == 0:
            decs.append(Decision("r", "gone", {"i": i}))
        if i % 6 == 0:
            decs.append(Decision("r", "t", None, action="skip"))
        batch.append((decs, {"i": i}))
    results = await asyncio.wait_for(d.dispatch_many(batch, version="v"), 30)
    await d.close()
    assert len(results) == 60
    for i, r in enumerate(results):
        assert (r.delivered, r.failed) == (1, 1 if i % 5 == 0 else 0)
        assert r.outcomes[0].target == "t" and r.outcomes[0].attempts == (2 if i % 7 == 0 else 1)
    assert counts.ok["t"] == 60 and counts.retries["t"] == 9 and recorder.peak <= 8


async def test_close_settles_admissions_still_waiting_for_room(recorder: type[Recorder]) -> None:
    """A batch larger than the in-flight bound is half admitted when the dispatcher closes: the message
    in flight is settled as failed (shutdown), and the decisions still waiting for room are failed too;
    the call returns instead of waiting forever."""
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    counts = Counts()
    d = Dispatcher([target("t", "rec", pause=30, max_in_flight=1)], registry=reg, observer=counts)
    await d.start()
    task = asyncio.create_task(d.dispatch_many([([Decision("r", "t", {"i": i})], {}) for i in range(5)], version="v"))
    for _ in range(200):  # bounded: until the first message is being sent
        if recorder.active:
            break
        await asyncio.sleep(0.01)
    await d.close(timeout=0.1)
    results = await asyncio.wait_for(task, 5)
    assert [r.failed for r in results] == [1] * 5 and counts.ok["t"] == 0
    assert results[0].outcomes[0].detail == "shutdown" and counts.lost["t"] == 5


async def test_batched_observer_counts_every_message_once(recorder: type[Recorder]) -> None:
    """The sidecar's metrics observer takes a batch's deliveries in one ``delivered_many`` call per rule:
    the counter and the latency histogram still count every message once; an observer without the hook
    is told per message."""
    from rules_engine.serve.metrics import DeliveryObserver, Metrics

    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    metrics, counts = Metrics(), Counts()
    for observer in (DeliveryObserver(metrics), counts):
        d = Dispatcher([target("t", "rec", batch=16)], registry=reg, observer=observer)
        await d.start()
        batch = [([Decision("a" if i % 3 else "b", "t", {"i": i})], {}) for i in range(90)]
        assert all(r.ok for r in await d.dispatch_many(batch, version="v"))
        await d.close()
    text = metrics.exposition().decode()
    assert 'rules_engine_decisions_delivered_total{rule="a",target="t"} 60.0' in text
    assert 'rules_engine_decisions_delivered_total{rule="b",target="t"} 30.0' in text
    assert 'rules_engine_delivery_seconds_count{target="t"} 90.0' in text
    assert counts.ok["t"] == 90


def test_hand_written_inits_set_every_field() -> None:
    """``Message`` and ``Decision`` set their frozen fields in a hand-written ``__init__`` (hot path); a field
    added to the class but not to that ``__init__`` would be left unset: every field must read back."""
    import dataclasses

    from rules_engine.deliver.base import Message

    msg = Message("p", "k", (("h", "v"),), {"e": 1}, "r", "t", "v1", "id-1")
    dec = Decision("r", "t", "p", "k", (("h", "v"),), None, "dead_letter", "v1")
    for obj in (msg, dec):
        values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        assert obj == dataclasses.replace(obj) and len(values) == len(dataclasses.fields(obj))
    assert (msg.payload, msg.partition_key, msg.event, msg.id) == ("p", "k", {"e": 1}, "id-1")
    assert (dec.action, dec.version, dec.error) == ("dead_letter", "v1", None)


def test_batched_histogram_equals_one_observe_per_message() -> None:
    """``delivered_many`` adds a batch to the latency histogram through prometheus-client's value fields; the
    exposition must be exactly what one ``observe`` per message gives (sum, count, every bucket), including
    a value on a bucket bound and one above every finite bound, so a client upgrade that changes those
    fields fails here instead of skewing the metric."""
    from rules_engine.serve.metrics import Metrics

    batched, single = Metrics(), Metrics()
    for seconds, count in ((0.0, 3), (0.005, 7), (0.3, 2), (1e6, 4), (0.0123, 1)):
        batched.delivered_many_("t", "r", seconds, count)
        for _ in range(count):
            single.delivered_("t", "r", seconds)

    def series(m: Metrics) -> dict[str, float]:  # name{labels} -> value, without the creation timestamp
        out = {}
        for ln in m.exposition().decode().splitlines():
            if ln.startswith("rules_engine_delivery_seconds") and "_created" not in ln:
                key, value = ln.rsplit(" ", 1)
                out[key] = float(value)
        return out

    got, want = series(batched), series(single)
    assert got.keys() == want.keys() and len(got) > 3
    for key, value in want.items():
        assert math.isclose(got[key], value, rel_tol=1e-12), key
    assert got['rules_engine_delivery_seconds_count{target="t"}'] == 17.0


async def test_admission_is_first_come_first_served(recorder: type[Recorder]) -> None:
    """A permit freed for a waiting caller is kept for it: a caller arriving between the release and the
    waiter's turn queues behind it instead of taking the permit (admission order = arrival order)."""
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    late: list[asyncio.Task[Any]] = []

    class Observer(Counts):
        def delivered(self, target: str, rule: str, seconds: float) -> None:
            super().delivered(target, rule, seconds)
            if not late:  # arrives just as the first message's permit is freed for the waiting second one
                late.append(asyncio.ensure_future(d.dispatch([Decision("r", "t", {"n": 3})], event={}, version="v")))

    d = Dispatcher([target("t", "rec", pause=0.05, max_in_flight=1)], registry=reg, observer=Observer())
    await d.start()
    first = asyncio.create_task(d.dispatch([Decision("r", "t", {"n": 1})], event={}, version="v"))
    for _ in range(200):  # bounded: until the first message is being sent
        if recorder.active:
            break
        await asyncio.sleep(0.005)
    second = asyncio.create_task(d.dispatch([Decision("r", "t", {"n": 2})], event={}, version="v"))
    results = await asyncio.wait_for(asyncio.gather(first, second), 10)
    results.append(await asyncio.wait_for(late[0], 10))
    await d.close()
    assert all(r.ok for r in results)
    assert [p["n"] for p in recorder.sent] == [1, 2, 3]


@pytest.mark.parametrize("change", ["removed", "replaced"])
async def test_update_targets_while_a_batch_waits_for_room_loses_nothing(recorder: type[Recorder], change: str) -> None:
    """A batch larger than its target's max_in_flight is still being admitted when update_targets removes
    (or replaces) the target: the call resolved its lanes when it was made, so every decision is delivered
    by the old lane, which stays open until the call has admitted everything and it drained."""
    reg = AdapterRegistry({"rec": recorder}, plugins=False)
    counts = Counts()
    d = Dispatcher([target("t", "rec", pause=0.02, max_in_flight=2, batch=1)], registry=reg, observer=counts)
    await d.start()
    old = d._lanes["t"]
    batch = [([Decision("r", "t", {"i": i})], {"i": i}) for i in range(10)]
    task = asyncio.create_task(d.dispatch_many(batch, version="v"))
    while not old.room:  # the third decision waits for room on the old lane
        await asyncio.sleep(0.001)
    after = [] if change == "removed" else [target("t", "rec", pause=0.0, max_in_flight=4)]
    await d.update_targets(after)
    results = await task
    assert old.closed and task.done()
    if change == "replaced":
        assert d._lanes["t"] is not old
    await d.close()
    assert [r.delivered for r in results] == [1] * 10 and all(r.ok for r in results)
    assert sorted(p["i"] for p in recorder.sent) == list(range(10))
    assert counts.lost == {} and counts.ok["t"] == 10
