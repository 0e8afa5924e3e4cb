"""The wheel ships every package: pyproject.toml lists them (the grammar and schema folders are
mapped into the package, which automatic discovery cannot do), so a new folder must be listed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_a_listed_regular_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(d.relative_to(ROOT).parts)
        for d in (ROOT / "rules_engine").rglob("*")
        if d.is_dir() and "__pycache__" not in d.parts and any(d.glob("*.py"))
    } | {"rules_engine"}
    no_init = sorted(f for f in folders if not (ROOT / f.replace(".", "/") / "__init__.py").exists())
    assert not no_init, f"folders with modules but no __init__.py (not shipped as packages): {no_init}"
    missing = sorted(folders - listed)
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {missing}"
    assert listed - folders == {"rules_engine._grammar", "rules_engine._schemas"}


def test_grammar_and_schema_live_at_the_top_of_the_repository() -> None:
    assert (ROOT / "grammar" / "rules.lark").is_file()
    assert (ROOT / "schemas" / "rules.schema.json").is_file()
