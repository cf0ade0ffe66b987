"""The SQL console's child process: runs one user SELECT where it can be killed.

``catalog.sandbox.run_sql`` starts ``python -m catalog.sandbox_worker`` (a fresh interpreter:
nothing of the caller's state, threads or memory is copied into it), writes one JSON request to
its standard input and reads its standard output: ``ready`` once the statement is accepted and the
query starts (the caller's deadline starts then), then a JSON header line and, for a result, the
rows as an Arrow IPC stream. The child:

1. caps its own address space (``RLIMIT_AS``) at what it has after start-up plus the console's
   memory budget, so no single DuckDB function, the planner or a buffer outside DuckDB's buffer
   manager can take more: an allocation past it fails inside the child;
2. attaches the catalog read-only from its folder and points DuckDB's home, secret and extension
   directories at ``/`` before locking the configuration (the functions that would show paths are
   refused by name before the child starts);
3. accepts exactly one SELECT, fetches at most ``max_rows + 1`` rows as Arrow, turns columns that
   pandas cannot hold (``UHUGEINT``, ``TIMETZ``, infinite dates, ...) into text, and refuses a
   result larger than ``max_result_bytes`` before sending it.

The parent kills the child at its deadline; whatever the child sends is bounded in size.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from catalog.connect import DuckDBConfig, sandbox
from catalog.errors import CatalogBusyError, CatalogError

# DuckDB settings that would show the machine's paths; set before the configuration is locked.
NEUTRAL_SETTINGS = {"home_directory": "/", "secret_directory": "/", "extension_directory": "/"}


@dataclass(frozen=True)
class Request:
    catalog_folder: str
    catalog_name: str
    sql: str
    max_rows: int
    threads: int
    memory_budget_bytes: int
    max_result_bytes: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Request:
        return cls(**json.loads(text))


def status_bytes(field: str, pid: int | str = "self") -> int:
    """A memory figure of ``/proc/PID/status`` (VmSize, VmHWM, ...) in bytes; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def peak_rss_bytes(pid: int | str = "self") -> int:
    """The process's own peak resident memory: VmHWM, which starts afresh at exec (getrusage's
    ru_maxrss would carry the peak of the process it was forked from)."""
    return status_bytes("VmHWM", pid)


def _current_address_space_bytes() -> int:
    size = status_bytes("VmSize")
    if not size:
        raise OSError("no VmSize in /proc/self/status")
    return size


def cap_address_space(budget_bytes: int) -> None:
    limit = _current_address_space_bytes() + budget_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def check_single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but exactly one SELECT statement, before running any of it."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise CatalogError(f"sql: cannot parse the statement: {error}") from None
    if len(statements) != 1:
        raise CatalogError(
            f"sql: give exactly one statement, got {len(statements)}; run them one at a time (a trailing ';' is fine)"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise CatalogError(
            f"sql: only SELECT queries run in the console (the catalog is read-only here); "
            f"got a statement of type {kind.name}"
        )


# Types whose values pandas or Python's datetime cannot always hold (infinite or far dates, time
# zones on times, 128-bit integers): they come back as text, also inside lists and structs.
_AS_TEXT = ("DATE", "TIME", "INTERVAL", "HUGEINT")


def _pandas_safe(relation: duckdb.DuckDBPyRelation, rows: int, max_bytes: int) -> pa.Table:
    """The first ``rows`` rows as Arrow, with the columns pandas cannot hold as text; refused when
    larger than ``max_bytes``."""
    limited = relation.limit(rows)
    names = limited.columns
    kinds = [str(kind).upper() for kind in limited.types]
    as_text = {name for name, kind in zip(names, kinds, strict=True) if any(t in kind for t in _AS_TEXT)}
    table = _arrow(limited.project(_projection(names, as_text)) if as_text else limited)
    if table.nbytes > max_bytes:
        raise CatalogError(
            f"sql: the result is {table.nbytes / 2**20:.1f} MiB, more than the console returns "
            f"({max_bytes / 2**20:.0f} MiB); select fewer rows or columns, "
            "or shorten long values (e.g. left(text, 200))"
        )
    failing = {name for name in table.column_names if not _converts(table, name)}
    if failing:  # anything else pandas refuses
        table = _arrow(limited.project(_projection(names, as_text | failing)))
    return table


def _projection(names: list[str], as_text: set[str]) -> str:
    quoted = {name: '"' + name.replace('"', '""') + '"' for name in names}
    return ", ".join(f"CAST({quoted[n]} AS VARCHAR) AS {quoted[n]}" if n in as_text else quoted[n] for n in names)


def _arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    table = relation.arrow()
    return table if isinstance(table, pa.Table) else table.read_all()  # newer DuckDB gives a reader


def _converts(table: pa.Table, name: str) -> bool:
    try:
        table.select([name]).to_pandas()
    except (pa.ArrowException, ValueError, OverflowError, TypeError, NotImplementedError):
        return False
    return True


READY = b"ready\n"
_ready_said = False


def _say_ready() -> None:
    """Tell the caller the query starts now (once)."""
    global _ready_said
    if not _ready_said:
        sys.stdout.buffer.write(READY)
        sys.stdout.buffer.flush()
        _ready_said = True


def _serialise(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def sandbox_config(threads: int, memory_budget_bytes: int) -> DuckDBConfig:
    """DuckDB settings of a console connection, given when it starts: half the memory budget for
    DuckDB's buffer manager (the address-space cap holds the rest), no spilling, no extensions."""
    return {
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "threads": threads,
        "memory_limit": f"{max(memory_budget_bytes // 2, 1 << 26)}B",
        "temp_directory": "",
    }


def _answer(request: Request) -> bytes:
    config = sandbox_config(request.threads, request.memory_budget_bytes)
    with sandbox(Path(request.catalog_name), config, NEUTRAL_SETTINGS) as con:
        check_single_select(con, request.sql)
        _say_ready()  # the caller's deadline starts now: start-up and a lock wait are not the query's time
        table = _pandas_safe(con.sql(request.sql), request.max_rows + 1, request.max_result_bytes)
    return _serialise(table)


def answer(request: Request) -> tuple[dict[str, object], bytes]:
    """(header, Arrow bytes) for one request; the header's ``kind`` is ok, error, busy or memory."""
    try:
        os.chdir(request.catalog_folder)
        cap_address_space(request.memory_budget_bytes)
        body = _answer(request)
        header: dict[str, object] = {"kind": "ok"}
    except CatalogBusyError as error:
        header, body = {"kind": "busy", "message": str(error)}, b""
    except CatalogError as error:
        header, body = {"kind": "error", "message": str(error)}, b""
    except (duckdb.OutOfMemoryException, MemoryError):
        header, body = {"kind": "memory"}, b""
    except (duckdb.Error, pa.ArrowException, OSError) as error:  # Arrow reports DuckDB's limit as OSError
        text = str(error)
        out_of_memory = "bad allocation" in text or "Out of Memory" in text or isinstance(error, pa.ArrowMemoryError)
        header = (
            {"kind": "memory"}
            if out_of_memory
            else {"kind": "error", "message": f"sql: DuckDB refused the query: {text}"}
        )
        body = b""
    header["peak_rss_bytes"] = peak_rss_bytes()
    return header, body


def main() -> int:
    request = Request.from_json(sys.stdin.readline())
    header, body = answer(request)
    _say_ready()  # when refused before the query ran: the caller then reads the answer at once
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n" + body)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
