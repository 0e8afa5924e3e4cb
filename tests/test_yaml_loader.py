"""The YAML loader: values, positions, and hostile input."""

from __future__ import annotations

import pytest

from rules_engine.model.source import Source
from rules_engine.syntax.yaml_loader import load_yaml


def load(text: str):  # type: ignore[no-untyped-def]
    return load_yaml(Source("f.yaml", text))


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("a: 1\nb: [x, 2.5, true, null]\n", {"a": 1, "b": ["x", 2.5, True, None]}, id="scalars"),
        pytest.param("on: yes\nx: off\nt: 10:30\n", {"on": "yes", "x": "off", "t": "10:30"}, id="yaml-1.2-scalars"),
        pytest.param("a: True\nb: false\n", {"a": True, "b": False}, id="booleans"),
        pytest.param("t: 2024-01-01\n", {"t": "2024-01-01"}, id="timestamp-stays-a-string"),
        pytest.param("a: &x {k: 1}\nb: *x\n", {"a": {"k": 1}, "b": {"k": 1}}, id="alias-expanded"),
        pytest.param("a: 1\r\nb: 2\r\n", {"a": 1, "b": 2}, id="windows-line-endings"),
        pytest.param("", None, id="empty"),
        pytest.param("# only a comment\n", None, id="comment-only"),
    ],
)
def test_values(text: str, expected: object) -> None:
    value, _, diags = load(text)
    assert diags == []
    assert value == expected


def test_positions_of_values_and_keys() -> None:
    _, loc, _ = load("rules:\n  - name: x\n    when: a == 1\n")
    assert (loc.value(("rules", 0, "when")).line, loc.value(("rules", 0, "when")).column) == (3, 11)
    assert (loc.key(("rules", 0, "when")).line, loc.key(("rules", 0, "when")).column) == (3, 5)
    # unknown pointers fall back to the nearest known parent
    assert loc.value(("rules", 0, "when", "deeper")).line == 3


@pytest.mark.parametrize(
    "text, line, col",
    [
        pytest.param("w: a == 1\n", 1, 4, id="plain"),
        pytest.param('w: "a == 1"\n', 1, 5, id="double-quoted"),
        pytest.param("w: 'a == 1'\n", 1, 5, id="single-quoted"),
        pytest.param("w: |\n    a == 1\n", 2, 5, id="literal-block"),
        pytest.param("w: >-\n  a == 1\n", 2, 3, id="folded-block"),
    ],
)
def test_embedded_positions_map_into_the_file(text: str, line: int, col: int) -> None:
    value, loc, _ = load(text)
    emb = loc.embedded(("w",), value["w"])
    assert emb.to_file(1, 1) == (line, col)


def test_literal_block_second_line() -> None:
    value, loc, _ = load("w: |\n  a == 1\n  and b\n")
    emb = loc.embedded(("w",), value["w"])
    assert emb.to_file(2, 5) == (3, 7)


@pytest.mark.parametrize(
    "text, code",
    [
        pytest.param("a: 1\na: 2\n", "E110", id="duplicate-key"),
        pytest.param("a:\n\t- b\n", "E102", id="tab-indentation"),
        pytest.param("a: [1, 2\n", "E102", id="unclosed-flow"),
        pytest.param("x: !!python/object:os.system {}\n", "E115", id="python-tag"),
        pytest.param("a: &x [*x]\n", "E102", id="recursive-alias"),
        pytest.param("a: *nope\n", "E102", id="unknown-alias"),
        pytest.param("---\na: 1\n---\nb: 2\n", "E102", id="two-documents"),
        pytest.param("[1]: x\n", "E119", id="collection-key"),
        pytest.param("[" * 5000 + "]" * 5000, "E105", id="5000-deep"),
    ],
)
def test_bad_yaml(text: str, code: str) -> None:
    value, _, diags = load(text)
    assert value is None
    assert [d.code for d in diags][:1] == [code]
    assert diags[0].line is not None


def test_billion_laughs_is_bounded() -> None:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for n in "bcdefghi":
        text += f"{n}: &{n} [" + ",".join(["*" + prev] * 9) + "]\n"
        prev = n
    value, _, diags = load(text)
    assert value is None
    assert diags[0].code == "E103"
    assert "200000" in diags[0].message


def test_big_file_without_aliases_loads() -> None:
    """The alias budget counts nodes made by alias expansion only (issue 9, defect 4): a file of
    plain rules with ten times as many nodes as the budget loads (the default budget is 200,000;
    18,200 such rules, 1.2 MB, used to be refused)."""
    rules = "".join(f"  - name: r{i}\n    match: {{type: [t{i}]}}\n    targets: [out]\n" for i in range(400))
    text = "targets:\n  out: {type: stdout}\nrules:\n" + rules
    value, _, diags = load_yaml(Source("big.yaml", text), max_nodes=300)
    assert diags == [] and len(value["rules"]) == 400


def test_alias_budget_still_counts_every_expanded_node() -> None:
    text = "a: &a [" + ",".join(["1"] * 99) + "]\nb: [" + ",".join(["*a"] * 3) + "]\n"
    assert load_yaml(Source("a.yaml", text), max_nodes=300)[2] == []  # 3 copies of 100 nodes
    value, _, diags = load_yaml(Source("a.yaml", text.replace("*a,*a,*a", "*a,*a,*a,*a")), max_nodes=300)
    assert value is None and [d.code for d in diags] == ["E103"]


@pytest.mark.parametrize(
    "text,value",
    [
        pytest.param("1e3", 1000.0, id="exponent-is-float"),
        pytest.param("1.5e3", 1500.0, id="fraction-exponent"),
        pytest.param("1E-2", 0.01, id="negative-exponent"),
        pytest.param("10", 10, id="int"),
        pytest.param("017", 17, id="leading-zero-decimal"),
        pytest.param("+1", 1, id="plus"),
        pytest.param(".5", 0.5, id="dot-five"),
        pytest.param("0x10", 16, id="hex"),
        pytest.param("0o17", 15, id="octal"),
        pytest.param("1_000", "1_000", id="underscore-is-text"),
        pytest.param("0b101", "0b101", id="binary-is-text"),
        pytest.param('"1e3"', "1e3", id="quoted-is-text"),
        pytest.param("12345678901234567890", 12345678901234567890, id="big-int"),
    ],
)
def test_numbers_mean_what_json_means(text: str, value: object) -> None:
    """Issue 9, defect 6: YAML 1.2 core numbers, every JSON number with its JSON value."""
    got, _, diags = load(f"a: {text}\n")
    assert diags == [] and got == {"a": value} and type(got["a"]) is type(value)


@pytest.mark.parametrize("text", [".nan", ".NaN", ".inf", "-.inf", "+.INF", "1e999", "-1e999", "!!float .nan"])
def test_non_finite_numbers_are_E140(text: str) -> None:
    """Issue 9, defect 7: no JSON value holds them."""
    value, _, diags = load(f"rules:\n  - payload: {{x: {text}}}\n")
    assert value is None and [(d.code, d.line) for d in diags] == [("E140", 2)]
