"""The project's fuzzer: structure-aware mutation of rule files and events.

Sits beside the package, outside the pipeline; it drives the public API only
(``rules_engine.loads``, ``RuleSet.match / evaluate / explain``) so a change of
the package layout never breaks it.  See docs/fuzzing.md.
"""
