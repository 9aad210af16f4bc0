"""What a non-editable install ships and needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "selfeng"


def test_every_directory_of_the_package_is_a_regular_package() -> None:
    """setuptools ships only directories with an __init__.py (``pip install .`` would not)."""
    missing = [
        str(d.relative_to(ROOT))
        for d in PACKAGE.rglob("*")
        if d.is_dir() and d.name != "__pycache__" and not (d / "__init__.py").exists()
    ]
    assert missing == []


def test_the_embedded_default_installs_light() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("[")[0].split("=")[0] for dep in project["dependencies"]}
    # pydantic, orjson, msgspec (the folds' decoder), click, rich; and the default (lexical)
    # embedder's bm25s stack.
    assert names == {
        "pydantic", "orjson", "msgspec", "click", "rich", "bm25s", "numpy", "scipy", "PyStemmer"
    }  # fmt: skip
    extras = project["optional-dependencies"]
    assert {"kafka", "postgres", "docker", "openai", "all", "test"} <= set(extras)
    assert project["scripts"]["selfeng"] == "selfeng.cli:main"
