"""Per-feature statistics of logit weights, one chunk of features at a time.

A feature's logit weights are ``W_dec[f] @ W_U``: one number per vocabulary token saying how much
writing the feature's direction into the residual stream raises or lowers that token's logit.
The *cosine* variant divides each token's unembedding column by its norm first, so that tokens
with large unembeddings do not dominate (the notebook's ``cosine_sim=True``).

Moments are the population ones over the vocabulary (divide by V): skewness ``mean(z**3)`` and
kurtosis ``mean(z**4)`` with ``z = (x - mean) / std``, so a Gaussian has kurtosis 3 (not excess).
They equal ``scipy.stats.skew(bias=True)`` and ``scipy.stats.kurtosis(fisher=False, bias=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

N_HIST_BINS = 50  # Neuronpedia and SAEDashboard show 50 bins


@dataclass(frozen=True)
class Moments:
    mean: torch.Tensor  # [n_features] float64
    std: torch.Tensor
    skewness: torch.Tensor
    kurtosis: torch.Tensor


@dataclass(frozen=True)
class Histogram:
    low: torch.Tensor  # [n_features] float64: left edge of the first bin (the minimum)
    high: torch.Tensor  # [n_features] float64: right edge of the last bin (the maximum)
    counts: torch.Tensor  # [n_features, n_bins] int32


@dataclass(frozen=True)
class Extremes:
    top_ids: torch.Tensor  # [n_features, k] int64, most promoted first
    top_values: torch.Tensor  # [n_features, k] float32
    bottom_ids: torch.Tensor  # [n_features, k] int64, most suppressed first
    bottom_values: torch.Tensor


def inverse_token_norms(W_U: torch.Tensor) -> torch.Tensor:
    """[d_vocab]: 1 / ||W_U[:, t]|| (0 for a zero column, which then stays zero)."""
    norms = W_U.norm(dim=0)
    return torch.where(norms > 0, 1.0 / torch.where(norms > 0, norms, torch.ones_like(norms)), torch.zeros_like(norms))


def cosine_unembed(W_U: torch.Tensor) -> torch.Tensor:
    """W_U [d_model, d_vocab] with each token's column scaled to unit norm (zero columns stay zero)."""
    return W_U * inverse_token_norms(W_U)[None, :]


def moments(logits: torch.Tensor) -> Moments:
    """Population moments of each row of `logits` [n_features, d_vocab], accumulated in float64.

    One float64 copy is centred in place and one scratch buffer holds its powers in turn: at GPT-2
    scale the temporaries, not the arithmetic, are what costs.
    """
    # copy=True: float64 logits would otherwise be centred in place, under the caller's feet
    centred = logits.to(torch.float64, copy=True)
    return finish_moments(*_central_sums(centred, torch.empty_like(centred)))


