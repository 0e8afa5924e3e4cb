"""The sidecar config file: every option read from YAML, checked with codes and positions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rules_engine.model.errors import RuleError
from rules_engine.serve.config import (
    AuthConfig,
    PublisherConfig,
    SidecarConfig,
    load_config,
    read_tokens,
)

FULL = """\
listen: {host: 0.0.0.0, port: 9090}
limits: {max_body_bytes: 2048, max_batch_events: 10, max_header_bytes: 4096}
queue: {size: 4, workers: 2, retry_after: 5}
ack_timeout: 5
drain_timeout: 1.5
readiness: {targets: [out]}
reload: {watch: false, debounce: 0.1, poll_interval: 1}
logging: {level: debug, format: text, access_log: true}
auth:
  publishers:
    - {name: checkout, token_env: CHECKOUT_TOKEN, sources: ["/checkout/*"], types: ["order.*"]}
    - {name: crm, token_file: crm.token}
"""


def test_full_config(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(FULL)
    cfg = load_config(tmp_path / "s.yaml")
    assert cfg.listen.port == 9090 and cfg.listen.host == "0.0.0.0" and cfg.listen.tls is None
    assert cfg.queue.size == 4 and cfg.drain_timeout == 1.5 and cfg.ack_timeout == 5.0
    assert cfg.readiness.targets == ("out",) and cfg.reload.watch is False
    assert cfg.auth.publishers[0] == PublisherConfig("checkout", "CHECKOUT_TOKEN", None, ("/checkout/*",), ("order.*",))
    assert cfg.logging.format == "text"


def test_empty_config_is_defaults(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("# nothing\n")
    assert load_config(tmp_path / "s.yaml") == SidecarConfig()


def test_every_problem_reported_with_position(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "listen: {port: -1, tls: {cert_file: nope.pem, key_file: nope.key, client_cert: required}}\n"
        "queue: {size: 0, wrokers: 3}\n"
        "logging: {format: xml}\n"
        "auth: {publishers: [{name: a}, {name: a, token_env: X, token_file: y}]}\n"
        "durable: true\n")
    with pytest.raises(RuleError) as e:
        load_config(tmp_path / "s.yaml")
    got = [(d.code, d.line, d.column) for d in e.value.diagnostics]
    assert got == [("E652", 1, 16), ("E652", 2, 15), ("E650", 2, 18), ("E652", 3, 19), ("E650", 5, 1)], got


def test_cross_checks(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "listen: {tls: {cert_file: nope.pem, key_file: nope.key, client_cert: required}}\n"
        "auth: {publishers: [{name: a}, {name: a, token_env: X, token_file: y}]}\n")
    with pytest.raises(RuleError) as e:
        load_config(tmp_path / "s.yaml")
    msgs = [d.message for d in e.value.diagnostics]
    assert any("no such file 'nope.pem'" in m for m in msgs)
    assert any("client certificates need 'client_ca_file'" in m for m in msgs)
    assert sum("exactly one of 'token_env' and 'token_file'" in m for m in msgs) == 2
    assert any("defined twice" in m for m in msgs)


def test_yaml_errors_keep_their_codes(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("listen: {port: 1\n")
    with pytest.raises(RuleError) as e:
        load_config(tmp_path / "s.yaml")
    assert e.value.diagnostics[0].code == "E102"


def test_tokens_from_env_and_file(tmp_path: Path) -> None:
    (tmp_path / "crm.token").write_text("file-token\n")
    auth = AuthConfig((PublisherConfig("checkout", token_env="T1"), PublisherConfig("crm", token_file=str(tmp_path / "crm.token"))))
    assert read_tokens(auth, {"T1": "env-token"}) == {"env-token": "checkout", "file-token": "crm"}
    (tmp_path / "crm.token").write_text("")
    with pytest.raises(RuleError) as e:
        read_tokens(auth, {"T1": "env-token"})
    assert e.value.diagnostics[0].code == "E654" and "env-token" not in str(e.value.diagnostics)


def test_a_fifo_or_device_given_as_config_is_refused_not_read_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "sidecar.yaml"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        with pytest.raises(RuleError) as e:
            load_config(path)
        assert e.value.diagnostics[0].code == "E653" and "only regular files are read" in str(e.value)


def test_one_token_for_two_publishers_is_refused(tmp_path: Path) -> None:
    auth = AuthConfig(publishers=(PublisherConfig("a", token_env="TA"), PublisherConfig("b", token_env="TB")))
    with pytest.raises(RuleError) as e:
        read_tokens(auth, {"TA": "same", "TB": "same"})
    assert "also the token of 'a'" in str(e.value) and "'same'" not in str(e.value)


def test_mqtt_source_options(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "sources:\n"
        "  - {name: m, type: mqtt, stream: 'orders/+/created', group: routers, consumer: router-1,\n"
        "     url: 'mqtt://user:pw@broker:1884', session_expiry: 600}\n")
    s = load_config(tmp_path / "s.yaml").sources[0]
    assert (s.type, s.stream, s.group, s.consumer, s.session_expiry) == ("mqtt", "orders/+/created", "routers",
                                                                         "router-1", 600)


@pytest.mark.parametrize(("source", "column", "detail"), [
    pytest.param("stream: 'a/b+/c'", 55, "a wildcard '+' or '#' must be a whole topic level", id="plus-inside-level"),
    pytest.param("stream: 'a/#/c'", 55, "'#' may only be the last topic level", id="hash-not-last"),
    pytest.param("stream: '$share/g/a'", 55, "the share group is 'group'", id="share-prefix"),
    pytest.param("stream: a, group: 'x/y'", 65, "a share group name is non-empty", id="group-slash"),
    pytest.param("stream: a, url: 'nats://h:1'", 63, "expected mqtt://", id="url-scheme"),
    pytest.param("stream: a, session_expiry: -1", 74, "out of range", id="expiry-range"),
])
def test_mqtt_source_bad_options(tmp_path: Path, source: str, column: int, detail: str) -> None:
    (tmp_path / "s.yaml").write_text("sources:\n  - {name: m, type: mqtt, consumer: router-1, " + source + "}\n")
    with pytest.raises(RuleError) as e:
        load_config(tmp_path / "s.yaml")
    [d] = e.value.diagnostics
    assert (d.code, d.line, d.column) == ("E652", 2, column) and detail in d.message, (d.column, d.message)


def test_a_yaml_tag_in_the_sidecar_config_is_refused_without_calling_it_a_rule_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("queue: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(RuleError) as e:
        load_config(tmp_path / "s.yaml")
    [d] = e.value.diagnostics
    assert (d.code, d.line, d.column) == ("E115", 1, 8) and "rule file" not in d.message, d.message


def test_tracing_and_dedup_options(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("tracing: {enabled: true, exporter: jaeger}\ndedup: {window: 0, url: 7}\n")
    with pytest.raises(RuleError) as e:
        load_config(tmp_path / "s.yaml")
    got = [(d.code, d.line, d.column) for d in e.value.diagnostics]
    assert got == [("E652", 1, 36), ("E652", 2, 17), ("E651", 2, 25)], [d.message for d in e.value.diagnostics]
    (tmp_path / "s.yaml").write_text("tracing: {enabled: true, exporter: console}\ndedup: {window: 30}\n")
    cfg = load_config(tmp_path / "s.yaml")
    assert cfg.tracing.exporter == "console" and cfg.dedup is not None and cfg.dedup.window == 30
