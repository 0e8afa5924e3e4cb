"""The sidecar's switch to a reloaded rule set under traffic: a reload that renames the targets loses nothing
(the old set routes to its own targets until the new set's are open, and those stay until its jobs settle)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from rules_engine.deliver import AdapterRegistry, Dispatcher
from rules_engine.reload import LiveRuleSet
from rules_engine.serve.app import create_app
from rules_engine.serve.config import SidecarConfig
from rules_engine.serve.metrics import DeliveryObserver, Metrics
from tests.reload_helpers import MemorySink, install_memory_sink, write

OPEN_DELAY = 0.5  # the new set's target takes this long to connect: old-set traffic flows meanwhile


def rules(target: str, open_delay: float = 0.0) -> str:
    return (f"targets:\n  {target}: {{type: storm-memory, open_delay: {open_delay}}}\n"
            f"rules:\n  - name: r\n    match: {{type: [order]}}\n    targets: [{target}]\n")


def test_a_reload_that_renames_the_targets_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins, folder = tmp_path / "plugins", tmp_path / "rules"
    plugins.mkdir()
    folder.mkdir()
    install_memory_sink(plugins, monkeypatch)
    write(folder / "rules.yaml", rules("a"))
    live = LiveRuleSet([str(folder)])
    v1 = live.version
    metrics = Metrics()
    dispatcher = Dispatcher(live.current.targets, registry=AdapterRegistry(plugins=True),
                            observer=DeliveryObserver(metrics))
    answers: list[tuple[int, dict[str, Any]]] = []
    stop = threading.Event()
    with TestClient(create_app(SidecarConfig(), live, dispatcher, metrics=metrics)) as http:

        def post() -> None:
            i = 0
            while not stop.is_set():
                r = http.post("/events", json={"type": "order", "id": i})
                answers.append((r.status_code, r.json()))
                i += 1

        poster = threading.Thread(target=post, name="poster")
        poster.start()
        try:
            deadline = time.monotonic() + 30
            while len(answers) < 20:
                assert time.monotonic() < deadline, "no traffic"
                time.sleep(0.01)
            write(folder / "rules.yaml", rules("b", OPEN_DELAY))
            reloaded_at = len(answers)
            r = http.post("/-/reload")
            assert r.status_code == 200, r.text
            v2 = r.json()["version"]
            while not any(a.get("version") == v2 for _, a in answers[reloaded_at:]):
                assert time.monotonic() < deadline, "the new set never routed"
                time.sleep(0.01)
            switched_at = len(answers)
            while len(answers) < switched_at + 20:
                assert time.monotonic() < deadline, "no traffic after the switch"
                time.sleep(0.01)
        finally:
            stop.set()
            poster.join(30)
    assert [a for a in answers if a[0] != 200 or a[1]["delivered"] != 1 or a[1]["failed"]] == []
    versions = [a["version"] for _, a in answers]
    assert set(versions) == {v1, v2} and versions == sorted(versions, key=[v1, v2].index)  # v1, then v2 only
    assert versions[reloaded_at:].count(v1) >= 2  # the old set kept routing while the new target opened
    by_id = {j: (target, version) for target, version, j in MemorySink.delivered}
    assert len(MemorySink.delivered) == len(answers) == len(by_id)  # each event delivered exactly once
    assert {by_id[j] for j in range(len(answers))} == {("a", v1), ("b", v2)}
    assert all(by_id[j] == ("a" if v == v1 else "b", v) for j, v in enumerate(versions))
