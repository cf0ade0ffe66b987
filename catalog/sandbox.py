"""The SQL console: one user SELECT, in a child process that can be killed, on a locked-down,
read-only connection. The CLI's ``sql``, ``Catalog.sql`` and the app's console all run here.

What keeps a console query harmless, in layers:

- the statement is at most ``MAX_STATEMENT_CHARS`` characters, checked before anything parses it;
- it runs in a fresh child process (``catalog.sandbox_worker``) whose address space is capped at its
  start-up size plus ``memory_mb``: no DuckDB function, no planner and no buffer outside DuckDB's
  buffer manager can take more, and the caller (a notebook, the app server) never holds the work;
- at ``timeout_s`` the child is killed: DuckDB cannot interrupt work inside one function call or
  the planner, but the operating system can stop the process;
- the file is attached ``READ_ONLY``: nothing can be written to it; the functions that would show
  the machine's paths (``duckdb_databases()``, ``duckdb_settings()``, ``current_setting()``, ...,
  and ``query()``, which could call them from a string) are refused by name, and DuckDB's home,
  secret and extension directories point at ``/``;
- only a single statement, and only a SELECT, is accepted (DuckDB's own parser decides, so
  comments and string literals cannot smuggle a second statement past it);
- ``enable_external_access = false``: no reading or writing files (read_csv, COPY, ATTACH, ...),
  no network; no extension is installed or loaded; ``lock_configuration = true``: none of this can
  be SET back; ``threads`` capped, no spilling to disk;
- at most ``max_rows`` rows and ``MAX_RESULT_BYTES`` bytes come back, as Arrow, before pandas,
  a cache or a download sees them; values pandas cannot hold come back as text;
- error messages are stripped of absolute paths before anyone sees them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

from catalog.connect import existing_catalog_path
from catalog.errors import CatalogBusyError, CatalogError
from catalog.result import MAX_LIMIT, QueryResult
from catalog.sandbox_worker import READY, Request, peak_rss_bytes

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_THREADS = 2
DEFAULT_MEMORY_MB = 1024  # the child's memory beyond its start-up size
MAX_STATEMENT_CHARS = 100_000  # a planner needs no more for any reasonable query
MAX_RESULT_BYTES = 32 * 2**20  # Arrow bytes handed back; the caller holds a small multiple
STARTUP_TIMEOUT_S = 60.0  # a fresh interpreter, and a lock wait for an ingest (at most 30 s)
# Functions that show paths of the machine (DuckDB resolves links, so the catalog's real path would
# show), or run SQL given as a string. A function can only be called by writing its name; the
# catalog functions also work without parentheses, the common words only as calls.
PATH_REVEALING_FUNCTIONS = (
    "duckdb_databases",
    "duckdb_settings",
    "pragma_database_list",
    "duckdb_extensions",
    "duckdb_secrets",
    "duckdb_temporary_files",
    "which_secret",
)
STRING_SQL_FUNCTIONS = ("current_setting", "getenv", "query", "query_table")
_REFUSED_CALL = re.compile(
    r"\b(" + "|".join(PATH_REVEALING_FUNCTIONS) + r")\b|\b(" + "|".join(STRING_SQL_FUNCTIONS) + r")\b\"?\s*\(",
    re.IGNORECASE,
)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[\w.@+-]+/)*[\w.@+-]*")


class SandboxError(CatalogError):
    """A console query that was refused or stopped; ``peak_rss_bytes`` is the child's peak memory."""

    def __init__(self, message: str, peak_rss_bytes: int = 0) -> None:
        super().__init__(message)
        self.peak_rss_bytes = peak_rss_bytes


def without_paths(text: str) -> str:
    """``text`` with every absolute path replaced by ``<path>``: messages must not map the machine."""
    return _ABSOLUTE_PATH.sub("<path>", text)


def _check_arguments(sql: str, max_rows: int, timeout_s: float, memory_mb: int) -> None:
    if not 1 <= max_rows <= MAX_LIMIT:
        raise SandboxError(f"sql: max_rows must be between 1 and {MAX_LIMIT}, got {max_rows}")
    if timeout_s <= 0:
        raise SandboxError(f"sql: timeout must be positive, got {timeout_s}")
    if memory_mb < 64:
        raise SandboxError(f"sql: the memory budget must be at least 64 MB, got {memory_mb}")
    if len(sql) > MAX_STATEMENT_CHARS:
        raise SandboxError(
            f"sql: the statement is {len(sql):,} characters, more than the console accepts "
            f"({MAX_STATEMENT_CHARS:,}); shorten it (a long UNION ALL list can be a VALUES list "
            "or a query over a table)"
        )
    refused = sorted({(name or call).lower() for name, call in _REFUSED_CALL.findall(sql)})
    if refused:
        raise SandboxError(
            f"sql: {', '.join(refused)} cannot be used in the console (it shows paths of the machine "
            "or runs SQL from a string); query the catalog's tables and views instead"
        )


