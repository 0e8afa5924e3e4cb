"""Package data: the rule-language grammar and the JSON Schema of YAML rule files.

They live in the repository's top-level ``grammar/`` and ``schemas/`` folders (one
copy each, the single source of truth) and ship in the wheel as the packages
``rules_engine._grammar`` and ``rules_engine._schemas`` (a package-dir mapping in
pyproject.toml), read with ``importlib.resources``.  When the package is imported
straight from a source checkout (``python -m pytest`` puts the checkout first on
``sys.path``), those packages do not exist as folders, so the same files are read
from the checkout's ``grammar/`` and ``schemas/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]


def _read(package: str, folder: str, name: str) -> str:
    try:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return (_CHECKOUT / folder / name).read_text(encoding="utf-8")


def grammar_text(name: str = "rules.lark") -> str:
    return _read("rules_engine._grammar", "grammar", name)


def schema_text(name: str = "rules.schema.json") -> str:
    return _read("rules_engine._schemas", "schemas", name)
