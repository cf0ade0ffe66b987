"""One SAE's logit-lens analysis, computed in chunks of features so that memory is bounded by the
chunk size (never by d_sae x d_vocab): moments of raw and cosine logit weights, a 50-bin histogram,
top and bottom tokens, and (optionally) token set enrichment of every feature against every set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ingest.analysis.logit_stats import N_HIST_BINS, extremes, histogram, inverse_token_norms, moments

# enrichment(logits [C, V]) -> (d [C, n_sets], direction [C, n_sets])
EnrichmentFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# logit_observer(first_feature, logits [C, V]): sees every chunk's logits (issue 12: the reverse token index)
LogitObserver = Callable[[int, torch.Tensor], None]
MOMENT_NAMES = ("mean", "std", "skewness", "kurtosis")


@dataclass
class SaeAnalysis:
    """Everything computed for one SAE, as numpy arrays indexed by feature."""

    columns: dict[
        str, np.ndarray
    ]  # features table columns: mean, std, ..., cos_kurtosis, logit_min, logit_max, decoder_norm
    hist_counts: np.ndarray  # [d_sae, n_bins] int32
    top_ids: np.ndarray  # [d_sae, k] int64
    top_values: np.ndarray  # [d_sae, k] float32
    bottom_ids: np.ndarray
    bottom_values: np.ndarray
    enrichment_d: np.ndarray | None  # [d_sae, n_sets] float32
    enrichment_direction: np.ndarray | None  # [d_sae, n_sets] int8


def _allocate(d_sae: int, top_k: int, n_sets: int | None) -> SaeAnalysis:
    names = [*MOMENT_NAMES, *(f"cos_{name}" for name in MOMENT_NAMES), "logit_min", "logit_max", "decoder_norm"]
    return SaeAnalysis(
        columns={name: np.empty(d_sae, dtype=np.float64) for name in names},
        hist_counts=np.empty((d_sae, N_HIST_BINS), dtype=np.int32),
        top_ids=np.empty((d_sae, top_k), dtype=np.int64),
        top_values=np.empty((d_sae, top_k), dtype=np.float32),
        bottom_ids=np.empty((d_sae, top_k), dtype=np.int64),
        bottom_values=np.empty((d_sae, top_k), dtype=np.float32),
        enrichment_d=None if n_sets is None else np.empty((d_sae, n_sets), dtype=np.float32),
        enrichment_direction=None if n_sets is None else np.empty((d_sae, n_sets), dtype=np.int8),
    )


def _store_moments(result: SaeAnalysis, rows: slice, prefix: str, logits: torch.Tensor) -> None:
    stats = moments(logits)
    for name in MOMENT_NAMES:
        result.columns[prefix + name][rows] = getattr(stats, name).cpu().numpy()


def analyze_sae(
    W_dec: torch.Tensor,
    W_U: torch.Tensor,
    device: torch.device,
    chunk_size: int,
    top_k: int = 10,
    enrichment: EnrichmentFn | None = None,
    n_sets: int | None = None,
    label: str = "features",
    logit_observer: LogitObserver | None = None,
) -> SaeAnalysis:
    """W_dec [d_sae, d_model], W_U [d_model, d_vocab] -> per-feature statistics (see module doc)."""
    d_sae = W_dec.shape[0]
    top_k = min(top_k, W_U.shape[1])
    result = _allocate(d_sae, top_k, n_sets if enrichment is not None else None)
    W_U_device = W_U.to(device)
    # W_dec @ (W_U / ||W_U[:, t]||) scales column t of W_dec @ W_U by 1/||W_U[:, t]||: no second product.
    inverse_norms = inverse_token_norms(W_U_device)[None, :]
    with torch.no_grad(), tqdm(total=d_sae, desc=label, unit="feat", leave=False) as progress:
        for start in range(0, d_sae, chunk_size):
            rows = slice(start, min(start + chunk_size, d_sae))
            decoder_chunk = W_dec[rows].to(device)
            logits = decoder_chunk @ W_U_device  # [chunk, d_vocab]
            if logit_observer is not None:  # issue 12: the reverse token index folds each chunk's logits
                logit_observer(start, logits)
            _store_moments(result, rows, "", logits)
            _store_moments(result, rows, "cos_", logits * inverse_norms)
            result.columns["decoder_norm"][rows] = decoder_chunk.norm(dim=1).double().cpu().numpy()
            hist = histogram(logits)
            result.columns["logit_min"][rows] = hist.low.cpu().numpy()
            result.columns["logit_max"][rows] = hist.high.cpu().numpy()
            result.hist_counts[rows] = hist.counts.cpu().numpy()
            ext = extremes(logits, top_k)
            result.top_ids[rows] = ext.top_ids.cpu().numpy()
            result.top_values[rows] = ext.top_values.cpu().numpy()
            result.bottom_ids[rows] = ext.bottom_ids.cpu().numpy()
            result.bottom_values[rows] = ext.bottom_values.cpu().numpy()
            if enrichment is not None and result.enrichment_d is not None and result.enrichment_direction is not None:
                d, direction = enrichment(logits)
                result.enrichment_d[rows] = d.cpu().numpy()
                result.enrichment_direction[rows] = direction.cpu().numpy()
            progress.update(rows.stop - rows.start)
    return result


def score_enrichment(
    W_dec: torch.Tensor,
    W_U: torch.Tensor,
    device: torch.device,
    chunk_size: int,
    enrichment: EnrichmentFn,
    n_sets: int,
    label: str = "features",
) -> tuple[np.ndarray, np.ndarray]:
    """Enrichment alone (d [d_sae, n_sets], direction [d_sae, n_sets]), for a changed token set library."""
    d_sae = W_dec.shape[0]
    d_all = np.empty((d_sae, n_sets), dtype=np.float32)
    direction_all = np.empty((d_sae, n_sets), dtype=np.int8)
    W_U_device = W_U.to(device)
    with torch.no_grad(), tqdm(total=d_sae, desc=label, unit="feat", leave=False) as progress:
        for start in range(0, d_sae, chunk_size):
            rows = slice(start, min(start + chunk_size, d_sae))
            d, direction = enrichment(W_dec[rows].to(device) @ W_U_device)
            d_all[rows] = d.cpu().numpy()
            direction_all[rows] = direction.cpu().numpy()
            progress.update(rows.stop - rows.start)
    return d_all, direction_all
