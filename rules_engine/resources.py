"""Package data: the grammar and the JSON Schema, read with importlib.resources."""

from __future__ import annotations

from importlib import resources


def grammar_text(name: str = "rules.lark") -> str:
    return resources.files("rules_engine._grammar").joinpath(name).read_text(encoding="utf-8")


def schema_text(name: str = "rules.schema.json") -> str:
    return resources.files("rules_engine._schemas").joinpath(name).read_text(encoding="utf-8")
