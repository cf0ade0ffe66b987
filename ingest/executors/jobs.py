"""What an executor runs: one SAE job, computed whole or as feature ranges merged afterwards.

A job is planned on the driver (``ingest.runner``) once the SAE has been validated and found missing
from the catalog: its ``saes`` row, a loader (the same one the driver validated it with) and the
fingerprint of the weights that were validated. Wherever the job runs, the worker loads the SAE
again through that loader and refuses weights whose fingerprint differs, so a file changed or
corrupted between validation and computation fails the run instead of filling the catalog with
rows from other weights.

Every function here takes the ``SaePipeline`` and ``W_U`` as arguments and never opens the catalog:
the local executor calls them in the driver's process, the Ray executor in its tasks, and the
driver alone writes what they return.

Splitting. ``analyse_range`` analyses the features ``[start, stop)`` of one SAE; ``finish_split``
merges the ranges' analyses in feature order and only then computes the tables, because q-values
are Benjamini-Hochberg over all (feature, set) pairs of the whole SAE. Ranges start at multiples of
the chunk size, so every chunk a range analyses is exactly a chunk of the unsplit run: the merged
result is bit-identical to the unsplit one (tests check it).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from catalog import store
from ingest.analysis.sae_analysis import SaeAnalysis
from ingest.analysis.token_index import TokenFeatureIndex
from ingest.config import DEFAULT_CHUNK_SIZE
from ingest.errors import IngestInputError
from ingest.pipeline import SaePipeline
from ingest.sources.sae import LoadedSae

SaeRows = dict[str, pa.Table]  # the rows of one SAE for store.write_sae, keyed by table
SaeResult = tuple[store.SaeRecord, SaeRows]  # what the single writer commits, one SAE at a time


@dataclass(frozen=True)
class SaeJob:
    """One SAE to compute: planned on the driver, picklable, runnable anywhere the loader can read."""

    record: store.SaeRecord  # its `saes` row (``seconds`` is filled in when computed)
    load: Callable[[], LoadedSae]  # the loader the driver validated it with
    fingerprint: str  # of the weights validated on the driver

    @property
    def sae_id(self) -> str:
        return self.record.sae_id

    @property
    def d_sae(self) -> int:
        return self.record.d_sae


@dataclass(frozen=True)
class RangeAnalysis:
    """The analysis of features ``[start, stop)`` of one SAE and the seconds it took."""

    start: int
    stop: int
    analysis: SaeAnalysis
    index: TokenFeatureIndex | None  # the reverse token index of these features
    seconds: float


def load_validated(job: SaeJob) -> LoadedSae:
    """The job's SAE, loaded again; an error naming it when its weights are not those validated."""
    sae = job.load()
    if sae.fingerprint != job.fingerprint:
        raise IngestInputError(
            f"SAE {job.sae_id} ({sae.folder}) changed after the run validated it (weights fingerprint "
            f"{job.fingerprint[:12]} then, {sae.fingerprint[:12]} now); nothing of it was written: "
            "let the files settle and run again"
        )
    return sae


def compute_whole(job: SaeJob, pipeline: SaePipeline, W_U: torch.Tensor) -> SaeResult:
    """Load one SAE and compute all its rows: ``W_U [d_model, d_vocab]``."""
    started = time.perf_counter()
    sae = load_validated(job)
    return pipeline.compute(sae.W_dec, W_U, job.record, sae.log10_density, started)


def analyse_range(job: SaeJob, start: int, stop: int, pipeline: SaePipeline, W_U: torch.Tensor) -> RangeAnalysis:
    """Load one SAE and analyse its features ``[start, stop)`` (no tables: they need the whole SAE)."""
    started = time.perf_counter()
    sae = load_validated(job)
    label = f"{job.record.sae_name}[{start}:{stop}]"
    analysis, index = pipeline.analyse_range(sae.W_dec[start:stop], W_U, start, label=label)
    return RangeAnalysis(start, stop, analysis, index, time.perf_counter() - started)


def finish_split(job: SaeJob, pipeline: SaePipeline, parts: list[RangeAnalysis]) -> SaeResult:
    """Merge the ranges' analyses of one SAE and compute its rows, q-values over the whole SAE."""
    started = time.perf_counter()
    sae = load_validated(job)  # the decoder rows and the density go into the tables
    merged = merge_analyses(parts, job.d_sae)
    index = merge_token_indexes(parts)
    seconds = sum(part.seconds for part in parts) + time.perf_counter() - started
    return pipeline.finish(job.record, merged, index, sae.W_dec, sae.log10_density, seconds)


def merge_token_indexes(parts: list[RangeAnalysis]) -> TokenFeatureIndex | None:
    """The ranges' reverse token indexes as one (None when the pipeline keeps none)."""
    indexes = [part.index for part in sorted(parts, key=lambda part: part.start) if part.index is not None]
    if not indexes:
        return None
    merged = copy.deepcopy(indexes[0])
    for index in indexes[1:]:
        merged.merge(index)
    return merged


def merge_analyses(parts: list[RangeAnalysis], d_sae: int) -> SaeAnalysis:
    """The ranges' analyses concatenated in feature order; they must tile ``[0, d_sae)`` exactly."""
    ordered = sorted(parts, key=lambda part: part.start)
    bounds = [(part.start, part.stop) for part in ordered]
    starts = [start for start, _ in bounds]
    if starts != [0] + [stop for _, stop in bounds[:-1]] or bounds[-1][1] != d_sae:
        raise ValueError(f"feature ranges {bounds} do not tile [0, {d_sae})")
    analyses = [part.analysis for part in ordered]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(analysis, name) for analysis in analyses])

    has_enrichment = analyses[0].enrichment_d is not None
    return SaeAnalysis(
        columns={name: np.concatenate([a.columns[name] for a in analyses]) for name in analyses[0].columns},
        hist_counts=cat("hist_counts"),
        top_ids=cat("top_ids"),
        top_values=cat("top_values"),
        bottom_ids=cat("bottom_ids"),
        bottom_values=cat("bottom_values"),
        enrichment_d=cat("enrichment_d") if has_enrichment else None,
        enrichment_direction=cat("enrichment_direction") if has_enrichment else None,
    )


def split_alignment(chunk_size: int | None) -> int:
    """The multiple every range starts at: the chunk size, or (when each device picks its own) a
    multiple of every device's default, so that ranges cut no chunk on any worker."""
    return chunk_size or math.lcm(*DEFAULT_CHUNK_SIZE.values())


def feature_ranges(d_sae: int, split_features: int | None, alignment: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``[0, d_sae)``: one range when the SAE is no wider than
    ``split_features`` (or splitting is off), else ranges of ``split_features`` rounded up to ``alignment``."""
    if split_features is None or d_sae <= split_features:
        return [(0, d_sae)]
    width = math.ceil(split_features / alignment) * alignment
    return [(start, min(start + width, d_sae)) for start in range(0, d_sae, width)]
