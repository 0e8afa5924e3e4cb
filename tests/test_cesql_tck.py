"""The CloudEvents CESQL conformance test kit (../shared/corpus/cesql-tck, 275 cases), run through
the reference evaluator and the compiled engine: the expected value and the expected error class of every case.

A case that expects a ``parse`` error must fail to parse (and its result, when given, is the
``false`` a filter that cannot be read gives).  Every other case parses and evaluates to the
expected value with an error list that is empty, or whose first error has the expected class.

One case is disputed (see DISPUTED and docs/cesql.md, "Conformance"): it is not skipped; it
asserts what the specification's own words give instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from corpus import cesql_tck_cases

from rules_engine.cesql.evaluate import evaluate
from rules_engine.cesql.parse import parse
from rules_engine.cesql.values import Value
from rules_engine.compile.cesql_codegen import compile_cesql
from rules_engine.compile.compiled import compile_ruleset
from rules_engine.model import ir
from rules_engine.reference import matching_rules

# case id -> (result, error class) the specification gives, and why it differs from the kit.
DISPUTED: dict[str, tuple[Value, str | None, str]] = {
    "not_operator/Invalid int cast": (
        False,
        None,
        ("section 3.7: an engine MUST support the Integer -> Boolean cast ('Returns false if the integer "
        "is 0, and true otherwise') and MUST try it implicitly when an operand's type does not match; "
        "NOT is not ambiguous (one definition), so NOT 10 is NOT true: false, without an error"),
    ),
}


def outcome(expression: str, event: dict[str, Any]) -> tuple[Value, str | None]:
    """(value, class of the first error or None) as the reference evaluator gives them."""
    tree, problem = parse(expression)
    if tree is None:
        assert problem is not None
        return False, "parse"
    value, errors = evaluate(tree, event)
    return value, (errors[0].kind.value if errors else None)


def expected(case_id: str, result: Value | None, error: str | None) -> tuple[Value | None, str | None]:
    if case_id in DISPUTED:
        value, err, _ = DISPUTED[case_id]
        return value, err
    return result, error


@pytest.mark.parametrize(("expression", "event", "result", "error"), cesql_tck_cases())
def test_tck_reference(request: pytest.FixtureRequest, expression: str, event: dict[str, Any],
                       result: Value | None, error: str | None) -> None:
    case_id = request.node.callspec.id
    want_value, want_error = expected(case_id, result, error)
    value, err = outcome(expression, event)
    assert err == want_error, f"{expression!r}: error class {err!r}, expected {want_error!r}"
    if want_value is not None:
        assert type(value) is type(want_value) and value == want_value, (
            f"{expression!r}: {value!r}, expected {want_value!r}")


@pytest.mark.parametrize(("expression", "event", "result", "error"), cesql_tck_cases())
def test_tck_compiled(request: pytest.FixtureRequest, expression: str, event: dict[str, Any],
                      result: Value | None, error: str | None) -> None:
    """The compiled engine runs in fail fast mode (section 4.1): the same first error class, and
    on an error the zero value of the expression's type rather than a value computed past it."""
    want_value, want_error = expected(request.node.callspec.id, result, error)
    compiled = compile_cesql(expression)
    value, kind = compiled.evaluate(event)
    err = kind.value if kind else None
    assert err == want_error, f"{expression!r}: error class {err!r}, expected {want_error!r}"
    assert compiled.match(event) == (value is True and err is None)
    if want_value is not None:
        if err is not None:
            want_value = type(want_value)()  # the zero value of the expected type
        assert type(value) is type(want_value) and value == want_value, (
            f"{expression!r}: {value!r}, expected {want_value!r}")


@pytest.mark.parametrize(("expression", "event", "result", "error"), cesql_tck_cases())
def test_tck_as_rule_filters(request: pytest.FixtureRequest, expression: str, event: dict[str, Any],
                             result: Value | None, error: str | None) -> None:
    """Each case as the `cesql:` filter of a rule, through the whole compiled rule set (lowered to the
    shared index where it can be) and the reference rule evaluator: the rule matches exactly when the
    kit's value is true without an error (section 1.2).  Built as IR, so that the cases the loader
    refuses at load time (E134, E380-E383) still run."""
    want_value, want_error = expected(request.node.callspec.id, result, error)
    passes = want_value is True and want_error is None
    rs = ir.RuleSetIR(rules=(ir.Rule("r", (ir.Filter("cesql", ir.Cesql(expression)),)),))
    want = ["r"] if passes else []
    assert [r.name for r in matching_rules(rs, event)] == want
    assert [r.name for r in compile_ruleset(rs).match(event)] == want
