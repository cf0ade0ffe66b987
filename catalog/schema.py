"""Apply `sql/schema.sql` to a catalog, idempotently, and record it in `schema_migrations`.

The script's header line ``-- schema_version: N`` is the version this code writes. A catalog
stamped with a newer version was written by newer code and is refused rather than guessed at.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb

from catalog.errors import CatalogError
from catalog.paths import SCHEMA_FILE, VIEWS_FILE

_VERSION_LINE = re.compile(r"^--\s*schema_version:\s*(\d+)\s*$", re.MULTILINE)


@cache
def schema_script() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


def script_version(script: str) -> int:
    """The version stamped in a schema script's ``-- schema_version: N`` line."""
    match = _VERSION_LINE.search(script)
    if match is None:
        raise CatalogError(f"{SCHEMA_FILE}: no '-- schema_version: N' line; the schema script must declare its version")
    return int(match.group(1))


SCHEMA_VERSION = script_version(schema_script())


def recorded_version(con: duckdb.DuckDBPyConnection) -> int:
    """Highest schema version recorded in the catalog; 0 for a new, empty database."""
    has_table = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not has_table:
        return 0
    version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return int(version or 0)


def check_not_newer(version: int, db_path: Path | str) -> None:
    if version > SCHEMA_VERSION:
        raise CatalogError(
            f"catalog {db_path} was written by schema version {version}, but this code knows only "
            f"versions up to {SCHEMA_VERSION}; upgrade the project (git pull && make install) to use it"
        )


def views_script() -> str:
    return VIEWS_FILE.read_text(encoding="utf-8") if VIEWS_FILE.exists() else ""


def apply_schema(con: duckdb.DuckDBPyConnection, db_path: Path | str) -> int:
    """Create whatever is missing, stamp the version, and (re)create the views of `sql/views.sql`.

    Views hold no data, so they are replaced on every read-write open: a catalog always has the
    views of the code that last wrote it.
    """
    version = recorded_version(con)
    check_not_newer(version, db_path)
    con.execute("BEGIN TRANSACTION")
    try:
        if version < SCHEMA_VERSION:
            con.execute(schema_script())
            con.execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($version, $description)",
                {"version": SCHEMA_VERSION, "description": f"{SCHEMA_FILE.name} version {SCHEMA_VERSION}"},
            )
        if views_script().strip():
            con.execute(views_script())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
