"""Reading rule files: only regular files, never a hang; a symlink loop named as such (issue 9,
defects 10 and 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rules_engine
from rules_engine import RuleError

ROOT = Path(__file__).resolve().parents[1]
RULES = "targets: {out: {type: stdout}}\nrules:\n  - {name: r, when: 'x == 1', targets: [out]}\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "rules_engine", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=60)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text(RULES)
    os.mkfifo(tmp_path / "rules" / "pipe.yaml")
    os.symlink("loop.yaml", tmp_path / "rules" / "loop.yaml")
    return tmp_path


def test_validate_skips_a_fifo_and_a_symlink_loop_in_a_folder(folder: Path) -> None:
    """A FIFO used to block validate forever; the timeout above is the hang guard."""
    r = _cli("validate", "rules", cwd=folder)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rules/pipe.yaml:1:1: warning[W101]: skipped 'rules/pipe.yaml': a named pipe (FIFO)" in r.stdout
    assert "rules/loop.yaml:1:1: warning[W101]: skipped 'rules/loop.yaml': a symbolic link that refers to itself" in r.stdout
    assert "ok: 1 file(s), 1 rule set(s), 1 rule(s); 0 error(s), 2 warning(s)" in r.stdout


def test_load_api_skips_them_too(folder: Path) -> None:
    rs = rules_engine.load(str(folder / "rules"))
    assert [r.name for r in rs.rules] == ["r"]
    assert sorted(w.code for w in rs.warnings) == ["W101", "W101"]


@pytest.mark.parametrize(
    "name,detail",
    [
        pytest.param("pipe.yaml", "a named pipe (FIFO): only regular files are read", id="fifo"),
        pytest.param("loop.yaml", "a symbolic link that refers to itself (a loop)", id="symlink-loop"),
        pytest.param("absent.yaml", "no such file or directory", id="absent"),
    ],
)
def test_named_directly_is_E117(folder: Path, name: str, detail: str) -> None:
    path = str(folder / "rules" / name)
    with pytest.raises(RuleError) as ei:
        rules_engine.load(path)
    [d] = ei.value.diagnostics
    assert (d.code, d.message, d.file) == ("E117", f"cannot read {path!r}: {detail}", path)


def test_json_diagnostics_always_have_every_key(tmp_path: Path) -> None:
    """Issue 9, defect 14: E117 names its file; notes and end positions are always present."""
    import json

    (tmp_path / "bad.yaml").write_text(RULES.replace("x == 1", "x == "))
    r = _cli("validate", "--format", "json", "bad.yaml", "missing.yaml", cwd=tmp_path)
    out = json.loads(r.stdout)
    keys = ["code", "severity", "message", "file", "line", "column", "end_line", "end_column", "notes"]
    assert all(list(d) == keys for d in out["diagnostics"])
    by_code = {d["code"]: d for d in out["diagnostics"]}
    assert by_code["E117"]["file"] == "missing.yaml" and by_code["E117"]["notes"] == []


def test_summary_counts_rules_of_a_set_with_errors(tmp_path: Path) -> None:
    """Issue 9, defect 14: the summary used to say 0 rule(s) whenever there was an error."""
    (tmp_path / "a.yaml").write_text(RULES)
    (tmp_path / "b.yaml").write_text("rules:\n  - {name: s, when: 'nosuch(x)', targets: [out]}\n")
    r = _cli("validate", "a.yaml", "b.yaml", cwd=tmp_path)
    assert r.returncode == 1
    assert "FAILED: 2 file(s), 1 rule set(s), 2 rule(s); 1 error(s), 0 warning(s)" in r.stdout


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["validate", "r.yaml"], id="validate"),
        pytest.param(["dry-run", "--rules", "r.yaml", "--event", "e.json"], id="dry-run"),
        pytest.param(["compile", "--rules", "r.yaml"], id="compile"),
        pytest.param(["convert", "r.yaml"], id="convert"),
        pytest.param(["fmt", "r.yaml"], id="fmt"),
        pytest.param(["lint", "r.yaml"], id="lint"),
        pytest.param(["test", "r_test.yaml"], id="test"),
        pytest.param(["run", "--rules", "r.yaml", "--events", "e.json"], id="run"),
    ],
)
def test_max_file_size_on_every_command_that_reads_rules(tmp_path: Path, command: list[str]) -> None:
    """Issue 9, defect 12: one option, every command; a big file that validates also dry-runs."""
    (tmp_path / "r.yaml").write_text(RULES + "# " + "x" * 5_000_000 + "\n")
    (tmp_path / "e.json").write_text('{"x": 1}')
    (tmp_path / "r_test.yaml").write_text("rules: r.yaml\ntests:\n  - {name: t, event: {x: 1}, expect: {rules: [r]}}\n")
    refused = _cli(*command, cwd=tmp_path)
    assert refused.returncode == 1 or command[0] == "convert" and refused.returncode == 2
    assert "error[E104]" in refused.stdout + refused.stderr
    allowed = _cli(*command, "--max-file-size", "6000000", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


@pytest.mark.parametrize("command", [["dry-run", "--event", "e.json"], ["compile"]], ids=["dry-run", "compile"])
def test_a_folder_of_rule_sets_is_E150_with_the_sets(tmp_path: Path, command: list[str]) -> None:
    """Issue 9, defect 16: validate treats sub-folders as separate sets; every command now does."""
    for name in ("prod", "staging"):
        (tmp_path / "rules" / name).mkdir(parents=True)
        (tmp_path / "rules" / name / "r.yaml").write_text(RULES)
    (tmp_path / "e.json").write_text('{"x": 1}')
    assert _cli("validate", "rules", cwd=tmp_path).returncode == 0
    r = _cli(command[0], "--rules", "rules", *command[1:], cwd=tmp_path)
    assert r.returncode == 1
    assert "error[E150]: 'rules' holds 2 independent rule sets" in r.stderr
    assert "rule sets found: rules/prod; rules/staging" in r.stderr
    assert _cli(command[0], "--rules", "rules/prod", *command[1:], cwd=tmp_path).returncode == 0
