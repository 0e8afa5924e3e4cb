"""The http adapter and the dispatcher's retry rules against a real local webhook (uvicorn).

Faults: 503, 503, 200 (delivered once, two retries); 400 (dead-lettered at once with the
status and a body excerpt); a hanging endpoint (timeouts, retries, dead letter); a dead
letter that fails too (counted and logged); Retry-After beyond max_age; on_error dead letters.
Every wait is bounded by the targets' own timeouts and retry limits.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from delivery_helpers import Counts, target, webhook

import rules_engine
from rules_engine.deliver import Dispatcher
from rules_engine.deliver.adapters.http import ce_extension_name, retry_after
from rules_engine.route.router import Decision

FAST = {"attempts": 4, "initial": 0.01, "max": 0.05, "jitter": 0}
EVENT = {"id": "e-1", "type": "order.created", "data": {"total": 5}}


def decision(to: str, rule: str = "r") -> Decision:
    return Decision(rule, to, {"order": 1}, "k1")


def dl_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_503_twice_then_200_is_delivered_once_with_two_retries() -> None:
    async with webhook() as hook:
        hook.script["/flaky"] = [(503, {}, 0), (503, {}, 0), (200, {}, 0)]
        counts = Counts()
        d = Dispatcher([target("hook", "http", url=hook.url + "/flaky", retry=FAST)], observer=counts)
        await d.start()
        res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
        await d.close()
    assert res.ok and res.delivered == 1 and res.outcomes[0].attempts == 3
    assert counts.retries["hook"] == 2 and counts.reasons == ["http-503", "http-503"]
    assert hook.count("/flaky") == 3
    assert json.loads(hook.received[-1][2]) == {"order": 1}


async def test_400_is_dead_lettered_at_once_with_status_and_body(tmp_path: Path) -> None:
    dl = tmp_path / "dl.jsonl"
    async with webhook() as hook:
        hook.script["/bad"] = [(400, {}, 0)]
        counts = Counts()
        d = Dispatcher([target("hook", "http", url=hook.url + "/bad", retry=FAST, dead_letter="dl"),
                        target("dl", "file", path=str(dl))], observer=counts)
        await d.start()
        res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
        await d.close()
    assert res.ok and res.dead_lettered == 1 and counts.retries["hook"] == 0
    o = res.outcomes[0]
    assert (o.status, o.code, o.attempts, o.dead_letter) == ("dead_lettered", "E610", 1, "dl")
    assert hook.count("/bad") == 1
    (line,) = dl_lines(dl)
    h = line["headers"]
    assert isinstance(h, dict)
    assert line["payload"] == EVENT  # the original event, not the transformed payload
    assert h["x-rules-engine-error-code"] == "E610" and h["x-rules-engine-exhausted"] == "not retryable"
    assert "HTTP 400 Bad Request: status 400 from /bad" in str(h["x-rules-engine-error"])
    assert (h["x-rules-engine-rule"], h["x-rules-engine-target"], h["x-rules-engine-attempts"]) == ("r", "hook", "1")
    assert h["x-rules-engine-first-attempt"] <= h["x-rules-engine-last-attempt"]


async def test_hanging_webhook_times_out_retries_and_dead_letters(tmp_path: Path) -> None:
    dl = tmp_path / "dl.jsonl"
    async with webhook() as hook:
        hook.script["/hang"] = [(200, {}, 3.0)]
        counts = Counts()
        d = Dispatcher([target("hook", "http", url=hook.url + "/hang", timeout=0.2, dead_letter="dl",
                               retry={"attempts": 2, "initial": 0.01, "jitter": 0}),
                        target("dl", "file", path=str(dl))], observer=counts)
        await d.start()
        res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
        await d.close(timeout=1)
    o = res.outcomes[0]
    assert (o.status, o.code, o.attempts) == ("dead_lettered", "E611", 2)
    assert counts.retries["hook"] == 1 and counts.reasons == ["timeout"]
    (line,) = dl_lines(dl)
    assert line["headers"]["x-rules-engine-exhausted"] == "attempts"  # type: ignore[index]


async def test_failing_dead_letter_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with webhook() as hook:
        hook.script["/bad"] = [(422, {}, 0)]
        hook.script["/down"] = [(500, {}, 0)]
        counts = Counts()
        d = Dispatcher([target("hook", "http", url=hook.url + "/bad", dead_letter="dl"),
                        target("dl", "http", url=hook.url + "/down", retry={**FAST, "attempts": 2})], observer=counts)
        await d.start()
        with caplog.at_level(logging.ERROR, logger="rules_engine.deliver"):
            res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
        await d.close()
    assert not res.ok and res.failed == 1
    o = res.outcomes[0]
    assert (o.status, o.code, o.dead_letter) == ("failed", "E612", "dl")
    assert counts.lost["dl"] == 1 and hook.count("/down") == 2
    assert any("E612" in r.getMessage() and "'hook'" in r.getMessage() for r in caplog.records)


async def test_retry_after_beyond_max_age_gives_up_without_waiting() -> None:
    async with webhook() as hook:
        hook.script["/busy"] = [(429, {"Retry-After": "3600"}, 0)]
        d = Dispatcher([target("hook", "http", url=hook.url + "/busy", retry={**FAST, "max_age": 5})])
        await d.start()
        res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
        await d.close()
    o = res.outcomes[0]
    assert (o.status, o.code, o.attempts) == ("failed", "E611", 1)
    assert "max_age" in o.message and "no dead_letter" not in o.message


@pytest.mark.parametrize(("status", "retried"), [(404, True), (408, True), (409, True), (429, True), (502, True),
                                                 (401, False), (403, False), (413, False)])
async def test_knative_retry_rules(status: int, retried: bool) -> None:
    async with webhook() as hook:
        hook.script["/s"] = [(status, {}, 0)]
        counts = Counts()
        d = Dispatcher([target("hook", "http", url=hook.url + "/s", retry={**FAST, "attempts": 2})], observer=counts)
        await d.start()
        res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
        await d.close()
    assert res.failed == 1 and counts.retries["hook"] == (1 if retried else 0)
    assert res.outcomes[0].code == ("E611" if retried else "E610")


def test_retry_after_header_forms() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7.0
    assert retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None


async def test_cloudevents_modes_and_auth_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    monkeypatch.setenv("HOOK_USER", "u")
    monkeypatch.setenv("HOOK_PASS", "p")
    async with webhook() as hook:
        d = Dispatcher([
            target("bin", "http", url=hook.url + "/bin", mode="binary", auth={"bearer_token_env": "HOOK_TOKEN"}),
            target("st", "http", url=hook.url + "/st", mode="structured", method="PUT",
                   auth={"username_env": "HOOK_USER", "password_env": "HOOK_PASS"}),
            target("js", "http", url=hook.url + "/js", headers={"X-Team": "shop"}),
        ])
        await d.start()
        res = await d.dispatch([Decision("r", "bin", {"a": 1}, None, (("x-rules-engine-rule", "r"),)),
                                Decision("r", "st", {"specversion": "1.0", "id": "9", "source": "/s", "type": "t",
                                                     "data": {"b": 2}}),
                                Decision("r", "js", [1, 2])], event=EVENT, version="v1")
        await d.close()
    assert res.ok and res.delivered == 3
    got = {p: (h, b) for p, h, b in hook.received}
    h, b = got["/bin"]
    assert h["ce-specversion"] == "1.0" and h["ce-type"] == "rules-engine.r" and h["ce-rulesenginerule"] == "r"
    assert h["authorization"] == "Bearer s3cret" and json.loads(b) == {"a": 1}
    h, b = got["/st"]
    assert h["content-type"].startswith("application/cloudevents+json") and h["authorization"].startswith("Basic ")
    assert json.loads(b) == {"specversion": "1.0", "id": "9", "source": "/s", "type": "t", "data": {"b": 2}}
    h, b = got["/js"]
    assert h["x-team"] == "shop" and json.loads(b) == [1, 2]
    assert ce_extension_name("x-rules-engine-error-code") == "rulesengineerrorcode"


async def test_missing_auth_variable_is_permanent() -> None:
    d = Dispatcher([target("hook", "http", url="http://127.0.0.1:9/x", auth={"bearer_token_env": "NO_SUCH_VAR_XYZ"})])
    await d.start()
    res = await d.dispatch([decision("hook")], event=EVENT, version="v1")
    await d.close()
    o = res.outcomes[0]
    assert (o.status, o.code, o.attempts) == ("failed", "E614", 1) and "NO_SUCH_VAR_XYZ" in o.detail


async def test_on_error_dead_letter_decisions_go_to_the_dead_letter(tmp_path: Path) -> None:
    dl = tmp_path / "dl.jsonl"
    rs = rules_engine.loads(f"""
targets:
  out: {{type: file, path: "{tmp_path / 'out.jsonl'}", dead_letter: dl}}
  dl: {{type: file, path: "{dl}"}}
rules:
  - name: strict
    match: {{type: [order.created]}}
    on_error: dead_letter
    transform:
      set: {{data.cents: data.missing * 100}}
    targets: [out]
""")
    decisions = rs.evaluate(EVENT)
    assert [x.action for x in decisions] == ["dead_letter"]
    counts = Counts()
    d = Dispatcher(rs.targets, observer=counts)
    await d.start()
    res = await d.dispatch(decisions, event=EVENT, version=rs.version)
    await d.close()
    assert res.ok and res.dead_lettered == 1 and counts.dead["out"] == 1
    (line,) = dl_lines(dl)
    assert line["payload"] == EVENT
    h = line["headers"]
    assert isinstance(h, dict) and h["x-rules-engine-exhausted"] == "transform error" and h["x-rules-engine-rule"] == "strict"
