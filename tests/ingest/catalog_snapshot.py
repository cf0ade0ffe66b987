"""A fingerprint of every base table's contents, to prove that a failed command changed nothing."""

from pathlib import Path

import duckdb

BASE_TABLES = (
    "schema_migrations",
    "runs",
    "models",
    "tokens",
    "unembed",
    "saes",
    "features",
    "decoder",
    "feature_tokens",
    "token_sets",
    "token_set_members",
    "enrichment_null",
    "enrichment",
    "enrichment_dropped",
    "token_features",
    "sae_feature_summary",
)


def snapshot(db_path: Path) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            table: con.execute(f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {table} t").fetchone()
            for table in BASE_TABLES
        }
    finally:
        con.close()
