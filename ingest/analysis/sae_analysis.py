"""One SAE's logit-lens analysis, computed in chunks of features so that memory is bounded by the
chunk size (never by d_sae x d_vocab): moments of raw and cosine logit weights, a 50-bin histogram,
top and bottom tokens, and (optionally) token set enrichment of every feature against every set.

Two ways through a chunk, with the same numbers bit for bit:

- generic (any device, so CUDA): whole-chunk torch ops (``logit_stats``) and the enrichment callable.
- CPU: each row sorted once in numpy threads (``row_stage``: histogram, top tokens and, when the
  enrichment is a ``SetScorer``, the enrichment from that same sort) while the main thread computes
  the moments with torch a few rows at a time (``logit_stats.blocked_moments``). On a 2-core CPU this
  is what makes a GPT-2 layer take well under half the time (README, Performance).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ingest.analysis.enrichment import SetIndex, SetScorer, finish_sides
from ingest.analysis.logit_product import LogitProduct
from ingest.analysis.logit_stats import (
    N_HIST_BINS,
    blocked_moments,
    extremes,
    histogram,
    inverse_token_norms,
    moments,
)
from ingest.analysis.row_stage import RowResults, analyse_rows

# enrichment(logits [C, V]) -> (d [C, n_sets], direction [C, n_sets])
EnrichmentFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# logit_observer(first_feature, logits [C, V]): sees every chunk's logits (issue 12: the reverse token index)
LogitObserver = Callable[[int, torch.Tensor], None]
MOMENT_NAMES = ("mean", "std", "skewness", "kurtosis")
_ROW_DTYPES = (torch.float32, torch.float64)  # what the numpy row stage sorts


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
    # Where the time went, summed over chunks (wall seconds unless named _cpu): "matmul", "moments",
    # "rows" (the CPU row stage, moments alongside), "rows_cpu" (its threads' CPU time), "generic".
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))


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


def _store_moments(result: SaeAnalysis, rows: slice, prefix: str, stats) -> None:
    for name in MOMENT_NAMES:
        result.columns[prefix + name][rows] = getattr(stats, name).cpu().numpy()


def _store_enrichment(result: SaeAnalysis, rows: slice, d, direction) -> None:
    if result.enrichment_d is not None and result.enrichment_direction is not None:
        result.enrichment_d[rows] = d
        result.enrichment_direction[rows] = direction


def _generic_chunk(
    result: SaeAnalysis,
    rows: slice,
    logits: torch.Tensor,
    inverse_norms: torch.Tensor,
    top_k: int,
    enrichment: EnrichmentFn | None,
) -> None:
    """Whole-chunk torch ops on logits [chunk, d_vocab], on whatever device they live."""
    _store_moments(result, rows, "", moments(logits))
    _store_moments(result, rows, "cos_", moments(logits * inverse_norms))
    hist = histogram(logits)
    result.columns["logit_min"][rows] = hist.low.cpu().numpy()
    result.columns["logit_max"][rows] = hist.high.cpu().numpy()
    result.hist_counts[rows] = hist.counts.cpu().numpy()
    ext = extremes(logits, top_k)
    result.top_ids[rows] = ext.top_ids.cpu().numpy()
    result.top_values[rows] = ext.top_values.cpu().numpy()
    result.bottom_ids[rows] = ext.bottom_ids.cpu().numpy()
    result.bottom_values[rows] = ext.bottom_values.cpu().numpy()
    if enrichment is not None:
        d, direction = enrichment(logits)
        _store_enrichment(result, rows, d.cpu().numpy(), direction.cpu().numpy())


def _at_least_two(logits: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    """logits[rows], one row given twice when alone: torch reduces and ranks a batch row by row, the
    way it did in the whole chunk, but splits a lone row's reduction across threads."""
    return logits[torch.from_numpy(np.repeat(rows, 2) if rows.size == 1 else rows)]


