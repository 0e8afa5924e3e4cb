"""LiveRuleSet: atomic swap, last known good, status, callbacks, torn loads (no watcher here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules_engine import RuleError
from rules_engine.reload import LiveRuleSet, ReloadAttempt, fingerprint, reload_body, rules_body
from rules_engine.reload import live as live_mod
from rules_engine.ruleset import RuleSet
from tests.reload_helpers import BROKEN, one_file, rules_yaml, targets_yaml, write

EVENT = {"type": "order", "detail": {"n": 0}}


def targets_of(rs: RuleSet) -> list[str]:
    return [d.target for d in rs.evaluate(EVENT)]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    write(d / "rules.yaml", one_file("v1"))
    return d


def test_first_load_of_invalid_rules_raises(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(BROKEN)
    with pytest.raises(RuleError) as e:
        LiveRuleSet([str(tmp_path)])
    assert [d.code for d in e.value.errors] == ["E102"]


def test_reload_swaps_and_readers_keep_their_version(rules_dir: Path) -> None:
    live = LiveRuleSet([str(rules_dir)])
    v1 = live.version
    held = live.current  # an evaluation in flight holds this reference
    write(rules_dir / "rules.yaml", one_file("v2"))
    attempt = live.reload()
    assert attempt.ok and attempt.changed and attempt.previous == v1
    assert attempt.version == live.version == fingerprint([str(rules_dir)]) != v1
    assert targets_of(live.current) == ["t-v2"]
    assert targets_of(held) == ["t-v1"] and held.version == v1
    st = live.status
    assert st.version == live.version and st.loaded_at == attempt.at and st.rule_count == 1
    assert dict(st.reloads) == {"success": 1, "failure": 0} and st.last_reload_successful


def test_unchanged_reload_keeps_the_same_object(rules_dir: Path) -> None:
    live = LiveRuleSet([str(rules_dir)])
    before, loaded_at = live.current, live.status.loaded_at
    attempt = live.reload("sighup")
    assert attempt.ok and not attempt.changed and attempt.trigger == "sighup"
    assert live.current is before and live.status.loaded_at == loaded_at
    assert live.status.last_success_at == attempt.at


def test_failed_reload_keeps_last_good_and_reports(rules_dir: Path) -> None:
    live = LiveRuleSet([str(rules_dir)])
    v1 = live.version
    write(rules_dir / "rules.yaml", BROKEN)
    attempt = live.reload()
    assert not attempt.ok and attempt.result == "failure" and attempt.version is None
    assert [d.code for d in attempt.diagnostics] == ["E102"]
    assert f"{rules_dir / 'rules.yaml'}:3:6: error[E102]" in attempt.rendered and "error[E102]" in attempt.rendered
    assert v1 in attempt.message
    assert live.version == v1 and targets_of(live.current) == ["t-v1"]
    st = live.status
    assert not st.last_reload_successful and st.last_attempt == attempt
    assert dict(st.reloads) == {"success": 0, "failure": 1}
    code, body = reload_body(attempt, st)
    assert code == 422 and body["version"] == v1 and body["result"] == "failure"
    assert body["diagnostics"][0]["code"] == "E102" and body["diagnostics"][0]["line"] == 3
    assert rules_body(st)["last_attempt"]["diagnostics"][0]["code"] == "E102"
    # fixed again: success, and the gauge-like flag flips back
    write(rules_dir / "rules.yaml", one_file("v3"))
    ok = live.reload()
    code, body = reload_body(ok, live.status)
    assert code == 200 and body["version"] == live.version != v1 and body["changed"] is True
    assert live.status.last_reload_successful and dict(live.status.reloads) == {"success": 1, "failure": 1}


def test_a_rule_set_that_fails_the_cross_file_check_is_refused(rules_dir: Path) -> None:
    live = LiveRuleSet([str(rules_dir)])
    write(rules_dir / "rules.yaml", targets_yaml("v1") + rules_yaml("nowhere"))
    attempt = live.reload()
    assert not attempt.ok and [d.code for d in attempt.diagnostics if d.is_error] == ["E302"]


def test_callbacks_in_order_and_a_failing_callback_is_contained(rules_dir: Path) -> None:
    live = LiveRuleSet([str(rules_dir)])
    seen: list[tuple[str, str | None]] = []

    def boom(rs: RuleSet, a: ReloadAttempt) -> None:
        raise RuntimeError("subscriber bug")

    live.subscribe(on_reload=boom)
    live.subscribe(on_reload=lambda rs, a: seen.append(("ok", rs.version)),
                   on_failure=lambda a: seen.append(("fail", a.previous)))
    write(rules_dir / "rules.yaml", one_file("v2"))
    live.reload()
    v2 = live.version
    write(rules_dir / "rules.yaml", BROKEN)
    live.reload()
    assert seen == [("ok", v2), ("fail", v2)]


def test_torn_load_is_loaded_again(rules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout that lands while the files are read: what was read is not served."""
    (rules_dir / "targets.yaml").write_text(targets_yaml("v1"))
    write(rules_dir / "rules.yaml", rules_yaml("v1"))
    live = LiveRuleSet([str(rules_dir)])
    real_load = live_mod.load
    calls = []

    def load_then_checkout(*paths: str, engine: str = "compiled") -> RuleSet:
        rs = real_load(*paths, engine=engine)
        calls.append(rs.version)
        if len(calls) == 1:  # the second file of the checkout lands after the read
            (rules_dir / "targets.yaml").write_text(targets_yaml("v2"))
            write(rules_dir / "rules.yaml", rules_yaml("v2"))
        return rs

    (rules_dir / "targets.yaml").write_text(targets_yaml("v2") + "  t-v1: {type: stdout}\n")
    monkeypatch.setattr(live_mod, "load", load_then_checkout)
    attempt = live.reload()
    assert len(calls) == 2 and attempt.ok and attempt.version == calls[1] != calls[0]
    assert targets_of(live.current) == ["t-v2"]


def test_files_that_never_settle_fail_the_attempt(rules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveRuleSet([str(rules_dir)])
    real_load = live_mod.load
    n = [0]

    def load_while_writing(*paths: str, engine: str = "compiled") -> RuleSet:
        rs = real_load(*paths, engine=engine)
        n[0] += 1
        write(rules_dir / "rules.yaml", one_file(f"w{n[0]}"))
        return rs

    monkeypatch.setattr(live_mod, "load", load_while_writing)
    monkeypatch.setattr(live_mod, "TORN_BACKOFF_S", 0.0)
    v1 = live.version
    attempt = live.reload()
    assert not attempt.ok and n[0] == live_mod.MAX_TORN_LOADS and "kept changing" in attempt.message
    assert live.version == v1 and reload_body(attempt, live.status)[0] == 422


def test_paths_must_be_a_sequence() -> None:
    with pytest.raises(TypeError):
        LiveRuleSet("sample-rules/shop")  # type: ignore[arg-type]
