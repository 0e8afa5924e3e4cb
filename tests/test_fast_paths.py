"""The loader's shortcuts agree with the reference implementations they stand in for.

* YAML: libyaml's parser (``CSafeLoader``) is used first; a file it parses without any
  diagnostic must give exactly the value and position table of the pure-Python parser
  (files with diagnostics are parsed again by the pure-Python one, so those match by
  construction; checked too).
* Schema: jsonschema-rs answers "valid?" first; it must agree with jsonschema, which
  produces every diagnostic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rules_engine.model.source import Source
from rules_engine.syntax import schema as schema_mod
from rules_engine.syntax import yaml_loader
from tests.test_diagnostics_golden import FILES

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted(p for p in (ROOT / "sample-rules").rglob("*") if p.suffix in (".yaml", ".yml"))
GOLDEN_YAML = {code: text for code, (name, text) in FILES.items() if name.endswith(".yaml") and isinstance(text, str)
               and len(text) < 100_000}
TRICKY = [
    "a: 1\n", "é: 'ü'\nb: \"x\\u263a\"\n  # c\n", "a: |\n  x\n  y\nb: >-\n  z\n", "a\u2028b: 1\nc: 2\n",
    "a: x\u0085b: 2\n", "k: [1, 2, {a: b}]\n", "- &x a\n- *x\n", "a: 'it''s'\n", "\tname: x\n", "a: b: c\n",
    "😀: x\nb: 😀😀\nc: d\n", "a: !!str 1\nb: !foo x\n", "? [a]\n: 1\n", "--- a\n--- b\n", "a: \"multi\n  line\"\n",
    "%YAML 1.1\n---\na: 1\n", "on: yes\nt: 10:30\nn: ~\nf: .inf\nd: 2001-12-14\n", "a: 1\na: 2\n", "",
    "# only a comment\n", "a: [1, 2\n", "{a: 1, b: [x, {c: d}]}\n", "a: &r {b: *r}\n", "a:\n- b\n-   - c\n",
]


def both(text: str) -> tuple[Any, Any]:
    src = Source("t.yaml", text)
    fast = reference = None
    try:
        fast = yaml_loader._load_yaml(src, yaml_loader.MAX_DEPTH, yaml_loader.MAX_NODES, yaml.CSafeLoader, fast=True)
    except Exception:  # noqa: BLE001 - load_yaml falls back on any exception of the fast pass
        fast = None
    reference = yaml_loader._load_yaml(src, yaml_loader.MAX_DEPTH, yaml_loader.MAX_NODES, yaml.SafeLoader)
    return fast, reference


def assert_yaml_agrees(text: str) -> None:
    fast, ref = both(text)
    got = yaml_loader.load_yaml(Source("t.yaml", text))
    assert (got[0], got[1].table, got[2]) == (ref[0], ref[1].table, ref[2])
    if fast is not None and not fast[2] and yaml_loader.fast_eligible(text):
        assert (fast[0], fast[1].table, fast[2]) == (ref[0], ref[1].table, ref[2]), text


# CI's PyYAML has libyaml: there, a missing one must fail rather than hide the fast-path tests.
requires_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__ and not os.environ.get("CI"),
                                      reason="PyYAML built without libyaml")


@requires_libyaml
@pytest.mark.parametrize("text", [p.read_text(encoding="utf-8") for p in SAMPLES] + list(GOLDEN_YAML.values())
                         + TRICKY)
def test_yaml_fast_parser_agrees_on_known_files(text: str) -> None:
    assert_yaml_agrees(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@requires_libyaml
@settings(max_examples=150)
@given(json_values, st.sampled_from([None, True, False]), st.booleans())
def test_yaml_fast_parser_agrees_on_dumped_values(value: Any, flow: bool | None, unicode: bool) -> None:
    assert_yaml_agrees(yaml.safe_dump(value, default_flow_style=flow, allow_unicode=unicode))


@requires_libyaml
@settings(max_examples=300)
@given(st.text(alphabet="ab1 :-[]{},'\"\n\t#&*!|>?%@.\\é\r\u2028\x85~_=", max_size=60).map(lambda t: t + "\n"))
def test_yaml_fast_parser_agrees_on_noise(text: str) -> None:
    assert_yaml_agrees(text)


def _slow_valid(doc: Any) -> bool:
    return not list(schema_mod._validator().iter_errors(doc))


def _docs() -> list[Any]:
    out = []
    for text in [p.read_text(encoding="utf-8") for p in SAMPLES] + list(GOLDEN_YAML.values()):
        doc, _, diags = yaml_loader.load_yaml(Source("t.yaml", text))
        if not diags and isinstance(doc, dict):
            out.append(doc)
    return out


@pytest.mark.parametrize("doc", _docs())
def test_schema_fast_check_agrees_on_known_files(doc: Any) -> None:
    assert schema_mod._fast_validator().is_valid(doc) == _slow_valid(doc)


RULE_KEYS = ["name", "when", "match", "cel", "targets", "priority", "on_match", "enabled", "description",
             "transform", "on_error", "tragets", "prority"]
TARGET_KEYS = ["type", "url", "path", "subject", "stream", "list", "channel", "exchange", "topic", "timeout",
               "retry", "dead_letter", "partition_key", "transform", "jetstream", "tpye"]
scalars = st.none() | st.booleans() | st.integers(-3, 10**20) | st.floats() | st.sampled_from(
    ["", "x", "out", "stdout", "http", "file", "nats", "redis", "amqp", "mqtt", "stop", "continue",
     "https://h/x", "nats://h", "redis://h", "amqp://h", "Bad Name", "skip", "dead_letter", "null_fill"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["a", "b", "set", "keep"]), inner, max_size=3), max_leaves=6)
targets = st.dictionaries(st.sampled_from(["out", "b", "Bad Name"]),
                          st.dictionaries(st.sampled_from(TARGET_KEYS), values, max_size=5), max_size=2)
rules = st.lists(st.dictionaries(st.sampled_from(RULE_KEYS), values, max_size=6), max_size=3)


@settings(max_examples=300)
@given(st.fixed_dictionaries({}, optional={"targets": targets, "rules": rules, "version": scalars,
                                           "default_targets": values, "deduplicate": scalars, "metadata": values}))
def test_schema_fast_check_agrees_on_generated_documents(doc: dict[str, Any]) -> None:
    try:
        fast = schema_mod._fast_validator().is_valid(doc)
    except Exception:  # noqa: BLE001 - check_schema treats this as "not known valid"
        fast = False
    assert fast == _slow_valid(doc) or (not fast and not _slow_valid(doc))
