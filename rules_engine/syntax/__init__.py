"""The front ends: rule text -> IR, or diagnostics with positions.

Position in the pipeline::

    YAML ──yaml_loader (positions)──▶ schema (E2xx) ──lower_yaml──▶ IR
    .rules ──dsl (parse)──▶ tree ──lower_dsl / lower_expr──▶ IR       (language.py runs both)

The only place that sees Lark trees or YAML nodes.  Embedded dialects are
validated and lowered by their own packages (``patterns.lower``,
``cel.check``); nothing here imports an evaluator.
"""
