"""Every example of docs/transforms.md runs: the YAML and rule-language versions lower to the
same rules, and the event gives the payload (or decisions) the page shows, pinned again in
tests/golden/payloads/<example>.json (REGEN_GOLDEN=1 rewrites those; review the diff)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import rules_engine

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "transforms.md"
NOW = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)
_BLOCK = re.compile(r"^```(yaml|rules|json) (example|event|payload|decisions)=([\w-]+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for lang, kind, name, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        key = lang if kind == "example" else kind
        assert key not in found.setdefault(name, {}), f"{name}: two {key} blocks"
        found[name][key] = body
    return found


BLOCKS = _blocks()


def _load(text: str, fmt: str) -> rules_engine.RuleSet:
    # Examples leave out the target `out` unless they define their own targets.
    if fmt == "yaml" and not re.search(r"^targets:", text, re.MULTILINE):
        text = "targets:\n  out: {type: stdout}\n" + text
    if fmt == "dsl" and not re.search(r"^target ", text, re.MULTILINE):
        text = "target out = stdout\n" + text
    return rules_engine.loads(text, format=fmt)


def _decisions(rs: rules_engine.RuleSet, event: dict[str, Any]) -> list[dict[str, Any]]:
    # The version is the content hash of the example's text (it differs between the YAML and the
    # rule-language form of one example); the page documents the rest of the decision.
    return [{k: v for k, v in d.to_dict().items() if k != "version"} for d in rs.evaluate(event, now=NOW)]


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 10
    for name, parts in BLOCKS.items():
        assert "yaml" in parts and "event" in parts, name
        assert ("payload" in parts) != ("decisions" in parts), name


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_doc_example(name: str, golden) -> None:  # type: ignore[no-untyped-def]
    parts = BLOCKS[name]
    yaml_rs = _load(parts["yaml"], "yaml")
    event = json.loads(parts["event"])
    snapshot = json.dumps(event, sort_keys=True)
    got = _decisions(yaml_rs, event)
    assert json.dumps(event, sort_keys=True) == snapshot, "the transform changed the caller's event"
    if "rules" in parts:
        dsl_rs = _load(parts["rules"], "dsl")
        assert dsl_rs.ir.rules == yaml_rs.ir.rules
        assert dsl_rs.ir.targets == yaml_rs.ir.targets
        assert _decisions(dsl_rs, event) == got
    if "payload" in parts:
        assert len(got) == 1 and "error" not in got[0], got
        shown: Any = json.loads(parts["payload"])
        actual: Any = got[0]["payload"]
    else:
        shown = json.loads(parts["decisions"])
        actual = got
    assert actual == shown
    # The doc shows compact JSON in the payload's own key order: the order is part of the result.
    assert json.dumps(actual, separators=(",", ":"), ensure_ascii=False) == json.dumps(
        shown, separators=(",", ":"), ensure_ascii=False
    )
    golden.check(f"payloads/{name}.json", json.dumps(got, indent=2, ensure_ascii=False) + "\n")
