"""The CESQL dialect: the CloudEvents SQL Expression Language 1.0 and the Subscriptions API /
Knative trigger filter dialects, independent of the other dialects.

Pipeline of the dialect (each module one step; docs/cesql.md is the user's reference)::

    text ──parse──▶ ast (typed, immutable, with offsets) ──check──▶ diagnostics (E134, E380-E383)
                                        │
                                        ├──evaluate──▶ (value, error list)   the reference, kept as the oracle
                                        └──render────▶ canonical text         (the compiled engine's atom key)

``values`` holds the types, casts and error kinds, ``functions`` the built-ins, ``subscriptions``
the Knative dialects.  The compiled form lives in ``rules_engine.compile`` (cesql_codegen,
cesql_lower), which builds on this package, never the other way round.
"""

from __future__ import annotations

from rules_engine.cesql.ast import Expr
from rules_engine.cesql.check import check_cesql
from rules_engine.cesql.evaluate import evaluate, matches
from rules_engine.cesql.parse import SyntaxProblem, parse
from rules_engine.cesql.render import render
from rules_engine.cesql.values import ErrorKind, EvalError, Type, Value

__all__ = [
    "ErrorKind", "EvalError", "Expr", "SyntaxProblem", "Type", "Value", "check_cesql", "evaluate", "matches", "parse",
    "render",
]