def _central_sums(centred: torch.Tensor, power: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """centred [n, V] float64 (the values; centred in place), power [n, V] scratch -> the row means of
    x, (x - mean)^2, (x - mean)^3 and (x - mean)^4, each [n]."""
    mean = centred.mean(dim=1)
    centred.sub_(mean[:, None])
    torch.square(centred, out=power)
    variance = power.mean(dim=1)
    power.mul_(centred)
    third = power.mean(dim=1)
    power.mul_(centred)
    fourth = power.mean(dim=1)
    return mean, variance, third, fourth


def finish_moments(mean: torch.Tensor, variance: torch.Tensor, third: torch.Tensor, fourth: torch.Tensor) -> Moments:
    """The row means of x and of (x - mean)^2, ^3, ^4 ([n] float64 each) -> mean, std, skewness, kurtosis."""
    std = variance.sqrt()
    # A constant row (a zero decoder vector) has no shape: report skew 0 and kurtosis 0 rather than NaN.
    has_spread = variance > 0
    safe_variance = torch.where(has_spread, variance, torch.ones_like(variance))
    skewness = torch.where(has_spread, third / safe_variance.pow(1.5), torch.zeros_like(third))
    kurtosis = torch.where(has_spread, fourth / safe_variance.square(), torch.zeros_like(fourth))
    return Moments(mean=mean, std=std, skewness=skewness, kurtosis=kurtosis)


def row_blocks(n_rows: int, block_rows: int) -> list[tuple[int, int]]:
    """[start, stop) blocks of about block_rows rows covering n_rows, none of them a single row unless n_rows is 1.

    Why never one row: torch reduces a [n >= 2, V] tensor row by row (each row summed whole by one
    thread, so a row's sum does not depend on the block it sits in), but a single row's sum is split
    across threads, which rounds differently.
    """
    block_rows = max(2, block_rows)
    stops = list(range(block_rows, n_rows, block_rows)) + [n_rows]
    if len(stops) > 1 and stops[-1] - stops[-2] == 1:
        del stops[-2]  # a last block of one row joins the one before
    return list(zip([0, *stops[:-1]], stops, strict=True))


def blocked_moments(logits: torch.Tensor, scale: torch.Tensor | None = None, block_rows: int = 8) -> Moments:
    """`moments(logits * scale)` (scale [1, V] or None) bit for bit, a few rows at a time.

    Same operations on the same values as `moments`, but on blocks of rows through two scratch
    buffers allocated once: the float64 temporaries of a whole GPT-2 chunk (2 x 51 MB, freshly
    page-faulted at every call) cost five times the arithmetic; a block's stay in cache.
    """
    n_rows, d_vocab = logits.shape
    if n_rows < 2:
        return moments(logits if scale is None else logits * scale)
    rows = min(n_rows, max(2, block_rows) + 1)  # a block may hold one row more (row_blocks)
    centred = torch.empty(rows, d_vocab, dtype=torch.float64, device=logits.device)
    power = torch.empty_like(centred)
    scaled = None if scale is None else torch.empty(rows, d_vocab, dtype=logits.dtype, device=logits.device)
    sums = torch.empty(4, n_rows, dtype=torch.float64, device=logits.device)
    for start, stop in row_blocks(n_rows, block_rows):
        n = stop - start
        block = logits[start:stop]
        if scaled is not None and scale is not None:
            block = torch.mul(block, scale, out=scaled[:n])
        values = centred[:n]
        values.copy_(block)
        for i, column in enumerate(_central_sums(values, power[:n])):
            sums[i, start:stop] = column
    return finish_moments(*sums)


def histogram(logits: torch.Tensor, n_bins: int = N_HIST_BINS) -> Histogram:
    """Equal-width bins from each row's minimum to its maximum (numpy.histogram's rule: the maximum falls in
    the last bin)."""
    low = logits.amin(dim=1).to(torch.float64)
    high = logits.amax(dim=1).to(torch.float64)
    width = (high - low) / n_bins
    safe_width = torch.where(width > 0, width, torch.ones_like(width))
    bins = logits.to(torch.float64, copy=True)  # binned in place: never the caller's float64 logits
    bins.sub_(low[:, None]).div_(safe_width[:, None]).floor_().clamp_(0, n_bins - 1)
    counts = torch.zeros(logits.shape[0], n_bins, dtype=torch.int32, device=logits.device)
    counts.scatter_add_(
        1, bins.to(torch.int64), torch.ones(1, 1, dtype=torch.int32, device=logits.device).expand(bins.shape)
    )
    return Histogram(low=low, high=high, counts=counts)


def extremes(logits: torch.Tensor, k: int) -> Extremes:
    """The k most promoted and k most suppressed tokens of each row."""
    k = min(k, logits.shape[1])
    top = torch.topk(logits, k, dim=1, largest=True, sorted=True)
    bottom = torch.topk(logits, k, dim=1, largest=False, sorted=True)
    return Extremes(top_ids=top.indices, top_values=top.values, bottom_ids=bottom.indices, bottom_values=bottom.values)
