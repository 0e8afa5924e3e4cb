"""Authoring tools: what rule writers run before a change ships.

Position in the pipeline: beside the public API, above it.  Every tool here
reads rules through the loader and the IR, never through a parse tree or a
YAML node (those belong to ``syntax/``), and evaluates events only through
:class:`~rules_engine.ruleset.RuleSet`.

  * :mod:`.pattern_text`: EventBridge pattern IR -> its JSON value;
  * :mod:`.print_rules`, :mod:`.print_yaml`: IR -> rule-language / YAML text;
  * :mod:`.convert`: one format to the other, verified against the IR;
  * :mod:`.fmt`: one canonical layout per format, comments kept, meaning kept.
"""
