"""The installed package holds every module and every SQL file (CI also installs it for real:
scripts/check_install.sh)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed_in_pyproject():
    folders = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("ingest", "catalog", "app")
        for init in (ROOT / top).rglob("__init__.py")
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == folders | {"catalog.sql"}, (sorted(folders - listed), sorted(listed - folders - {"catalog.sql"}))


def test_every_sql_file_is_package_data():
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["catalog.sql"]
    sql_root = ROOT / PYPROJECT["tool"]["setuptools"]["package-dir"]["catalog.sql"]
    covered = {path for pattern in globs for path in sql_root.glob(pattern)}
    assert set(sql_root.rglob("*.sql")) == covered
