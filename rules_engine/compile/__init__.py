"""Compilation: a whole rule set -> one immutable decision structure and a generated matcher.

Position in the pipeline::

    RuleSetIR ──compile_ruleset──▶ CompiledRuleSet ──match(event)──▶ matched rules

See ``compiled.py`` for the stages and docs/compile.md for the design.
``cel_codegen`` (CEL -> Python) and ``expr_codegen`` (expressions -> Python)
are translators used by the compiled rule set for the parts no index can see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiled import CompiledRuleSet


def compile_ruleset(rs: Any) -> CompiledRuleSet:
    """Lazy entry point (keeps ``import rules_engine.compile.cel_codegen`` light)."""
    from .compiled import compile_ruleset as _compile

    return _compile(rs)


__all__ = ["compile_ruleset"]
