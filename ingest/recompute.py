"""``llcat-ingest rescore``: recomputing enrichment after the token set library changed, from the
catalog alone.

The catalog stores every model's processed unembedding and every SAE's decoder, so a new or
edited set only needs ``decoder @ unembed.T`` again: no weights are downloaded, and the moments
and top tokens are left as they are. Each SAE goes through the same pipeline as an ingest
(``SaePipeline.rescore``), one transaction per SAE.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from catalog.connect import open_read_only
from catalog.vectors import load_unembed
from ingest.catalog_model import catalog_vocabulary
from ingest.config import IngestConfig
from ingest.enrichment_stage import build_token_sets
from ingest.errors import IngestInputError
from ingest.pipeline import SaePipeline
from ingest.set_consistency import check_stored_sets, drop_token_sets
from ingest.token_sets import TokenSetLibrary

log = logging.getLogger(__name__)


@dataclass
class _ModelPlan:
    """One model's rescoring, prepared from the catalog before anything is written."""

    model_name: str
    sae_ids: list[str]
    W_U: torch.Tensor  # [d_model, d_vocab]
    library: TokenSetLibrary
    to_drop: list[str]  # stored sets the library lacks, dropped on request


def _saes_by_model(db_path: Path) -> dict[str, list[str]]:
    if not Path(db_path).exists():
        raise IngestInputError(
            f"catalog {db_path} does not exist, so there is no enrichment to recompute; build it first with "
            f"`llcat-ingest demo --db {db_path}` or `llcat-ingest run --release gpt2-small-res-jb --db {db_path}`, "
            "or pass --db with an existing catalog"
        )
    reader = open_read_only(db_path)
    try:
        rows = reader.execute("SELECT model_name, sae_id FROM saes ORDER BY sae_id").fetchall()
    finally:
        reader.close()
    saes_of_model: dict[str, list[str]] = {}
    for model_name, sae_id in rows:
        saes_of_model.setdefault(model_name, []).append(sae_id)
    if not saes_of_model:
        raise IngestInputError(
            f"catalog {db_path} holds no SAEs yet, so there is no enrichment to recompute; ingest "
            f"some with `llcat-ingest run --release gpt2-small-res-jb --db {db_path}` first"
        )
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


def recompute_enrichment(config: IngestConfig) -> list[str]:
    """Rescore every SAE of every model in the catalog ``config.db`` against the current library (the
    built-in sets and ``config.token_sets_file``); returns the SAE ids done.

    Every model's library is built and checked first: a stored set the library cannot build stops the
    command before anything is written, unless ``config.drop_missing_sets`` (then those sets are deleted).
    """
    pipeline = SaePipeline.from_config(config)
    plans = _plan(Path(config.db), config.token_sets_file, config.drop_missing_sets)
    done = []
    for plan in plans:
        with pipeline.catalog() as con:
            drop_token_sets(con, plan.model_name, plan.to_drop)
        scoring = pipeline.with_library(plan.model_name, plan.W_U, plan.library, config)
        for sae_id in tqdm(plan.sae_ids, desc=f"{plan.model_name} SAEs", unit="sae"):
            started = time.perf_counter()
            scoring.rescore(sae_id, plan.W_U)
            log.info(
                "%s: enrichment for %d sets recomputed in %.1f s",
                sae_id,
                len(plan.library.sets),
                time.perf_counter() - started,
            )
            done.append(sae_id)
    return done
