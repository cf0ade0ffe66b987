"""The per-row half of a chunk's analysis on CPU: each feature's logits sorted once, in numpy
threads, and read for the histogram, the top and bottom tokens and the token set enrichment.

Why one sort: the enrichment needs every token's rank anyway (``ingest.analysis.enrichment``), and
a sorted row gives the rest for almost nothing. The minimum and maximum are its ends; the k most
promoted and most suppressed tokens are its last and first k; a histogram bin is a monotone
function of the value (``floor((x - low) / width)`` in float64, each step correctly rounded), so
each bin's count is the difference of two binary searches for its first value. What they give is
what ``ingest.analysis.logit_stats`` gives on the whole chunk, bit for bit, with two exceptions that
the caller settles with torch on those rows alone (`RowResults.needs_torch_extremes`,
`RowResults.zero_extreme`): a tie at the edge of the top or bottom k (which of the tied tokens
``torch.topk`` names is its own choice), and a row whose minimum or maximum is zero (which sign
of zero ``amin`` keeps).

numpy releases the GIL inside its loops, so a thread per core runs these rows side by side.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ingest.analysis.enrichment import SetIndex, row_sides
from ingest.analysis.logit_stats import N_HIST_BINS
from ingest.analysis.radix_sort import argsort_row

MAX_EDGE_STEPS = 8  # a bin's first value lies within a float ulp or two of low + b * width


@dataclass
class RowResults:
    """What the row stage fills for a chunk of n features (numpy arrays, row i = feature i of the chunk)."""

    low: np.ndarray  # [n] float64, the minimum
    high: np.ndarray  # [n] float64, the maximum
    hist_counts: np.ndarray  # [n, n_bins] int32
    top_ids: np.ndarray  # [n, k] int64, most promoted first
    top_values: np.ndarray  # [n, k] logits dtype
    bottom_ids: np.ndarray  # [n, k] int64, most suppressed first
    bottom_values: np.ndarray
    needs_torch_extremes: np.ndarray  # [n] bool: ties at the edge of the top or bottom k
    zero_extreme: np.ndarray  # [n] bool: the minimum or maximum is 0.0 or -0.0
    finite: np.ndarray  # [n] bool: no NaN or inf (a row that has one is left half filled)
    amax: np.ndarray | None  # [n, n_sets] int64, enrichment's integer sides (None without sets)
    bmin: np.ndarray | None

    @classmethod
    def allocate(cls, n: int, k: int, dtype: np.dtype, n_sets: int | None) -> RowResults:
        return cls(
            low=np.empty(n),
            high=np.empty(n),
            hist_counts=np.empty((n, N_HIST_BINS), dtype=np.int32),
            top_ids=np.empty((n, k), dtype=np.int64),
            top_values=np.empty((n, k), dtype=dtype),
            bottom_ids=np.empty((n, k), dtype=np.int64),
            bottom_values=np.empty((n, k), dtype=dtype),
            needs_torch_extremes=np.zeros(n, dtype=bool),
            zero_extreme=np.zeros(n, dtype=bool),
            finite=np.zeros(n, dtype=bool),
            amax=None if n_sets is None else np.empty((n, n_sets), dtype=np.int64),
            bmin=None if n_sets is None else np.empty((n, n_sets), dtype=np.int64),
        )


def _bin_of(values: np.ndarray, low: float, width: float, n_bins: int) -> np.ndarray:
    """The bin `logit_stats.histogram` puts each value in: clamp(floor((float64(v) - low) / width), 0, n_bins - 1)."""
    return np.clip(np.floor((values.astype(np.float64) - low) / width), 0, n_bins - 1)


def histogram_from_sorted(asc: np.ndarray, low: float, high: float, n_bins: int = N_HIST_BINS) -> np.ndarray:
    """asc [V] ascending (float32 or float64) with low = asc[0], high = asc[-1] -> counts [n_bins] int64,
    equal to `logit_stats.histogram`'s counts for that row.

    bin(v) is monotone in v, so {v : bin(v) >= b} is every value from some first value t_b up. t_b
    is found exactly among all floats of asc's dtype by stepping from the float nearest
    low + b * width, and the count of bin b is #{v < t_(b+1)} - #{v < t_b}.
    """
    counts = np.zeros(n_bins, dtype=np.int64)
    width = (high - low) / n_bins
    if not width > 0:  # a constant row: histogram() divides by 1 and puts every value in bin 0
        counts[0] = asc.size
        return counts
    bins = np.arange(1, n_bins)
    first = (low + bins * width).astype(asc.dtype)
    down, up = asc.dtype.type(-np.inf), asc.dtype.type(np.inf)
    for _ in range(MAX_EDGE_STEPS):  # step down while the float below is still in bin >= b
        below = np.nextafter(first, down)
        step = _bin_of(below, low, width, n_bins) >= bins
        if not step.any():
            break
        first = np.where(step, below, first)
    for _ in range(MAX_EDGE_STEPS):  # step up while this float is still in a bin < b
        step = _bin_of(first, low, width, n_bins) < bins
        if not step.any():
            break
        first = np.where(step, np.nextafter(first, up), first)
    if (_bin_of(first, low, width, n_bins) < bins).any() or (
        _bin_of(np.nextafter(first, down), low, width, n_bins) >= bins
    ).any():  # never seen; the direct count is exact whatever happened above
        return np.bincount(_bin_of(asc, low, width, n_bins).astype(np.int64), minlength=n_bins)
    edges = np.searchsorted(asc, first, side="left")
    counts[0] = edges[0]
    counts[1:-1] = np.diff(edges)
    counts[-1] = asc.size - edges[-1]
    return counts


def _has_tie(values: np.ndarray) -> bool:
    return bool((values[1:] == values[:-1]).any())


def analyse_row(x: np.ndarray, row: int, out: RowResults, index: SetIndex | None) -> None:
    """Fill row `row` of `out` from one feature's logits x [V]; only `finite` when x has NaN or inf."""
    order = argsort_row(x)
    asc = x[order]
    low, high = float(asc[0]), float(asc[-1])
    # NaN sorts past the infinities, so the ends say whether the row is finite
    out.finite[row] = bool(np.isfinite(low) and np.isfinite(high))
    if not out.finite[row]:
        return
    out.low[row], out.high[row] = low, high
    out.zero_extreme[row] = low == 0 or high == 0
    out.hist_counts[row] = histogram_from_sorted(asc, low, high, out.hist_counts.shape[1])
    k = out.top_ids.shape[1]
    out.top_ids[row] = order[: -k - 1 : -1]
    out.top_values[row] = asc[: -k - 1 : -1]
    out.bottom_ids[row] = order[:k]
    out.bottom_values[row] = asc[:k]
    # without a tie among the k + 1 largest (smallest) values the top (bottom) k are unique, in order
    out.needs_torch_extremes[row] = _has_tie(asc[-k - 1 :]) or _has_tie(asc[: k + 1])
    if index is not None and out.amax is not None and out.bmin is not None:
        out.amax[row], out.bmin[row] = row_sides(order, asc, index)


def analyse_rows(
    x: np.ndarray, out: RowResults, index: SetIndex | None, pool: ThreadPoolExecutor | None, n_threads: int
) -> list[Future[float]]:
    """Start the rows of x [n, V] on `pool` in n_threads contiguous runs (inline when pool is None);
    returns the futures to wait on (empty when run inline), each giving its thread's CPU seconds."""
    n = x.shape[0]

    def work(start: int, stop: int) -> float:
        started = time.thread_time()
        for row in range(start, stop):
            analyse_row(x[row], row, out, index)
        return time.thread_time() - started

    bounds = [(i * n // n_threads, (i + 1) * n // n_threads) for i in range(n_threads)]
    if pool is None:
        for start, stop in bounds:
            work(start, stop)
        return []
    return [pool.submit(work, start, stop) for start, stop in bounds if stop > start]
