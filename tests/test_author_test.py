"""rules-engine test: rule unit tests in *_test.yaml files, their failures, errors, coverage and report formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rules_engine.author.test_report import render_text
from rules_engine.author.testing import find_test_files, run_test_files
from rules_engine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent

RULES = """\
targets:
  out: {type: stdout}
  audit: {type: stdout}
rules:
  - name: big
    when: data.total > 100 or data.vip == true
    transform:
      set: {data.flag: "'big'"}
    targets: [out]
  - name: eu
    match:
      region: [eu-west-1, {prefix: eu-}]
      data: {total: [{numeric: [">", 0]}]}
    targets: [audit]
"""
EVENT = "{region: us-east-1, data: {total: 500}}"


def _run(tmp_path: Path, tests: str, coverage: bool = False) -> tuple[list[str], list[str], list[str]]:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "rules_test.yaml").write_text(tests)
    (result,) = run_test_files([str(tmp_path / "rules_test.yaml")], coverage)
    return ([f for c in result.cases for f in c.failures], [d.code for d in result.diagnostics],
            [e for c in result.cases for e in c.explain])


# Line 1: a big order; 2: blank; 3: not an object; 4: a small EU order; there is no line 5.
JSONL = '{"region": "us-east-1", "data": {"total": 500}}\n\n[1]\n{"region": "eu-west-1", "data": {"total": 5}}\n'


def _line(path: str, line: int, expect: str = "      no_match: true\n") -> str:
    return f"tests:\n  - name: t{line}\n    event_file: {path}\n    line: {line}\n    expect:\n{expect}"


def _one(expect: str, event: str = EVENT) -> str:
    return f"tests:\n  - name: t\n    event: {event}\n    expect:\n{expect}"


@pytest.mark.parametrize(
    "expect, fragment",
    [
        pytest.param("      rules: [eu]\n", "+ unexpected: big", id="rules-exact"),
        pytest.param("      rules_include: [eu]\n", "should match but did not: eu", id="rules-include"),
        pytest.param("      no_match: true\n", "expected no rule to match; matched: big", id="no-match"),
        pytest.param("      targets: [audit]\n", "- missing: audit", id="targets-exact"),
        pytest.param("      targets_include: [audit]\n", "should receive the event but did not: audit", id="targets-include"),
        pytest.param("      payloads:\n        out: {equals: {data: {total: 500}}}\n", "payload for out differs",
                     id="payload-equals"),
        pytest.param("      payloads:\n        out: {subset: {data: {flag: small}}}\n", "does not contain",
                     id="payload-subset"),
        pytest.param("      payloads:\n        out: {when: 'data.total < 10'}\n", "does not hold", id="payload-when"),
        pytest.param("      payloads:\n        out: {cel: 'data.total < 10'}\n", "does not hold", id="payload-cel"),
        pytest.param("      payloads:\n        audit: {subset: {}}\n", "nothing was sent to audit", id="payload-none"),
    ],
)
def test_failures_say_what_differs_and_explain(tmp_path: Path, expect: str, fragment: str) -> None:
    failures, errors, explain = _run(tmp_path, _one(expect))
    assert errors == []
    assert len(failures) == 1 and fragment in failures[0], failures
    assert any(e.startswith("big (") for e in explain)


@pytest.mark.parametrize(
    "expect",
    [
        pytest.param("      rules: [big]\n      targets: [out]\n", id="exact"),
        pytest.param("      payloads:\n        out: {subset: {data: {flag: big, total: 500}}}\n", id="subset"),
        pytest.param("      payloads:\n        out: {equals: {region: us-east-1, data: {total: 500.0, flag: big}}}\n",
                     id="equals-number-forms"),
        pytest.param("      payloads:\n        out: {when: 'data.flag == \"big\"', cel: 'data.total == 500'}\n",
                     id="assertions"),
    ],
)
def test_passing_expectations(tmp_path: Path, expect: str) -> None:
    assert _run(tmp_path, _one(expect))[:2] == ([], [])


@pytest.mark.parametrize(
    "tests, code",
    [
        pytest.param(_one("      rules: [nope]\n"), "E711", id="unknown-rule"),
        pytest.param(_one("      targets_include: [nope]\n"), "E711", id="unknown-target"),
        pytest.param(_one("      payloads:\n        nope: {subset: {}}\n"), "E711", id="unknown-payload-target"),
        pytest.param(_one("      rulez: [big]\n"), "E710", id="unknown-expectation"),
        pytest.param("tests:\n  - name: t\n    expect: {no_match: true}\n", "E710", id="no-event"),
        pytest.param("tests:\n  - name: t\n    event: {a: 1}\n", "E710", id="no-expect"),
        pytest.param("tests: []\n", "E710", id="no-tests"),
        pytest.param(_one("      no_match: true\n").replace("    event:", "    at: yesterday\n    event:"), "E710",
                     id="bad-time"),
        pytest.param("tests:\n  - name: t\n    event_file: missing.json\n    expect: {no_match: true}\n", "E712",
                     id="missing-event-file"),
        pytest.param(_line("events.jsonl", 5), "E712", id="line-past-the-end"),
        pytest.param(_line("events.jsonl", 2), "E712", id="blank-line"),
        pytest.param(_line("events.jsonl", 0), "E710", id="line-zero"),
        pytest.param(_line("events.jsonl", 3), "E710", id="line-not-an-object"),
        pytest.param(_one("      no_match: true\n").replace("    event:", "    line: 1\n    event:"), "E710",
                     id="line-without-event-file"),
        pytest.param("rules: [absent.yaml]\n" + _one("      no_match: true\n"), "E117", id="missing-rules"),
    ],
)
def test_invalid_tests_are_errors_not_passes(tmp_path: Path, tests: str, code: str) -> None:
    (tmp_path / "events.jsonl").write_text(JSONL)
    failures, errors, _ = _run(tmp_path, tests)
    assert code in errors


def test_event_from_a_jsonl_line(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text(JSONL)
    tests = _line("events.jsonl", 1, "      rules: [big]\n") + _line("events.jsonl", 4, "      rules: [eu]\n")[6:]
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "rules_test.yaml").write_text(tests)
    (result,) = run_test_files([str(tmp_path / "rules_test.yaml")])
    assert result.diagnostics == [] and [c.failures for c in result.cases] == [[], []]


def test_coverage_counts_or_branches_and_pattern_fields(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "rules_test.yaml").write_text(_one("      rules: [big]\n"))
    (result,) = run_test_files([str(tmp_path / "rules_test.yaml")], True)
    assert result.coverage is not None
    s = result.coverage.summary()
    assert s["rules"]["covered"] == 1 and s["targets"]["covered"] == 1
    missed = [c["condition"] for c in s["missed"]["conditions"]]
    # the vip branch of the `or` and the region field were never true; total > 0 was
    assert missed == ["when data.vip == true", "match region"]
    assert s["conditions"]["covered"] == 3  # the whole when, its total branch, the total field


def test_report_formats_and_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str], golden) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "rules_test.yaml").write_text(_one("      rules: [big]\n") + "  - name: wrong\n    event: "
                                              + EVENT + "\n    expect:\n      no_match: true\n")
    assert main(["test", str(tmp_path), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"] == {"files": 1, "tests": 2, "passed": 1, "failed": 1, "errors": 0}
    assert main(["test", str(tmp_path), "--format", "junit"]) == 1
    suite = ET.fromstring(capsys.readouterr().out).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert main(["test", str(tmp_path), "--coverage"]) == 1
    text = capsys.readouterr().out.replace(str(tmp_path), "<dir>")
    golden.check("author/test-report.txt", text)
    (tmp_path / "rules_test.yaml").write_text(_one("      rules: [big]\n"))
    assert main(["test", str(tmp_path), "--threshold", "50"]) == 0
    assert main(["test", str(tmp_path), "--threshold", "95"]) == 1
    assert "below the threshold" in capsys.readouterr().err


def test_every_sample_rule_set_has_passing_tests(capsys: pytest.CaptureFixture[str]) -> None:
    files = find_test_files([str(ROOT / "sample-rules")])
    folders = {p.parent for p in (ROOT / "sample-rules").rglob("*") if p.suffix in (".yaml", ".rules")
               and not p.name.endswith("_test.yaml")}
    assert {Path(f).parent for f in files} == folders
    results = run_test_files(files, True)
    assert all(r.cases and not r.diagnostics and all(c.ok for c in r.cases) for r in results), render_text(results)
    assert main(["test", str(ROOT / "sample-rules"), "--threshold", "90"]) == 0
