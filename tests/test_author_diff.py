"""rules-engine diff: counts per rule and target, examples, formats, --fail-on-change, git revisions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rules_engine import loads
from rules_engine.author.diff import diff_events, render_markdown
from rules_engine.cli.main import main

OLD = """\
targets:
  ops: {type: stdout}
  audit: {type: stdout}
  billing: {type: stdout}
rules:
  - name: big
    when: data.total > 100
    targets: [ops]
  - name: invoices
    match: {type: [invoice]}
    targets: [billing]
  - name: everything
    match: {type: [{prefix: ""}]}
    targets: [audit]
"""
NEW = OLD.replace("data.total > 100", "data.total > 500").replace(
    "    targets: [billing]\n", "    transform: {set: {data.checked: true}}\n    targets: [billing]\n").replace(
    "{type: [{prefix: \"\"}]}", "{type: [{prefix: \"\"}], data: {total: [{exists: true}]}}")
EVENTS = [
    {"id": "a", "type": "order", "data": {"total": 300}},    # big: lost (300 < 500)
    {"id": "b", "type": "order", "data": {"total": 900}},    # unchanged
    {"id": "c", "type": "invoice", "data": {"total": 5}},    # payload to billing changes
    {"id": "d", "type": "ping", "data": {}},                 # everything: lost (no total) -> no longer matched
    {"id": "e", "type": "order", "data": {"total": 1}},      # unchanged (everything)
]


def _lines() -> list[bytes]:
    return [json.dumps(e).encode() for e in EVENTS] + [b"", b"{not json"]


def test_counts_and_examples() -> None:
    rep = diff_events(loads(OLD), loads(NEW), _lines(), "old.yaml", "new.yaml")
    assert (rep.events, rep.malformed, rep.changed) == (5, 1, 3)
    assert (rep.newly_matched, rep.no_longer_matched, rep.targets_changed, rep.payloads_changed) == (0, 1, 2, 1)
    assert {k: vars(v) for k, v in rep.rules.items()} == {
        "big": {"gained": 0, "lost": 1, "payload_changed": 0},
        "everything": {"gained": 0, "lost": 1, "payload_changed": 0},
    }
    assert vars(rep.targets["billing"]) == {"gained": 0, "lost": 0, "payload_changed": 1}
    assert vars(rep.targets["ops"]) == {"gained": 0, "lost": 1, "payload_changed": 0}
    assert rep.examples["no longer matched"] == [{"line": 4, "id": "d", "rules": ["everything"]}]
    (ex,) = rep.examples["payload changed"]
    assert ex["id"] == "c" and ex["after"]["data"]["checked"] is True and "checked" not in ex["before"]["data"]


def test_no_change_is_no_change() -> None:
    rep = diff_events(loads(OLD), loads(OLD), _lines())
    assert rep.changed == 0 and rep.rules == {} and rep.examples == {}


def test_markdown(golden) -> None:  # type: ignore[no-untyped-def]
    rep = diff_events(loads(OLD), loads(NEW), _lines(), "old.yaml", "new.yaml")
    golden.check("author/diff.md", render_markdown(rep))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "old.yaml").write_text(OLD)
    (tmp_path / "new.yaml").write_text(NEW)
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(_lines()) + b"\n")
    return tmp_path


def test_cli(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new, ev = str(files / "old.yaml"), str(files / "new.yaml"), str(files / "events.jsonl")
    assert main(["diff", old, new, "--events", ev]) == 0
    assert "3 routed differently" in capsys.readouterr().out
    assert main(["diff", old, new, "--events", ev, "--fail-on-change", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["changed"] == 3
    assert main(["diff", old, old, "--events", ev, "--fail-on-change"]) == 0
    capsys.readouterr()
    assert main(["diff", old, str(files / "missing.yaml"), "--events", ev]) == 1
    assert main(["diff", old, new, "--events", str(files / "none.jsonl")]) == 2


def test_git_revisions(files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = files / "repo"
    (repo / "rules").mkdir(parents=True)
    (repo / "rules" / "r.yaml").write_text(OLD)

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "old")
    (repo / "rules" / "r.yaml").write_text(NEW)
    monkeypatch.chdir(repo)
    ev = str(files / "events.jsonl")
    assert main(["diff", "HEAD:rules", "rules", "--events", ev, "--format", "markdown"]) == 0
    assert "**3** would be routed differently" in capsys.readouterr().out
    assert main(["diff", "HEAD:nope", "rules", "--events", ev]) == 2
