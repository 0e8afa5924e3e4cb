"""Compilation: a whole rule set -> one immutable decision structure and a generated matcher.

Position in the pipeline::

    RuleSetIR ──compile_ruleset──▶ CompiledRuleSet ──match(event)──▶ matched rules

See ``compiled.py`` for the stages and docs/compile.md for the design.
``cel_codegen`` (CEL -> Python) and ``expr_codegen`` (expressions -> Python closures, with
``expr_consts`` and ``expr_cel``) are translators used by the compiled rule set for the parts no
index can see;
``decode.py`` is the partial event decoder the compiled matcher reads raw bytes with.

The names below are the package's public API (the CLI and the façade use them);
everything else in the package is internal to the compiler.
"""

from __future__ import annotations

from rules_engine.compile.compiled import CompiledRuleSet, compile_ruleset
from rules_engine.compile.show import show_dot, show_mermaid, show_source, show_stats, show_tree, structure_graph

__all__ = ["CompiledRuleSet", "compile_ruleset", "show_dot", "show_mermaid", "show_source", "show_stats", "show_tree",
           "structure_graph"]
