"""The CEL dialect: parsing within limits, load-time checking, and cel-python's evaluation as the oracle.

Position in the pipeline::

    ir.Cel(source) ──parse.py──▶ tree ──check.py──▶ diagnostics (load time)
                                   └──evaluate.py──▶ verdict (reference; compile/cel_* is the fast path)

The checker imports no evaluator, so the front end (``syntax/``) can check CEL
without loading cel-python's interpreter glue.
"""
