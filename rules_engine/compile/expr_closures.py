"""The closure vocabulary of the expression compiler, shared by its three modules.

``expr_codegen.py`` walks the tree, ``expr_consts.py`` specialises operators on a literal
operand and ``expr_cel.py`` bridges CEL nodes; all of them build and combine closures of
the shapes named here.

Invariant: a closure never raises and never returns a shared mutable object (docs/compile.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from rules_engine.model.values import MISSING

__all__ = ["ALWAYS_MISSING", "FALSE", "Bindings", "Predicate", "ValueFn", "constant"]

Bindings = Mapping[str, Any]
ValueFn = Callable[[Any, Bindings], Any]
"""``fn(event, bindings)``: the value of the expression (``MISSING`` when it has none)."""
Predicate = Callable[[Any], bool]
"""``fn(event)``: does the filter hold?"""


def constant(value: Any) -> ValueFn:
    """A closure that gives ``value`` on every event (pass scalars only: it is shared)."""

    def const(ev: Any, b: Bindings) -> Any:
        return value

    return const


FALSE: Final = constant(False)
ALWAYS_MISSING: Final = constant(MISSING)
