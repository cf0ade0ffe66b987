"""Calibration null for token-set enrichment, and Benjamini-Hochberg q-values.

Defined in docs/definitions.md. Tokens are not independent samples and token sets are lexically
coherent, so the KS p-value is far too optimistic: almost any direction in the residual stream "enriches" a set of
tokens that share an embedding neighbourhood. The null used instead: random unit directions of
the residual space pushed through the same W_U, scored exactly like the features. p_null of a
feature's d for a set is the fraction of random directions that score at least as high for that
set (with the usual +1 so it is never 0); q-values are BH over all p_null of one SAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ingest.analysis.enrichment import SetIndex, enrichment_scores

__all__ = [
    "null_d_values",
    "p_null",
    "benjamini_hochberg",
    "TailFit",
    "fit_tails",
    "p_calibrated",
    "decoder_matched_directions",
]


def random_unit_directions(d_model: int, n_directions: int, seed: int) -> torch.Tensor:
    """[n_directions, d_model] float32, uniform on the sphere: seeded normal draws on CPU,
    normalised, so the directions are the same whatever device W_U lives on."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    dirs = torch.randn(n_directions, d_model, generator=g, dtype=torch.float32)
    return dirs / dirs.norm(dim=1, keepdim=True)


def null_d_values(
    W_U: torch.Tensor,
    index: SetIndex,
    n_directions: int = 4096,
    seed: int = 0,
    chunk_size: int = 256,
    directions: torch.Tensor | None = None,
    desc: str = "enrichment null",
) -> np.ndarray:
    """W_U [d_model, V] -> null d per set, [n_sets, n_directions] float64, each row ascending.

    The directions are drawn all at once (chunk_size only bounds memory, never changes them).
    The projection runs on W_U's device; d for directions with exact logit ties can differ
    across devices only through matmul rounding.
    """
    d_model, V = W_U.shape
    if V != index.vocab_size:
        raise ValueError(f"W_U has {V} columns, the SetIndex was built for V={index.vocab_size}")
    dirs = random_unit_directions(d_model, n_directions, seed) if directions is None else directions
    n_directions = dirs.shape[0]
    out = np.empty((index.n_sets, n_directions), dtype=np.float64)
    # Once per model, about a tenth of a GPT-2 layer's enrichment: worth a progress bar.
    for start in tqdm(range(0, n_directions, chunk_size), desc=desc, unit="chunk", leave=False):
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


# ---------------------------------------------------------------------------------------------
# Calibrated p-values beyond the null's floor: a tail model fitted to the null (docs/definitions.md)
#
# p_null cannot go below 1/(N+1). Past the null's upper TAIL_FRACTION, p_calibrated extrapolates a
# model of the tail instead of counting. The model lives on the scale y = -ln(1 - d + r), the
# notebook's score with r = 1/(2 max(k, V-k)) (half d's finest step near 1) so that d = 1 stays finite:
#
#     P(null y > y0) = tail_mass * exp(-rate * t - curvature * t^2),   t = y0 - threshold > 0
#
# an exponential tail (what a set whose members share a direction gives: d ~ 2Phi(|z|/2) - 1 with
# a Gaussian z makes y ~ z^2 / 8) bent towards a Gaussian one (what exchangeable tokens give, the
# Kolmogorov tail 2 exp(-2 n d^2)). Both parameters are maximum-likelihood estimates from the null's
# exceedances of `threshold`; the curvature is kept only when a likelihood-ratio test asks
# for it at 0.05 (a curvature fitted to noise makes the tail too light, i.e. p-values too small). Chosen by
# held-out fit against a Kolmogorov n_eff model and a generalised Pareto tail (benchmarks/null_calibration.py).
# ---------------------------------------------------------------------------------------------

TAIL_FRACTION = 0.10  # the null's upper 10% is the tail the model is fitted to
MIN_EXCEEDANCES = 20  # fewer null values above the threshold: no tail model, p_calibrated = p_null
LRT_CRITICAL = 3.841  # chi-square(1) upper 0.05 point: keep the curvature only beyond it
FIT_METHOD = "exp-quadratic tail of -ln(1-d+r), top 10%, LRT 0.05"
EMPIRICAL_METHOD = "empirical (too few null directions for a tail model)"
P_FLOOR = float(np.finfo(np.float64).tiny)  # p_calibrated never underflows to 0


@dataclass(frozen=True)
class TailFit:
    """Per set (arrays [n_sets]) the fitted tail of its null; n_exceedances 0 where none was fitted."""

    resolution: np.ndarray  # r = 1 / (2 max(k, V-k))
    threshold: np.ndarray  # on the y scale; NaN where no tail was fitted
    tail_mass: np.ndarray  # (1 + exceedances) / (1 + N): p_null just above the threshold
    rate: np.ndarray
    curvature: np.ndarray
    n_exceedances: np.ndarray  # int64

    @property
    def methods(self) -> list[str]:
        return [FIT_METHOD if n > 0 else EMPIRICAL_METHOD for n in self.n_exceedances]


