"""rules-engine fmt: one canonical layout, comments kept, meaning kept (IR before == IR after), idempotent."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from author_strategies import rule_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine.author.convert import difference
from rules_engine.author.fmt import format_source
from rules_engine.cli.main import main
from rules_engine.loader import format_of, is_rule_file, parse_source
from rules_engine.model import ir
from rules_engine.model.errors import render_text
from rules_engine.model.source import Source

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted(p for p in (ROOT / "sample-rules").rglob("*") if is_rule_file(p.name))
MESSY = ROOT / "tests" / "golden" / "fmt"


def _ir(text: str, fmt: str) -> ir.RuleSetIR:
    rs, diags = parse_source(Source("x", text), fmt)
    assert rs is not None, render_text(diags)
    return rs


def _fmt(text: str, fmt: str) -> str:
    out, diags = format_source(Source("in", text), fmt)
    assert out is not None, render_text(diags)
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.relative_to(ROOT / "sample-rules").as_posix())
def test_samples_are_in_canonical_form(path: Path) -> None:
    fmt = format_of(path.name)
    assert fmt is not None
    text = path.read_text(encoding="utf-8")
    assert _fmt(text, fmt) == text, "run `rules-engine fmt --write sample-rules`"


@pytest.mark.parametrize("name", ["messy.rules", "messy.yaml"])
def test_golden_layout(name: str, golden) -> None:  # type: ignore[no-untyped-def]
    fmt = format_of(name)
    assert fmt is not None
    text = (MESSY / name).read_text(encoding="utf-8")
    out = _fmt(text, fmt)
    golden.check(f"fmt/{name}.formatted", out)
    assert difference(_ir(text, fmt), _ir(out, fmt)) is None
    assert _fmt(out, fmt) == out  # idempotent
    # every comment survives, word for word
    for comment in re.findall(r"#[^\n]*", text):
        assert comment.rstrip() in out


def _perturb(text: str, choices: list[int]) -> tuple[str, list[str]]:
    """Comments on lines of their own and after code, and ragged indentation: what fmt must undo or keep."""
    lines = text.split("\n")
    out: list[str] = []
    comments: list[str] = []
    for i, line in enumerate(lines):
        c = choices[i % len(choices)]
        if c == 1:
            comments.append(f"# own {i}")
            out.append(comments[-1])
        if c == 2 and line.strip():
            comments.append(f"# after {i}")
            line = line + "   " + comments[-1]
        if c == 3:
            line = "      " + line.strip()
        out.append(line)
    return "\n".join(out), comments


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(rule_files(), st.lists(st.integers(0, 3), min_size=1, max_size=12))
def test_fmt_keeps_meaning_and_comments(case: tuple[str, ir.RuleSetIR], choices: list[int]) -> None:
    text, rs = case
    messy, comments = _perturb(text, choices)
    out = _fmt(messy, "dsl")
    assert difference(rs, _ir(out, "dsl")) is None
    for c in comments:
        assert c in out
    assert _fmt(out, "dsl") == out


def test_errors_are_reported_not_formatted() -> None:
    out, diags = format_source(Source("bad.rules", "rule r {\n  when x ==\n}\n"), "dsl")
    assert out is None and diags[0].code.startswith("E1")


@pytest.mark.parametrize(
    "flags, code, needle",
    [
        pytest.param(["--check"], 1, "would reformat", id="check-fails"),
        pytest.param(["--diff"], 0, "+++", id="diff"),
        pytest.param(["--check", "--diff"], 1, "@@", id="check-and-diff"),
        pytest.param([], 0, "rule b priority 5 {", id="stdout"),
    ],
)
def test_cli_modes(flags: list[str], code: int, needle: str, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "messy.rules"
    f.write_text((MESSY / "messy.rules").read_text())
    assert main(["fmt", *flags, str(f)]) == code
    cap = capsys.readouterr()
    assert needle in cap.out + cap.err
    assert f.read_text() == (MESSY / "messy.rules").read_text()  # nothing written


def test_cli_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("messy.rules", "messy.yaml"):
        (tmp_path / name).write_text((MESSY / name).read_text())
    assert main(["fmt", "--write", str(tmp_path)]) == 0
    assert main(["fmt", "--check", str(tmp_path)]) == 0
    assert (tmp_path / "messy.rules").read_text() == (MESSY / "messy.rules.formatted").read_text()


def test_cli_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"targets:\n    o: {type: stdout}\n")))
    assert main(["fmt", "--from", "yaml"]) == 0
    assert capsys.readouterr().out == "targets:\n  o: {type: stdout}\n"
