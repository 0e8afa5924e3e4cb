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
import yaml

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


CESQL_TCK = SHARED / "corpus" / "cesql-tck"


class _TckLoader(yaml.SafeLoader):
    """YAML as the TCK means it: a timestamp such as ``2018-04-26T14:48:09+02:00`` stays the
    string it is in a CloudEvent, not a Python datetime."""


_TckLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Any valid event for the cases that give none or only overrides (the TCK README: "attributes
# to set on any valid event").
CESQL_BASE_EVENT: dict[str, Any] = {
    "specversion": "1.0", "id": "base-id", "source": "/tck/base", "type": "tck.base.event",
}


def cesql_tck_cases() -> list[Any]:
    """One pytest param per CESQL TCK case: (expression, event, expected result or None, error class
    or None), id ``<file stem>/<case name>`` (a single skipped param when the corpus is absent)."""
    if not SHARED.is_dir():
        return [pytest.param("", {}, None, None, id="corpus-absent", marks=pytest.mark.skip(reason=ABSENT))]
    files = sorted(CESQL_TCK.glob("*.yaml"))
    assert files, f"the shared corpus is present but {CESQL_TCK} holds no TCK files"
    out: list[Any] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        suite = yaml.load(text, Loader=_TckLoader)
        # An expression is CESQL text even where YAML would read a boolean or a number
        # (`expression: TRUE`, `expression: -10`): take the scalar as written.
        root = yaml.compose(text, Loader=_TckLoader)
        tests_node = next(v for k, v in root.value if k.value == "tests")
        raw = [next(v.value for k, v in item.value if k.value == "expression") for item in tests_node.value]
        for case, expression in zip(suite["tests"], raw, strict=True):
            case["expression"] = expression
            event = case.get("event")
            if event is None:
                event = {**CESQL_BASE_EVENT, **(case.get("eventOverrides") or {})}
            out.append(pytest.param(case["expression"], event, case.get("result"), case.get("error"),
                                    id=f"{path.stem}/{case['name']}"))
    return out
