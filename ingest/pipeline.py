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
from ingest.analysis.sae_analysis import LogitObserver, SaeAnalysis, analyze_sae, score_enrichment
from ingest.analysis.token_index import TokenFeatureIndex
from ingest.compact_enrichment import CompactRule, compact_keep, dropped_bounds
from ingest.config import IngestConfig, resolve_device
from ingest.enrichment_stage import CatalogOpener, EnrichmentContext, prepare_enrichment
from ingest.token_sets import TokenSetLibrary


@dataclass(frozen=True)
class StorageOptions:
    """How an SAE's rows are stored (``IngestConfig``'s storage fields; recorded per SAE in ``saes``)."""

    decoder: str = "float32"  # float32 | int16 | none
    enrichment: str = "all"  # all | compact
    top_sets: int = 3
    top_features: int = 100
    max_q: float = 0.05
    token_index_k: int = 2

    @classmethod
    def from_config(cls, config: IngestConfig) -> StorageOptions:
        return cls(
            decoder=config.decoder_storage,
            enrichment=config.enrichment_storage,
            top_sets=config.enrichment_top_sets,
            top_features=config.enrichment_top_features,
            max_q=config.enrichment_max_q,
            token_index_k=config.token_index_k,
        )

    def on_record(self, record: store.SaeRecord, with_enrichment: bool) -> store.SaeRecord:
        """``record`` saying how its rows were stored."""
        compact = with_enrichment and self.enrichment == "compact"
        return replace(
            record,
            decoder_storage=self.decoder,
            enrichment_storage="compact" if compact else "all",
            enrichment_top_sets=self.top_sets if compact else None,
            enrichment_top_features=self.top_features if compact else None,
            enrichment_max_q=self.max_q if compact else None,
            token_index_k=self.token_index_k,
        )


