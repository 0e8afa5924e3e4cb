"""YAML numbers through the public API: a pattern pasted from JSON works, and matches what the
rule language's twin matches (issue 9, defect 6)."""

from __future__ import annotations

import pytest

import rules_engine

YAML = """
targets: {out: {type: stdout}}
rules:
  - name: big
    match: {"detail": {"n": [{"numeric": [">", 1e3]}]}}
    targets: [out]
  - name: exact
    match: {detail: {n: [1e3]}}
    targets: [out]
"""
DSL = """
target out = stdout()
rule big { when detail.n > 1e3
  route to out }
rule exact { when detail.n == 1e3
  route to out }
"""


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize(
    "n,expected", [(1000, ["exact"]), (1000.0, ["exact"]), (1001, ["big"]), ("1e3", []), (5, [])]
)
def test_yaml_numbers_match_like_the_rule_language(engine: str, n: object, expected: list[str]) -> None:
    ev = {"detail": {"n": n}}
    assert rules_engine.loads(YAML, engine=engine).match(ev) == expected
    assert rules_engine.loads(DSL, format="dsl", engine=engine).match(ev) == expected
