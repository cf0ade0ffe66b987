"""The installed package holds every module and every SQL file (CI also installs it for real:
scripts/check_install.sh)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
SQL_ROOT = ROOT / SETUPTOOLS["package-dir"]["catalog.sql"]


def _folder(package: str) -> Path:
    """Where a listed package's files are in the checkout (catalog.sql.* lives in sql/)."""
    if package == "catalog.sql" or package.startswith("catalog.sql."):
        return SQL_ROOT.joinpath(*package.split(".")[2:])
    return ROOT.joinpath(*package.split("."))


def test_every_package_folder_is_listed_in_pyproject():
    code = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("ingest", "catalog", "app")
        for init in (ROOT / top).rglob("__init__.py")
    }
    sql = {"catalog.sql"} | {f"catalog.sql.{d.name}" for d in SQL_ROOT.iterdir() if d.is_dir()}
    data = {"ingest.token_sets.data"}
    listed = set(SETUPTOOLS["packages"])
    assert listed == code | sql | data, (sorted((code | sql | data) - listed), sorted(listed - code - sql - data))


def test_every_data_file_is_package_data():
    covered = {
        path
        for package, globs in SETUPTOOLS["package-data"].items()
        for pattern in globs
        for path in _folder(package).glob(pattern)
        if path.is_file()
    }
    wanted = set(SQL_ROOT.rglob("*.sql")) | set((ROOT / "ingest" / "token_sets" / "data").iterdir())
    assert wanted <= covered, sorted(str(p) for p in wanted - covered)