def _settle_with_torch(out: RowResults, logits: torch.Tensor, top_k: int) -> None:
    """The rows the sort cannot answer bit for bit (row_stage's docstring), answered by torch."""
    zero = np.flatnonzero(out.zero_extreme)
    if zero.size:
        sub = _at_least_two(logits, zero)
        out.low[zero] = sub.amin(dim=1).to(torch.float64).numpy()[: zero.size]
        out.high[zero] = sub.amax(dim=1).to(torch.float64).numpy()[: zero.size]
    tied = np.flatnonzero(out.needs_torch_extremes)
    if tied.size:
        ext = extremes(_at_least_two(logits, tied), top_k)
        out.top_ids[tied] = ext.top_ids.numpy()[: tied.size]
        out.top_values[tied] = ext.top_values.numpy()[: tied.size]
        out.bottom_ids[tied] = ext.bottom_ids.numpy()[: tied.size]
        out.bottom_values[tied] = ext.bottom_values.numpy()[: tied.size]


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to n meanwhile: the numpy rows already keep every core busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cpu_chunk(
    result: SaeAnalysis,
    rows: slice,
    logits: torch.Tensor,
    inverse_norms: torch.Tensor,
    top_k: int,
    enrichment: EnrichmentFn | None,
    pool: ThreadPoolExecutor,
    n_threads: int,
) -> None:
    """logits [chunk >= 2, d_vocab] on CPU: rows sorted in the pool while the moments run here."""
    index: SetIndex | None = enrichment.index if isinstance(enrichment, SetScorer) else None
    x = logits.numpy()
    out = RowResults.allocate(x.shape[0], top_k, x.dtype, None if index is None else index.n_sets)
    started = time.perf_counter()
    futures = analyse_rows(x, out, index, pool, n_threads)
    with _torch_threads(1):
        raw, cosine = blocked_moments(logits), blocked_moments(logits, inverse_norms)
    result.seconds["moments"] += time.perf_counter() - started
    result.seconds["rows_cpu"] += sum(future.result() for future in futures)
    result.seconds["rows"] += time.perf_counter() - started
    if not out.finite.all():  # NaN or inf: the generic path says what it always said about them
        _generic_chunk(result, rows, logits, inverse_norms, top_k, enrichment)
        return
    _settle_with_torch(out, logits, top_k)
    _store_moments(result, rows, "", raw)
    _store_moments(result, rows, "cos_", cosine)
    result.columns["logit_min"][rows] = out.low
    result.columns["logit_max"][rows] = out.high
    result.hist_counts[rows] = out.hist_counts
    result.top_ids[rows], result.top_values[rows] = out.top_ids, out.top_values
    result.bottom_ids[rows], result.bottom_values[rows] = out.bottom_ids, out.bottom_values
    if index is not None and out.amax is not None and out.bmin is not None:
        _store_enrichment(result, rows, *finish_sides(out.amax, out.bmin, index))
    elif enrichment is not None:
        d, direction = enrichment(logits)
        _store_enrichment(result, rows, d.cpu().numpy(), direction.cpu().numpy())


def analyze_sae(
    W_dec: torch.Tensor,
    W_U: torch.Tensor,
    device: torch.device,
    chunk_size: int,
    top_k: int = 10,
    enrichment: EnrichmentFn | None = None,
    n_sets: int | None = None,
    label: str = "features",
    n_threads: int | None = None,
    logit_observer: LogitObserver | None = None,
    row_stage: bool | None = None,
) -> SaeAnalysis:
    """W_dec [d_sae, d_model], W_U [d_model, d_vocab] -> per-feature statistics (see module doc).

    On CPU, n_threads numpy threads sort the rows (default: torch's intra-op thread count).
    row_stage: None takes the CPU row stage on CPU and the whole-chunk ops elsewhere; False forces
    the whole-chunk ops (the CUDA path, tested on CPU tensors); True on another device is an error."""
    d_sae = W_dec.shape[0]
    top_k = min(top_k, W_U.shape[1])
    result = _allocate(d_sae, top_k, n_sets if enrichment is not None else None)
    W_U_device = W_U.to(device)
    # W_dec @ (W_U / ||W_U[:, t]||) scales column t of W_dec @ W_U by 1/||W_U[:, t]||: no second product.
    inverse_norms = inverse_token_norms(W_U_device)[None, :]
    on_cpu = device.type == "cpu" if row_stage is None else row_stage
    if on_cpu and device.type != "cpu":
        raise ValueError(f"the row stage sorts rows in numpy, on the CPU; it cannot run on {device}")
    product = LogitProduct(W_U_device)
    n_threads = n_threads or torch.get_num_threads() or os.cpu_count() or 1
    pool = ThreadPoolExecutor(n_threads, thread_name_prefix="rows") if on_cpu else nullcontext()
    with torch.no_grad(), pool, tqdm(total=d_sae, desc=label, unit="feat", leave=False) as progress:
        for start in range(0, d_sae, chunk_size):
            rows = slice(start, min(start + chunk_size, d_sae))
            started = time.perf_counter()
            decoder_chunk = W_dec[rows].to(device)
            logits = product(decoder_chunk)  # [chunk, d_vocab]
            result.columns["decoder_norm"][rows] = decoder_chunk.norm(dim=1).double().cpu().numpy()
            result.seconds["matmul"] += time.perf_counter() - started
            if logit_observer is not None:  # the reverse token index folds each chunk's logits
                logit_observer(start, logits)
            if isinstance(pool, ThreadPoolExecutor) and logits.shape[0] >= 2 and logits.dtype in _ROW_DTYPES:
                _cpu_chunk(result, rows, logits, inverse_norms, top_k, enrichment, pool, n_threads)
            else:
                started = time.perf_counter()
                _generic_chunk(result, rows, logits, inverse_norms, top_k, enrichment)
                result.seconds["generic"] += time.perf_counter() - started
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
