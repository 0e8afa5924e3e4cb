"""rules-engine convert: YAML <-> rule language, lossless to the IR, and E701 for what cannot be said."""

from __future__ import annotations

from pathlib import Path

import pytest
from author_strategies import rule_files
from hypothesis import HealthCheck, given, settings

from rules_engine.author.convert import convert_source, difference
from rules_engine.cli.main import main
from rules_engine.loader import format_of, is_rule_file, parse_source
from rules_engine.model import ir
from rules_engine.model.errors import render_text
from rules_engine.model.source import Source

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted(p for p in (ROOT / "sample-rules").rglob("*") if is_rule_file(p.name))


def _ir(text: str, fmt: str, name: str = "x") -> ir.RuleSetIR:
    rs, diags = parse_source(Source(name, text), fmt)
    assert rs is not None, render_text(diags)
    return rs


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.relative_to(ROOT / "sample-rules").as_posix())
@pytest.mark.parametrize("to", ["yaml", "dsl"])
def test_samples_convert_to_the_same_rules(path: Path, to: str) -> None:
    fmt = format_of(path.name)
    assert fmt is not None
    text = path.read_text(encoding="utf-8")
    out, diags = convert_source(Source(str(path), text), fmt, to)
    assert out is not None, render_text(diags)
    assert difference(_ir(text, fmt), _ir(out, to)) is None
    back, _ = convert_source(Source("back", out), to, fmt)
    assert back is not None and difference(_ir(back, fmt), _ir(text, fmt)) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(rule_files())
def test_generated_rule_sets_survive_both_ways(case: tuple[str, ir.RuleSetIR]) -> None:
    text, rs = case
    yaml_text, diags = convert_source(Source("gen.rules", text), "dsl", "yaml")
    if yaml_text is None:  # reported, never dropped: names YAML cannot hold, expanded $or patterns
        assert [d.code for d in diags] == ["E701"], render_text(diags)
        assert "YAML names" in diags[0].message or "event pattern" in diags[0].message
        return
    assert difference(rs, _ir(yaml_text, "yaml")) is None
    rules_text, diags = convert_source(Source("gen.yaml", yaml_text), "yaml", "dsl")
    assert rules_text is not None, render_text(diags)
    assert difference(rs, _ir(rules_text, "dsl")) is None


T = "target t = stdout\n"


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param(T + 'rule "two words" {\n  when x == 1\n  route to t\n}\n', "YAML names match", id="rule-name"),
        pytest.param(T + "rule r {\n  when x == 1\n  when y == 2\n  route to t\n}\n", "at most one filter of each kind", id="two-whens"),
        pytest.param(T + "rule r {\n  cel \"data.x == 1\"\n  when y == 2\n  route to t\n}\n", "in that order",
                     id="cel-before-when"),
        pytest.param(T + "rule r {\n  drop a\n  set b = 1\n  drop c\n  route to t\n}\n", "`drop` once",
                     id="drop-twice"),
        pytest.param(T + "rule r {\n  set a = 1\n  rename b to c\n  set d = 2\n  route to t\n}\n", "`set` once",
                     id="set-after-rename"),
        pytest.param(T + "rule r {\n  set a = 1\n  set a = 2\n  route to t\n}\n", "`set` of a twice", id="set-same-path"),
        pytest.param("target t = http(type: \"x\", url: \"http://h\")\nrule r {\n  route to t\n}\n",
                     "option named 'type'", id="reserved-option"),
    ],
)
def test_what_yaml_cannot_say_is_e701(text: str, fragment: str) -> None:
    out, diags = convert_source(Source("in.rules", text), "dsl", "yaml")
    assert out is None
    assert [d.code for d in diags] == ["E701"]
    assert fragment in diags[0].message
    assert diags[0].span is not None and diags[0].span.line > 0


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param("targets:\n  t: {type: custom, max-size: 3}\nrules: []\n", "option name 'max-size'",
                     id="option-name"),
        pytest.param("targets:\n  t: {type: stdout}\nrules:\n  - name: r\n    transform: {}\n    targets: [t]\n",
                     "empty transform", id="empty-transform"),
    ],
)
def test_what_the_rule_language_cannot_say_is_e701(text: str, fragment: str) -> None:
    out, diags = convert_source(Source("in.yaml", text), "yaml", "dsl")
    assert out is None, out
    assert [d.code for d in diags] == ["E701"], render_text(diags)
    assert fragment in diags[0].message


def test_cli_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = ROOT / "sample-rules" / "shop-dsl" / "orders.rules"
    out_file = tmp_path / "orders.yaml"
    assert main(["convert", str(src), "-o", str(out_file)]) == 0
    assert difference(_ir(out_file.read_text(), "yaml"), _ir(src.read_text(), "dsl")) is None
    assert main(["convert", str(out_file), "--to", "rules"]) == 0
    assert "rule test-orders priority 100 {" in capsys.readouterr().out
    bad = tmp_path / "bad.rules"
    bad.write_text(T + "rule r {\n  when x == 1\n  when y == 2\n  route to t\n}\n")
    assert main(["convert", str(bad)]) == 1
    assert "error[E701]" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "x.txt")]) == 2
