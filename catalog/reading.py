"""Short-lived read-only connections for the query layer (DESIGN.md §6).

Each request opens the catalog read-only through SQLAlchemy with ``NullPool`` and closes it when
done, so no idle connection keeps the file locked against an ingest. A catalog last written by
older code may hold older views (or none): then the views of ``sql/views.sql`` are created as TEMP
views on the connection, which shadow the stored ones (a read-only connection cannot replace them).
The ``catalog_views_version`` view tells the two cases apart without re-creating views on every
request; the checks here use DuckDB's own catalog functions, which answer in about a millisecond
(information_schema takes tens).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb

from catalog.connect import read_engine, with_lock_retry
from catalog.errors import CatalogError
from catalog.schema import check_readable, views_script

_CREATE_VIEW = re.compile(r"\bCREATE\s+OR\s+REPLACE\s+VIEW\b", re.IGNORECASE)
_VIEWS_VERSION = re.compile(r"SELECT\s+(\d+)\s+AS\s+views_version", re.IGNORECASE)


@cache
def temp_views_script() -> str:
    """``sql/views.sql`` with every view made TEMP, for read-only connections."""
    return _CREATE_VIEW.sub("CREATE OR REPLACE TEMP VIEW", views_script())


@cache
def current_views_version() -> int | None:
    match = _VIEWS_VERSION.search(views_script())
    return int(match.group(1)) if match else None


def _main_objects(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
                       " UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
                       " AND database_name = current_database()").fetchall()
    return {row[0] for row in rows}


def check_catalog(con: duckdb.DuckDBPyConnection, db_path: Path) -> set[str]:
    """Refuse a DuckDB file that is not a catalog, or one of another schema version (newer code's, or
    an older one that needs `python -m ingest migrate`); returns the catalog's table and view names."""
    objects = _main_objects(con)
    version = 0
    if "schema_migrations" in objects:
        version = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]
    if version == 0:
        raise CatalogError(
            f"{db_path} is a DuckDB database but not a catalog (it has no schema_migrations table); "
            "pass a catalog built by `python -m ingest` (or `make demo`)"
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


@contextmanager
def read_connection(db_path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A checked, read-only DuckDB connection with the current views; closed on exit.

    Raises CatalogError when the path does not exist, is not a DuckDB file, or is not a catalog.
    """
    path = Path(db_path)
    engine = read_engine(path)
    try:
        with with_lock_retry(engine.connect, path) as connection:
            con = connection.connection.driver_connection  # the DuckDB connection, for $name binding and .df()
            install_views(con, check_catalog(con, path))
            yield con
    finally:
        engine.dispose()