@dataclass(frozen=True)
class SaePipeline:
    """How every SAE of a run is computed and written: the catalog, the device, the chunk size, the
    number of top tokens, and (when scoring enrichment) the token set library with its null."""

    catalog: CatalogOpener  # a short-lived read-write connection (waits out other holders of the lock)
    device: torch.device
    chunk_size: int  # features per chunk: memory is bounded by it, never by d_sae x d_vocab
    top_k: int
    enrichment: EnrichmentContext | None = None
    storage: StorageOptions = StorageOptions()

    @classmethod
    def from_config(cls, config: IngestConfig) -> SaePipeline:
        """The pipeline of a validated config: its device resolved (an error when CUDA is asked for and
        absent), its chunk size defaulted by the device, its catalog opened through ``catalog.connect``."""
        device = resolve_device(config.device)
        db = config.db
        return cls(
            catalog=lambda: writing(db),
            device=device,
            chunk_size=config.resolve_chunk_size(device),
            top_k=config.top_k,
            storage=StorageOptions.from_config(config),
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

    def analyse(
        self,
        W_dec: torch.Tensor,
        W_U: torch.Tensor,
        label: str = "features",
        logit_observer: LogitObserver | None = None,
    ) -> SaeAnalysis:
        """Moments, histogram, top and bottom tokens and (with a library) enrichment d of every feature;
        ``logit_observer`` sees every chunk's logits (the reverse token index folds them)."""
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
            logit_observer=logit_observer,
        )

    def tables(
        self, analysis: SaeAnalysis, W_dec: torch.Tensor, log10_density: torch.Tensor | None
    ) -> dict[str, pa.Table]:
        """The SAE's rows for ``store.write_sae``, keyed by table."""
        rows = {
            "features": tables.features_table(analysis, log10_density),
            "feature_tokens": tables.feature_tokens_table(analysis),
        }
        decoder = tables.decoder_table(W_dec, self.storage.decoder)
        if decoder is not None:
            rows["decoder"] = decoder
        if analysis.enrichment_d is not None and analysis.enrichment_direction is not None:
            compact = self.storage.enrichment == "compact"
            rows |= self.enrichment_rows(analysis.enrichment_d, analysis.enrichment_direction, compact)
        return rows

    def enrichment_rows(self, d: np.ndarray, direction: np.ndarray, compact: bool = False) -> dict[str, pa.Table]:
        """d and direction [d_sae, n_sets] with p_value, p_null, p_calibrated and q_value, as `enrichment`
        rows: every pair, or (``compact``) the pairs ``ingest.compact_enrichment`` keeps, with the
        `enrichment_dropped` bound of each set."""
        context = self.enrichment
        if context is None:
            raise ValueError("this pipeline scores no token sets; make it with with_library(...) first")
        p_value, p_null, p_calibrated, q_value = context.significance(d)
        if not compact:
            return {
                "enrichment": tables.enrichment_table(
                    d, direction, p_value, p_null, q_value, context.set_ids, p_calibrated
                )
            }
        rule = CompactRule(self.storage.top_sets, self.storage.top_features, self.storage.max_q)
        keep = compact_keep(d, direction, p_calibrated, q_value, context.set_names, context.index.set_sizes, rule)
        n_dropped, d_dropped_max = dropped_bounds(d, keep)
        return {
            "enrichment": tables.enrichment_table(
                d, direction, p_value, p_null, q_value, context.set_ids, p_calibrated, keep=keep
            ),
            "enrichment_dropped": tables.enrichment_dropped_table(context.set_ids, n_dropped, d_dropped_max),
        }

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
        analysis, index = self.analyse_range(W_dec, W_U, 0, label=record.sae_name)
        return self.finish(record, analysis, index, W_dec, log10_density, time.perf_counter() - started)

    def analyse_range(
        self, W_dec: torch.Tensor, W_U: torch.Tensor, first_feature: int, label: str = "features"
    ) -> tuple[SaeAnalysis, TokenFeatureIndex | None]:
        """``analyse`` of the features ``W_dec [n, d_model]`` that start at ``first_feature``, with the reverse
        token index of those features (None when the pipeline keeps none). Ranges of one SAE merge into
        exactly what one pass gives (``ingest.executors.jobs.merge_analyses``, ``TokenFeatureIndex.merge``)."""
        k = self.storage.token_index_k
        index = TokenFeatureIndex(W_U.shape[1], k) if k > 0 else None

        def fold(start: int, logits: torch.Tensor) -> None:
            if index is not None:
                index.fold(first_feature + start, logits)

        return self.analyse(W_dec, W_U, label=label, logit_observer=fold if index else None), index

    def finish(
        self,
        record: store.SaeRecord,
        analysis: SaeAnalysis,
        index: TokenFeatureIndex | None,
        W_dec: torch.Tensor,
        log10_density: torch.Tensor | None,
        seconds: float,
    ) -> tuple[store.SaeRecord, dict[str, pa.Table]]:
        """The whole SAE's record and rows from its analysis and token index (q-values need the whole SAE)."""
        started = time.perf_counter()
        rows = self.tables(analysis, W_dec, log10_density)
        if index is not None:
            rows["token_features"] = tables.token_features_table(index)
        record = self.storage.on_record(record, with_enrichment="enrichment" in rows)
        return replace(record, seconds=seconds + time.perf_counter() - started), rows

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
            stored = store.sae_storage(con, sae_id)
        d, direction = score_enrichment(
            W_dec, W_U, self.device, self.chunk_size, context.score, context.n_sets, label=sae_id
        )
        # A compact SAE stays compact, with the rule it was written with.
        compact = stored.enrichment_storage == "compact"
        rule = StorageOptions(
            enrichment=stored.enrichment_storage,
            top_sets=stored.enrichment_top_sets or self.storage.top_sets,
            top_features=stored.enrichment_top_features or self.storage.top_features,
            max_q=self.storage.max_q if stored.enrichment_max_q is None else stored.enrichment_max_q,
        )
        rows = replace(self, storage=rule).enrichment_rows(d, direction, compact)
        with self.catalog() as con:
            store.write_enrichment(con, sae_id, rows["enrichment"], rows.get("enrichment_dropped"))
