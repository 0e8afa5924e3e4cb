"""Golden cases of the sidecar's codes (E650..E699), merged into test_diagnostics_golden's table.

Config codes render a small sidecar config file; ingest codes render the refusal that the HTTP binding
raises for a small request (the same diagnostic the JSON error body carries).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rules_engine.model import codes
from rules_engine.model.errors import RuleError, render_text
from rules_engine.serve.binding import read_events
from rules_engine.serve.config import AuthConfig, PublisherConfig, load_config, read_tokens
from rules_engine.serve.errors import IngestError


def _config(text: str) -> Callable[[Path], str]:
    def run(tmp: Path) -> str:
        import os

        (tmp / "sidecar.yaml").write_text(text, encoding="utf-8")
        old = os.getcwd()
        os.chdir(tmp)
        try:
            load_config("sidecar.yaml")
        except RuleError as e:
            return render_text(e.diagnostics, e.sources) + "\n"
        finally:
            os.chdir(old)
        raise AssertionError("no error")

    return run


def _missing_config(_: Path) -> str:
    try:
        load_config("no/such/sidecar.yaml")
    except RuleError as e:
        return render_text(e.diagnostics) + "\n"
    raise AssertionError("no error")


def _secret(_: Path) -> str:
    try:
        read_tokens(AuthConfig((PublisherConfig("checkout", token_env="CHECKOUT_TOKEN"),)), environ={})
    except RuleError as e:
        return render_text(e.diagnostics) + "\n"
    raise AssertionError("no error")


def _request(headers: dict[str, str], body: bytes, max_batch: int = 100) -> Callable[[Path], str]:
    def run(_: Path) -> str:
        try:
            read_events(headers.get("content-type"), list(headers.items()), body, max_batch=max_batch)
        except IngestError as e:
            return f"HTTP {e.status}\n" + render_text([e.diagnostic]) + "\n"
        raise AssertionError("no error")

    return run


def _raised(status: int, code: codes.Code, **args: object) -> Callable[[Path], str]:
    """Refusals made by the app around the binding (auth, queue, delivery): the diagnostic it answers with."""

    def run(_: Path) -> str:
        e = IngestError.of(status, code, **args)
        return f"HTTP {e.status}\n" + render_text([e.diagnostic]) + "\n"

    return run


def _poison(data: bytes) -> Callable[[Path], str]:
    """What a broker source makes of an undecodable message (sources.py's decoding)."""

    def run(_: Path) -> str:
        from rules_engine.serve.config import SidecarConfig, SourceConfig
        from rules_engine.serve.metrics import Metrics
        from rules_engine.serve.sources import SourceBase

        src = SourceBase(SourceConfig("orders", "jetstream", "ORDERS", "orders.>"), None, Metrics(),  # type: ignore[arg-type]
                         drain_timeout=SidecarConfig().drain_timeout)
        _, diag = src.decode(data)
        assert diag is not None
        return render_text([diag]) + "\n"

    return run


def _diag(d: object) -> Callable[[Path], str]:
    def run(_: Path) -> str:
        return render_text([d]) + "\n"  # type: ignore[list-item]

    return run


CE = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}
SE = {"content-type": "application/cloudevents+json"}

SERVE_CALLS: dict[str, Callable[[Path], str]] = {
    "E650": _config("listen:\n  prot: 8080\n"),
    "E651": _config("queue:\n  size: many\n"),
    "E652": _config("listen:\n  port: 70000\n"),
    "E653": _missing_config,
    "E654": _secret,
    "E660": _request({"ce-id": "1", "ce-source": "/s", "ce-type": "t"}, b"{}"),
    "E661": _request({**CE, "ce-source": "/a%zz"}, b"{}"),
    "E662": _request({**CE, "ce-specversion": "0.3"}, b"{}"),
    "E663": _request(SE, b'{"id": '),
    "E664": _request(SE, b"[]"),
    "E665": _raised(413, codes.BODY_TOO_LARGE, limit=1048576),
    "E666": _request({"content-type": "application/cloudevents-batch+json"}, b"[{}, {}, {}]", max_batch=2),
    "E667": _request(SE, b"[" * 1100 + b"]" * 1100),
    "E668": _request({"content-type": "application/cloudevents+avro"}, b""),
    "E669": _raised(401, codes.UNAUTHORIZED, detail="the bearer token is not valid"),
    "E670": _raised(403, codes.FORBIDDEN_EVENT, publisher="checkout", attribute="source", value="/billing"),
    "E671": _raised(429, codes.QUEUE_FULL, size=256, retry_after=1),
    "E672": _raised(503, codes.NOT_DELIVERED, failed=2),
    "E673": _raised(504, codes.ACK_TIMEOUT, timeout=30.0),
    "E674": _request({**SE}, b'{"specversion": "1.0", "id": 7, "source": "/s", "type": "t"}'),
    "E675": _raised(422, codes.RELOAD_REFUSED, version="3f2a9c0d1e2b4a5f"),
    "E676": _raised(503, codes.SHUTTING_DOWN),
    "E677": _raised(431, codes.HEADERS_TOO_LARGE, limit=16384),
    "E678": _raised(503, codes.NOT_PERSISTED, stream="INGEST", detail="nats: timeout"),
    "E679": _raised(503, codes.DEDUP_UNAVAILABLE, store="Redis", detail="connection refused"),
    "E680": _poison(b"\xff not json"),
    "E681": _diag(codes.DELIVERY_LIMIT.at(None, source="orders", count=5)),
    "E682": _diag(codes.POISON_LOST.at(None, source="orders", code="E680",
                                       detail="source 'orders': message is not an event (not a JSON object)")),
}
