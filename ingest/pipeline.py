"""The per-SAE pipeline: analyse a decoder against a model's unembedding, score its token set
enrichment, turn the results into the catalog's tables, and write them in one transaction.

``llcat-ingest run`` and ``demo`` (``ingest.runner``), ``llcat-ingest rescore`` (``ingest.recompute``)
and the benchmark (``benchmarks/ingest_layer.py``) all go through ``SaePipeline``, so the benchmark
measures what users run. Where the decoder comes from differs (an SAE folder, the catalog, a
synthetic layer); everything after that is here. The catalog is opened only for the short reads and
the one write of each SAE, never while it is computed, so readers keep browsing meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import torch

from catalog import store
from catalog.connect import writing
from catalog.vectors import load_decoder
from ingest import tables
from ingest.analysis.sae_analysis import SaeAnalysis, analyze_sae, score_enrichment
from ingest.config import IngestConfig, resolve_device
from ingest.enrichment_stage import CatalogOpener, EnrichmentContext, prepare_enrichment
from ingest.token_sets import TokenSetLibrary


@dataclass(frozen=True)
class SaePipeline:
    """How every SAE of a run is computed and written: the catalog, the device, the chunk size, the
    number of top tokens, and (when scoring enrichment) the token set library with its null."""

    catalog: CatalogOpener  # a short-lived read-write connection (waits out other holders of the lock)
    device: torch.device
    chunk_size: int  # features per chunk: memory is bounded by it, never by d_sae x d_vocab
    top_k: int
    enrichment: EnrichmentContext | None = None

    @classmethod
    def from_config(cls, config: IngestConfig) -> SaePipeline:
        """The pipeline of a validated config: its device resolved (an error when CUDA is asked for and
        absent), its chunk size defaulted by the device, its catalog opened through ``catalog.connect``."""
        device = resolve_device(config.device)
        db = config.db
        return cls(
            catalog=lambda: writing(db), device=device, chunk_size=config.resolve_chunk_size(device), top_k=config.top_k
        )

    def with_library(
        self,
        model_name: str,
        W_U: torch.Tensor,
        library: TokenSetLibrary,
        config: IngestConfig,
        rescore_hint: str | None = None,
    ) -> SaePipeline:
        """This pipeline scoring ``library`` for a model: the library is synced into the catalog and its null
        loaded, or computed (``config.null_directions``, ``config.null_seed``) and stored."""
        context = prepare_enrichment(
            self.catalog,
            model_name,
            W_U,
            library,
            config.null_directions,
            config.null_seed,
            self.device,
            rescore_hint,
            n_holdout=config.null_holdout,
        )
        return replace(self, enrichment=context)

    def analyse(self, W_dec: torch.Tensor, W_U: torch.Tensor, label: str = "features") -> SaeAnalysis:
        """Moments, histogram, top and bottom tokens and (with a library) enrichment d of every feature."""
        context = self.enrichment
        return analyze_sae(
            W_dec,
            W_U,
            self.device,
            self.chunk_size,
            self.top_k,
            enrichment=context.score if context else None,
            n_sets=context.n_sets if context else None,
            label=label,
        )

    def tables(
        self, analysis: SaeAnalysis, W_dec: torch.Tensor, log10_density: torch.Tensor | None
    ) -> dict[str, pa.Table]:
        """The SAE's rows for ``store.write_sae``, keyed by table."""
        rows = {
            "features": tables.features_table(analysis, log10_density),
            "decoder": tables.decoder_table(W_dec),
            "feature_tokens": tables.feature_tokens_table(analysis),
        }
        if analysis.enrichment_d is not None and analysis.enrichment_direction is not None:
            rows["enrichment"] = self.enrichment_rows(analysis.enrichment_d, analysis.enrichment_direction)
        return rows

    def enrichment_rows(self, d: np.ndarray, direction: np.ndarray) -> pa.Table:
        """d and direction [d_sae, n_sets] with p_value, p_null, p_calibrated and q_value, as `enrichment` rows."""
        context = self.enrichment
        if context is None:
            raise ValueError("this pipeline scores no token sets; make it with with_library(...) first")
        p_value, p_null, p_calibrated, q_value = context.significance(d)
        return tables.enrichment_table(d, direction, p_value, p_null, q_value, context.set_ids, p_calibrated)

    def compute(
        self,
        W_dec: torch.Tensor,
        W_U: torch.Tensor,
        record: store.SaeRecord,
        log10_density: torch.Tensor | None = None,
        started: float | None = None,
    ) -> tuple[store.SaeRecord, dict[str, pa.Table]]:
        """Analyse and enrich one whole SAE without touching the catalog: the record (its ``seconds`` the
        time since ``started``, default now) and its rows, ready for ``write``. An executor may run this
        anywhere the tensors are; only ``write`` needs the catalog."""
        started = time.perf_counter() if started is None else started
        analysis = self.analyse(W_dec, W_U, label=record.sae_name)
        rows = self.tables(analysis, W_dec, log10_density)
        return replace(record, seconds=time.perf_counter() - started), rows

    def write(self, record: store.SaeRecord, rows: dict[str, pa.Table]) -> None:
        """Write one whole SAE's rows in one transaction (replacing any earlier rows of the SAE)."""
        with self.catalog() as con:
            store.write_sae(con, record, rows)

    def ingest(
        self,
        W_dec: torch.Tensor,
        W_U: torch.Tensor,
        record: store.SaeRecord,
        log10_density: torch.Tensor | None = None,
        started: float | None = None,
    ) -> store.SaeRecord:
        """``compute`` then ``write``: one whole SAE in one transaction; returns the record written."""
        record, rows = self.compute(W_dec, W_U, record, log10_density, started)
        self.write(record, rows)
        return record

    def rescore(self, sae_id: str, W_U: torch.Tensor) -> None:
        """Recompute one stored SAE's enrichment from its stored decoder, replacing its rows in one transaction;
        the moments and top tokens are left as they are."""
        context = self.enrichment
        if context is None:
            raise ValueError("rescoring needs a token set library; make the pipeline with with_library(...) first")
        with self.catalog() as con:
            W_dec = torch.from_numpy(load_decoder(con, sae_id))
        d, direction = score_enrichment(
            W_dec, W_U, self.device, self.chunk_size, context.score, context.n_sets, label=sae_id
        )
        rows = self.enrichment_rows(d, direction)
        with self.catalog() as con:
            store.write_enrichment(con, sae_id, rows)
