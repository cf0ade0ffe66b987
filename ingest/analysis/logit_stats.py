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
    centred = logits.to(torch.float64)
    mean = centred.mean(dim=1)
    centred.sub_(mean[:, None])
    power = centred.square()
    variance = power.mean(dim=1)
    power.mul_(centred)
    third = power.mean(dim=1)
    power.mul_(centred)
    fourth = power.mean(dim=1)
    std = variance.sqrt()
    # A constant row (a zero decoder vector) has no shape: report skew 0 and kurtosis 0 rather than NaN.
    has_spread = variance > 0
    safe_variance = torch.where(has_spread, variance, torch.ones_like(variance))
    skewness = torch.where(has_spread, third / safe_variance.pow(1.5), torch.zeros_like(third))
    kurtosis = torch.where(has_spread, fourth / safe_variance.square(), torch.zeros_like(fourth))
    return Moments(mean=mean, std=std, skewness=skewness, kurtosis=kurtosis)


def histogram(logits: torch.Tensor, n_bins: int = N_HIST_BINS) -> Histogram:
    """Equal-width bins from each row's minimum to its maximum (numpy.histogram's rule: the maximum falls in
    the last bin)."""
    low = logits.amin(dim=1).to(torch.float64)
    high = logits.amax(dim=1).to(torch.float64)
    width = (high - low) / n_bins
    safe_width = torch.where(width > 0, width, torch.ones_like(width))
    bins = logits.to(torch.float64)
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
