"""The public API: load, loads, RuleError, RuleSet.match/explain."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules_engine
from rules_engine import RuleError

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """\
targets:
  out: {type: stdout}
rules:
  - name: big-orders
    match: {type: [order.created], data: {total: [{numeric: [">", 1000]}]}}
    targets: [out]
"""


def test_minimal_file_from_the_issue() -> None:
    rs = rules_engine.loads(MINIMAL)
    assert [r.name for r in rs.rules] == ["big-orders"]
    assert rs.match({"type": "order.created", "data": {"total": 1500}}) == ["big-orders"]
    assert rs.match({"type": "order.created", "data": {"total": 999}}) == []
    assert rs.match(b'{"type": "order.created", "data": {"total": 1001}}') == ["big-orders"]


def test_rule_error_carries_diagnostics_with_positions() -> None:
    text = MINIMAL.replace("targets: [out]", "targets: [slack-ops]")
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text, name="alerts.yaml")
    d = ei.value.errors[0]
    assert (d.code, d.file, d.line, d.column) == ("E302", "alerts.yaml", 6, 15)
    assert d.message == "unknown target 'slack-ops'"
    assert "known targets: out" in d.notes[0]
    assert "alerts.yaml:6:15: error[E302]" in str(ei.value)


def test_all_errors_are_collected_and_sorted() -> None:
    text = """\
targets:
  out: {type: stdout}
rules:
  - name: a
    when: data.x >
    targets: [nope]
  - name: a
    targets: [out]
    on_match: halt
"""
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text)
    lines = [d.line for d in ei.value.diagnostics]
    assert lines == sorted(lines)
    assert "E204" in {d.code for d in ei.value.diagnostics}  # on_match: halt


def test_names_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    targets: [out]\n")
    (tmp_path / "b.yaml").write_text("targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    targets: [out]\n")
    with pytest.raises(RuleError) as ei:
        rules_engine.load(str(tmp_path))
    codes = sorted(d.code for d in ei.value.errors)
    assert codes == ["E301", "E303"]
    dup = next(d for d in ei.value.diagnostics if d.code == "E301")
    assert dup.file.endswith("b.yaml") and "first defined at" in dup.notes[0] and "a.yaml" in dup.notes[0]


def test_target_in_another_file_and_file_of_origin(tmp_path: Path) -> None:
    (tmp_path / "targets.yaml").write_text("targets:\n  out: {type: stdout}\n")
    (tmp_path / "rules.rules").write_text('rule r {\n  when type == "x"\n  route to out\n}\n')
    rs = rules_engine.load(str(tmp_path))
    assert rs.rules[0].file.endswith("rules.rules")
    assert rs.targets[0].file.endswith("targets.yaml")
    assert rs.match({"type": "x"}) == ["r"]


def test_evaluation_order_priority_then_file_order() -> None:
    text = """\
targets: {out: {type: stdout}}
rules:
  - {name: low, targets: [out], when: "true"}
  - {name: high, priority: 5, targets: [out], when: "true"}
  - {name: low2, targets: [out], when: "true"}
  - {name: off, enabled: false, targets: [out], when: "true"}
"""
    rs = rules_engine.loads(text)
    assert rs.match({}) == ["high", "low", "low2"]


def test_stop_ends_evaluation() -> None:
    text = """\
targets: {out: {type: stdout}}
rules:
  - {name: first, targets: [out], when: "x == 1", on_match: stop}
  - {name: second, targets: [out], when: "exists(x)"}
"""
    rs = rules_engine.loads(text)
    assert rs.match({"x": 1}) == ["first"]
    assert rs.match({"x": 2}) == ["second"]
    verdicts = {v.rule: v for v in rs.explain({"x": 1})}
    assert verdicts["second"].status == "not evaluated"


def test_yaml_and_dsl_lower_to_the_same_ir() -> None:
    yaml_rs = rules_engine.loads(
        "targets: {out: {type: stdout}}\nrules:\n  - name: big\n    priority: 3\n"
        "    when: type == \"order.created\" and data.total > 1000\n    targets: [out]\n"
    )
    dsl_rs = rules_engine.loads(
        'target out = stdout()\nrule big priority 3 {\n  when type == "order.created" and data.total > 1000\n'
        "  route to out\n}\n",
        format="dsl",
    )
    assert yaml_rs.ir.rules == dsl_rs.ir.rules
    assert yaml_rs.ir.targets == dsl_rs.ir.targets


def test_version_is_a_content_hash() -> None:
    a = rules_engine.loads(MINIMAL)
    b = rules_engine.loads(MINIMAL, name="other.yaml")
    c = rules_engine.loads(MINIMAL + "\n# changed\n")
    assert a.version == b.version != c.version


def test_loads_rejects_unknown_format() -> None:
    with pytest.raises(ValueError):
        rules_engine.loads(MINIMAL, format="toml")


def test_event_errors_are_rule_errors() -> None:
    rs = rules_engine.loads(MINIMAL)
    with pytest.raises(RuleError) as ei:
        rs.match(b"[1, 2]")
    assert ei.value.diagnostics[0].code == "E502"
    with pytest.raises(RuleError) as ei:
        rs.match(b'{"a": ')
    assert ei.value.diagnostics[0].code == "E501"
    with pytest.raises(RuleError) as ei:
        rs.match(b"[" * 5000 + b"]" * 5000)
    assert ei.value.diagnostics[0].code == "E503"


def test_sample_rules_all_load() -> None:
    from rules_engine.loader import discover_sets

    sets = discover_sets(str(ROOT / "sample-rules"))
    assert len(sets) >= 5
    for files in sets:
        rs = rules_engine.load(*files)
        assert rs.rules


def test_hidden_folders_are_not_searched(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    targets: [out]\n    when: x == 1\n")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "broken.yaml").write_text("rules: [\n")
    rs = rules_engine.load(str(tmp_path))
    assert [r.name for r in rs.rules] == ["r"]
