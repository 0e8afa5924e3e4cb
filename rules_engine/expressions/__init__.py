"""The expression language (``when:`` filters and transform values): meaning, explanation, checking, rendering.

Position in the pipeline::

    IR expression ──check.py──▶ diagnostics (types, names, arities)
                  ├─evaluate.py──▶ value / verdict (the reference evaluator, the oracle)
                  ├─explain.py───▶ why a filter did not hold
                  └─render.py────▶ source text again

``functions.py`` is the table of built-in functions all of them share.  A
``cel(...)`` value embeds the CEL dialect, so evaluation imports
``rules_engine.cel.evaluate``; nothing here imports the parser or the compiler.
"""
