"""Package data: the rule-language grammar and the JSON Schema of YAML rule files.

They live in ``rules_engine/_grammar/rules.lark`` and
``rules_engine/_schemas/rules.schema.json`` (one copy each, the single source
of truth, shipped in the wheel as package data) and are read with
``importlib.resources``, so a source checkout and an installed package read
them the same way.
"""

from __future__ import annotations

from importlib import resources


def grammar_text(name: str = "rules.lark") -> str:
    return resources.files("rules_engine._grammar").joinpath(name).read_text(encoding="utf-8")


def schema_text(name: str = "rules.schema.json") -> str:
    return resources.files("rules_engine._schemas").joinpath(name).read_text(encoding="utf-8")
