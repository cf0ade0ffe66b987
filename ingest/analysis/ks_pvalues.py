"""Asymptotic two-sample KS p-values for millions of (feature, set) pairs.

``ks_2samp(members, non_members, method="asymp")`` computes ``kstwo.sf(d, round(k(V-k)/V))``;
scipy's ``kstwo.sf`` loops in Python, far too slow for a layer's ~3.7M pairs, so `kstwo_sf`
re-evaluates it vectorised (see the section comment below).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

__all__ = ["ks_p_values", "kstwo_sf"]


def ks_p_values(d: np.ndarray, set_sizes: np.ndarray, vocab_size: int, n_threads: int | None = None) -> np.ndarray:
    """d [n_features, n_sets] -> asymptotic two-sample KS p-values [n_features, n_sets] float64.

    ``ks_2samp(members, non_members, method="asymp").pvalue`` for every pair, i.e.
    ``kstwo.sf(d, round(k(V-k)/V))`` (scipy rounds half to even), via `kstwo_sf`. The sets are
    shared among n_threads threads (default: every core; numpy drops the GIL), each set's column
    whole, sets of equal n in one thread, so that no interpolant is built by two threads at once.
    Every value depends on its own (d, n) alone, so the threads change no bit.
    """
    d = np.asarray(d.cpu() if isinstance(d, torch.Tensor) else d, dtype=np.float64)
    k = np.asarray(set_sizes, dtype=np.float64)
    V = float(vocab_size)
    # scipy: m, n = sorted([n1, n2], reverse=True); en = m * n / (m + n); kstwo.sf(d, np.round(en))
    n_eff = np.round(np.maximum(k, V - k) * np.minimum(k, V - k) / V)
    groups = _column_groups(n_eff, n_threads or os.cpu_count() or 1)
    if len(groups) <= 1 or d.shape[0] == 0:
        return kstwo_sf(d, np.broadcast_to(n_eff, d.shape))
    out = np.empty(d.shape, dtype=np.float64)

    def work(columns: np.ndarray) -> None:
        out[:, columns] = kstwo_sf(d[:, columns], np.broadcast_to(n_eff[columns], (d.shape[0], columns.size)))

    with ThreadPoolExecutor(len(groups), thread_name_prefix="ks") as pool:
        list(pool.map(work, groups))
    return out


def _column_groups(n_eff: np.ndarray, n_threads: int) -> list[np.ndarray]:
    """Columns [n_sets] split into at most n_threads groups of about equal size, every column of one
    n in the same group (largest n-classes first, each to the smallest group so far)."""
    values, inverse, counts = np.unique(n_eff, return_inverse=True, return_counts=True)
    n_groups = max(1, min(n_threads, values.size))
    loads = [0] * n_groups
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for value_index in np.argsort(-counts, kind="stable").tolist():
        smallest = loads.index(min(loads))
        loads[smallest] += int(counts[value_index])
        members[smallest].append(value_index)
    return [np.flatnonzero(np.isin(inverse, chosen)) for chosen in members if chosen]


# ---------------------------------------------------------------------------------------------
# Fast kstwo.sf
#
# scipy.stats.kstwo.sf loops in Python over elements and, depending on (n, x), runs an O(n) sum
# (2*smirnov) or a matrix power (Durbin-Marsaglia-Tsang-Wang), 0.1-15 ms per element: hours for
# a layer's millions of pairs. `kstwo_sf` follows scipy's branch structure exactly (same tests, in
# the same order) and evaluates:
#   * closed forms (Ruben-Gambino, 2(1-x)^n, 0/1 limits) and the Pelz-Good series vectorised;
#   * the two expensive branches by interpolation. Both functions are piecewise polynomials in x
#     whose pieces join only at multiples of 1/(2n) (exact CDF) or 1/n (Birnbaum-Tingey sum for
#     smirnov), so a Chebyshev interpolant on each grid cell reproduces them to ~1e-13. Cells are
#     built lazily, once per process and n, from the same computation scipy runs (DMTW; smirnov
#     as an exact log-space sum), so results agree with scipy to ~1e-12 absolute (tested).
# ---------------------------------------------------------------------------------------------

_CHEB_NODES = 12
_DIRECT_SMIRNOV_N = 16  # below: <= 16 terms per element, cheaper and more accurate than cells
_EXACT_CDF, _SMIRNOV = 0, 1


def _log_nfactorial_div_n_pow_n(n: np.ndarray) -> np.ndarray:
    """log(n!/n^n) by Stirling, as scipy.stats._ksstats computes it for n > 140."""
    coeffs = [
        -2.955065359477124183e-2,
        6.4102564102564102564e-3,
        -1.9175269175269175269e-3,
        8.4175084175084175084e-4,
        -5.952380952380952381e-4,
        7.9365079365079365079e-4,
        -2.7777777777777777778e-3,
        8.3333333333333333333e-2,
    ]  # B_2j / (2j(2j-1)), j=8..1
    rn = 1.0 / n
    return np.log(n) / 2 - n + np.log(2 * np.pi) / 2 + rn * np.polyval(coeffs, rn / n)


def _pelz_good_cdf(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pelz-Good approximation of P(D_n <= x), vectorised from scipy's scalar version."""
    z = np.sqrt(n) * x
    z2, z3, z4, z6 = z**2, z**3, z**4, z**6
    qlog = -(np.pi**2) / 8 / z2
    q = np.exp(qlog)
    k1a, k1b = -z2, np.pi**2 / 4
    k2a = 6 * z6 + 2 * z4
    k2b = (2 * z4 - 5 * z2) * np.pi**2 / 4
    k2c = np.pi**4 * (1 - 2 * z2) / 16
    k3d = np.pi**6 * (5 - 30 * z2) / 64
    k3c = np.pi**4 * (-60 * z2 + 212 * z4) / 16
    k3b = np.pi**2 * (135 * z4 - 96 * z6) / 4
    k3a = -30 * z6 - 90 * z**8
    maxk = np.ceil(16 * z / np.pi).astype(np.int64)
    K = np.zeros((4,) + z.shape)
    # Horner over odd m = 2k-1, k = maxk..1; terms beyond an element's own maxk stay out.
    for k in range(int(maxk.max(initial=0)), 0, -1):
        m2 = float((2 * k - 1) ** 2)
        coeffs = np.stack(
            [np.ones_like(z), k1a + k1b * m2, k2a + k2b * m2 + k2c * m2**2, k3a + k3b * m2 + k3c * m2**2 + k3d * m2**3]
        )
        K = np.where(k <= maxk, K * q ** (8 * k) + coeffs, K)
    K *= q * np.sqrt(2 * np.pi)
    K /= np.stack([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q = np.exp(-(np.pi**2) / 2 / z2)
    k2extra = np.zeros_like(z)
    k3extra = np.zeros_like(z)
    for k in range(int(maxk.max(initial=0)), 0, -1):
        used = k <= maxk
        qk = np.where(used, q ** (k * k), 0.0) * k * k
        k2extra += qk
        k3extra += (np.sqrt(3) * z + np.pi * k) * (np.sqrt(3) * z - np.pi * k) * qk
    K[2] += k2extra * np.pi**2 * np.sqrt(2 * np.pi) / (-36 * z3)
    K[3] += k3extra * np.pi**2 * np.sqrt(2 * np.pi) / (216 * z6)
    K /= np.stack([np.ones_like(n), np.sqrt(n), n, n**1.5])
    cdf = K[0] + K[1] + K[2] + K[3]
    return np.where(qlog < -708, 0.0, cdf)


_LOG_BINOM: dict[int, np.ndarray] = {}


def _log_two_smirnov(n: int, x: np.ndarray) -> np.ndarray:
    """log(2 * scipy.special.smirnov(n, x)) for x [B] in (0, 1): the Birnbaum-Tingey sum
    P(D+_n >= x) = x * sum_{j <= n(1-x)} C(n,j) (x + j/n)^(j-1) (1 - x - j/n)^(n-j), in log space
    (every term is positive, so the relative error stays ~1e-11 even at n ~ 10^4).
    Batched so a [batch, n] term matrix stays ~4M entries."""
    from scipy.special import gammaln, logsumexp

    if n not in _LOG_BINOM:
        j = np.arange(n + 1, dtype=np.float64)
        _LOG_BINOM[n] = gammaln(n + 1) - gammaln(j + 1) - gammaln(n - j + 1)
    log_binom = _LOG_BINOM[n]
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    batch = max(1, (1 << 22) // (n + 1))
    for start in range(0, x.size, batch):
        sel = np.arange(start, min(start + batch, x.size))
        xs = x[sel][:, None]
        # every row sums all n+1 terms (absent ones are exp(-inf) = 0): a row's rounding must not depend
        # on which other x share its batch, or a p-value would depend on what this process computed before
        j = np.arange(n + 1, dtype=np.float64)[None, :]
        a = xs + j / n
        rest = 1.0 - a
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = log_binom[: j.size] + np.log(xs) + (j - 1) * np.log(a) + (n - j) * np.log(rest)
        log_term = np.where(rest > 0, log_term, -np.inf)  # terms past floor(n(1-x)) are absent
        out[sel] = np.log(2.0) + logsumexp(log_term, axis=1)
    return out


def _exact_sf(n: int, x: np.ndarray) -> np.ndarray:
    """1 - P(D_n <= x) by scipy's Durbin-Marsaglia-Tsang-Wang matrix power (what kstwo runs for
    small x; equal to its Pomeranz branch to ~1e-14), one scalar call per node."""
    try:
        from scipy.stats._ksstats import _kolmogn_DMTW

        return np.array([float(1.0 - _kolmogn_DMTW(n, float(v), cdf=True)) for v in x])
    except ImportError:  # private in scipy; the public path is ~10x slower per node
        from scipy.stats import kstwo

        return kstwo.sf(x, n)


class _CellInterpolant:
    """Lazily built piecewise Chebyshev interpolant of one expensive branch for one n.

    Cell i covers [i*w, (i+1)*w) with w a multiple of 1/(2n), so for small n cells never straddle
    a join of the polynomial pieces; for large n the joins are smooth to high order and a cell
    may span several (widths chosen by measurement: <= 1e-13 error against scipy). Smirnov cells
    interpolate log p, which keeps small p-values relatively accurate (~1e-11); that needs
    n >= _DIRECT_SMIRNOV_N, below which the sum is evaluated directly.
    """

    def __init__(self, n: int, branch: int):
        self.n, self.branch = n, branch
        if branch == _EXACT_CDF:
            merge = 1 if n < 1000 else 4 if n < 3000 else 8
        else:
            merge = 1 if n <= 140 else max(1, int(np.sqrt(n) / 8))
        self.log_space = branch == _SMIRNOV
        self.width = merge / (2 * n)
        self.cells = np.empty(0, dtype=np.int64)  # sorted cell ids
        self.coeffs = np.empty((0, _CHEB_NODES))
        k = np.arange(_CHEB_NODES)
        self.nodes = np.cos(np.pi * (k + 0.5) / _CHEB_NODES)  # in [-1, 1]
        # interpolation through first-kind Chebyshev nodes is a discrete cosine transform
        self.dct = np.cos(np.pi * np.outer(k, k + 0.5) / _CHEB_NODES) * (2 / _CHEB_NODES)
        self.dct[0] /= 2

    def _build(self, new_cells: np.ndarray) -> None:
        x = (new_cells[:, None] + (self.nodes[None, :] + 1) / 2) * self.width  # [cells, nodes]
        if self.branch == _EXACT_CDF:
            y = _exact_sf(self.n, x.ravel())
        else:
            y = _log_two_smirnov(self.n, x.ravel())
            y = y if self.log_space else np.exp(y)
        # Each cell's coefficients are summed on their own, not by a matrix product whose blocking (and
        # so whose rounding) depends on how many cells are built at once: a p-value must not depend on
        # which p-values this process computed before (a split SAE, a re-run, a Ray worker).
        coeffs = (y.reshape(x.shape)[:, None, :] * self.dct[None, :, :]).sum(axis=2)
        cells = np.concatenate([self.cells, new_cells])
        order = np.argsort(cells)
        self.cells, self.coeffs = cells[order], np.concatenate([self.coeffs, coeffs])[order]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        scaled = x / self.width
        cell = np.floor(scaled).astype(np.int64)
        wanted = np.unique(cell)
        missing = wanted[~np.isin(wanted, self.cells)]
        if missing.size:
            self._build(missing)
        c = self.coeffs[np.searchsorted(self.cells, cell)]  # [Q, nodes]
        t = 2 * (scaled - cell) - 1
        b1 = np.zeros_like(x)
        b2 = np.zeros_like(x)
        for j in range(_CHEB_NODES - 1, 0, -1):  # Clenshaw
            b1, b2 = 2 * t * b1 - b2 + c[:, j], b1
        y = t * b1 - b2 + c[:, 0]
        return np.exp(y) if self.log_space else y


_INTERPOLANTS: dict[tuple[int, int], _CellInterpolant] = {}


def _interpolant(n: int, branch: int) -> _CellInterpolant:
    key = (n, branch)
    if key not in _INTERPOLANTS:
        _INTERPOLANTS[key] = _CellInterpolant(n, branch)
    return _INTERPOLANTS[key]


def kstwo_sf(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """scipy.stats.kstwo.sf(x, n), vectorised: x, n broadcastable arrays -> float64 array.

    Same branches, in the same order, as scipy.stats._ksstats._kolmogn(cdf=False); agrees with
    scipy to ~1e-12 absolute (and ~1e-11 relative on small p-values). First calls for a new n
    build interpolation cells (ms each); later calls cost ~0.1-1 us per element.
    """
    x, n = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64))
    shape = x.shape
    x, n = x.ravel(), n.ravel()
    out = np.full(x.shape, np.nan)
    todo = (n >= 1) & (n == np.round(n)) & ~np.isnan(x)  # kstwo's argcheck; else nan

    def take(mask: np.ndarray) -> np.ndarray:
        nonlocal todo
        mask = todo & mask
        todo = todo & ~mask
        return mask

    t = n * x
    with np.errstate(all="ignore"):
        out[take(x >= 1.0)] = 0.0
        out[take(x <= 0.0)] = 1.0
        out[take(t <= 0.5)] = 1.0
        m = take(t <= 1.0)  # Ruben-Gambino: P(D_n <= x) = n!/n^n (2t-1)^n
        if m.any():
            nm, tm = n[m], t[m]
            log_fact = np.where(nm <= 140, _lgamma_n_fact_div_n_pow_n(nm), _log_nfactorial_div_n_pow_n(nm))
            out[m] = np.clip(1.0 - np.exp(log_fact + nm * np.log(2 * tm - 1)), 0.0, 1.0)
        m = take(t >= n - 1)  # Ruben-Gambino, upper end
        out[m] = np.clip(2 * (1.0 - x[m]) ** n[m], 0.0, 1.0)
        nx2 = t * x
        small = n <= 140
        smirnov = take(x >= 0.5) | take(small & (nx2 > 4)) | take(~small & (nx2 >= 2.2) & (nx2 < 370))
        exact = take(small) | take((n <= 100000) & (n * x**1.5 <= 1.4))
        pelz = take(~small)  # everything n > 140 that is left, bar nx2 >= 370 just below
        out[pelz & (nx2 >= 370)] = 0.0
        pelz &= nx2 < 370
        out[pelz] = np.clip(1.0 - _pelz_good_cdf(n[pelz], x[pelz]), 0.0, 1.0)
        # 2*smirnov < 2exp(-2 n x^2) underflows to (sub)normal dust past n x^2 = 372: call it 0
        out[smirnov & (nx2 >= 372)] = 0.0
        smirnov &= nx2 < 372
        # Summed directly: small n (<= 16 terms) and x >= 0.5 (<= n/2 terms, n < 1490 there;
        # merged cells near x = 1 would put nodes past the support).
        direct = smirnov & ((n < _DIRECT_SMIRNOV_N) | (x >= 0.5))
        smirnov &= ~direct
        for nv in np.unique(n[direct]):
            sel = np.flatnonzero(direct & (n == nv))
            out[sel] = np.clip(np.exp(_log_two_smirnov(int(nv), x[sel])), 0.0, 1.0)
        for branch, mask in ((_SMIRNOV, smirnov), (_EXACT_CDF, exact)):
            for nv in np.unique(n[mask]):
                sel = np.flatnonzero(mask & (n == nv))
                out[sel] = np.clip(_interpolant(int(nv), branch)(x[sel]), 0.0, 1.0)
    return out.reshape(shape)


def _lgamma_n_fact_div_n_pow_n(n: np.ndarray) -> np.ndarray:
    """log(n!/n^n) exactly via lgamma (scipy multiplies the n factors out for n <= 140)."""
    from scipy.special import gammaln

    return gammaln(n + 1) - n * np.log(n)
