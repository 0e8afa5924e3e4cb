"""The console without a browser: authentication, read-only sandbox, the structure picture, the traffic
figures, and that it is off unless configured (the browser tests are in test_console_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import rules_engine
from rules_engine.compile import compile_ruleset, structure_graph
from rules_engine.reload import LiveRuleSet
from rules_engine.serve.app import create_app
from rules_engine.serve.config import AuthConfig, ConsoleConfig, SidecarConfig
from rules_engine.serve.console.graph import svg
from rules_engine.serve.console.sandbox import run_sandbox
from rules_engine.serve.console.views import traffic
from rules_engine.serve.metrics import Metrics

RULES = """\
targets:
  out: {type: file, path: OUT/out.jsonl}
rules:
  - name: created
    match: {type: [order.created]}
    targets: [out]
  - name: big
    when: data.total > 100
    targets: [out]
"""


class NoDispatcher:
    """The console never dispatches; the app's lifespan still opens and closes a dispatcher."""

    async def start(self) -> None: ...

    async def dispatch(self, decisions: Any, *, event: Any, version: str) -> Any:
        raise AssertionError("the console must not deliver")

    async def update_targets(self, targets: Any) -> None: ...

    def health(self) -> dict[str, Any]:
        return {}

    async def close(self, timeout: float = 10.0) -> None: ...


def _live(tmp_path: Path) -> LiveRuleSet:
    (tmp_path / "rules.yaml").write_text(RULES.replace("OUT/", f"{tmp_path}/"), encoding="utf-8")
    return LiveRuleSet([str(tmp_path / "rules.yaml")])


def _client(tmp_path: Path, config: SidecarConfig, tokens: dict[str, str] | None = None) -> TestClient:
    return TestClient(create_app(config, _live(tmp_path), NoDispatcher(), tokens=tokens))


def test_console_is_off_unless_enabled(tmp_path: Path) -> None:
    with _client(tmp_path, SidecarConfig()) as http:
        assert http.get("/ui/").status_code == 404


@pytest.mark.parametrize("path", ["/ui/", "/ui/sandbox", "/ui/structure", "/ui/traffic"])
def test_pages_answer_with_a_strict_content_security_policy(tmp_path: Path, path: str) -> None:
    with _client(tmp_path, SidecarConfig(console=ConsoleConfig(enabled=True))) as http:
        r = http.get(path)
        assert r.status_code == 200
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert "<script src=\"/ui/static/console.js\"" in r.text and "<script>" not in r.text


def test_console_asks_for_the_same_bearer_token_as_the_api(tmp_path: Path) -> None:
    cfg = SidecarConfig(console=ConsoleConfig(enabled=True), auth=AuthConfig())
    with _client(tmp_path, cfg, tokens={"s3cret-token": "ops"}) as http:
        r = http.get("/ui/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login"
        assert http.get("/ui/api/traffic").status_code == 401
        r = http.post("/ui/login", data={"token": "wrong"})
        assert r.status_code == 401 and "not valid" in r.text
        assert http.get("/ui/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        r = http.post("/ui/login", data={"token": "s3cret-token"}, follow_redirects=False)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite")
        assert http.get("/ui/").status_code == 200  # the cookie now carries the token
        assert "s3cret-token" not in http.get("/ui/").text


def test_sandbox_never_changes_the_live_rules(tmp_path: Path) -> None:
    live = rules_engine.load(str(_write(tmp_path)))
    before = live.version
    res = run_sandbox(live, '{"type": "order.created", "data": {"total": 500}}',
                      "rules:\n  - name: draft\n    when: data.total > 1\n    targets: [out]\n")
    assert res.matched == ["created", "big", "draft"] and res.draft_rules == {"draft"}
    assert [d.target for d in res.decisions] == ["out"]  # one delivery per target (deduplicated)
    assert live.version == before and [r.name for r in live.rules] == ["created", "big"]


@pytest.mark.parametrize(("event", "code"), [
    pytest.param("{not json", "E501", id="bad-json"),
    pytest.param("[1, 2]", "E502", id="not-an-object"),
])
def test_sandbox_shows_a_bad_event_as_a_diagnostic(tmp_path: Path, event: str, code: str) -> None:
    res = run_sandbox(rules_engine.load(str(_write(tmp_path))), event)
    assert f"error[{code}]" in res.problems and not res.verdicts


def test_sandbox_draft_errors_point_into_the_draft(tmp_path: Path) -> None:
    res = run_sandbox(rules_engine.load(str(_write(tmp_path))), "{}",
                      "rules:\n  - name: d\n    targets: [nowhere]\n", "yaml")
    assert "draft.yaml:3:15: error[E302]" in res.problems and "^^^^^^^" in res.problems


def test_structure_picture_has_every_rule_and_escapes_labels(tmp_path: Path) -> None:
    rs = rules_engine.loads('targets: {o: {type: stdout}}\nrules:\n  - name: r\n'
                            '    match: {type: ["a<script>"]}\n    targets: [o]\n')
    picture = svg(*structure_graph(compile_ruleset(rs.ir)))
    assert picture.startswith("<svg") and picture.count('class="node rule"') == 1
    assert "<script>" not in picture and "a&lt;script&gt;" in picture
    assert re.search(r"<title id=\"structure-title\">", picture)


def test_traffic_reads_the_same_counters_as_metrics() -> None:
    m = Metrics()
    m.rule_matched.labels("created").inc(3)
    m.delivered_("out", "created", 0.01)
    m.dead_lettered_("out", "big", "E610", "status 400", None)
    t = traffic(m)
    assert t["rules"] == {"created": 3.0}
    assert t["targets"]["out"]["delivered"] == 1 and t["targets"]["out"]["dead_lettered"] == 1
    assert t["dead_letters"][0]["reason"] == "status 400"
    assert b"rules_engine_rule_matched_total" in m.exposition()


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("OUT/", f"{tmp_path}/"), encoding="utf-8")
    return path
