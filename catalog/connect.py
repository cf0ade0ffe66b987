"""Every connection to a catalog opens here: one writer (ingest) or many read-only readers
(queries, the app, the SQL console), never both at once.

- ``writing(path)``: the one write path, a short-lived read-write connection whose schema is
  created or upgraded on first open (``catalog.schema.apply_schema``);
- ``reading(path)``: a short-lived, checked, read-only DuckDB connection with the current views;
- ``sandbox(path)``: the SQL console's locked-down read-only connection (see ``catalog.sandbox``);
- ``read_engine(path)``: a read-only SQLAlchemy engine for users' own ``pandas.read_sql``.

Each is closed when done, so no idle connection keeps the file locked against an ingest. DuckDB
locks the file for a read-write process: both sides retry a lock conflict with backoff and log what
they wait for; a waiting writer also asks new readers to hold back (``writer_pending_path``), so
that a stream of short reads cannot starve it. Failures to read or write the file itself (a full
disk, an I/O error, a damaged file) become one ``CatalogError`` naming the catalog and the fix.
"""

from __future__ import annotations

import errno
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

from catalog.errors import CatalogBusyError, CatalogError
from catalog.schema import apply_schema, check_catalog, install_views

if TYPE_CHECKING:
    import sqlalchemy as sa

log = logging.getLogger(__name__)
DuckDBConfig = dict[str, str | bool | int | float | list[str]]

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
            "pass the path of a catalog written by `llcat-ingest`, or a new file name"
        )


def _is_lock_conflict(error: Exception) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


READER_MAX_WAIT_S = 30.0  # a reader gives up (CatalogBusyError) after this long; writes are short
WRITER_MAX_WAIT_S = 300.0  # an ingest waits this long for readers (the longest is a console query's timeout)
_PENDING_FRESH_S = 3.0  # a waiting writer refreshes its marker far more often than this
_REPORT_EVERY_S = 5.0


def writer_pending_path(db_path: Path | str) -> Path:
    """The marker a writer keeps fresh while it waits for the lock; new readers hold back meanwhile,
    so a stream of short reads cannot starve an ingest."""
    return Path(f"{db_path}.writer-waiting")


def _writer_pending(db_path: Path) -> bool:
    try:
        return time.time() - writer_pending_path(db_path).stat().st_mtime < _PENDING_FRESH_S
    except OSError:
        return False


class _PendingWriter(Exception):
    """A reader holding back for a waiting writer (treated like a lock conflict)."""


def with_lock_retry(
    open_fn: Callable[[], T], db_path: Path, max_wait_s: float | None = None, *, writer: bool = False
) -> T:
    """Call `open_fn`, retrying DuckDB lock conflicts with jittered backoff (0.05 s doubling to 0.5 s)
    for up to `max_wait_s` seconds (default 30 for readers, 300 for a writer), saying what it waits for.

    A writer that has to wait keeps a marker file fresh beside the catalog; readers that see it wait
    before opening, so that the writer gets the file as soon as the reads in flight end.
    """
    path = Path(db_path)
    budget_s = max_wait_s if max_wait_s is not None else (WRITER_MAX_WAIT_S if writer else READER_MAX_WAIT_S)
    started = time.monotonic()
    wait_s, last_report = 0.05, None
    try:
        while True:
            try:
                if not writer and _writer_pending(path):
                    raise _PendingWriter()
                return open_fn()
            except (duckdb.IOException, _PendingWriter) as error:
                if not isinstance(error, _PendingWriter) and not _is_lock_conflict(error):
                    raise
                waited_s = time.monotonic() - started
                if waited_s >= budget_s:
                    raise CatalogBusyError(
                        f"catalog {path} is locked by another process (an ingest writing, or a reader) and stayed "
                        f"locked for {waited_s:.0f} s; wait for it to finish and try again"
                    ) from (None if isinstance(error, _PendingWriter) else error)
                if writer:
                    try:
                        writer_pending_path(path).touch()
                    except OSError:
                        pass  # no marker: readers are then only slower to make way
                sleep_s = min(wait_s * random.uniform(0.5, 1.5), max(budget_s - waited_s, 0.01))
                if last_report is None or time.monotonic() - last_report >= _REPORT_EVERY_S:
                    log.warning("catalog %s is being updated by another process; retrying in %.2f s", path, sleep_s)
                    last_report = time.monotonic()
                time.sleep(sleep_s)
                wait_s = min(wait_s * 2, 0.5)
    finally:
        if writer and last_report is not None:
            try:
                writer_pending_path(path).unlink(missing_ok=True)
            except OSError:
                pass


_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_FULL_TEXTS = ("No space left on device", "File too large", "Disk quota exceeded")


