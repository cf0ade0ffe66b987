"""Bringing a catalog's schema up to date, and refusing catalogs this code cannot read.

`sql/schema.sql` is the latest full schema; its header line ``-- schema_version: N`` is the version
this code writes. A new catalog gets that script whole. A catalog of an older version is upgraded
in place by the scripts `sql/migrations/NNN_*.sql` (NNN = the version each one brings it to), all
in one transaction, every step recorded in `schema_migrations`. Only writers (ingest) upgrade: a
read-only reader of an older catalog is told to run the migration, and a catalog written by newer
code is refused by everyone rather than guessed at.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb

from catalog.errors import CatalogError
from catalog.paths import MIGRATIONS_DIR, SCHEMA_FILE, VIEWS_FILE

_VERSION_LINE = re.compile(r"^--\s*schema_version:\s*(\d+)\s*$", re.MULTILINE)
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_CREATE_VIEW = re.compile(r"\bCREATE\s+OR\s+REPLACE\s+(VIEW|MACRO)\b", re.IGNORECASE)
_VIEWS_VERSION = re.compile(r"SELECT\s+(\d+)\s+AS\s+views_version", re.IGNORECASE)


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


@cache
def migrations() -> dict[int, Path]:
    """Version -> the script that upgrades a catalog from the version before it."""
    found = {}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise CatalogError(
                f"migration {path} is not named NNN_description.sql (NNN = the version it brings a catalog to)"
            )
        found[int(match.group(1))] = path
    return found


@cache
def views_script() -> str:
    return VIEWS_FILE.read_text(encoding="utf-8") if VIEWS_FILE.exists() else ""


@cache
def temp_views_script() -> str:
    """``sql/views.sql`` with every view and macro made TEMP, for read-only connections."""
    return _CREATE_VIEW.sub(r"CREATE OR REPLACE TEMP \1", views_script())


@cache
def current_views_version() -> int | None:
    match = _VIEWS_VERSION.search(views_script())
    return int(match.group(1)) if match else None


def _main_objects(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
        " UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
        " AND database_name = current_database()"
    ).fetchall()
    return {row[0] for row in rows}


def check_catalog(con: duckdb.DuckDBPyConnection, db_path: Path) -> set[str]:
    """Refuse a DuckDB file that is not a catalog, or one of another schema version (newer code's, or
    an older one that needs `llcat-ingest migrate`); returns the catalog's table and view names."""
    objects = _main_objects(con)
    version = 0
    if "schema_migrations" in objects:
        version = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]
    if version == 0:
        raise CatalogError(
            f"{db_path} is a DuckDB database but not a catalog (it has no schema_migrations table); "
            "pass a catalog built by `llcat-ingest` (e.g. `llcat-ingest demo --db PATH`)"
        )
    check_readable(version, db_path)
    return objects


def install_views(con: duckdb.DuckDBPyConnection, objects: set[str]) -> None:
    """Create the current views as TEMP views unless the catalog's stored ones are current."""
    wanted = current_views_version()
    if wanted is not None and "catalog_views_version" in objects:
        stored = con.execute("SELECT max(views_version) FROM catalog_views_version").fetchall()[0][0]
        if stored == wanted:
            return
    script = temp_views_script()
    if script.strip():
        con.execute(script).fetchall()  # DuckDB 2 wants every result consumed before the next statement


def recorded_version(con: duckdb.DuckDBPyConnection) -> int:
    """Highest schema version recorded in the catalog; 0 for a new, empty database."""
    has_table = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations' AND schema_name = 'main'"
    ).fetchall()[0][0]
    if not has_table:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0])


def check_not_newer(version: int, db_path: Path | str) -> None:
    if version > SCHEMA_VERSION:
        raise CatalogError(
            f"catalog {db_path} was written by schema version {version}, but this code knows only "
            f"versions up to {SCHEMA_VERSION}; upgrade the project (git pull && make install) to use it"
        )


def check_readable(version: int, db_path: Path | str) -> None:
    """A read-only reader needs exactly this code's version: newer is refused, older must be migrated first."""
    check_not_newer(version, db_path)
    if 0 < version < SCHEMA_VERSION:
        raise CatalogError(
            f"catalog {db_path} has schema version {version}, older than this code's {SCHEMA_VERSION}; upgrade it in "
            f"place with `llcat-ingest migrate --db {db_path}` (keeps every row), then open it again"
        )


def _upgrade_steps(version: int) -> list[tuple[int, str, str]]:
    """(version, description, script) for every step from `version` to SCHEMA_VERSION."""
    if version == 0:
        return [(SCHEMA_VERSION, f"{SCHEMA_FILE.name} version {SCHEMA_VERSION}", schema_script())]
    steps = []
    for target in range(version + 1, SCHEMA_VERSION + 1):
        if target not in migrations():
            raise CatalogError(
                f"no migration from schema version {target - 1} to {target} in {MIGRATIONS_DIR}; "
                "this catalog cannot be upgraded by this code"
            )
        path = migrations()[target]
        steps.append((target, path.name, path.read_text(encoding="utf-8")))
    return steps


def _stored_views_version(con: duckdb.DuckDBPyConnection) -> int | None:
    if "catalog_views_version" not in _main_objects(con):
        return None
    return con.execute("SELECT max(views_version) FROM catalog_views_version").fetchall()[0][0]


def apply_schema(con: duckdb.DuckDBPyConnection, db_path: Path | str) -> int:
    """Create or upgrade the schema and the views of `sql/views.sql`, in one transaction.

    Only a new catalog, an older schema or views older than this code's are touched: opening a
    current catalog for writing changes nothing, so its file (and every reader's cache key, which
    includes the file's modification time) stays as it was.
    """
    version = recorded_version(con)
    check_not_newer(version, db_path)
    if version == SCHEMA_VERSION and _stored_views_version(con) == current_views_version():
        return SCHEMA_VERSION
    con.execute("BEGIN TRANSACTION")
    try:
        for target, description, script in _upgrade_steps(version) if version < SCHEMA_VERSION else []:
            con.execute(script)
            con.execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($version, $description)",
                {"version": target, "description": description},
            )
        if views_script().strip():
            con.execute(views_script())
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT already ended the transaction: keep the original error
        raise
    return SCHEMA_VERSION
