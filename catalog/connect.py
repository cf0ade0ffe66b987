"""Opening a catalog: one writer (ingest) or many read-only readers (app, queries), never both.

DuckDB locks the file for a read-write process. Both sides retry a lock conflict with backoff and
say what they are waiting for, so a reader never breaks an ingest and an ingest waits out a reader.
Readers use SQLAlchemy with ``NullPool``: a pooled connection would keep the file locked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from catalog.errors import CatalogBusyError, CatalogError
from catalog.schema import apply_schema, check_readable, recorded_version

# A DuckDB file starts with an 8-byte checksum followed by these magic bytes.
_DUCKDB_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8
T = TypeVar("T")


def check_is_catalog_file(db_path: Path) -> None:
    """Refuse a path that exists but is not a DuckDB database (before DuckDB tries to parse it)."""
    if db_path.is_dir():
        raise CatalogError(f"catalog path {db_path} is a folder; pass a .duckdb file path, e.g. --db catalog.duckdb")
    if not db_path.exists() or db_path.stat().st_size == 0:
        return
    with db_path.open("rb") as handle:
        header = handle.read(_MAGIC_OFFSET + len(_DUCKDB_MAGIC))
    if header[_MAGIC_OFFSET:] != _DUCKDB_MAGIC:
        raise CatalogError(
            f"catalog path {db_path} is not a DuckDB database (no DuckDB header); "
            "pass the path of a catalog written by `python -m ingest`, or a new file name"
        )


def _is_lock_conflict(error: Exception) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def with_lock_retry(open_fn: Callable[[], T], db_path: Path, attempts: int = 8, first_wait_s: float = 0.25) -> T:
    """Call `open_fn`, retrying DuckDB lock conflicts with exponential backoff."""
    wait_s = first_wait_s
    for attempt in range(1, attempts + 1):
        try:
            return open_fn()
        except (duckdb.IOException, sa.exc.OperationalError, sa.exc.DBAPIError) as error:
            if not _is_lock_conflict(error):
                raise
            if attempt == attempts:
                raise CatalogBusyError(
                    f"catalog {db_path} is locked by another process (an ingest writing, or a reader) "
                    f"and stayed locked through {attempts} tries; wait for it to finish and try again"
                ) from error
            print(f"catalog {db_path} is being updated by another process; retrying in {wait_s:.2f} s", file=sys.stderr)
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, 5.0)
    raise AssertionError("unreachable")


def open_for_write(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (or create) a catalog read-write and bring its schema up to date."""
    path = Path(db_path)
    check_is_catalog_file(path)
    if not path.parent.exists():
        raise CatalogError(f"catalog path {path}: folder {path.parent} does not exist; create it or choose another --db")
    con = with_lock_retry(lambda: duckdb.connect(str(path)), path)
    try:
        apply_schema(con, path)
    except BaseException:
        con.close()
        raise
    return con


def read_engine(db_path: Path | str) -> sa.Engine:
    """A read-only SQLAlchemy engine on an existing catalog; no pooled connection holds the file."""
    path = Path(db_path)
    if not path.exists():
        raise CatalogError(
            f"catalog {path} does not exist; build one with `make demo` or `python -m ingest run ... --db {path}`"
        )
    check_is_catalog_file(path)
    return sa.create_engine(f"duckdb:///{path}?access_mode=read_only", poolclass=NullPool)


def open_read_only(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    """A raw read-only DuckDB connection on an existing catalog, schema version checked."""
    path = Path(db_path)
    if not path.exists():
        raise CatalogError(
            f"catalog {path} does not exist; build one with `make demo` or `python -m ingest run ... --db {path}`"
        )
    check_is_catalog_file(path)
    con = with_lock_retry(lambda: duckdb.connect(str(path), read_only=True), path)
    try:
        check_readable(recorded_version(con), path)
    except BaseException:
        con.close()
        raise
    return con
