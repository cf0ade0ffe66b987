"""The write API that ingest uses. Every SAE goes in as one transaction: a crash or an error
leaves the catalog exactly as it was before that SAE.

Rows arrive as Arrow tables whose column names match `sql/schema.sql`; Arrow keeps the
multi-million-row writes (enrichment, top tokens) columnar end to end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache

import duckdb
import pyarrow as pa

from catalog.errors import CatalogError
from catalog.paths import WRITES_DIR

# Tables keyed by sae_id that make up one SAE's analysis, in the order they are written.
SAE_TABLES = ("features", "decoder", "feature_tokens", "enrichment", "token_features", "enrichment_dropped")
# Of those, the tables whose rows also carry saes.sae_key (schema v6): the ones queries join on a
# handful of picked features, where an integer key lets DuckDB's zone maps skip other SAEs' row groups.
KEYED_TABLES = frozenset({"features", "feature_tokens", "enrichment"})
# Per-SAE summaries derived from its rows (schema v6), rebuilt whenever the SAE is written.
SUMMARY_TABLES = ("sae_feature_summary",)

# How an SAE's decoder vectors and enrichment pairs are stored (saes.decoder_storage, saes.enrichment_storage).
DECODER_STORAGE = ("float32", "int16", "none")
ENRICHMENT_STORAGE = ("all", "compact")


@dataclass(frozen=True)
class SaeRecord:
    """One row of `saes`."""

    sae_id: str
    release: str
    sae_name: str
    hook_name: str
    layer: int
    model_name: str
    d_in: int
    d_sae: int
    neuronpedia_id: str | None
    source: str
    weights_fingerprint: str
    analysis_version: int
    has_sparsity: bool
    cfg_json: str
    run_id: str
    seconds: float
    hook_kind: str | None = None  # embed, resid_pre, attn_z, ... (ingest/sources/hooks.py)
    logit_mapping: str | None = None  # e.g. 'W_dec @ W_U'
    hook_position: int | None = None  # sort key within the model
    # schema v5: how the rows were stored (the defaults are what every catalog before v5 holds)
    decoder_storage: str = "float32"
    enrichment_storage: str = "all"
    enrichment_top_sets: int | None = None
    enrichment_top_features: int | None = None
    enrichment_max_q: float | None = None
    token_index_k: int = 0


@dataclass(frozen=True)
class ModelRecord:
    """One row of `models`."""

    model_name: str
    d_model: int
    d_vocab: int
    source: str
    processing: str
    fingerprint: str
    run_id: str


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # DuckDB already ended the transaction (e.g. the database was invalidated): keep the original error
        raise
    con.execute("COMMIT")


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    rows: pa.Table,
    constants: Mapping[str, str | int] | None = None,
) -> None:
    """Append `rows`, adding each of `constants` (e.g. sae_id, sae_key) as a column of every row."""
    # table_name and the constants' names come from this module, never from a user; values are bound.
    constants = dict(constants or {})
    extra = "".join(
        f"${name}::{'INTEGER' if isinstance(value, int) else 'VARCHAR'} AS {name}, "
        for name, value in constants.items()
    )
    con.register("incoming_rows", rows)
    try:
        con.execute(f"INSERT INTO {table_name} BY NAME SELECT {extra}* FROM incoming_rows", constants)
    finally:
        con.unregister("incoming_rows")


def insert_record(con: duckdb.DuckDBPyConnection, table_name: str, record: Mapping[str, object]) -> None:
    insert_rows(con, table_name, pa.Table.from_pylist([dict(record)]))


def sae_is_current(
    con: duckdb.DuckDBPyConnection, sae_id: str, weights_fingerprint: str, analysis_version: int
) -> bool:
    """True when the catalog already holds this SAE from the same weights and analysis version."""
    row = con.execute(
        "SELECT count(*) FROM saes WHERE sae_id = $sae_id AND weights_fingerprint = $fingerprint"
        " AND analysis_version = $version",
        {"sae_id": sae_id, "fingerprint": weights_fingerprint, "version": analysis_version},
    ).fetchone()
    return row is not None and bool(row[0])


def model_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """model_name -> fingerprint of its stored unembedding, for every model in the catalog."""
    return dict(con.execute("SELECT model_name, fingerprint FROM models").fetchall())


def write_model(con: duckdb.DuckDBPyConnection, model: ModelRecord, tokens: pa.Table, unembed: pa.Table) -> bool:
    """Store a model's vocabulary and unembedding once; returns False when it was already there.

    A different unembedding under a known name would silently invalidate every stored SAE of that
    model, so it is refused.
    """
    stored = model_fingerprints(con).get(model.model_name)
    if stored == model.fingerprint:
        return False
    if stored is not None:
        raise CatalogError(
            f"model {model.model_name!r} is already in the catalog with a different unembedding "
            f"(fingerprint {stored[:12]} there, {model.fingerprint[:12]} now); ingest it under another "
            "name with --model-name, or into a new --db"
        )
    with transaction(con):
        insert_record(con, "models", asdict(model))
        insert_rows(con, "tokens", tokens, {"model_name": model.model_name})
        insert_rows(con, "unembed", unembed, {"model_name": model.model_name})
    return True


def write_sae(con: duckdb.DuckDBPyConnection, record: SaeRecord, tables: Mapping[str, pa.Table]) -> None:
    """Replace everything stored for `record.sae_id` with the given rows, atomically.

    The SAE keeps its `sae_key` when it is written again (a new SAE gets the next free one), and its
    row of `sae_feature_summary` is computed from the features just written."""
    unknown = set(tables) - set(SAE_TABLES)
    if unknown:
        raise ValueError(f"write_sae got tables {sorted(unknown)}; it writes only {SAE_TABLES}")
    with transaction(con):
        sae_key = sae_key_for(con, record.sae_id)
        delete_sae_rows(con, record.sae_id)
        insert_rows(con, "saes", pa.Table.from_pylist([asdict(record)]), {"sae_key": sae_key})
        for table_name in SAE_TABLES:
            if table_name in tables:
                keys: dict[str, str | int] = {"sae_id": record.sae_id}
                if table_name in KEYED_TABLES:
                    keys["sae_key"] = sae_key
                insert_rows(con, table_name, tables[table_name], keys)
        con.execute(_summary_sql(), {"sae_id": record.sae_id})


def sae_key_for(con: duckdb.DuckDBPyConnection, sae_id: str) -> int:
    """The stored SAE's `sae_key`, or the next free one for an SAE not yet in the catalog."""
    rows = con.execute(
        "SELECT coalesce((SELECT max(sae_key) FROM saes WHERE sae_id = $sae_id),"
        " (SELECT coalesce(max(sae_key), 0) + 1 FROM saes))",
        {"sae_id": sae_id},
    ).fetchall()  # every row fetched: DuckDB 2 refuses the next statement while a result is unfinished
    return int(rows[0][0])


