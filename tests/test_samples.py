"""The sample rule sets: they validate, the YAML/rule-language twins agree, and
the dry-run of each set's example events is pinned by a golden file."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules_engine
from rules_engine.cli.main import main
from rules_engine.loader import discover_sets

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample-rules"
SETS = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())


def test_every_sample_set_validates_without_warnings() -> None:
    sets = discover_sets(str(SAMPLES))
    assert len(sets) == len(SETS) >= 5
    for files in sets:
        rs = rules_engine.load(*files)
        assert rs.warnings == (), f"{files}: {rs.warnings}"


def test_yaml_and_rule_language_twins_are_equal() -> None:
    yaml_rs = rules_engine.load(str(SAMPLES / "shop"))
    dsl_rs = rules_engine.load(str(SAMPLES / "shop-dsl"))
    assert yaml_rs.ir.rules == dsl_rs.ir.rules
    assert yaml_rs.ir.targets == dsl_rs.ir.targets
    assert yaml_rs.ir.default_targets == dsl_rs.ir.default_targets


@pytest.mark.parametrize("name", SETS)
def test_every_sample_has_events(name: str) -> None:
    assert list((SAMPLES / name).glob("*.jsonl")) or name.endswith("-dsl")


@pytest.mark.parametrize("name", [s for s in SETS if not s.endswith("-dsl")])
def test_dry_run_explain_golden(name: str, golden, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    events = sorted((SAMPLES / name).glob("*.jsonl"))[0]
    monkeypatch.chdir(ROOT)
    code = main(["dry-run", "--explain", "--rules", f"sample-rules/{name}", "--events", str(events.relative_to(ROOT))])
    out = capsys.readouterr().out
    assert code == 0
    golden.check(f"dry-run/{name}.txt", out)
