"""Where things are: the default catalog file every command uses, and the project's SQL.

The SQL (``schema.sql``, ``views.sql``, ``migrations/``, ``queries/``) lives in ``sql/`` at the
repository root. An installed package carries it as package data ``catalog/sql`` (pyproject maps
the folder there), found through ``importlib.resources``; a source checkout reads ``sql/`` beside
the packages.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DB_ENV_VAR = "LLCAT_DB"
DEFAULT_DB = "catalog.duckdb"


def default_catalog() -> Path:
    """The catalog a command uses when none is given: ``$LLCAT_DB``, else ``catalog.duckdb`` here."""
    return Path(os.environ.get(DB_ENV_VAR) or DEFAULT_DB).expanduser()


def _sql_dir() -> Path:
    installed = Path(str(resources.files("catalog") / "sql"))
    if (installed / "schema.sql").is_file():
        return installed
    return Path(__file__).resolve().parent.parent / "sql"


SQL_DIR = _sql_dir()
SCHEMA_FILE = SQL_DIR / "schema.sql"
VIEWS_FILE = SQL_DIR / "views.sql"
QUERIES_DIR = SQL_DIR / "queries"
MIGRATIONS_DIR = SQL_DIR / "migrations"
WRITES_DIR = SQL_DIR / "writes"  # statements the write path runs (catalog.store)
