"""The sidecar's HTTP ingest: the CloudEvents HTTP binding's content modes, refusals with codes, auth,
limits and the ack summary (the app in-process, through Starlette's test client, lifespan included)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from serve_helpers import RULES, Hook, lines, make_app
from starlette.testclient import TestClient

from rules_engine.serve.config import AuthConfig, LimitsConfig, PublisherConfig, QueueConfig, SidecarConfig

ORDER = {"specversion": "1.0", "id": "o-1", "source": "/checkout", "type": "order.created",
         "datacontenttype": "application/json", "data": {"total": 1500, "order_id": "A1"}}
CE_HEADERS = {"ce-specversion": "1.0", "ce-id": "o-1", "ce-source": "/checkout", "ce-type": "order.created"}
NO_DATA = {k: v for k, v in ORDER.items() if k not in ("data", "datacontenttype")}


@contextlib.contextmanager
def client(tmp_path: Path, config: SidecarConfig | None = None, tokens: dict[str, str] | None = None,
           rules: str = RULES) -> Iterator[TestClient]:
    app = make_app(tmp_path, config, rules, tokens)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    with client(tmp_path) as c:
        yield c


def test_binary_mode(http: TestClient, tmp_path: Path) -> None:
    r = http.post("/events", headers={**CE_HEADERS, "content-type": "application/json"},
                  content=orjson.dumps({"total": 1500}))
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "binary"
    assert r.json()["delivered"] == 2 and r.json()["failed"] == 0
    (out,) = lines(tmp_path / "out.jsonl")
    assert out["payload"]["data"] == {"total": 1500}
    assert out["payload"]["source"] == "/checkout" and out["payload"]["datacontenttype"] == "application/json"


def test_binary_percent_decoding(http: TestClient, tmp_path: Path) -> None:
    h = {**CE_HEADERS, "ce-source": "/caf%C3%A9%20shop", "ce-note": "100%25", "content-type": "application/json"}
    r = http.post("/events", headers=h, content=b"{}")
    assert r.status_code == 200, r.text
    (out,) = lines(tmp_path / "out.jsonl")
    assert out["payload"]["source"] == "/café shop" and out["payload"]["note"] == "100%"


def test_binary_text_and_bytes_data(http: TestClient, tmp_path: Path) -> None:
    assert http.post("/events", headers={**CE_HEADERS, "content-type": "text/plain"}, content=b"hi").status_code == 200
    h = {**CE_HEADERS, "content-type": "application/octet-stream"}
    assert http.post("/events", headers=h, content=b"\x00\xff").status_code == 200
    text, raw = lines(tmp_path / "out.jsonl")
    assert text["payload"]["data"] == "hi"
    assert raw["payload"]["data_base64"] == "AP8=" and "data" not in raw["payload"]


def test_structured_mode(http: TestClient, tmp_path: Path) -> None:
    r = http.post("/events", headers={"content-type": "application/cloudevents+json; charset=utf-8"},
                  content=orjson.dumps(ORDER))
    assert r.status_code == 200, r.text
    assert r.json() | {"version": None} == {"mode": "structured", "events": 1, "decisions": 2, "delivered": 2,
                                            "dead_lettered": 0, "failed": 0, "skipped": 0, "version": None}
    assert lines(tmp_path / "big.jsonl")[0]["payload"] == ORDER


def test_structured_wins_over_ce_headers(http: TestClient, tmp_path: Path) -> None:
    # The mode is decided by Content-Type: ce-* headers beside a structured body are not attributes.
    r = http.post("/events", headers={**CE_HEADERS, "ce-id": "header", "content-type": "application/cloudevents+json"},
                  content=orjson.dumps(ORDER))
    assert r.status_code == 200 and r.json()["mode"] == "structured"
    assert lines(tmp_path / "out.jsonl")[0]["payload"]["id"] == "o-1"


def test_batched_mode(http: TestClient, tmp_path: Path) -> None:
    batch = [{**ORDER, "id": f"o-{i}", "data": {"total": i * 600}} for i in range(5)]
    r = http.post("/events", headers={"content-type": "application/cloudevents-batch+json"}, content=orjson.dumps(batch))
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "batch" and r.json()["events"] == 5
    assert [x["payload"]["id"] for x in lines(tmp_path / "out.jsonl")] == [f"o-{i}" for i in range(5)]
    assert [x["payload"]["id"] for x in lines(tmp_path / "big.jsonl")] == ["o-2", "o-3", "o-4"]


def test_plain_json(http: TestClient, tmp_path: Path) -> None:
    r = http.post("/events", json={"type": "order.created", "data": {"total": 5}})
    assert r.status_code == 200 and r.json()["mode"] == "plain" and r.json()["delivered"] == 1
    assert lines(tmp_path / "out.jsonl")[0]["payload"] == {"type": "order.created", "data": {"total": 5}}


def test_no_match_delivers_nothing(http: TestClient, tmp_path: Path) -> None:
    r = http.post("/events", json={"type": "other"})
    assert r.status_code == 200 and r.json()["decisions"] == 0
    assert lines(tmp_path / "out.jsonl") == []


BAD = [
    pytest.param({"ce-id": "1", "ce-source": "/s", "ce-type": "t"}, b"{}", 400, "E660", id="binary-no-specversion"),
    pytest.param({**CE_HEADERS, "ce-source": "/a%zzb"}, b"{}", 400, "E661", id="bad-percent-hex"),
    pytest.param({**CE_HEADERS, "ce-source": "/a%c3%28"}, b"{}", 400, "E661", id="percent-not-utf8"),
    pytest.param({**CE_HEADERS, "ce-specversion": "0.3"}, b"{}", 400, "E662", id="old-specversion"),
    pytest.param({**CE_HEADERS, "content-type": "application/json"}, b"{bad", 400, "E663", id="binary-bad-json"),
    pytest.param({"content-type": "application/cloudevents+json"}, b'{"id": 1', 400, "E663", id="structured-bad-json"),
    pytest.param({"content-type": "application/cloudevents+json"}, b"[1]", 400, "E664", id="structured-array"),
    pytest.param({"content-type": "application/cloudevents+json"}, orjson.dumps({**ORDER, "id": 7}), 400, "E674",
                 id="id-not-string"),
    pytest.param({"content-type": "application/cloudevents+json"},
                 orjson.dumps({k: v for k, v in ORDER.items() if k != "type"}), 400, "E660", id="structured-no-type"),
    pytest.param({"content-type": "application/cloudevents-batch+json"}, b"{}", 400, "E664", id="batch-not-array"),
    pytest.param({"content-type": "application/cloudevents-batch+json"}, b'[{"id": "1"}]', 400, "E660",
                 id="batch-item-incomplete"),
    pytest.param({"content-type": "application/cloudevents+xml"}, b"<e/>", 415, "E668", id="structured-xml"),
    pytest.param({"content-type": "text/csv"}, b"a,b", 415, "E668", id="plain-not-json"),
    pytest.param({"content-type": "application/json"}, b"[1, 2]", 400, "E664", id="plain-array"),
    pytest.param({"content-type": "application/json"}, b"[" * 2000 + b"]" * 2000, 400, "E667", id="deep-nesting"),
    pytest.param({**CE_HEADERS, "ce-Bad_Name": "x"}, b"{}", 400, "E674", id="bad-attribute-name"),
    pytest.param({"content-type": "application/cloudevents+json"}, orjson.dumps({**NO_DATA, "data_base64": "no!"}), 400,
                 "E674", id="data-base64-not-base64"),
    pytest.param({"content-type": "application/cloudevents+json"}, orjson.dumps({**NO_DATA, "data_base64": "YWJj"[:3]}),
                 400, "E674", id="data-base64-unpadded"),
    pytest.param({"content-type": "application/cloudevents-batch+json"}, orjson.dumps([{**NO_DATA, "data_base64": 7}]),
                 400, "E674", id="data-base64-not-string"),
]


def test_data_base64_accepted_when_valid(http: TestClient, tmp_path: Path) -> None:
    r = http.post("/events", headers={"content-type": "application/cloudevents+json"},
                  content=orjson.dumps({**NO_DATA, "data_base64": "aGVsbG8="}))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("headers", "body", "status", "code"), BAD)
def test_malformed_requests(http: TestClient, headers: dict[str, str], body: bytes, status: int, code: str) -> None:
    r = http.post("/events", headers=headers, content=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["status"] == status and err["message"]


def test_limits(tmp_path: Path) -> None:
    cfg = SidecarConfig(limits=LimitsConfig(max_body_bytes=100, max_batch_events=2, max_header_bytes=600))
    with client(tmp_path, cfg) as http:
        r = http.post("/events", json={"type": "x", "pad": "y" * 200})
        assert r.status_code == 413 and r.json()["error"]["code"] == "E665"
        batch = b"[{}, {}, {}]"
        r = http.post("/events", headers={"content-type": "application/cloudevents-batch+json"}, content=batch)
        assert r.status_code == 413 and r.json()["error"]["code"] == "E666"
        r = http.post("/events", headers={"x-big": "z" * 700}, json={"type": "x"})
        assert r.status_code == 431 and r.json()["error"]["code"] == "E677"
        # chunked body without a length: refused while it streams in
        r = http.post("/events", content=iter([b'{"a": "', b"x" * 150, b'"}']))
        assert r.status_code == 413


def test_security_refusals(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = SidecarConfig(auth=AuthConfig((PublisherConfig("checkout", token_env="T", sources=("/checkout*",),
                                                         types=("order.*",)),)))
    with client(tmp_path, cfg, tokens={"s3cret-token": "checkout"}) as http:
        ok = {"authorization": "Bearer s3cret-token", "content-type": "application/cloudevents+json"}
        assert http.post("/events", headers=ok, content=orjson.dumps(ORDER)).status_code == 200
        r = http.post("/events", headers={"content-type": "application/cloudevents+json"}, content=orjson.dumps(ORDER))
        assert r.status_code == 401 and r.json()["error"]["code"] == "E669"
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = http.post("/events", headers={**ok, "authorization": "Bearer wrong"}, content=orjson.dumps(ORDER))
        assert r.status_code == 401 and "s3cret" not in r.text
        r = http.post("/events", headers=ok, content=orjson.dumps({**ORDER, "source": "/billing"}))
        assert r.status_code == 403 and r.json()["error"]["code"] == "E670"
        r = http.post("/events", headers=ok, content=orjson.dumps({**ORDER, "type": "user.deleted"}))
        assert r.status_code == 403
        assert http.post("/-/reload").status_code == 401
        assert http.get("/livez").status_code == 200  # probes need no token
        metrics = http.get("/metrics").text
        assert 'rules_engine_events_rejected_total{code="E669"} 3.0' in metrics
        assert 'rules_engine_events_rejected_total{code="E670"} 2.0' in metrics
    assert len(lines(tmp_path / "out.jsonl")) == 1
    assert caplog.records and "s3cret" not in caplog.text  # secrets never logged


def test_json_logs() -> None:
    from rules_engine.serve.logs import JsonFormatter

    record = logging.LogRecord("rules_engine.serve", logging.INFO, "x.py", 1, "sidecar started", None, None)
    record.version = "abc"
    out = orjson.loads(JsonFormatter().format(record))
    assert out["message"] == "sidecar started" and out["version"] == "abc" and out["level"] == "info"
    assert out["logger"] == "rules_engine.serve" and out["time"].endswith("+00:00")


def test_undeliverable_is_503(tmp_path: Path) -> None:
    with Hook(refuse=b"o-1") as hook:  # answers 400 to this event: not retried, and no dead letter configured
        rules = RULES.replace("{type: file, path: big.jsonl}", f"{{type: http, url: '{hook.url}'}}")
        with client(tmp_path, rules=rules) as http:
            r = http.post("/events", headers={"content-type": "application/cloudevents+json"},
                          content=orjson.dumps(ORDER))
            assert r.status_code == 503 and r.json()["error"]["code"] == "E672", r.text
            assert r.json()["summary"] | {"version": ""} == {"mode": "structured", "events": 1, "decisions": 2,
                                                          "delivered": 1, "dead_lettered": 0, "failed": 1,
                                                          "skipped": 0, "version": ""}
            assert r.headers["retry-after"] == "1"
            m = http.get("/metrics").text
            assert 'rules_engine_decisions_failed_total{rule="big-orders",target="big"} 1.0' in m
            assert 'rules_engine_decisions_delivered_total{rule="orders",target="out"} 1.0' in m


def test_evaluate_and_explain(http: TestClient, tmp_path: Path) -> None:
    r = http.post("/evaluate", headers={"content-type": "application/cloudevents+json"}, content=orjson.dumps(ORDER))
    assert r.status_code == 200
    (ev,) = r.json()["events"]
    assert [(d["rule"], d["target"]) for d in ev["decisions"]] == [("orders", "out"), ("big-orders", "big")]
    r = http.post("/explain", json={"type": "order.created", "data": {"total": 3}})
    rules = {v["rule"]: v for v in r.json()["events"][0]["rules"]}
    assert rules["orders"]["matched"] and not rules["big-orders"]["matched"] and rules["big-orders"]["reason"]
    assert lines(tmp_path / "out.jsonl") == []  # dry runs deliver nothing


def test_operations_endpoints(http: TestClient) -> None:
    http.post("/events", headers={"content-type": "application/cloudevents+json"}, content=orjson.dumps(ORDER))
    assert http.get("/livez").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and set(ready.json()["targets"]) == {"out", "big"}
    rules = http.get("/rules").json()
    assert [r["name"] for r in rules["rule_list"]] == ["orders", "big-orders"]
    assert rules["rules"] == 2 and rules["last_reload_successful"] is True
    m = http.get("/metrics").text
    assert 'rules_engine_events_received_total{source="http"} 1.0' in m
    assert 'rules_engine_rule_matched_total{rule="big-orders"} 1.0' in m
    assert "rules_engine_ruleset_info{version=" in m and "rules_engine_queue_capacity 256.0" in m


def test_queue_full_is_429(tmp_path: Path) -> None:
    import threading

    cfg = SidecarConfig(queue=QueueConfig(size=1, workers=1, retry_after=3))
    with Hook(delay=0.5) as hook:
        rules = RULES.replace("{type: file, path: out.jsonl}", f"{{type: http, url: '{hook.url}'}}")
        with client(tmp_path, cfg, rules=rules) as http:
            results: list[tuple[int, str | None]] = []

            def send() -> None:
                r = http.post("/events", json={"type": "order.created"})
                results.append((r.status_code, r.headers.get("retry-after")))

            threads = [threading.Thread(target=send) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            statuses = [st for st, _ in results]
            assert 200 in statuses and (429, "3") in results, results
            assert len(hook.received) == statuses.count(200)


def test_reload_endpoint(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        v1 = http.get("/rules").json()["version"]
        (tmp_path / "rules.yaml").write_text("targets: {out: {type: stdout}\n")  # broken
        r = http.post("/-/reload")
        assert r.status_code == 422 and r.json()["error"]["code"] == "E675" and r.json()["diagnostics"]
        assert http.get("/rules").json()["version"] == v1
        (tmp_path / "rules.yaml").write_text(RULES.replace("order.created", "order.paid").replace("path: ", f"path: {tmp_path}/"))
        r = http.post("/-/reload")
        assert r.status_code == 200, r.text
        v2 = r.json()["version"]
        assert v2 != v1 and http.get("/rules").json()["version"] == v2
        r = http.post("/events", json={"type": "order.paid"})
        assert r.status_code == 200 and r.json()["version"] == v2 and r.json()["delivered"] == 1
        m = http.get("/metrics").text
        assert 'rules_engine_reloads_total{result="failure",trigger="http"} 1.0' in m
        assert 'rules_engine_reloads_total{result="success",trigger="http"} 1.0' in m
        assert "rules_engine_last_reload_successful 1.0" in m and f'rules_engine_ruleset_info{{version="{v2}"}} 1.0' in m
