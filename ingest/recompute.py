"""Recomputing enrichment after the token set library changed, from the catalog alone.

The catalog stores every model's processed unembedding and every SAE's decoder, so a new or
edited set only needs ``decoder @ unembed.T`` again: no weights are downloaded, and the moments
and top tokens are left as they are.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import torch
from tqdm.auto import tqdm

from catalog import store
from catalog.connect import open_read_only, writing
from catalog.vectors import load_decoder, load_unembed
from ingest import tables
from ingest.analysis.sae_analysis import score_enrichment
from ingest.catalog_model import catalog_vocabulary
from ingest.config import DEFAULT_CHUNK_SIZE
from ingest.device import resolve_device
from ingest.enrichment_stage import CatalogOpener, EnrichmentContext, build_token_sets, prepare_enrichment
from ingest.errors import IngestInputError
from ingest.set_consistency import check_stored_sets, drop_token_sets
from ingest.token_sets import TokenSetLibrary


@dataclass
class _ModelPlan:
    """One model's rescoring, prepared from the catalog before anything is written."""

    model_name: str
    sae_ids: list[str]
    W_U: torch.Tensor            # [d_model, d_vocab]
    library: TokenSetLibrary
    to_drop: list[str]           # stored sets the library lacks, dropped on request


def _check_options(chunk_size: int, n_directions: int) -> None:
    if chunk_size <= 0:
        raise IngestInputError(f"--chunk-size {chunk_size} must be a positive number of features")
    if n_directions <= 0:
        raise IngestInputError(f"--null-directions {n_directions} must be a positive number of random directions (the enrichment null)")


def _saes_by_model(db_path: Path) -> dict[str, list[str]]:
    if not Path(db_path).exists():
        raise IngestInputError(
            f"catalog {db_path} does not exist, so there is no enrichment to recompute; build it first with "
            f"`python -m ingest demo --db {db_path}` or `python -m ingest run --release gpt2-small-res-jb --db {db_path}`, "
            "or pass --db with an existing catalog")
    reader = open_read_only(db_path)
    try:
        rows = reader.execute("SELECT model_name, sae_id FROM saes ORDER BY sae_id").fetchall()
    finally:
        reader.close()
    saes_of_model: dict[str, list[str]] = {}
    for model_name, sae_id in rows:
        saes_of_model.setdefault(model_name, []).append(sae_id)
    if not saes_of_model:
        raise IngestInputError(f"catalog {db_path} holds no SAEs yet, so there is no enrichment to recompute; ingest some "
                               f"with `python -m ingest run --release gpt2-small-res-jb --db {db_path}` first")
    return saes_of_model


def _plan(db_path: Path, token_sets_file: Path | None, drop_missing_sets: bool) -> list[_ModelPlan]:
    """Each model's library, checked against the sets the catalog holds: stops before any write."""
    plans = []
    for model_name, sae_ids in _saes_by_model(db_path).items():
        reader = open_read_only(db_path)
        try:
            W_U = torch.from_numpy(load_unembed(reader, model_name)).T.contiguous()
            vocab = catalog_vocabulary(reader, model_name)
        finally:
            reader.close()
        library = build_token_sets(vocab, token_sets_file)
        reader = open_read_only(db_path)
        try:
            to_drop = check_stored_sets(reader, db_path, model_name, library, drop_missing_sets)
        finally:
            reader.close()
        plans.append(_ModelPlan(model_name, sae_ids, W_U, library, to_drop))
    return plans


def recompute_enrichment(db_path: Path, token_sets_file: Path | None, device_name: str = "auto",
                         chunk_size: int | None = None, n_directions: int = 2048, seed: int = 0,
                         drop_missing_sets: bool = False) -> list[str]:
    """Rescore every SAE of every model in the catalog against the current library; returns the SAE ids done.

    Every model's library is built and checked first: a stored set the library cannot build stops the
    command before anything is written, unless ``drop_missing_sets`` (then those sets are deleted).
    """
    device = resolve_device(device_name)
    chunk_size = chunk_size or DEFAULT_CHUNK_SIZE[device.type]
    _check_options(chunk_size, n_directions)
    plans = _plan(db_path, token_sets_file, drop_missing_sets)

    def catalog() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return writing(db_path)

    done = []
    for plan in plans:
        with catalog() as con:
            drop_token_sets(con, plan.model_name, plan.to_drop)
        context = prepare_enrichment(catalog, plan.model_name, plan.W_U, plan.library, n_directions, seed, device)
        for sae_id in tqdm(plan.sae_ids, desc=f"{plan.model_name} SAEs", unit="sae"):
            _rescore_sae(catalog, sae_id, plan.W_U, context, device, chunk_size)
            done.append(sae_id)
    return done


def _rescore_sae(catalog: CatalogOpener, sae_id: str, W_U: torch.Tensor, context: EnrichmentContext,
                 device: torch.device, chunk_size: int) -> None:
    started = time.perf_counter()
    with catalog() as con:
        W_dec = torch.from_numpy(load_decoder(con, sae_id))
    d, direction = score_enrichment(W_dec, W_U, device, chunk_size, context.score, context.n_sets, label=sae_id)
    p_value, p_null, q_value = context.significance(d)
    rows = tables.enrichment_table(d, direction, p_value, p_null, q_value, context.set_ids)
    with catalog() as con:
        store.write_enrichment(con, sae_id, rows)
    tqdm.write(f"{sae_id}: enrichment for {context.n_sets} sets recomputed in {time.perf_counter() - started:.1f} s")
