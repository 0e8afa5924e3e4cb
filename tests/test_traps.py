"""Small traps get a warning or a hint (issue 9, defect 17)."""

from __future__ import annotations

import pytest

import rules_engine
from rules_engine import RuleError


def _dsl(when: str) -> str:
    return f"target out = stdout()\nrule r {{\n  when {when}\n  route to out\n}}\n"


@pytest.mark.parametrize(
    "when,warned",
    [
        pytest.param("type == order.created", True, id="unquoted-dotted-word"),
        pytest.param("order.created != type", False, id="field-on-the-left"),
        pytest.param('type == "order.created"', False, id="quoted"),
        pytest.param("type == $.order.created", False, id="explicit-root"),
        pytest.param("data.a == data.b", False, id="envelope-paths"),
        pytest.param("type == Order.Created", False, id="not-lowercase-words"),
    ],
)
def test_unquoted_dotted_word_is_W306(when: str, warned: bool) -> None:
    rs = rules_engine.loads(_dsl(when), format="dsl")
    assert [d.code for d in rs.warnings] == (["W306"] if warned else [])


def test_unquoted_quantifier_in_yaml_gets_a_hint() -> None:
    text = "targets: {out: {type: stdout}}\nrules:\n  - name: r\n    when: any(x in data.items: x.price > 3)\n"
    with pytest.raises(RuleError) as ei:
        rules_engine.loads(text)
    [d] = ei.value.diagnostics
    assert d.code == "E102" and any("must be quoted in YAML" in n for n in d.notes)


@pytest.mark.parametrize("engine", ["compiled", "reference"])
@pytest.mark.parametrize(
    "ip,inside",
    [("::ffff:a00:1", True), ("10.0.0.1", True), ("::ffff:b00:1", False), ("::ffff:10.0.0.1", False),
     ("2001:db8::1", False), ("010.0.0.1", False)],
)
def test_ipv4_mapped_address_means_one_thing_in_both_dialects(engine: str, ip: str, inside: bool) -> None:
    text = ("targets: {out: {type: stdout}}\nrules:\n"
            "  - {name: p, match: {ip: [{cidr: 10.0.0.0/8}]}, targets: [out]}\n"
            "  - {name: e, when: 'ip in cidr(\"10.0.0.0/8\")', targets: [out]}\n")
    assert rules_engine.loads(text, engine=engine).match({"ip": ip}) == (["p", "e"] if inside else [])
