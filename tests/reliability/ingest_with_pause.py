"""`python -m ingest` with a pause at one exact point of its writes, for the crash test to SIGKILL it there.

    python tests/reliability/ingest_with_pause.py POINT N run ARGS...

POINT is where to stop, N which occurrence (1-based) in this run:
- ``model-mid``: inside the model's write transaction, after the tokens rows, before the unembedding;
- ``sae-mid``: inside the N-th SAE write transaction, after its ``saes`` and ``features`` rows,
  before ``decoder`` and ``feature_tokens``;
- ``sae-committed``: right after the N-th SAE's transaction committed, before the connection is
  closed (so the commit sits in DuckDB's write-ahead log, not yet checkpointed into the file).
On reaching it the process prints ``PAUSED POINT`` on stdout and sleeps until killed. Otherwise it is
exactly ``python -m ingest``: the same entry point, the same runner, the same store.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from catalog import store
from ingest.cli import main


def pause(point: str) -> None:
    print(f"PAUSED {point}", flush=True)
    while True:
        time.sleep(60)


def install(point: str, occurrence: int) -> None:
    calls = {"sae": 0}
    insert_rows, write_sae = store.insert_rows, store.write_sae

    def paused_insert_rows(con, table_name, rows, constants=None):
        if point == "model-mid" and table_name == "unembed":
            pause(point)
        if point == "sae-mid" and table_name == "decoder" and calls["sae"] == occurrence:
            pause(point)
        return insert_rows(con, table_name, rows, constants)

    def counted_write_sae(con, record, tables):
        calls["sae"] += 1
        write_sae(con, record, tables)
        if point == "sae-committed" and calls["sae"] == occurrence:
            pause(point)

    store.insert_rows = paused_insert_rows
    store.write_sae = counted_write_sae


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    sys.exit(main(sys.argv[3:]))
