"""Generated code a person can debug: registered with linecache, commented with its rule, shown whole."""

from __future__ import annotations

import linecache
import traceback
from typing import Any

import pytest

import rules_engine
from rules_engine.compile import compile_ruleset, show_source
from rules_engine.compile.emit import Lines, load

RULES = """
targets: {out: {type: stdout}}
rules:
  - name: big-orders
    when: data.total > 10 and type == "order.created"
    targets: [out]
  - name: eu
    match: {source: [{prefix: "eu."}], detail: {state: [running]}}
    targets: [out]
  - name: by-cel
    cel: 'data.total > 3 && data.kind == "x"'
    targets: [out]
"""


def _compiled() -> Any:
    return compile_ruleset(rules_engine.loads(RULES, engine="reference").ir)


class _Boom(dict[str, Any]):
    """An event whose reads fail, to raise inside the generated matcher."""

    def get(self, *args: Any) -> Any:
        raise RuntimeError("boom")


def test_a_traceback_into_generated_code_shows_the_generated_line() -> None:
    compiled = _compiled()
    filename = compiled.match.__code__.co_filename
    assert filename.startswith("<rules-engine match ")
    assert linecache.getline(filename, compiled.match.__code__.co_firstlineno) == "def match(ev):\n"
    with pytest.raises(RuntimeError) as info:
        compiled.match(_Boom())
    text = "".join(traceback.format_exception(info.value))
    assert f'File "{filename}", line' in text and "in match" in text
    assert "ev.get(" in text  # the generated source line itself, read back through linecache


def test_every_generated_source_is_registered() -> None:
    compiled = _compiled()
    convert = compiled.decoder.partial
    assert convert is not None
    for name, source in (("match", compiled.source), ("decoder", compiled.decoder.source)):
        assert source is not None
        files = [f for f, entry in linecache.cache.items() if f.startswith(f"<rules-engine {name} ")
                 and "".join(entry[2]) == source]
        assert files, name


def test_each_rule_check_names_its_rule_and_condition() -> None:
    source = _compiled().source
    assert "# rule 'big-orders': when data.total > 10 and type == \"order.created\"\ndef _" in source
    shown = show_source(_compiled())
    assert "# --- match(event)" in shown and "# --- convert(struct): the partial decoder" in shown
    assert "# --- CEL 'data.total > 3 && data.kind == \"x\"'" in shown and "def _cel(ev):" in shown


def test_a_comment_cannot_end_early_and_load_names_by_content() -> None:
    lines = Lines()
    lines.comment(0, "rule 'x': a\nb")
    lines.emit(0, "def f():")
    lines.emit(1, "return 1")
    assert lines.text() == "# rule 'x': a b\ndef f():\n    return 1\n"
    ns: dict[str, Any] = {}
    first = load(lines.text(), "test", ns)
    assert ns["f"]() == 1 and load(lines.text(), "test", {}) == first


# --- no silent fallbacks ---------------------------------------------------------------------------


def test_a_translator_defect_fails_instead_of_falling_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from rules_engine.compile import cel_codegen

    def broken(self: Any, node: Any) -> Any:
        raise KeyError("translator defect")

    monkeypatch.setattr(cel_codegen.Translator, "node", broken)
    with pytest.raises(KeyError, match="translator defect"):
        cel_codegen.compile_cel("data.total > 3")


def test_an_expression_too_deep_to_translate_is_counted_and_still_exact() -> None:
    import dataclasses

    from rules_engine.compile.expr_codegen import MAX_DEPTH
    from rules_engine.model import ir
    from rules_engine.reference import matching_rules

    rs = rules_engine.loads(RULES, engine="reference").ir
    total: ir.Expr = ir.Field(("data", "total"))
    for _ in range(MAX_DEPTH + 1):
        total = ir.Arith("+", total, ir.Literal(0))
    deep = ir.Compare(">", total, ir.Literal(10))
    rule = rs.rules[0]
    rs = dataclasses.replace(rs, rules=(dataclasses.replace(
        rule, filters=(dataclasses.replace(rule.filters[0], node=deep),)),))
    compiled = compile_ruleset(rs)
    assert compiled.stats().expr_fallbacks == 1
    for event in ({"data": {"total": 11}}, {"data": {"total": 9}}, {}):
        assert compiled.match(event) == matching_rules(rs, event)


@pytest.mark.parametrize(
    ("text", "opaque"),
    [
        pytest.param('timestamp("2020-01-01T00:00:00Z") > event.t', True, id="timestamp-call"),
        pytest.param('duration("1s")', True, id="duration-call"),
        pytest.param('b"ab" == event.x', True, id="bytes-literal"),
        pytest.param("event.s.bytes()", True, id="bytes-method"),
        pytest.param('"bytes(" + event.s', False, id="the-word-inside-a-string"),
        pytest.param("event.timestamp + 1", False, id="a-field-named-timestamp"),
        pytest.param("data.total * 2", False, id="plain"),
    ],
)
def test_opaque_cel_values_are_decided_on_the_parse_tree(text: str, opaque: bool) -> None:
    from rules_engine.cel.parse import makes_opaque_values, parse_cel

    assert makes_opaque_values(parse_cel(text)) is opaque


def test_linecache_holds_a_bounded_number_of_generated_sources() -> None:
    import linecache

    from rules_engine.compile import emit

    names = [emit.load(f"x = {i}\n", "bound-test", {}) for i in range(emit.MAX_REGISTERED + 20)]
    kept = [n for n in names if n in linecache.cache]
    assert len(kept) <= emit.MAX_REGISTERED and names[-1] in linecache.cache and names[0] not in linecache.cache
