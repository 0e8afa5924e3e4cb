"""The fast LALR loop (syntax/dsl_lalr.py) against Lark driving the same parser: equal trees, tokens and
positions where Lark parses, None exactly where Lark raises (the loop's fallback is Lark itself)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Token
from lark.exceptions import UnexpectedInput
from test_dsl import _EXPRS, _NOISE, SAMPLE, TREE_CASES, _doc_examples

from rules_engine.syntax import dsl
from rules_engine.syntax.dsl_lalr import fast_parse
from rules_engine.syntax.dsl_tree import Node, lark_parser

ROOT = Path(__file__).resolve().parents[1]


def _dump(x: object) -> object:
    """Everything a node or token holds: kind, every position (outer ones too), children."""
    if isinstance(x, Node):
        outer = (x.outer_line, x.outer_column, x.outer_end_line, x.outer_end_column) if x.line else ()
        return (x.data, x.line, *((x.column, x.end_line, x.end_column) if x.line else ()), *outer,
                tuple(_dump(c) for c in x.children))
    if isinstance(x, Token):
        return ("token", x.type, x.value, x.start_pos, x.line, x.column, x.end_line, x.end_column, x.end_pos)
    assert x is None, x
    return None


def _same_as_lark(text: str, start: str) -> None:
    fast = fast_parse(text, start)
    try:
        theirs = lark_parser().parse(text, start=start)
    except UnexpectedInput:
        assert fast is None, text
        return
    assert fast is not None, text
    assert _dump(fast) == _dump(theirs)


@pytest.mark.parametrize(("text", "start"), TREE_CASES)
def test_cases(text: str, start: str) -> None:
    _same_as_lark(text, start)


def test_doc_examples() -> None:
    for param in _doc_examples():
        _same_as_lark(str(param.values[0]), "rules_file")  # type: ignore[attr-defined]


RULE_FILES = sorted([*ROOT.glob("sample-rules/**/*.rules"), *ROOT.glob("tests/golden/**/*.rules")])


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_rule_files(path: Path) -> None:
    _same_as_lark(dsl.clean_text(path.read_text(encoding="utf-8")), "rules_file")


def test_the_benchmark_rules_piece_by_piece() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from parse_bench import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    text = generate(400)
    for s, e in dsl.pieces(text):
        _same_as_lark(text[s:e], "rules_file")


@pytest.mark.parametrize("text", [
    pytest.param("rule r { when x innocent }", id="keyword-prefix-of-a-name"),
    pytest.param("rule r {\n  when data.in == 1 and data.match\n}", id="keywords-after-a-dot"),
    pytest.param("rule r { when a ==", id="ends-early"),
    pytest.param("rule r { when a == 1 } }", id="one-brace-too-many"),
    pytest.param("rule r { when \"unclosed\n}", id="string-across-lines"),
    pytest.param("rule r { when a § b }", id="unknown-character"),
    pytest.param("# only a comment\n\n", id="comment-only"),
    pytest.param("rule r { when a } # no final newline", id="comment-at-the-end"),
    pytest.param("rule slack-ops { route to slack-ops, \"x y\" }", id="labels"),
])
def test_awkward_texts(text: str) -> None:
    _same_as_lark(text, "rules_file")


@settings(max_examples=300, deadline=None)
@given(text=_NOISE, start=st.sampled_from(["rules_file", "expr_only", "path_only"]))
def test_any_text(text: str, start: str) -> None:
    _same_as_lark(text, start)


@settings(max_examples=300, deadline=None)
@given(expr=_EXPRS)
def test_any_expression(expr: str) -> None:
    _same_as_lark(expr, "expr_only")
    _same_as_lark(f"rule r {{\n  when {expr}\n  set x = {expr}\n}}\n{SAMPLE}", "rules_file")
