"""Token-set enrichment of SAE features: the two-sample KS statistic, exact and chunked.

DESIGN.md §4. For feature f and token set S (k members, V tokens) rank the tokens by logit weight,
descending, and walk the list adding 1/k for a member and subtracting 1/(V-k) otherwise; D is the
largest |running sum|. That walk is the two-sample Kolmogorov-Smirnov statistic between the logit
weights of members and non-members (``scipy.stats.ks_2samp``).

Closed form. With p_1 < ... < p_k the members' 0-based positions in the descending order, the walk
reaches its maximum right after a member and its minimum right before one:

    after_j  = j/k     - (p_j + 1 - j)/(V-k)
    before_j = (j-1)/k - (p_j - j + 1)/(V-k)
    D = max(max_j after_j, -min_j before_j)

Multiplying by k(V-k) makes both integers, which is how they are computed here:

    after_j  * k(V-k) = j*V     - (p_j + 1)*k
    before_j * k(V-k) = (j-1)*V - p_j*k

so the comparison max vs -min is exact and D = numerator / (k(V-k)) is one correctly rounded
float64 division, identical on CPU and CUDA.

Ties. ks_2samp only evaluates the CDF difference between whole groups of tied values. Replacing
p_j by hi(p_j) (last position of its tie group) in after_j and by lo(p_j) (first position) in
before_j gives exactly that: each substituted value lies below (after) / above (before) the walk at
that group boundary, and the last (first) member of every group hits it exactly.

Direction. +1 when max after_j > -min before_j strictly (members concentrated among the promoted,
high-logit tokens), else -1, so an exact tie between the two sides gives -1. In ks_2samp terms
(data1 = members, data2 = non-members) that is ``direction == -statistic_sign``: ks_2samp computes
cdf(members) - cdf(non-members) on ascending values, whose minimum is our walk's maximum, and picks
statistic_sign = -1 only when -min > max strictly.

Complements. A set with k > V/2 walks its complement instead (fewer members to sort): the
complement's walk is the exact negation of the set's, so D is unchanged and the sides swap
(the set's max is the complement's -min); the tie rule is applied after swapping.

Algorithm per feature row: one argsort of the V logits gives every token's position; gather the
positions of all M walked (set, member) pairs, sort them within each set (numpy: in-place slice
sorts; torch: one batched sort of position + set_index * V), form u_j = j*V - p_j*k and take a
max and a min per set. Cost per row O(V log V + M log(M / n_sets)), memory O(V + M) per row in
flight; nothing is ever [n_sets, n_features, V]. Exact ties are found from the sorted values;
rows with few tied tokens (float32 logits typically tie a handful) fix just those pairs.
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

__all__ = ["SetIndex", "enrichment_scores", "ks_p_values", "kstwo_sf", "baseline_enrichment"]


@dataclass(frozen=True, eq=False)
class SetIndex:
    """Token-set library flattened for `enrichment_scores`; build once per library and V.

    Sets larger than V/2 are stored as their complement ("walked" members). Arrays over the M
    walked (set, member) pairs are set-major: set s occupies ``starts[s]:starts[s+1]``.
    """

    vocab_size: int
    set_sizes: np.ndarray  # [n_sets] int64, k of each set as given
    complemented: np.ndarray  # [n_sets] bool, k > V/2: the complement is walked
    walk_sizes: np.ndarray  # [n_sets] int64, members walked: min(k, V-k)
    member_ids: np.ndarray  # [M] int64 walked token ids, set-major
    starts: np.ndarray  # [n_sets + 1] int64 offsets of each set in member_ids
    # Per-pair constants of the integer closed form, in `int_dtype` (see module docstring).
    int_dtype: np.dtype = field(repr=False)
    key_offset_m: np.ndarray = field(repr=False)  # [M] set_index * V: one sort sorts every set
    j_times_v_m: np.ndarray = field(repr=False)  # [M] j * V with j the 1-based rank inside the set
    k_m: np.ndarray = field(repr=False)  # [M] walked set size of the pair's set
    pos_dtype: np.dtype = field(repr=False)  # uint16 when V <= 65536: faster sorts, half the bytes
    desc_positions: np.ndarray = field(repr=False)  # [V] V-1, ..., 0 in pos_dtype
    segments: tuple = field(repr=False)  # ((start, stop), ...) python ints, one per set
    token_ptr: np.ndarray = field(repr=False)  # [V+1] CSR: walked sets of token t are
    token_sets: np.ndarray = field(repr=False)  # [M] token_sets[token_ptr[t]:token_ptr[t+1]]

    @property
    def n_sets(self) -> int:
        return len(self.set_sizes)

    @classmethod
    def build(cls, member_ids: Sequence[np.ndarray], vocab_size: int) -> "SetIndex":
        """member_ids[s] = unique token ids of set s in [0, vocab_size).

        Raises ValueError naming the set when it is empty, covers the whole vocabulary, has ids out
        of range or repeated ids (each of those makes the KS statistic undefined or wrong).
        """
        V = int(vocab_size)
        if V < 2:
            raise ValueError(f"vocab_size must be >= 2, got {V}")
        walked, sizes, comp = [], [], []
        for s, ids in enumerate(member_ids):
            ids = np.asarray(ids)
            if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
                raise ValueError(f"set {s}: member ids must be a 1-d integer array")
            ids = ids.astype(np.int64)
            k = ids.size
            if k == 0:
                raise ValueError(f"set {s}: empty (KS needs at least one member)")
            if ids.min() < 0 or ids.max() >= V:
                bad = ids[(ids < 0) | (ids >= V)][0]
                raise ValueError(f"set {s}: token id {bad} out of range [0, {V})")
            if np.unique(ids).size != k:
                raise ValueError(f"set {s}: repeated token ids")
            if k == V:
                raise ValueError(f"set {s}: contains the whole vocabulary (no non-members)")
            is_comp = k > V / 2
            if is_comp:
                mask = np.ones(V, dtype=bool)
                mask[ids] = False
                ids = np.flatnonzero(mask)
            walked.append(np.sort(ids))
            sizes.append(k)
            comp.append(is_comp)
        if not walked:
            raise ValueError("no token sets given")
        walk_sizes = np.array([w.size for w in walked], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(walk_sizes)]).astype(np.int64)
        n_sets = len(walked)
        # int32 halves the memory traffic; the largest magnitudes are j*V, p*k <= V*V/2 and n_sets*V.
        fits32 = max(V * int(walk_sizes.max()), n_sets * V) < 2**31 - 1
        int_dtype = np.dtype(np.int32 if fits32 else np.int64)
        pos_dtype = np.dtype(np.uint16 if V <= 2**16 else np.int32)
        seg = np.repeat(np.arange(n_sets, dtype=np.int64), walk_sizes)
        members = np.concatenate(walked)
        j = np.arange(starts[-1], dtype=np.int64) - starts[seg] + 1
        return cls(
            vocab_size=V,
            set_sizes=np.array(sizes, dtype=np.int64),
            complemented=np.array(comp, dtype=bool),
            walk_sizes=walk_sizes,
            member_ids=members,
            starts=starts,
            int_dtype=int_dtype,
            key_offset_m=(seg * V).astype(int_dtype),
            j_times_v_m=(j * V).astype(int_dtype),
            k_m=walk_sizes[seg].astype(int_dtype),
            pos_dtype=pos_dtype,
            desc_positions=np.arange(V - 1, -1, -1).astype(pos_dtype),
            segments=tuple(zip(starts[:-1].tolist(), starts[1:].tolist())),
            token_ptr=np.concatenate([[0], np.cumsum(np.bincount(members, minlength=V))]),
            token_sets=seg[np.argsort(members, kind="stable")],
        )


def _tie_bounds(desc_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[V] values sorted descending -> (lo, hi) [V]: first and last position of each tie group."""
    V = desc_values.size
    pos = np.arange(V)
    new = np.empty(V, dtype=bool)
    new[0] = True
    np.not_equal(desc_values[1:], desc_values[:-1], out=new[1:])
    last = np.empty(V, dtype=bool)
    last[-1] = True
    last[:-1] = new[1:]
    lo = np.maximum.accumulate(np.where(new, pos, 0))
    hi = np.minimum.accumulate(np.where(last, pos, V)[::-1])[::-1]
    return lo, hi


