"""The SQL console: one user SELECT on a locked-down, read-only connection.

What keeps a console query harmless, in layers:

- the file is attached ``READ_ONLY``: nothing can be written to it, whatever the statement;
- only a single statement, and only a SELECT, is accepted (DuckDB's own parser decides, so
  comments and string literals cannot smuggle a second statement past it);
- ``enable_external_access = false``: no reading or writing files (read_csv, COPY, ATTACH, ...),
  no network; ``autoload_known_extensions``/``autoinstall_known_extensions = false``: no
  extension is fetched or loaded; ``lock_configuration = true``: none of this can be SET back;
- ``threads`` and ``memory_limit`` caps, no spilling to disk, a row cap, and a timeout: DuckDB has
  no statement timeout, so a timer calls ``connection.interrupt()``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb

from catalog.connect import DuckDBConfig, sandbox
from catalog.errors import CatalogError
from catalog.result import MAX_LIMIT, QueryResult

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_THREADS = 2
DEFAULT_MEMORY_LIMIT = "2GB"


def sandbox_config(threads: int = DEFAULT_THREADS, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> DuckDBConfig:
    """DuckDB settings of a console connection, given when it starts."""
    return {
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "threads": threads,
        "memory_limit": memory_limit,
        "temp_directory": "",          # no spilling: a query too big for memory_limit fails instead
    }


def check_single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but exactly one SELECT statement, before running any of it."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise CatalogError(f"sql: cannot parse the statement: {error}") from None
    if len(statements) != 1:
        raise CatalogError(f"sql: give exactly one statement, got {len(statements)}; "
                           "run them one at a time (a trailing ';' is fine)")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise CatalogError(f"sql: only SELECT queries run in the console (the catalog is read-only here); "
                           f"got a statement of type {kind.name}")


def run_sql(db_path: Path | str, sql: str, max_rows: int = DEFAULT_MAX_ROWS, timeout_s: float = DEFAULT_TIMEOUT_S,
            threads: int = DEFAULT_THREADS, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> QueryResult:
    """Run one user SELECT; at most ``max_rows`` rows come back, and ``truncated`` says if more matched."""
    if not 1 <= max_rows <= MAX_LIMIT:
        raise CatalogError(f"sql: max_rows must be between 1 and {MAX_LIMIT}, got {max_rows}")
    if timeout_s <= 0:
        raise CatalogError(f"sql: timeout must be positive, got {timeout_s}")
    started = time.perf_counter()
    with sandbox(db_path, sandbox_config(threads, memory_limit)) as con:
        check_single_select(con, sql)
        frame = _fetch_with_timeout(con, sql, max_rows + 1, timeout_s)
    return QueryResult.from_rows(frame, max_rows, "sql", {}, time.perf_counter() - started)


def _fetch_with_timeout(con: duckdb.DuckDBPyConnection, sql: str, rows: int, timeout_s: float):
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        # The relation API wraps the user's query as a subquery and limits it without editing its text.
        return con.sql(sql).limit(rows).df()
    except duckdb.InterruptException:
        raise CatalogError(f"sql: the query ran longer than {timeout_s:g} s and was stopped; "
                           "add filters or a LIMIT, or raise --timeout") from None
    except duckdb.OutOfMemoryException:
        raise CatalogError("sql: the query needed more memory than the console allows; "
                           "add filters or a LIMIT, or aggregate before fetching") from None
    except duckdb.Error as error:
        raise CatalogError(f"sql: DuckDB refused the query: {error}") from None
    finally:
        timer.cancel()
