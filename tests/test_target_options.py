"""Target options are checked by their adapter type, in both rule-file formats alike (issue 9, defect 3).

Each case is written twice, as a YAML target and as its rule-language twin; both must give the
same codes and messages, and each diagnostic must point at the option (line and column).
"""

from __future__ import annotations

import pytest

import rules_engine
from rules_engine.model.errors import RuleError

CASES = [
    # id, YAML flow mapping of options, rule-language options, codes, column of the first caret in the twin
    pytest.param("{type: http, timeout: 5}", "http(timeout: 5)", ["E603"], id="http-without-url"),
    pytest.param('{type: http, url: "ftp://x"}', 'http(url: "ftp://x")', ["E604"], id="http-ftp-url"),
    pytest.param('{type: redis, stream: a, channel: b}', 'redis(stream: "a", channel: "b")', ["E604"], id="redis-two-modes"),
    pytest.param('{type: redis, stream: a, list: b}', 'redis(stream: "a", list: "b")', ["E601"], id="redis-list"),
    pytest.param("{type: mqtt, topic: t, qos: 7}", 'mqtt(topic: "t", qos: 7)', ["E604"], id="mqtt-qos-7"),
    pytest.param("{type: stdout, bogus: 1}", "stdout(bogus: 1)", ["E601"], id="stdout-unknown-option"),
    pytest.param('{type: stdout, retry: "x"}', 'stdout(retry: "x")', ["E602"], id="stdout-retry-string"),
    pytest.param("{type: nats, jetstream: true}", "nats(jetstream: true)", ["E603"], id="nats-missing-subject"),
    pytest.param("{type: file, path: a.jsonl, retry: {backoff: cubic}}", 'file(path: "a.jsonl", retry: {"backoff": "cubic"})',
                 ["E604"], id="retry-backoff-kind"),
    pytest.param("{type: amqp, url: 'http://x'}", 'amqp(url: "http://x")', ["E604"], id="amqp-url"),
]


def _diags(text: str, fmt: str) -> list[tuple[str, str, int]]:
    with pytest.raises(RuleError) as e:
        rules_engine.loads(text, format=fmt, name=f"t.{fmt}")
    return [(d.code, d.message, d.line or 0) for d in e.value.diagnostics]


@pytest.mark.parametrize(("yaml_opts", "dsl_opts", "expected"), CASES)
def test_both_formats_give_the_same_diagnostics(yaml_opts: str, dsl_opts: str, expected: list[str]) -> None:
    y = _diags(f"targets:\n  out: {yaml_opts}\nrules:\n  - name: r\n    when: x == 1\n    targets: [out]\n", "yaml")
    d = _diags(f"target out = {dsl_opts}\nrule r {{\n  when x == 1\n  route to out\n}}\n", "dsl")
    assert [c for c, _, _ in y] == expected
    assert [(c, m) for c, m, _ in y] == [(c, m) for c, m, _ in d]
    assert [ln for _, _, ln in y] == [2] * len(expected) and [ln for _, _, ln in d] == [1] * len(expected)


def test_caret_points_at_the_nested_option() -> None:
    with pytest.raises(RuleError) as e:
        rules_engine.loads('target out = stdout(retry: {"attempts": "many"})\nrule r {\n  when x == 1\n  route to out\n}\n',
                           format="dsl", name="t.rules")
    (d,) = e.value.diagnostics
    assert (d.code, d.line, d.column) == ("E602", 1, 41)


def test_valid_options_of_every_builtin_type_load() -> None:
    rs = rules_engine.loads("""
targets:
  a: {type: stdout, pretty: true, retry: {attempts: 3, backoff: linear, initial: 0.1, max: 2, jitter: 0.5, max_age: 30}}
  b: {type: file, path: out.jsonl, fsync: always, rotate_bytes: 1048576, keep: 3, dead_letter: a}
  c: {type: http, url: "https://x.example/h", mode: binary, method: PUT, timeout: 2, tls: {verify: false},
      auth: {bearer_token_env: TOKEN}, headers: {X-A: b}, ordered: true, max_in_flight: 8}
  d: {type: nats, subject: s.x, jetstream: true, url: "nats://127.0.0.1:4222"}
  e: {type: redis, stream: s, maxlen: 1000}
  f: {type: amqp, exchange: ex, routing_key: k, persistent: true}
  g: {type: mqtt, topic: a/b, qos: 2, retain: true}
rules:
  - {name: r, when: x == 1, targets: [a, b, c, d, e, f, g]}
""")
    assert len(rs.targets) == 7


def test_unknown_type_gets_its_own_code_without_option_noise() -> None:
    codes = [c for c, _, _ in _diags("targets:\n  out: {type: kafka, topic: x}\nrules:\n  - {name: r, when: x == 1, targets: [out]}\n", "yaml")]
    assert codes == ["E330"]  # unknown target type