def _tied_pairs(
    equal_next: np.ndarray, order: np.ndarray, p: np.ndarray, index: SetIndex
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Walked pairs whose token ties with another: (pair index into p, hi - p, p - lo), or None
    when there are so many that correcting every pair at once is cheaper.

    equal_next [V-1]: ascending sorted values, entry i True when value i equals value i+1.
    float32 logits tie a handful of times per row, so fixing those pairs alone saves two [M]
    gathers and multiplies per row.
    """
    V = index.vocab_size
    in_group = np.zeros(V, dtype=bool)
    in_group[:-1] = equal_next
    in_group[1:] |= equal_next
    tied = np.flatnonzero(in_group)  # ascending indices that belong to a tie group
    if tied.size > V // 64:
        return None
    group_start = np.ones(tied.size, dtype=bool)
    group_start[1:] = ~equal_next[tied[1:] - 1]
    group = np.cumsum(group_start) - 1
    group_end = np.append(group_start[1:], True)
    # the ascending group [first, last] is [V-1-last, V-1-first] in descending positions
    q = V - 1 - tied
    q_lo, q_hi = (V - 1 - tied[group_end])[group], (V - 1 - tied[group_start])[group]
    tok = order[tied]
    n_sets_of = index.token_ptr[tok + 1] - index.token_ptr[tok]
    which = np.repeat(np.arange(tok.size), n_sets_of)
    within = np.arange(which.size) - np.repeat(np.cumsum(n_sets_of) - n_sets_of, n_sets_of)
    sets = index.token_sets[index.token_ptr[tok][which] + within]
    # Branch-free lower_bound of q in each pair's sorted set slice of p, all pairs at once.
    target, lo, n = q[which], index.starts[sets], index.walk_sizes[sets]
    while n.size and n.max() > 0:
        half = n // 2
        mid = np.minimum(lo + half, p.size - 1)
        right = (p[mid] < target) & (n > 0)
        lo = np.where(right, lo + half + 1, lo)
        n = np.where(right, n - half - 1, half)
    return lo, (q_hi - q)[which], (q - q_lo)[which]


def _row_sides_numpy(x: np.ndarray, index: SetIndex) -> tuple[np.ndarray, np.ndarray]:
    """One feature: x [V] float -> (max_j after_j, min_j before_j) numerators, each [n_sets] int64.

    Both sides come from u_j = j*V - p_j*k: after_j = u_j - k and before_j = u_j - V, with k and V
    constant inside a set, so one array and two segment reductions do. Ties replace p_j by
    hi(p_j) in after_j and lo(p_j) in before_j (module docstring).
    """
    V, it = index.vocab_size, index.int_dtype
    order = np.argsort(x)  # ascending: numpy's SIMD quicksort; descending keys cost a copy
    position = np.empty(V, dtype=index.pos_dtype)
    position[order] = index.desc_positions  # 0 = highest logit
    p = np.take(position, index.member_ids)
    # Sorting each set's slice in place beats one sort of set-offset keys (smaller, cache-resident
    # sorts, and no offset passes); uint16 positions let the SIMD sort take 32 lanes.
    for a, b in index.segments:
        p[a:b].sort()
    k, jv, starts = index.k_m, index.j_times_v_m, index.starts[:-1]
    u_after = u_before = jv - np.multiply(p, k, dtype=it)
    asc = x[order]
    equal_next = asc[1:] == asc[:-1]
    if equal_next.any():
        fix = _tied_pairs(equal_next, order, p, index)
        if fix is None:
            lo, hi = _tie_bounds(asc[::-1])
            u_after = jv - np.multiply(hi[p], k, dtype=it)
            u_before = jv - np.multiply(lo[p], k, dtype=it)
        else:
            pair, up, down = fix
            u_before = u_after.copy()
            u_after[pair] -= (up * k[pair]).astype(it)
            u_before[pair] += (down * k[pair]).astype(it)
    amax = np.maximum.reduceat(u_after, starts).astype(np.int64) - index.walk_sizes
    bmin = np.minimum.reduceat(u_before, starts).astype(np.int64) - V
    return amax, bmin


def _sides_numpy(x: np.ndarray, index: SetIndex, n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """x [n, V] -> (amax, bmin) [n, n_sets] int64; rows split over threads (numpy drops the GIL)."""
    n = x.shape[0]
    amax = np.empty((n, index.n_sets), dtype=np.int64)
    bmin = np.empty((n, index.n_sets), dtype=np.int64)

    def work(rows: range) -> None:
        for r in rows:
            amax[r], bmin[r] = _row_sides_numpy(x[r], index)

    n_threads = max(1, min(n_threads, n))
    blocks = [range(i * n // n_threads, (i + 1) * n // n_threads) for i in range(n_threads)]
    if n_threads == 1:
        work(blocks[0])
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(work, blocks))
    return amax, bmin


_DEVICE_ARRAYS: "weakref.WeakKeyDictionary[SetIndex, dict]" = weakref.WeakKeyDictionary()


def _device_index(index: SetIndex, device: torch.device) -> dict[str, torch.Tensor]:
    """The SetIndex arrays the torch path needs, as int64 tensors on `device`, cached per index
    so chunked calls do not re-upload them."""
    per_index = _DEVICE_ARRAYS.setdefault(index, {})
    if str(device) not in per_index:
        seg = np.repeat(np.arange(index.n_sets), index.walk_sizes)
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)  # noqa: E731
        per_index[str(device)] = {
            "member_ids": t(index.member_ids),
            "key_offset": t(index.key_offset_m),
            "jv": t(index.j_times_v_m),
            "k": t(index.k_m),
            "seg": t(seg),
            "walk_sizes": t(index.walk_sizes),
        }
    return per_index[str(device)]


def _sides_torch(x: torch.Tensor, index: SetIndex, max_elements: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x [n, V] on any device -> (amax, bmin) [n, n_sets] int64, in row batches of about
    max_elements / (V + M) so memory stays bounded.

    Same integer closed form as the numpy path; sets are sorted all at once by adding
    set_index * V to every position (one batched sort instead of n_sets small ones).
    """
    V, n_sets, M = index.vocab_size, index.n_sets, index.member_ids.size
    dev = _device_index(index, x.device)
    desc_pos = torch.arange(V - 1, -1, -1, device=x.device)
    pos_v = torch.arange(V, device=x.device)
    batch = max(1, max_elements // (V + M))
    out_a, out_b = [], []
    for r0 in range(0, x.shape[0], batch):
        xb = x[r0 : r0 + batch]
        c = xb.shape[0]
        asc_values, order = torch.sort(xb, dim=1)
        position = torch.empty_like(order).scatter_(1, order, desc_pos.expand(c, V))
        del order
        key = position.index_select(1, dev["member_ids"]).add_(dev["key_offset"])
        del position
        p = torch.sort(key, dim=1).values.sub_(dev["key_offset"])
        del key
        desc = asc_values.flip(1)
        new = torch.ones_like(desc, dtype=torch.bool)
        new[:, 1:] = desc[:, 1:] != desc[:, :-1]
        if bool(new.all()):
            u_after = u_before = dev["jv"] - p * dev["k"]
        else:
            last = torch.ones_like(new)
            last[:, :-1] = new[:, 1:]
            lo = torch.cummax(torch.where(new, pos_v, 0), dim=1).values
            hi = torch.cummin(torch.where(last, pos_v, V).flip(1), dim=1).values.flip(1)
            u_after = dev["jv"] - hi.gather(1, p) * dev["k"]
            u_before = dev["jv"] - lo.gather(1, p) * dev["k"]
        seg = dev["seg"].expand(c, M)
        empty = torch.zeros(c, n_sets, dtype=torch.int64, device=x.device)
        out_a.append(empty.scatter_reduce(1, seg, u_after, "amax", include_self=False) - dev["walk_sizes"])
        out_b.append(empty.scatter_reduce(1, seg, u_before, "amin", include_self=False) - V)
    return torch.cat(out_a), torch.cat(out_b)


def _finish(amax, bmin, index: SetIndex, xp) -> tuple:
    """Integer sides -> (d float64, direction int8); `xp` is numpy or torch (same expressions)."""
    comp = index.complemented
    k = index.walk_sizes
    V = index.vocab_size
    if xp is torch:
        comp = torch.as_tensor(comp, device=amax.device)
        k = torch.as_tensor(k, device=amax.device)
    # For a complemented set the sides swap: its max is the walked complement's -min.
    high = xp.where(comp, -bmin, amax)
    low = xp.where(comp, amax, -bmin)
    num = xp.maximum(high, low)
    direction = xp.where(high > low, 1, -1)
    if xp is torch:
        # one IEEE float64 division: correctly rounded, so CPU and CUDA agree bit for bit
        d = num.to(torch.float64) / (k * (V - k)).to(torch.float64)
        return d, direction.to(torch.int8)
    return num / (k * (V - k)).astype(np.float64), direction.astype(np.int8)


def enrichment_scores(
    logits: torch.Tensor,
    index: SetIndex,
    *,
    n_threads: int | None = None,
    backend: str = "auto",
    max_elements: int = 1 << 24,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [n_features, V] -> (d [n_features, n_sets] float64, direction [n_features, n_sets] int8).

    d is the KS statistic of every (feature, set) pair, direction +1 when the set's members sit among
    the feature's promoted tokens (see the module docstring for the exact tie rule). Results live
    on logits.device. Working memory is O(V + M) per row in flight (n_threads rows for numpy,
    ~max_elements / (V + M) rows for torch), never n_sets * n_features * V; the outputs are
    n_features * n_sets, so pass features in chunks. backend "auto" uses numpy threads on CPU
    and batched torch ops elsewhere (CUDA); "numpy" and "torch" force one, with bit-identical
    results. Logits must be finite; float64 is kept, anything else is scored as float32; -0.0
    ties 0.0 as in ks_2samp.
    """
    if logits.ndim != 2 or logits.shape[1] != index.vocab_size:
        raise ValueError(f"logits must be [n_features, {index.vocab_size}], got {tuple(logits.shape)}")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("logits contain NaN or inf")
    # no -0.0 fix-up needed: ties are found with ==, where -0.0 == 0.0, as in ks_2samp
    x = logits if logits.dtype == torch.float64 else logits.float()
    if backend == "auto":
        backend = "numpy" if x.device.type == "cpu" else "torch"
    if backend == "numpy":
        amax, bmin = _sides_numpy(x.cpu().numpy(), index, n_threads or os.cpu_count() or 1)
        d, direction = _finish(amax, bmin, index, np)
        return torch.from_numpy(d).to(logits.device), torch.from_numpy(direction).to(logits.device)
    if backend == "torch":
        amax, bmin = _sides_torch(x, index, max_elements)
        return _finish(amax, bmin, index, torch)
    raise ValueError(f"unknown backend {backend!r}")


def ks_p_values(d: np.ndarray, set_sizes: np.ndarray, vocab_size: int) -> np.ndarray:
    """d [n_features, n_sets] -> asymptotic two-sample KS p-values [n_features, n_sets] float64.

    ``ks_2samp(members, non_members, method="asymp").pvalue`` for every pair, i.e.
    ``kstwo.sf(d, round(k(V-k)/V))`` (scipy rounds half to even), via `kstwo_sf`.
    """
    d = np.asarray(d.cpu() if isinstance(d, torch.Tensor) else d, dtype=np.float64)
    k = np.asarray(set_sizes, dtype=np.float64)
    V = float(vocab_size)
    # scipy: m, n = sorted([n1, n2], reverse=True); en = m * n / (m + n); kstwo.sf(d, np.round(en))
    n_eff = np.round(np.maximum(k, V - k) * np.minimum(k, V - k) / V)
    return kstwo_sf(d, np.broadcast_to(n_eff, d.shape))


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
    coeffs = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
              8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
              -2.7777777777777777778e-3, 8.3333333333333333333e-2]  # B_2j / (2j(2j-1)), j=8..1
    rn = 1.0 / n
    return np.log(n) / 2 - n + np.log(2 * np.pi) / 2 + rn * np.polyval(coeffs, rn / n)


def _pelz_good_cdf(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pelz-Good approximation of P(D_n <= x), vectorised from scipy's scalar version."""
    z = np.sqrt(n) * x
    z2, z3, z4, z6 = z**2, z**3, z**4, z**6
    qlog = -np.pi**2 / 8 / z2
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
        coeffs = np.stack([np.ones_like(z), k1a + k1b * m2, k2a + k2b * m2 + k2c * m2**2,
                           k3a + k3b * m2 + k3c * m2**2 + k3d * m2**3])
        K = np.where(k <= maxk, K * q ** (8 * k) + coeffs, K)
    K *= q * np.sqrt(2 * np.pi)
    K /= np.stack([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q = np.exp(-np.pi**2 / 2 / z2)
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
    order = np.argsort(-x)  # large x first: those batches need the fewest terms
    batch = max(1, (1 << 22) // (n + 1))
    for start in range(0, x.size, batch):
        sel = order[start : start + batch]
        xs = x[sel][:, None]
        j = np.arange(int(np.floor(n * (1 - xs.min()))) + 1, dtype=np.float64)[None, :]
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
        coeffs = y.reshape(x.shape) @ self.dct.T
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


def baseline_enrichment(logits: torch.Tensor, member_ids: Sequence[np.ndarray]) -> np.ndarray:
    """The notebook's method as the benchmark baseline: logits [n_features, V] -> d [n_features, n_sets].

    Materialises the membership of every set in every feature's sorted order, [n_sets, n_features,
    V], turns it into +1/k, -1/(V-k) steps, takes a cumsum and the max |.|. Slow and memory-hungry
    on purpose; ignores ties (each token is its own step). float64 steps so it agrees with
    `enrichment_scores` to ~1e-12 on tie-free data.
    """
    n_features, V = logits.shape
    order = torch.argsort(logits.float(), dim=1, descending=True)  # [n_features, V]
    membership = torch.zeros(len(member_ids), V, dtype=torch.bool, device=logits.device)
    for s, ids in enumerate(member_ids):
        membership[s, torch.as_tensor(np.asarray(ids, dtype=np.int64), device=logits.device)] = True
    in_order = membership[:, order]  # [n_sets, n_features, V]
    k = membership.sum(1, dtype=torch.float64)[:, None, None]
    steps = torch.where(in_order, 1.0 / k, -1.0 / (V - k))
    d = steps.cumsum(dim=2).abs().amax(dim=2)  # [n_sets, n_features]
    return d.T.cpu().numpy()
