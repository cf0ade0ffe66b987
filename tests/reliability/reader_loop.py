"""A reader process for the concurrency test: read-only queries in a loop while an ingest writes.

    python -m tests.reliability.reader_loop --db PATH --top-k K --stop-file PATH [--max-seconds S]

Each read opens the catalog the way the query layer does (alternately ``catalog.connect.reading``
and a raw ``catalog.connect.open_read_only`` closed by hand), checks
in that one snapshot that every SAE and model is complete (``support.partial_writes``), and closes.
A read *succeeded* at the first try, was *retried* when the lock-retry printed "being updated ...
retrying" before it got its answer, or *failed* (``CatalogBusyError`` after the bounded retries, or
any other error). Prints one JSON line with the counts when the stop file appears.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

from catalog.connect import open_read_only, reading
from catalog.errors import CatalogBusyError
from tests.reliability.support import partial_writes

RETRY_MESSAGE = "is being updated by another process; retrying"


@contextlib.contextmanager
def raw_connection(db: Path):
    con = open_read_only(db)
    try:
        yield con
    finally:
        con.close()


def one_read(db: Path, top_k: int, use_app_path: bool) -> tuple[list[str], int]:
    opener = reading if use_app_path else raw_connection
    with opener(db) as con:
        problems = partial_writes(con, top_k)
        n_saes = con.execute("SELECT count(*) FROM saes").fetchone()[0]
    return problems, n_saes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--top-k", type=int, required=True)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--pause-s", type=float, default=0.005)
    args = parser.parse_args()
    counts = {"reads": 0, "succeeded": 0, "retried": 0, "failed": 0, "retry_messages": 0}
    errors: list[str] = []
    partial: list[str] = []
    sae_counts_seen: list[int] = []
    slowest_s = 0.0
    deadline = time.monotonic() + args.max_seconds
    print("ready", flush=True)
    while not args.stop_file.exists() and time.monotonic() < deadline:
        use_app_path = counts["reads"] % 2 == 0
        counts["reads"] += 1
        captured = io.StringIO()
        started = time.monotonic()
        try:
            with contextlib.redirect_stderr(captured):
                problems, n_saes = one_read(args.db, args.top_k, use_app_path)
        except CatalogBusyError as error:
            counts["failed"] += 1
            errors.append(f"busy: {error}")
        except Exception as error:  # noqa: BLE001 - every other outcome is a failure to report
            counts["failed"] += 1
            errors.append(f"{type(error).__name__}: {error}")
        else:
            retries = captured.getvalue().count(RETRY_MESSAGE)
            counts["retry_messages"] += retries
            counts["retried" if retries else "succeeded"] += 1
            partial.extend(problems)
            if not sae_counts_seen or sae_counts_seen[-1] != n_saes:
                sae_counts_seen.append(n_saes)
        slowest_s = max(slowest_s, time.monotonic() - started)
        time.sleep(args.pause_s)
    print(
        json.dumps(
            {
                **counts,
                "errors": errors[:10],
                "partial": partial[:10],
                "sae_counts_seen": sae_counts_seen,
                "slowest_read_s": round(slowest_s, 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
