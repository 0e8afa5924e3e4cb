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