@cache
def _summary_sql() -> str:
    return (WRITES_DIR / "sae_feature_summary.sql").read_text(encoding="utf-8")


def write_enrichment(
    con: duckdb.DuckDBPyConnection, sae_id: str, rows: pa.Table, dropped: pa.Table | None = None
) -> None:
    """Replace one SAE's enrichment rows (after the token set library changed), atomically; ``dropped``
    are a compact SAE's `enrichment_dropped` rows."""
    with transaction(con):
        sae_key = sae_key_for(con, sae_id)
        for table_name in ("enrichment", "enrichment_dropped"):
            con.execute(f"DELETE FROM {table_name} WHERE sae_id = $sae_id", {"sae_id": sae_id})
        insert_rows(con, "enrichment", rows, {"sae_id": sae_id, "sae_key": sae_key})
        if dropped is not None:
            insert_rows(con, "enrichment_dropped", dropped, {"sae_id": sae_id})


@dataclass(frozen=True)
class SaeStorage:
    """How one stored SAE's rows were written (the schema v5 columns of `saes`)."""

    decoder_storage: str
    enrichment_storage: str
    enrichment_top_sets: int | None
    enrichment_top_features: int | None
    enrichment_max_q: float | None
    token_index_k: int


def sae_storage(con: duckdb.DuckDBPyConnection, sae_id: str) -> SaeStorage:
    """The storage modes ``sae_id`` was written with (an error naming the stored SAEs when it is absent)."""
    row = con.execute(
        "SELECT coalesce(decoder_storage, 'float32'), coalesce(enrichment_storage, 'all'), enrichment_top_sets,"
        " enrichment_top_features, enrichment_max_q, coalesce(token_index_k, 0) FROM saes WHERE sae_id = $sae_id",
        {"sae_id": sae_id},
    ).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT sae_id FROM saes ORDER BY 1").fetchall()]
        raise CatalogError(f"SAE {sae_id!r} is not in the catalog; SAEs there: {known or 'none'}")
    return SaeStorage(*row)


def delete_sae_rows(con: duckdb.DuckDBPyConnection, sae_id: str) -> None:
    for table_name in (*SAE_TABLES, *SUMMARY_TABLES, "saes"):
        con.execute(f"DELETE FROM {table_name} WHERE sae_id = $sae_id", {"sae_id": sae_id})


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    project_version: str,
    analysis_version: int,
    device: str,
    config: Mapping[str, object],
    library_versions: Mapping[str, str],
) -> None:
    """Record that a run began, so that every row it writes can point at its config."""
    insert_record(
        con,
        "runs",
        {
            "run_id": run_id,
            "started_at": datetime.now(UTC).replace(tzinfo=None),
            "finished_at": None,
            "project_version": project_version,
            "analysis_version": analysis_version,
            "device": device,
            "config_json": json.dumps(dict(config), sort_keys=True, default=str),
            "timings_json": None,
            "status": "running",
            "library_versions": json.dumps(dict(library_versions), sort_keys=True),
        },
    )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, timings: Mapping[str, object]) -> None:
    con.execute(
        "UPDATE runs SET finished_at = $finished_at, status = $status, timings_json = $timings WHERE run_id = $run_id",
        {
            "finished_at": datetime.now(UTC).replace(tzinfo=None),
            "status": status,
            "timings": json.dumps(dict(timings), sort_keys=True, default=str),
            "run_id": run_id,
        },
    )
