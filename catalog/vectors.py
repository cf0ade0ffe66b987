"""Reading stored vectors back as dense matrices: the unembedding of a model and an SAE's decoder.

The catalog is self-contained: these two matrices reproduce every stored logit weight
(``decoder[f] @ unembed.T``), so statistics can be recomputed without downloading weights.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from catalog.errors import CatalogError


def _arrow(con: duckdb.DuckDBPyConnection, query: str, params: dict) -> pa.Table:
    # A cursor of its own: a relation cannot run while the connection has an unfinished result.
    cursor = con.cursor()
    try:
        return cursor.sql(query, params=params).to_arrow_table()
    finally:
        cursor.close()


def _matrix(vectors: pa.ChunkedArray) -> np.ndarray:
    lists = vectors.combine_chunks()
    if len(lists) == 0:
        return np.empty((0, 0), dtype=np.float32)
    # A writable copy: torch.from_numpy warns on (and must not write into) Arrow-owned memory.
    flat = np.array(lists.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(len(lists), -1)


def _load(con: duckdb.DuckDBPyConnection, query: str, key: str, what: str, known_query: str) -> np.ndarray:
    """The `vec` column of `query` (bound to $key) as a matrix; an error listing what exists when empty."""
    table = _arrow(con, query, {"key": key})
    if table.num_rows == 0:
        known = [row[0] for row in con.execute(known_query).fetchall()]
        raise CatalogError(f"{what} {key!r} is not in the catalog; {what}s there: {known or 'none'}")
    return _matrix(table.column("vec"))


def load_unembed(con: duckdb.DuckDBPyConnection, model_name: str) -> np.ndarray:
    """[d_vocab, d_model] float32: row t is W_U[:, t]."""
    return _load(
        con,
        "SELECT vec FROM unembed WHERE model_name = $key ORDER BY token_id",
        model_name,
        "model",
        "SELECT model_name FROM models ORDER BY 1",
    )


def decoder_storage(con: duckdb.DuckDBPyConnection, sae_id: str) -> str | None:
    """How ``sae_id``'s decoder vectors are stored ('float32', 'int16', 'none'); None when the SAE is absent."""
    row = con.execute(
        "SELECT coalesce(decoder_storage, 'float32') FROM saes WHERE sae_id = $sae_id", {"sae_id": sae_id}
    ).fetchone()
    return None if row is None else str(row[0])


def load_decoder(con: duckdb.DuckDBPyConnection, sae_id: str) -> np.ndarray:
    """[d_sae, d_in] float32: row f is W_dec[f] (from int16 storage: ``vec_i16 * vec_scale``).

    An SAE ingested with ``--decoder-storage none`` has no vectors: a clear error says so and how to
    get them (re-ingest with vectors), rather than an empty matrix.
    """
    storage = decoder_storage(con, sae_id)
    if storage == "none":
        raise CatalogError(
            f"SAE {sae_id!r} was ingested with --decoder-storage none, so the catalog holds no decoder vectors "
            "for it (needed to rescore its enrichment or rank by exact vectors); re-ingest it with "
            "`llcat-ingest run --force --decoder-storage float32` (or int16)"
        )
    if storage == "int16":
        table = _arrow(
            con, "SELECT vec_i16, vec_scale FROM decoder WHERE sae_id = $key ORDER BY feature", {"key": sae_id}
        )
        quantised = table.column("vec_i16").combine_chunks()
        flat = np.asarray(quantised.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        scale = np.asarray(table.column("vec_scale").to_numpy(), dtype=np.float32)
        return flat.reshape(len(quantised), -1) * scale[:, None]
    return _load(
        con,
        "SELECT vec FROM decoder WHERE sae_id = $key ORDER BY feature",
        sae_id,
        "SAE",
        "SELECT sae_id FROM saes ORDER BY 1",
    )
