"""Seeds: the sample rule sets and their events, and the shared corpora (``../shared/corpus``).

Read once per run.  A missing shared corpus only narrows the seeds (the fuzzer says so);
the sample rule sets are always there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample-rules"
SHARED = ROOT.parent / "shared" / "corpus"
LOCALSTACK = SHARED / "localstack-event-patterns" / "event_pattern_templates"

STDOUT_TARGETS = {"out": {"type": "stdout"}}


@dataclass
class Seeds:
    yaml_texts: list[str] = field(default_factory=list)
    dsl_texts: list[str] = field(default_factory=list)
    yaml_docs: list[Any] = field(default_factory=list)  # the YAML seeds as trees, for tree mutation
    events: list[dict[str, Any]] = field(default_factory=list)
    patterns: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pattern_rule_file(patterns: list[Any]) -> dict[str, Any]:
    """A YAML rule file (as a tree) with one rule per pattern, all routed to stdout."""
    return {
        "targets": STDOUT_TARGETS,
        "rules": [{"name": f"p{i}", "match": p, "targets": ["out"]} for i, p in enumerate(patterns)],
    }


def load_seeds() -> Seeds:
    import yaml

    s = Seeds()
    for f in sorted(SAMPLES.rglob("*")):
        if f.suffix in (".yaml", ".yml") and not f.name.endswith(("_test.yaml", "_test.yml")):  # unit tests
            text = f.read_text("utf-8")
            s.yaml_texts.append(text)
            s.yaml_docs.append(yaml.safe_load(text))
        elif f.suffix == ".rules":
            s.dsl_texts.append(f.read_text("utf-8"))
        elif f.suffix == ".jsonl":
            s.events.extend(json.loads(line) for line in f.read_text("utf-8").splitlines() if line.strip())
    if LOCALSTACK.is_dir():
        import json5

        for f in sorted(LOCALSTACK.glob("*.json5")):
            try:
                case = json5.loads(f.read_text("utf-8"))
            except ValueError:
                continue
            if isinstance(case.get("Event"), dict):
                s.events.append(case["Event"])
            if not f.stem.endswith("_EXC"):
                s.patterns.append(case["EventPattern"])
        # A few patterns per file keep each load fast and each mutation meaningful.
        for i in range(0, len(s.patterns), 8):
            doc = pattern_rule_file(s.patterns[i : i + 8])
            s.yaml_docs.append(doc)
            s.yaml_texts.append(json.dumps(doc))
    else:
        s.notes.append(f"shared corpus {SHARED} absent: seeds are the sample rule sets only")
    return s
