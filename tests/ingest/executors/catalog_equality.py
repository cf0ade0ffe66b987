"""Two catalogs compared value for value, bit for bit, apart from run timings and provenance.

Every base table is read in full, ordered by all its columns, and each column is compared as bits:
floats by their IEEE patterns (so -0.0 differs from 0.0 and NaN payloads count), lists by their
lengths and flattened values, and nulls by their positions. Left out: the `runs` table (one row per
run: its config, timings, versions), when a migration was applied, which run wrote a model or
an SAE and how long the SAE took, and the SAEs' `sae_key` numbers: they follow the order in which
SAEs were written (parallel workers finish in any order), so each catalog is checked instead to copy
every SAE's key onto its rows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tests.ingest.catalog_snapshot import BASE_TABLES

PROVENANCE = {
    "runs": None,
    "schema_migrations": ["applied_at"],
    "models": ["run_id"],
    "saes": ["run_id", "seconds", "sae_key"],
    "features": ["sae_key"],
    "feature_tokens": ["sae_key"],
    "enrichment": ["sae_key"],
}
KEYED_TABLES = ("features", "feature_tokens", "enrichment")


def column_bits(array: pa.Array) -> list[np.ndarray]:
    """An array as plain numpy arrays whose equality is bit equality: null mask, then the values."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    parts = [array.is_null().to_numpy(zero_copy_only=False)]
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type) or pa.types.is_fixed_size_list(array.type):
        return [
            *parts,
            pc.list_value_length(array).fill_null(-1).to_numpy(zero_copy_only=False),
            *column_bits(array.flatten()),
        ]
    values = array.drop_null().to_numpy(zero_copy_only=False)  # the null mask above says where nulls are
    if pa.types.is_floating(array.type):
        width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[values.dtype.itemsize]
        return [*parts, np.ascontiguousarray(values).view(width)]
    return [*parts, values]


def table_contents(con: duckdb.DuckDBPyConnection, table: str) -> pa.Table:
    excluded = PROVENANCE.get(table, [])
    exclude = f" EXCLUDE ({', '.join(excluded)})" if excluded else ""
    return con.sql(f"SELECT *{exclude} FROM {table} ORDER BY ALL").to_arrow_table()


def key_mismatches(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Tables with rows whose sae_key is not their SAE's, and SAEs that share a key."""
    found = [
        f"{path.name}: {table}.sae_key is not saes.sae_key"
        for table in KEYED_TABLES
        if con.execute(
            f"SELECT count(*) FROM {table} AS t LEFT JOIN saes AS s ON s.sae_id = t.sae_id"
            " WHERE t.sae_key IS DISTINCT FROM s.sae_key"
        ).fetchall()[0][0]
    ]
    if con.execute("SELECT count(DISTINCT sae_key) <> count(*) FROM saes").fetchall()[0][0]:
        found.append(f"{path.name}: saes.sae_key is not unique")
    return found


def differences(first: Path, second: Path) -> list[str]:
    """Every table and column in which the two catalogs differ (empty when they are identical)."""
    found = []
    cons = [duckdb.connect(str(path), read_only=True) for path in (first, second)]
    try:
        for con, path in zip(cons, (first, second), strict=True):
            found += key_mismatches(con, path)
        for table in BASE_TABLES:
            if table in PROVENANCE and PROVENANCE[table] is None:
                continue
            a, b = (table_contents(con, table) for con in cons)
            if a.column_names != b.column_names or a.num_rows != b.num_rows:
                found.append(f"{table}: {a.num_rows} rows {a.column_names} vs {b.num_rows} rows {b.column_names}")
                continue
            for name in a.column_names:
                bits_a, bits_b = column_bits(a.column(name)), column_bits(b.column(name))
                if len(bits_a) != len(bits_b) or not all(
                    np.array_equal(x, y) for x, y in zip(bits_a, bits_b, strict=True)
                ):
                    found.append(f"{table}.{name} differs")
    finally:
        for con in cons:
            con.close()
    return found
