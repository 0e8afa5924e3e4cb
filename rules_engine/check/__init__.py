"""Semantic checks over the IR: what the syntax cannot see (names, references, types, transforms).

Position in the pipeline::

    IR ──**check** (ruleset.py, transform.py)──▶ diagnostics

Pure, and below the compiler: validating a rule file never imports a code generator.
"""