def tail_resolution(set_sizes: np.ndarray, vocab_size: int) -> np.ndarray:
    k = np.asarray(set_sizes, dtype=np.float64)
    return 0.5 / np.maximum(k, vocab_size - k)


def score_scale(d: np.ndarray, resolution: np.ndarray) -> np.ndarray:
    """y = -ln(1 - d + r), float64: d = 1 (perfect separation) maps to ln(1/r), finite."""
    return -np.log1p(-np.asarray(d, dtype=np.float64) + resolution)


def _exp_quadratic_mle(s: np.ndarray) -> tuple[float, float, float]:
    """Exceedances s > 0 scaled to mean 1 -> (rate, curvature, log-likelihood) of the density
    (b + 2 c s) exp(-b s - c s^2), b > 0, c >= 0, by L-BFGS-B from a few fixed starts."""
    from scipy.optimize import minimize

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, c = theta
        h = b + 2 * c * s
        value = -(np.sum(np.log(h)) - b * s.sum() - c * np.sum(s * s))
        grad = -np.array([np.sum(1 / h) - s.sum(), np.sum(2 * s / h) - np.sum(s * s)])
        return value, grad

    best = None
    for start in ((1.0, 0.0), (0.5, 0.25), (0.1, 0.5)):
        result = minimize(nll, np.array(start), jac=True, method="L-BFGS-B", bounds=[(1e-9, None), (0.0, None)])
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    return float(best.x[0]), float(best.x[1]), float(-best.fun)


def fit_tails(null_sorted: np.ndarray, set_sizes: np.ndarray, vocab_size: int) -> TailFit:
    """null_sorted [n_sets, N] ascending d -> the TailFit of every set (deterministic)."""
    null_sorted = np.asarray(null_sorted, dtype=np.float64)
    n_sets, N = null_sorted.shape
    resolution = tail_resolution(set_sizes, vocab_size)
    threshold = np.full(n_sets, np.nan)
    mass, rate, curvature = np.ones(n_sets), np.zeros(n_sets), np.zeros(n_sets)
    n_exc = np.zeros(n_sets, dtype=np.int64)
    target = int(round(TAIL_FRACTION * N))
    if target < MIN_EXCEEDANCES:
        return TailFit(resolution, threshold, mass, rate, curvature, n_exc)
    for s in range(n_sets):
        y = score_scale(null_sorted[s], resolution[s])
        u = y[N - target - 1]
        t = y[y > u] - u
        if t.size < MIN_EXCEEDANCES:
            continue  # a null with a few values only (ties): no tail worth fitting
        scale = t.mean()
        b_exp = 1.0  # the exponential MLE on the scaled exceedances: 1 / mean = 1
        ll_exp = -float(t.size)
        b, c, ll = _exp_quadratic_mle(t / scale)
        if 2 * (ll - ll_exp) < LRT_CRITICAL:
            b, c = b_exp, 0.0
        threshold[s], mass[s] = u, (1 + t.size) / (1 + N)
        rate[s], curvature[s], n_exc[s] = b / scale, c / scale**2, t.size
    return TailFit(resolution, threshold, mass, rate, curvature, n_exc)


def p_calibrated(d: np.ndarray, null_sorted: np.ndarray, fit: TailFit) -> np.ndarray:
    """d [n_features, n_sets] -> calibrated p [n_features, n_sets] float64.

    p_null where a feature's d sits within the null's body (y <= threshold, or no tail fitted);
    beyond it the tail model, floored at the smallest normal double. d is taken as stored (float32)
    so that the stored p_calibrated is reproduced from `enrichment.d` and the stored fit alone.
    """
    d = np.asarray(d.cpu() if isinstance(d, torch.Tensor) else d).astype(np.float32)
    p = p_null(d, null_sorted)
    t = score_scale(d, fit.resolution[None, :]) - fit.threshold[None, :]
    with np.errstate(invalid="ignore", over="ignore"):
        beyond = (fit.n_exceedances[None, :] > 0) & (t > 0)
        tail = fit.tail_mass * np.exp(-(fit.rate * t + fit.curvature * t * t))
    return np.where(beyond, np.maximum(tail, P_FLOOR), p)


def decoder_matched_directions(W_dec: np.ndarray, n_directions: int, seed: int) -> torch.Tensor:
    """[n_directions, d_model] float32 unit directions drawn from N(0, Sigma), Sigma the second moment
    of the SAE's unit-normalised decoder rows: a null matched to the SAE instead of the sphere."""
    rows = np.asarray(W_dec, dtype=np.float64)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    sigma = rows.T @ rows / rows.shape[0]
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)
    root = eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))
    g = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(n_directions, rows.shape[1], generator=g, dtype=torch.float64)
    dirs = z @ torch.from_numpy(root.T)
    return (dirs / dirs.norm(dim=1, keepdim=True)).to(torch.float32)
