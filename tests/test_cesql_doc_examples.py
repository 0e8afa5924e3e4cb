"""Every `cesql-example` block of docs/cesql.md holds as documented, in the reference evaluator and
in the compiled engine alike."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import rules_engine
from rules_engine.cesql.evaluate import evaluate, matches
from rules_engine.cesql.parse import parse
from rules_engine.cli.main import main
from rules_engine.compile.cesql_codegen import compile_cesql

DOC = Path(__file__).resolve().parents[1] / "docs" / "cesql.md"
EXAMPLES: list[dict[str, Any]] = [
    json.loads(body)
    for body in re.findall(r"^```cesql-example\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
]


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e["cesql"][:40] for e in EXAMPLES])
def test_cesql_doc_example(ex: dict[str, Any]) -> None:
    tree, problem = parse(ex["cesql"])
    assert tree is not None, problem
    value, errors = evaluate(tree, ex["event"])
    assert value == ex["value"] and type(value) is type(ex["value"])
    assert (errors[0].kind.value if errors else None) == ex["error"]
    assert matches(tree, ex["event"]) is ex["passes"]
    assert compile_cesql(ex["cesql"]).match(ex["event"]) is ex["passes"]


def _block(kind: str) -> str:
    (body,) = re.findall(rf"^```{kind}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    return str(body)


def test_knative_trigger_pastes_into_a_rule() -> None:
    """The rule's `filters:` is the Trigger's, key for key; it loads in both engines and routes the
    documented events as documented."""
    trigger = yaml.safe_load(_block("yaml knative-trigger"))
    rules_text = _block("yaml knative-rules")
    rule = yaml.safe_load(rules_text)["rules"][0]
    assert rule["filters"] == trigger["spec"]["filters"]
    assert rule["name"] == trigger["metadata"]["name"]
    cases = json.loads(_block("json knative-events"))
    for engine in ("reference", "compiled"):
        rs = rules_engine.loads(rules_text, name="eu-orders.yaml", engine=engine)
        for case in cases:
            assert rs.match(case["event"]) == case["matches"], (engine, case)


def test_knative_rule_validates_and_dry_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "eu-orders.yaml"
    rules.write_text(_block("yaml knative-rules"), encoding="utf-8")
    events = tmp_path / "events.jsonl"
    cases = json.loads(_block("json knative-events"))
    events.write_text("".join(json.dumps(c["event"]) + "\n" for c in cases), encoding="utf-8")
    assert main(["validate", str(rules)]) == 0
    assert main(["dry-run", "--rules", str(rules), "--events", str(events), "--format", "json"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [[m["rule"] for m in o["matched"]] for o in out] == [c["matches"] for c in cases]