def _storage_cause(error: BaseException) -> BaseException | None:
    """The error in `error`'s chain (a ROLLBACK after a failed COMMIT can hide it) that says the
    catalog file could not be read or written, or None when the chain is about something else."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if isinstance(current, OSError) and not isinstance(current, duckdb.Error):
            return current
        if isinstance(current, (duckdb.IOException, duckdb.FatalException)) and not _is_lock_conflict(current):
            return current
        if isinstance(current, duckdb.Error) and (
            "Could not write" in text
            or "Could not read" in text
            or "Corrupt database file" in text
            or any(full in text for full in _FULL_TEXTS)
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


def storage_error(error: BaseException, db_path: Path | str) -> CatalogError | None:
    """A CatalogError saying what went wrong with the catalog file (disk full, I/O error, damaged
    file) and the fix, or None when `error` is not about the file."""
    cause = _storage_cause(error)
    if cause is None:
        return None
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if getattr(cause, "errno", None) in _FULL_ERRNOS or any(full in text for full in _FULL_TEXTS):
        fix = (
            "the disk is full (or a file size limit was hit): free space or choose another --db, then re-run; "
            "what was written before stays complete and the rest is redone"
        )
    elif "Corrupt database file" in text:
        fix = "the file is damaged: restore it from a backup, or build a new catalog with another --db"
    else:
        fix = "check the disk and the file's permissions, then re-run; what was written before stays complete"
    return CatalogError(f"catalog {db_path} could not be read or written ({type(cause).__name__}: {text}); {fix}")


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return with_lock_retry(lambda: duckdb.connect(str(path), read_only=read_only), path, writer=not read_only)
    except duckdb.Error as error:
        raise storage_error(error, path) or CatalogError(
            f"catalog {path} could not be opened ({type(error).__name__}: {error}); if another program has it "
            "open, close that; if the file is damaged, restore it from a backup or use another --db"
        ) from error


def open_for_write(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (or create) a catalog read-write and bring its schema up to date."""
    path = Path(db_path)
    check_is_catalog_file(path)
    if not path.parent.exists():
        raise CatalogError(
            f"catalog path {path}: folder {path.parent} does not exist; create it or choose another --db"
        )
    con = _connect(path, read_only=False)
    try:
        apply_schema(con, path)
    except BaseException as error:
        _close_quietly(con)
        wrapped = storage_error(error, path) if isinstance(error, Exception) else None
        if wrapped is not None:
            raise wrapped from error
        raise
    return con


@contextmanager
def writing(db_path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write connection, closed on exit whatever happens.

    A full disk or an I/O error while writing becomes one CatalogError naming the catalog and the
    fix (the transaction was rolled back). Closing checkpoints and can fail the same way: the
    first error is the one reported.
    """
    con = open_for_write(db_path)
    try:
        yield con
    except (duckdb.Error, OSError) as error:
        _close_quietly(con)
        wrapped = storage_error(error, db_path)
        if wrapped is None:
            raise
        raise wrapped from error
    except BaseException:
        _close_quietly(con)
        raise
    try:
        con.close()
    except (duckdb.Error, OSError) as error:
        raise storage_error(error, db_path) or error from error


def _close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Close after a failure without hiding it (closing checkpoints, which can fail the same way)."""
    try:
        con.close()
    except duckdb.Error:
        pass


def existing_catalog_path(db_path: Path | str) -> Path:
    """`db_path` as a Path, after checking that it exists and is a DuckDB file (readers never create one)."""
    path = Path(db_path)
    if not path.exists():
        raise CatalogError(
            f"catalog {path} does not exist; build the demo catalog there with `llcat-ingest demo --db {path}` "
            f"(or `make demo DB={path}`, which also serves the browser), or add SAEs to it with "
            f"`llcat-ingest run ... --db {path}`"
        )
    check_is_catalog_file(path)
    return path


def read_engine(db_path: Path | str) -> sa.Engine:
    """A read-only SQLAlchemy engine on an existing catalog; no pooled connection holds the file.

    For users' own SQL: ``pandas.read_sql(sqlalchemy.text("... :layer"), engine, params={...})``.
    DuckDB allows one configuration per file and process, so close its connections (``with
    engine.connect()``) before ``reading``, ``writing`` or ``sandbox`` open the same file.
    """
    import sqlalchemy  # only here: the console's worker and plain readers start faster without it
    from sqlalchemy.pool import NullPool

    path = existing_catalog_path(db_path)
    return sqlalchemy.create_engine(f"duckdb:///{path}?access_mode=read_only", poolclass=NullPool)


def open_read_only(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    """A raw read-only DuckDB connection on an existing catalog, checked, with the current views.

    The caller closes it; ``reading`` does that for you.
    """
    path = existing_catalog_path(db_path)
    con = _connect(path, read_only=True)
    try:
        install_views(con, check_catalog(con, path))  # TEMP views when the stored ones are older
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def reading(db_path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection (``open_read_only``), closed on exit."""
    con = open_read_only(db_path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def sandbox(
    db_path: Path | str, config: DuckDBConfig, settings: Mapping[str, str] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The SQL console's connection: a private in-memory DuckDB with ``config`` that ATTACHes the
    catalog READ_ONLY, applies ``settings``, then switches file access off and locks every setting;
    closed on exit. ``catalog.sandbox_worker`` runs it in a child process.

    In-memory, because DuckDB refuses a second connection to one file with other settings in the
    same process, and ``reading``'s connections have other settings; the settings are locked only
    after the ATTACH, which needs file access.
    """
    path = existing_catalog_path(db_path)
    con = with_lock_retry(lambda: _attach_locked_down(path, config, settings or {}), path)
    try:
        install_views(con, check_catalog(con, path))  # TEMP views, when needed: allowed on a read-only file
        yield con
    finally:
        con.close()


def _attach_locked_down(path: Path, config: DuckDBConfig, settings: Mapping[str, str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute("ATTACH $path AS catalog (READ_ONLY)", {"path": str(path)}).fetchall()
        con.execute("USE catalog").fetchall()
        for name, value in settings.items():  # names are the caller's constants, values bound
            con.execute(f"SET {name} = $value", {"value": value}).fetchall()
        con.execute("SET enable_external_access = false").fetchall()
        con.execute("SET lock_configuration = true").fetchall()
    except BaseException:
        con.close()
        raise
    return con
