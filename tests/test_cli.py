"""The command line: exit codes, output formats, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rules_engine.cli.main import main

ROOT = Path(__file__).resolve().parents[1]

GOOD = "targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    when: x > 1\n    targets: [out]\n"
BROKEN = "targets:\n  out: {type: stdout}\ndefault_targets: [out]\nrules:\n  - name: r\n    when: x > 1\n    targets: [slack-ops]\n"
WARN = "targets:\n  out: {type: stdout}\n  unused: {type: stdout}\nrules:\n  - name: r\n    when: x > 1\n    targets: [out]\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "warn.yaml").write_text(WARN)
    return tmp_path


@pytest.mark.parametrize(
    "name, extra, expected",
    [
        pytest.param("good.yaml", [], 0, id="valid"),
        pytest.param("broken.yaml", [], 1, id="error"),
        pytest.param("warn.yaml", [], 0, id="warning-passes"),
        pytest.param("warn.yaml", ["--strict"], 1, id="warning-fails-with-strict"),
    ],
)
def test_validate_exit_codes(files: Path, name: str, extra: list[str], expected: int, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["validate", str(files / name), *extra], capsys)
    assert code == expected, out


def test_validate_usage_error_is_2(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as ei:
        main(["validate"])
    assert ei.value.code == 2
    with pytest.raises(SystemExit) as ei:
        main(["validate", "--format", "xml", "x.yaml"])
    assert ei.value.code == 2


def test_validate_text_has_caret_and_note(files: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["validate", str(files / "broken.yaml")], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{files / 'broken.yaml'}:7:15: error[E302]: unknown target 'slack-ops'"
    assert lines[1] == "   7 |     targets: [slack-ops]"
    assert lines[2] == "     |               ^^^^^^^^^"
    assert lines[3] == "   = note: known targets: out"
    assert lines[-1].startswith("FAILED: 1 file(s)")


def test_validate_json(files: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["validate", "--format", "json", str(files / "broken.yaml")], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["valid"] is False and doc["errors"] == 1
    d = doc["diagnostics"][0]
    assert (d["code"], d["line"], d["column"], d["severity"]) == ("E302", 7, 15, "error")


def test_validate_github(files: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["validate", "--format", "github", str(files / "broken.yaml")], capsys)
    assert code == 1
    assert out.startswith(f"::error file={files / 'broken.yaml'},line=7,col=15,endLine=7,endColumn=24,title=E302::")
    assert "[E302] unknown target 'slack-ops'%0Anote: known targets: out" in out


def test_validate_missing_path(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["validate", "/nonexistent/rules.yaml"], capsys)
    assert code == 1
    assert "E117" in out


def test_validate_sample_rules(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out, _ = run(["validate", "sample-rules"], capsys)
    assert code == 0, out
    assert out.startswith("ok: ")


def test_python_dash_m(files: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rules_engine", "validate", str(files / "good.yaml")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: 1 file(s)")


# --- dry-run ------------------------------------------------------------------------------


def test_dry_run_json_and_bad_lines(files: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    events = files / "ev.jsonl"
    events.write_text('{"id": "a", "x": 5}\nnot json\n\n{"id": "b", "x": 0}\n[1]\n')
    code, out, err = run(["dry-run", "--rules", str(files / "good.yaml"), "--events", str(events), "--format", "json"], capsys)
    assert code == 3
    objs = [json.loads(line) for line in out.splitlines()]
    assert [(o["index"], o["id"], o["matched"]) for o in objs] == [
        (1, "a", [{"rule": "r", "targets": ["out"]}]),
        (3, "b", []),
    ]
    assert len({o["version"] for o in objs}) == 1
    assert f"{events}:2: error[E501]" in err
    assert f"{events}:5: error[E502]" in err
    assert "2 malformed event(s) skipped" in err


def test_dry_run_stdin_and_explain(files: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"x": 1}\n')))
    code, out, _ = run(["dry-run", "--explain", "--rules", str(files / "good.yaml")], capsys)
    assert code == 0
    assert out.splitlines() == ["event 1: no rule matched", "  ✗ r  x: 1 is not > 1"]


def test_dry_run_invalid_rules_exit_1(files: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ev = files / "e.json"
    ev.write_text("{}")
    code, _, err = run(["dry-run", "--rules", str(files / "broken.yaml"), "--event", str(ev)], capsys)
    assert code == 1
    assert "error[E302]" in err


# --- test-pattern ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, event, expected, text",
    [
        pytest.param('{"a": ["x"]}', '{"a": "x"}', 0, "match", id="match"),
        pytest.param('{"a": ["x"]}', '{"a": "y"}', 1, "no match", id="no-match"),
        pytest.param('{"a": "x"}', '{"a": "x"}', 2, "", id="invalid-pattern"),
        pytest.param('{"a": [', '{"a": "x"}', 2, "", id="pattern-not-json"),
    ],
)
def test_test_pattern(pattern: str, event: str, expected: int, text: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(["test-pattern", "--pattern", pattern, "--event", event], capsys)
    assert code == expected
    assert out.strip() == text
    if expected == 2:
        assert "error[E" in err


def test_test_pattern_from_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.json").write_text('{"detail": {"n": [{"numeric": [">", 3]}]}}')
    (tmp_path / "e.json").write_text('{"detail": {"n": 4}}')
    code, out, _ = run(["test-pattern", "--pattern", str(tmp_path / "p.json"), "--event", str(tmp_path / "e.json")], capsys)
    assert (code, out.strip()) == (0, "match")
