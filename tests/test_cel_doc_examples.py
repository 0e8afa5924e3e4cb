"""Every `cel-example` block of docs/cel.md holds as documented, in the reference
(cel-python) and in the compiled translation alike."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rules_engine.cel.evaluate import cel_truth
from rules_engine.compile.cel_codegen import compile_cel

DOC = Path(__file__).resolve().parents[1] / "docs" / "cel.md"
EXAMPLES: list[dict[str, Any]] = [
    json.loads(body) for body in re.findall(r"^```cel-example\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
]


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e["cel"][:40] for e in EXAMPLES])
def test_cel_doc_example(ex: dict[str, Any]) -> None:
    assert cel_truth(ex["cel"], ex["event"]) is ex["holds"]
    assert compile_cel(ex["cel"]).predicate(ex["event"]) is ex["holds"]
