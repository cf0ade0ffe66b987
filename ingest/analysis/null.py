"""Calibration null for token-set enrichment, and Benjamini-Hochberg q-values.

Defined in docs/definitions.md. Tokens are not independent samples and token sets are lexically
coherent, so the KS p-value is far too optimistic: almost any direction in the residual stream "enriches" a set of
tokens that share an embedding neighbourhood. The null used instead: random unit directions of
the residual space pushed through the same W_U, scored exactly like the features. p_null of a
feature's d for a set is the fraction of random directions that score at least as high for that
set (with the usual +1 so it is never 0); q-values are BH over all p_null of one SAE.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from ingest.analysis.enrichment import SetIndex, enrichment_scores

__all__ = ["null_d_values", "p_null", "benjamini_hochberg"]


def random_unit_directions(d_model: int, n_directions: int, seed: int) -> torch.Tensor:
    """[n_directions, d_model] float32, uniform on the sphere: seeded normal draws on CPU,
    normalised, so the directions are the same whatever device W_U lives on."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    dirs = torch.randn(n_directions, d_model, generator=g, dtype=torch.float32)
    return dirs / dirs.norm(dim=1, keepdim=True)


def null_d_values(
    W_U: torch.Tensor, index: SetIndex, n_directions: int = 2048, seed: int = 0, chunk_size: int = 256
) -> np.ndarray:
    """W_U [d_model, V] -> null d per set, [n_sets, n_directions] float64, each row ascending.

    The directions are drawn all at once (chunk_size only bounds memory, never changes them).
    The projection runs on W_U's device; d for directions with exact logit ties can differ
    across devices only through matmul rounding.
    """
    d_model, V = W_U.shape
    if V != index.vocab_size:
        raise ValueError(f"W_U has {V} columns, the SetIndex was built for V={index.vocab_size}")
    dirs = random_unit_directions(d_model, n_directions, seed)
    out = np.empty((index.n_sets, n_directions), dtype=np.float64)
    # Once per model, about a tenth of a GPT-2 layer's enrichment: worth a progress bar.
    for start in tqdm(range(0, n_directions, chunk_size), desc="enrichment null", unit="chunk", leave=False):
        chunk = dirs[start : start + chunk_size].to(device=W_U.device, dtype=W_U.dtype)
        d, _ = enrichment_scores(chunk @ W_U, index)
        out[:, start : start + chunk.shape[0]] = d.cpu().numpy().T
    out.sort(axis=1)
    return out


def p_null(d: np.ndarray, null_sorted: np.ndarray) -> np.ndarray:
    """d [n_features, n_sets], null_sorted [n_sets, N] ascending -> p [n_features, n_sets] float64.

    p = (1 + #{null >= d}) / (1 + N). The comparison runs in d's dtype: a d rounded to float32
    must meet null values rounded the same way, or a null equal to d in float64 could fall on
    the wrong side of the >= and shift p by 1/(N+1).
    """
    d = np.asarray(d.cpu() if isinstance(d, torch.Tensor) else d)
    null_sorted = np.asarray(null_sorted)
    if d.ndim != 2 or null_sorted.ndim != 2 or d.shape[1] != null_sorted.shape[0]:
        raise ValueError(f"d {d.shape} and null_sorted {null_sorted.shape}: want [F, S] and [S, N]")
    dtype = d.dtype if np.issubdtype(d.dtype, np.floating) else np.float64
    null_sorted = null_sorted.astype(dtype, copy=False)  # rounding is monotone: stays sorted
    N = null_sorted.shape[1]
    count_ge = np.empty(d.shape, dtype=np.int64)
    for s in range(d.shape[1]):
        # #null >= d = N - #null < d = N - (first index i with null[i] >= d)
        count_ge[:, s] = N - np.searchsorted(null_sorted[s], d[:, s].astype(dtype), side="left")
    return (1.0 + count_ge) / (1.0 + N)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH q-values over all entries of p (any shape) -> same shape, float64.

    With the m p-values sorted ascending, q_(i) = min over j >= i of p_(j) * m / j, capped at 1:
    the smallest FDR level at which entry i would be rejected by the step-up procedure. Equal to
    scipy.stats.false_discovery_control(p, method="bh").
    """
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    if np.isnan(flat).any() or (flat < 0).any() or (flat > 1).any():
        raise ValueError("p-values must lie in [0, 1] and not be NaN")
    m = flat.size
    order = np.argsort(flat, kind="stable")
    scaled = flat[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m, dtype=np.float64)
    q[order] = q_sorted
    return q.reshape(p.shape)
