"""Real CloudEvents clients that no one here wrote, against the sidecar served by uvicorn on loopback:
the CloudEvents Python SDK and the JavaScript SDK (run with the machine's Node.js), binary and structured."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from delivery_helpers import need
from serve_helpers import lines, make_app, running

JS_DIR = Path(__file__).resolve().parent / "js-client"


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    app = make_app(tmp_path)
    with running(app) as base:
        yield base


def _event(i: int) -> CloudEvent:
    return CloudEvent({"type": "order.created", "source": "/shop/checkout", "id": f"py-{i}",
                       "subject": "caf\u00e9 100% \"real\"", "datacontenttype": "application/json"},
                      {"order_id": f"A{i}", "total": 1000 + i})


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_python_sdk(url: str, tmp_path: Path, mode: str) -> None:
    convert = to_binary_event if mode == "binary" else to_structured_event
    with httpx.Client(base_url=url, timeout=10) as c:
        for i in range(3):
            msg = convert(_event(i))
            r = c.post("/events", headers=msg.headers, content=msg.body)
            assert r.status_code == 200, r.text
            assert r.json()["mode"] == mode and r.json()["delivered"] == 2 - (i == 0)
    got = lines(tmp_path / "out.jsonl")
    assert [g["payload"]["id"] for g in got] == ["py-0", "py-1", "py-2"]
    first = got[0]["payload"]
    assert first["source"] == "/shop/checkout" and first["subject"] == "caf\u00e9 100% \"real\""
    assert first["data"] == {"order_id": "A0", "total": 1000} and first["time"].endswith("Z")
    assert [g["payload"]["id"] for g in lines(tmp_path / "big.jsonl")] == ["py-1", "py-2"]


def _node() -> str:
    node = shutil.which("node")
    need(node is not None and (JS_DIR / "node_modules" / "cloudevents").is_dir(),
         "Node.js or tests/js-client/node_modules missing (run `npm ci` in tests/js-client)")
    assert node is not None
    return node


# The JavaScript SDK (10.0.0) writes ce-* header values without percent-encoding them, so its subject here
# holds no '%' (one would be refused with E661, as the binding asks); non-ASCII arrives as Latin-1 bytes.
@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_javascript_sdk(url: str, tmp_path: Path, mode: str) -> None:
    node = _node()
    proc = subprocess.run([node, str(JS_DIR / "send.mjs"), url + "/events", mode, "3"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    statuses = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [s["status"] for s in statuses] == [200, 200, 200]
    assert all(s["body"]["mode"] == mode for s in statuses)
    got = lines(tmp_path / "out.jsonl")
    assert [g["payload"]["id"] for g in got] == ["js-0", "js-1", "js-2"]
    first = got[0]["payload"]
    assert first["source"] == "/shop/checkout" and first["subject"] == "caf\u00e9 \"real\""
    assert first["data"] == {"order_id": "A0", "total": 1000}
    assert [g["payload"]["id"] for g in lines(tmp_path / "big.jsonl")] == ["js-1", "js-2"]
