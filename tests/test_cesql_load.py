"""CESQL and Knative filters through the loaders: the rule language's `cesql "..."`, YAML `cesql:`,
`filters:` and `filter:`, with errors at their positions and Knative's legacy semantics."""

from __future__ import annotations

from typing import Any

import pytest

import rules_engine
from rules_engine.model.errors import RuleError

HEAD = "targets:\n  out: {type: stdout}\nrules:\n  - name: r\n    targets: [out]\n"
EV: dict[str, Any] = {"specversion": "1.0", "id": "1", "type": "order.created", "source": "/shop/eu"}


def codes_of(text: str, fmt: str = "yaml") -> list[tuple[str, int | None, int | None]]:
    with pytest.raises(RuleError) as info:
        rules_engine.loads(text, format=fmt, name="f")
    return [(d.code, d.line, d.column) for d in info.value.diagnostics]


@pytest.mark.parametrize("engine", ["reference", "compiled"])
def test_rule_language_cesql_statement(engine: str) -> None:
    text = ('target out = stdout\nrule r {\n  cesql "type = \'order.created\' AND source LIKE \'/shop/%\'"\n'
            "  route to out\n}\n")
    rs = rules_engine.loads(text, format="dsl", engine=engine)
    assert rs.match(EV) == ["r"]
    assert rs.match({**EV, "source": "/warehouse"}) == []


def test_rule_language_cesql_error_points_into_the_string() -> None:
    text = 'target out = stdout\nrule r {\n  cesql "type = \'a\' AND"\n  route to out\n}\n'
    assert codes_of(text, "dsl") == [("E134", 3, 24)]


def test_yaml_cesql_error_points_into_the_string() -> None:
    assert codes_of(HEAD + "    cesql: \"FOO(type) = 'a'\"\n") == [("E380", 6, 13)]


@pytest.mark.parametrize(
    "attributes, event, matches",
    [
        pytest.param("{type: order.created}", EV, True, id="exact"),
        pytest.param("{type: order.created, subject: ''}", EV, True, id="empty-value-matches-an-absent-attribute"),
        pytest.param("{type: order.created, subject: ''}", {**EV, "subject": "x"}, True, id="empty-value-matches-any"),
        pytest.param("{type: order.created, myext: '10'}", {**EV, "myext": 10}, True, id="non-string-by-string-form"),
        pytest.param("{type: order.created, myext: x}", EV, False, id="missing-attribute-fails"),
        pytest.param("{type: Order.Created}", EV, False, id="case-sensitive"),
    ],
)
@pytest.mark.parametrize("engine", ["reference", "compiled"])
def test_legacy_attribute_filter(attributes: str, event: dict[str, Any], matches: bool, engine: str) -> None:
    rs = rules_engine.loads(HEAD + f"    filter:\n      attributes: {attributes}\n", engine=engine)
    assert rs.match(event) == (["r"] if matches else [])


def test_filters_take_precedence_over_filter() -> None:
    text = HEAD + "    filters:\n      - exact: {type: order.created}\n    filter:\n      attributes: {type: other}\n"
    rs = rules_engine.loads(text)
    assert rs.match(EV) == ["r"]
    assert [d.code for d in rs.warnings] == ["W305"]


@pytest.mark.parametrize(
    "filters, code",
    [
        pytest.param("[{exact: {type: a}, prefix: {type: b}}]", "E205", id="two-dialects-in-one"),
        pytest.param("[{exact: {Type: a}}]", "E204", id="attribute-name-not-lowercase"),
        pytest.param("[{exact: {}}]", "E205", id="no-attribute"),
        pytest.param("[{cesql: 'type ='}]", "E134", id="cesql-inside"),
        pytest.param("[{regex: {type: a}}]", "E201", id="unknown-dialect"),
    ],
)
def test_invalid_knative_filters(filters: str, code: str) -> None:
    assert [c for c, _, _ in codes_of(HEAD + f"    filters: {filters}\n")] == [code]


def test_like_runs_in_linear_time_on_a_pattern_that_backtracks() -> None:
    """Twelve ``%a`` then ``%b`` against 40 ``a``: a backtracking matcher explores millions of
    splits (over a minute); RE2 answers at once.  Counted, not timed: the answer must be False
    and the same on both engines, and a 100,000-character subject must still be answered."""
    pattern = "%a" * 12 + "%b"
    text = (
        "targets: {o: {type: stdout}}\nrules:\n  - name: r\n"
        f"    cesql: \"subject LIKE '{pattern}'\"\n    targets: [o]\n"
    )
    for engine in ("reference", "compiled"):
        rs = rules_engine.loads(text, engine=engine)
        assert rs.match({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "subject": "a" * 40}) == []
        long = "a" * 100_000 + "b"
        assert rs.match({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "subject": long}) == ["r"]