def run_sql(
    db_path: Path | str,
    sql: str,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    threads: int = DEFAULT_THREADS,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> QueryResult:
    """Run one user SELECT; at most ``max_rows`` rows come back, and ``truncated`` says if more matched.

    Raises ``SandboxError`` (a ``CatalogError``) naming the limit when the query was refused, ran past
    ``timeout_s`` or needed more than ``memory_mb``; ``CatalogBusyError`` while an ingest holds the file.
    """
    _check_arguments(sql, max_rows, timeout_s, memory_mb)
    path = existing_catalog_path(db_path).resolve()
    request = Request(str(path.parent), path.name, sql, max_rows, threads, memory_mb * 2**20, MAX_RESULT_BYTES)
    started = time.perf_counter()
    header, body = _run_in_child(request, timeout_s, memory_mb)
    peak = int(str(header.get("peak_rss_bytes", 0)))
    if header["kind"] == "busy":
        raise CatalogBusyError(str(header["message"]))
    if header["kind"] == "memory":
        raise SandboxError(_memory_message(memory_mb), peak)
    if header["kind"] != "ok":
        raise SandboxError(without_paths(str(header["message"])), peak)
    with pa.ipc.open_stream(body) as reader:
        frame = reader.read_all().to_pandas()
    return QueryResult.from_rows(frame, max_rows, "sql", {}, time.perf_counter() - started)


def _worker_command() -> tuple[list[str], dict[str, str]]:
    # A fresh interpreter that finds this package where the caller found it (installed or not).
    package_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    return [sys.executable, "-m", "catalog.sandbox_worker"], env


def _run_in_child(request: Request, timeout_s: float, memory_mb: int) -> tuple[dict[str, object], bytes]:
    """The child's header and body; at the deadline the child is killed and SandboxError raised."""
    command, env = _worker_command()
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(request.to_json().encode() + b"\n")
        child.stdin.close()
        child.stdin = None  # sent whole: communicate() below only reads
        _wait_until_ready(child.stdout.fileno(), STARTUP_TIMEOUT_S)
        out, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        peak = peak_rss_bytes(child.pid)  # read before the kill: the figure goes with the process
        child.kill()
        _reap(child)
        raise SandboxError(
            f"sql: the query ran longer than {timeout_s:g} s and was stopped; add filters or a "
            "LIMIT, or raise the timeout (--timeout)",
            peak,
        ) from None
    header_line, _, body = out.partition(b"\n")
    try:
        header = json.loads(header_line)
    except ValueError:  # no answer: the child died, an allocation past its cap aborted it
        last = without_paths(err.decode(errors="replace").strip().splitlines()[-1]) if err.strip() else ""
        if child.returncode and child.returncode < 0 or "memory" in last.lower() or "alloc" in last.lower():
            raise SandboxError(_memory_message(memory_mb)) from None
        raise SandboxError(f"sql: the console's worker failed ({last or f'exit status {child.returncode}'})") from None
    for line in err.decode(errors="replace").splitlines():  # e.g. waiting for an ingest's lock
        log.warning("%s", without_paths(line))
    return header, body


def _wait_until_ready(fd: int, timeout_s: float) -> None:
    """Read the child's ``ready`` line (start-up, a lock wait and the statement checks take this long
    at most); raise TimeoutExpired past ``timeout_s``, or return early if the child ended."""
    received = b""
    deadline = time.monotonic() + timeout_s
    while len(received) < len(READY):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise subprocess.TimeoutExpired("catalog.sandbox_worker", timeout_s)
        chunk = os.read(fd, len(READY) - len(received))
        if not chunk:  # end of file: the child died before it was ready
            return
        received += chunk


def _reap(child: subprocess.Popen) -> None:
    """Wait for a killed child and close its pipes."""
    child.wait()
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream is not None:
            stream.close()


def _memory_message(memory_mb: int) -> str:
    return (
        f"sql: the query needed more memory than the console allows ({memory_mb:,} MB) and was stopped; "
        "add filters or a LIMIT, or aggregate before fetching"
    )
