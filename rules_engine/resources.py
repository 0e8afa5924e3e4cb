"""Package data: the grammar and the JSON Schema, read with importlib.resources.

In an installed package they live in ``rules_engine._grammar`` and
``rules_engine._schemas`` (``grammar/`` and ``schemas/`` of the repository,
mapped into the wheel by pyproject.toml).  When the package is imported
straight from a source checkout (``python -m pytest`` puts the checkout first
on ``sys.path``), those sub-packages do not exist as folders, so the files are
read from the checkout's own ``grammar/`` and ``schemas/`` — the same files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _read(package: str, folder: str, name: str) -> str:
    try:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return (_CHECKOUT / folder / name).read_text(encoding="utf-8")


def grammar_text(name: str = "rules.lark") -> str:
    return _read("rules_engine._grammar", "grammar", name)


def schema_text(name: str = "rules.schema.json") -> str:
    return _read("rules_engine._schemas", "schemas", name)
