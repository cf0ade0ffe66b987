"""Recomputing enrichment after the token set library changed, from the catalog alone.

The catalog stores every model's processed unembedding and every SAE's decoder, so a new or
edited set only needs ``decoder @ unembed.T`` again: no weights are downloaded, and the moments
and top tokens are left as they are.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path

import duckdb
import torch
from tqdm.auto import tqdm

from catalog import store
from catalog.connect import open_read_only, writing
from catalog.vectors import load_decoder, load_unembed
from ingest import tables
from ingest.analysis.sae_analysis import score_enrichment
from ingest.config import DEFAULT_CHUNK_SIZE
from ingest.device import resolve_device
from ingest.enrichment_stage import build_token_sets, prepare_enrichment
from ingest.errors import IngestInputError
from ingest.sources.vocabulary import Vocabulary


def _catalog_vocabulary(con: duckdb.DuckDBPyConnection, model_name: str) -> Vocabulary:
    rows = con.execute("SELECT raw, token FROM tokens WHERE model_name = $m ORDER BY token_id", {"m": model_name}).fetchall()
    return Vocabulary(model_name, [raw for raw, _ in rows], [text for _, text in rows])


def recompute_enrichment(db_path: Path, token_sets_file: Path | None, device_name: str = "auto",
                         chunk_size: int | None = None, n_directions: int = 2048, seed: int = 0) -> list[str]:
    """Rescore every SAE of every model in the catalog against the current library; returns the SAE ids done."""
    device = resolve_device(device_name)
    chunk_size = chunk_size or DEFAULT_CHUNK_SIZE[device.type]
    if chunk_size <= 0:
        raise IngestInputError(f"--chunk-size {chunk_size} must be a positive number of features")
    if n_directions <= 0:
        raise IngestInputError(f"--null-directions {n_directions} must be a positive number of random directions (the enrichment null)")
    reader = open_read_only(db_path)
    try:
        saes_of_model = {}
        for model_name, sae_id in reader.execute("SELECT model_name, sae_id FROM saes ORDER BY sae_id").fetchall():
            saes_of_model.setdefault(model_name, []).append(sae_id)
    finally:
        reader.close()
    if not saes_of_model:
        raise IngestInputError(f"catalog {db_path} holds no SAEs yet; ingest some with `python -m ingest run ... --db {db_path}` first")

    def catalog() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return writing(db_path)

    done = []
    for model_name, sae_ids in saes_of_model.items():
        with catalog() as con:
            W_U = torch.from_numpy(load_unembed(con, model_name)).T.contiguous()
            vocab = _catalog_vocabulary(con, model_name)
        library = build_token_sets(vocab, token_sets_file)
        context = prepare_enrichment(catalog, model_name, W_U, library, n_directions, seed, device)
        for sae_id in tqdm(sae_ids, desc=f"{model_name} SAEs", unit="sae"):
            started = time.perf_counter()
            with catalog() as con:
                W_dec = torch.from_numpy(load_decoder(con, sae_id))
            d, direction = score_enrichment(W_dec, W_U, device, chunk_size, context.score, context.n_sets, label=sae_id)
            p_value, p_null, q_value = context.significance(d)
            rows = tables.enrichment_table(d, direction, p_value, p_null, q_value, context.set_ids)
            with catalog() as con:
                store.write_enrichment(con, sae_id, rows)
            tqdm.write(f"{sae_id}: enrichment for {context.n_sets} sets recomputed in {time.perf_counter() - started:.1f} s")
            done.append(sae_id)
    return done
