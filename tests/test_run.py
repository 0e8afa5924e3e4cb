"""``rules-engine run``: evaluate and deliver, then a summary per target and an honest exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rules_engine.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "sample-rules" / "local"


def test_run_delivers_the_local_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--rules", str(LOCAL), "--events", str(LOCAL / "orders.jsonl")])
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {"review": "fraud", "order_id": "1002", "total": 2400, "country": "DE"}
    assert err.splitlines()[0].split() == ["target", "delivered", "retried", "dead-lettered", "lost",
                                        "possible-dups"]
    assert err.splitlines()[1].split() == ["audit", "6", "0", "0", "0", "0"]
    assert err.splitlines()[2].split() == ["console", "1", "0", "0", "0", "0"]
    assert "6 event(s), 7 decision(s)" in err and err.rstrip().endswith("nothing lost")
    audit = [json.loads(x) for x in (tmp_path / "out" / "audit.jsonl").read_text().splitlines()]
    assert [a["payload"]["id"] for a in audit] == ["o-1001", "o-1002", "o-1003", "o-1001-c", "o-1004", "u-1"]


def _rules(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text("targets:\n" + extra + "rules:\n  - name: all\n    match: {type: [{exists: true}]}\n    targets: [hook]\n")
    return p


def test_run_exits_1_when_something_is_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = _rules(tmp_path, '  hook: {type: http, url: "http://127.0.0.1:9/x", retry: {attempts: 2, initial: 0.01}}\n')
    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "a"}\n{"type": "b"}\n')
    code = main(["run", "--rules", str(rules), "--events", str(events)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[1].split() == ["hook", "0", "2", "0", "2", "0"]
    assert "2 LOST" in err and "error[E611]: target 'hook': gave up after 2 attempt(s)" in err


def test_run_dead_letters_count_as_not_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dl = tmp_path / "dl.jsonl"
    rules = _rules(tmp_path, '  hook: {type: http, url: "http://127.0.0.1:9/x", retry: {attempts: 1}, dead_letter: dl}\n'
                             f'  dl: {{type: file, path: "{dl}"}}\n')
    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "a"}\nnot json\n')
    code = main(["run", "--rules", str(rules), "--events", str(events)])
    err = capsys.readouterr().err
    assert code == 3 and "1 malformed event(s) skipped" in err and "e.jsonl:2: error[E501]" in err
    table = err.splitlines()[err.splitlines().index(next(x for x in err.splitlines() if x.startswith("target"))):]
    assert [ln.split() for ln in table[1:3]] == [["dl", "1", "0", "0", "0", "0"], ["hook", "0", "0", "1", "0", "0"]]
    (line,) = dl.read_text().splitlines()
    assert json.loads(line)["headers"]["x-rules-engine-error-code"] == "E611"


def test_run_reads_standard_input(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rules_engine", "run", "--rules", str(LOCAL), "--events", "-"],
        input=(LOCAL / "orders.jsonl").read_bytes(), capture_output=True, cwd=tmp_path, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert b"nothing lost" in proc.stderr and len((tmp_path / "out" / "audit.jsonl").read_bytes().splitlines()) == 6


def test_run_with_rule_errors_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = _rules(tmp_path, "  hook: {type: http}\n")
    assert main(["run", "--rules", str(rules), "--events", os.devnull]) == 1
    assert "error[E603]" in capsys.readouterr().err


def test_run_counts_and_prints_possible_duplicates(tmp_path: Path) -> None:
    """A webhook that stores the first request but answers it after the timeout: the retry is delivered,
    and the summary says the target may hold that message twice."""
    import asyncio
    import io

    from delivery_helpers import webhook

    from rules_engine import loads
    from rules_engine.cli.run import run_events

    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "a"}\n{"type": "b"}\n')

    async def go() -> tuple[str, int]:
        async with webhook() as hook:
            hook.script["/slow"] = [(200, {}, 1.0), (200, {}, 0.0)]  # the first answer comes too late
            rs = loads(f"targets:\n  hook: {{type: http, url: '{hook.url}/slow', timeout: 0.3, max_in_flight: 1,\n"
                       "    retry: {attempts: 5, initial: 0.01, jitter: 0}}\n"
                       "rules:\n  - name: all\n    match: {type: [{exists: true}]}\n    targets: [hook]\n")
            err = io.StringIO()
            summary = await run_events(rs, str(events), err)
            return summary.render(1.0), hook.count("/slow")

    text, requests = asyncio.run(go())
    lines = text.splitlines()
    assert lines[1].split() == ["hook", "2", "1", "0", "0", "1"]  # 2 delivered, 1 retry, 1 possible duplicate
    assert requests == 3  # the webhook did receive the timed-out request: a real duplicate
    assert lines[3].startswith("1 possible duplicate(s)")
