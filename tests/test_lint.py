"""The house's gates: one-way imports (import-linter), lint (ruff), declared dependencies (deptry), dead code (vulture).

Each tool reads its configuration from pyproject.toml; mypy --strict is in
test_typing.py.  A failure prints the tool's own report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def _script(name: str) -> str:
    """A console script installed beside this interpreter (the `test` extra installs them)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed: pip install -e '.[test]'"
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([_script("lint-imports"), "--no-cache"], id="import-linter-layers"),
        pytest.param([sys.executable, "-m", "ruff", "check", "--no-cache", "rules_engine", "tests", "benchmarks"],
                     id="ruff"),
        pytest.param([sys.executable, "-m", "deptry", "."], id="deptry"),
        pytest.param([sys.executable, "-m", "vulture"], id="vulture-dead-code"),
    ],
)
def test_gate_passes(args: list[str]) -> None:
    proc = _run(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_contract_catches_a_back_edge(tmp_path: Path) -> None:
    """The contract is not vacuous: a model module importing the compiler breaks it."""
    pkg = tmp_path / "rules_engine"
    shutil.copytree(ROOT / "rules_engine", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    bad = pkg / "model" / "values.py"
    bad.write_text(bad.read_text() + "\nfrom rules_engine.compile import compile_ruleset  # noqa: E402\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), NO_COLOR="1")
    proc = subprocess.run([_script("lint-imports"), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode != 0
    assert "rules_engine.model is not allowed to import rules_engine.compile" in proc.stdout, proc.stdout
