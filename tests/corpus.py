"""Readers of the shared conformance corpus (``../shared/corpus``), for the tests that judge
the reference evaluator and the compiled engine alike.

Every reader skips the calling test with a clear message when ``../shared`` is absent;
a file missing from a present corpus is a failure, not a skip.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import json5
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
LOCALSTACK = SHARED / "corpus" / "localstack-event-patterns"
TEMPLATES = LOCALSTACK / "event_pattern_templates"
CITYLOTS = SHARED / "corpus" / "citylots"
ABSENT = f"shared corpus folder {SHARED} is absent"

LARGE_PAYLOAD_PATTERNS = [
    pytest.param({"detail-type": ["cmd.documents.generate"]}, id="simple"),
    pytest.param(
        {"detail": {"payload.nested.another-level.deep": {"inside-list": [{"prefix": "q-test"}]}}},
        id="dotted-key-into-array-of-objects",
    ),
]


def require(path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip(ABSENT)
    assert path.exists(), f"{path} is missing from the shared corpus"


def case_params(with_exc: bool = True) -> list[Any]:
    """One pytest param per LocalStack case stem (a single skipped param when the corpus is absent)."""
    if not TEMPLATES.is_dir():
        return [pytest.param("", id="corpus-absent", marks=pytest.mark.skip(reason=ABSENT))]
    stems = sorted(p.stem for p in TEMPLATES.glob("*.json5"))
    return [pytest.param(s, id=s) for s in stems if with_exc or not s.endswith("_EXC")]


def load_case(stem: str) -> tuple[str, str]:
    """(pattern JSON text, event JSON text) of one LocalStack case."""
    require(TEMPLATES)
    case = json5.loads((TEMPLATES / f"{stem}.json5").read_text())
    return json.dumps(case["EventPattern"]), json.dumps(case["Event"])


def duplicate_key_case() -> tuple[str, str]:
    """The raw-text case whose pattern repeats the key "location" (the last one wins)."""
    require(TEMPLATES)
    pattern = (TEMPLATES / "complex_multi_key_event_pattern.json").read_text()
    event = (TEMPLATES / "complex_multi_key_event.json").read_text()
    return pattern, event


def large_payload() -> str:
    path = LOCALSTACK / "test_payloads" / "large_complex_payload.json"
    require(path)
    return path.read_text()


def citylots() -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
    """CL2 rule sets, event-ruler's expected counts, and the 50,000 events as raw JSON lines."""
    require(CITYLOTS / "citylots-50k.jsonl.gz")
    rules = json.loads((CITYLOTS / "rules.json").read_text())
    expected = json.loads((CITYLOTS / "expected-counts.json").read_text())
    with gzip.open(CITYLOTS / "citylots-50k.jsonl.gz", "rb") as fh:
        lines = fh.read().splitlines()
    return rules, expected, lines
