"""Token-set enrichment of SAE features: the two-sample KS statistic, exact and chunked.

Defined in docs/definitions.md. For feature f and token set S (k members, V tokens) rank the tokens
by logit weight, descending, and walk the list adding 1/k for a member and subtracting 1/(V-k)
otherwise; D is the largest |running sum|. That walk is the two-sample Kolmogorov-Smirnov statistic between the logit
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

numpy sorts by radix where it can (``ingest.analysis.radix_sort``): the row's argsort is two stable
passes over 16-bit digits, and a set's uint16 positions sort by numpy's radix sort once the set is
large enough for that to beat its quicksort; on this project's CPU the comparison sorts run
scalar and cost 3-4x more. The order of a row's tied tokens differs between sorts, never the
result: every formula above reads whole tie groups. `row_sides` takes a row already sorted, so
that the ingest (``ingest.analysis.row_stage``) sorts each row once for the enrichment, the
histogram and the top tokens.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ingest.analysis.ks_pvalues import ks_p_values, kstwo_sf
from ingest.analysis.radix_sort import argsort_row

__all__ = ["SetIndex", "SetScorer", "enrichment_scores", "finish_sides", "ks_p_values", "kstwo_sf", "row_sides"]

# Elements per batch of the torch backend's row sorts (rows x (V + M), ~60 bytes each in flight):
# 2^24 (1 GB) on a CPU, where memory is shared with everything else; on a GPU a quarter of its
# free memory, at most 2^28 (16 GB). Measured on an H200, a Gemma-shaped chunk (2,048 x 256,000)
# took 1.68 s at 2^24, 0.69 s at 2^26 and 0.48 s at 2^28: fewer, larger sorts.
TORCH_BATCH_ELEMENTS_CPU = 1 << 24
TORCH_BATCH_ELEMENTS_GPU_MAX = 1 << 28
BYTES_PER_BATCH_ELEMENT = 64
INT32_KEY_LIMIT = 2**31  # set x V + position sort keys below this are sorted as int32


def _torch_batch_elements(device: torch.device) -> int:
    if device.type != "cuda":
        return TORCH_BATCH_ELEMENTS_CPU
    free_bytes, _ = torch.cuda.mem_get_info(device)
    return max(TORCH_BATCH_ELEMENTS_CPU, min(TORCH_BATCH_ELEMENTS_GPU_MAX, free_bytes // 4 // BYTES_PER_BATCH_ELEMENT))


# A set slice of uint16 positions at least this long sorts faster by numpy's radix sort (kind="stable")
# than by its quicksort (measured: 2.8-4 ns per member from 512 up, against 6-10 ns for quicksort).
RADIX_SEGMENT_MIN = 512


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
    segment_sort_kinds: tuple = field(repr=False)  # numpy sort kind of each segment: radix ("stable") or quicksort
    token_ptr: np.ndarray = field(repr=False)  # [V+1] CSR: walked sets of token t are
    token_sets: np.ndarray = field(repr=False)  # [M] token_sets[token_ptr[t]:token_ptr[t+1]]

    @property
    def n_sets(self) -> int:
        return len(self.set_sizes)

    @classmethod
    def build(cls, member_ids: Sequence[np.ndarray], vocab_size: int) -> SetIndex:
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
            segments=tuple(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)),
            segment_sort_kinds=tuple(
                "stable" if pos_dtype == np.uint16 and k >= RADIX_SEGMENT_MIN else "quicksort"
                for k in walk_sizes.tolist()
            ),
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
    # p is sorted within each set and sets are laid out in order, so p + set * V is sorted: one
    # vectorised binary search finds every (tied token, set) pair's place in p.
    keys = np.add(p, index.key_offset_m, dtype=index.int_dtype)
    pair = np.searchsorted(keys, (sets * V + q[which]).astype(index.int_dtype))
    return pair, (q_hi - q)[which], (q - q_lo)[which]


def _row_sides_numpy(x: np.ndarray, index: SetIndex) -> tuple[np.ndarray, np.ndarray]:
    """One feature: x [V] float -> (max_j after_j, min_j before_j) numerators, each [n_sets] int64."""
    order = argsort_row(x)
    return row_sides(order, x[order], index)


def row_sides(order: np.ndarray, asc: np.ndarray, index: SetIndex) -> tuple[np.ndarray, np.ndarray]:
    """One feature sorted: order [V] (token ids by ascending logit, ties in any order) and asc [V]
    (the logits in that order) -> (max_j after_j, min_j before_j) numerators, each [n_sets] int64.

    Both sides come from u_j = j*V - p_j*k: after_j = u_j - k and before_j = u_j - V, with k and V
    constant inside a set, so one array and two segment reductions do. Ties replace p_j by
    hi(p_j) in after_j and lo(p_j) in before_j (module docstring).
    """
    V, it = index.vocab_size, index.int_dtype
    position = np.empty(V, dtype=index.pos_dtype)
    position[order] = index.desc_positions  # 0 = highest logit
    p = np.take(position, index.member_ids)
    # Sorting each set's slice in place beats one sort of set-offset keys (smaller, cache-resident
    # sorts, and no offset passes); large uint16 slices take numpy's radix sort.
    for (a, b), kind in zip(index.segments, index.segment_sort_kinds, strict=True):
        p[a:b].sort(kind=kind)
    k, jv, starts = index.k_m, index.j_times_v_m, index.starts[:-1]
    u_after = u_before = jv - np.multiply(p, k, dtype=it)
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


_DEVICE_ARRAYS: weakref.WeakKeyDictionary[SetIndex, dict] = weakref.WeakKeyDictionary()


def _device_index(index: SetIndex, device: torch.device) -> dict[str, torch.Tensor]:
    """The SetIndex arrays the torch path needs, as tensors on `device`, cached per index so chunked
    calls do not re-upload them. Sort keys (set_index * V + position) are int32 when they fit: a
    sort's cost on a GPU grows with the key's bytes."""
    per_index = _DEVICE_ARRAYS.setdefault(index, {})
    if str(device) not in per_index:
        V, n_sets = index.vocab_size, index.n_sets
        # Segment reductions by one running max: segment s is lifted by s * lift, more than the spread
        # of u_j = j*V - p_j*k (within [V - (V-1)k, kV], so under V*V), so every value of segment s
        # exceeds every value before it and the running max at the segment's end is its own max.
        lift = V * V + 1
        if n_sets * lift + V * V >= 2**62:
            raise ValueError(f"{n_sets} sets over {V} tokens overflow the torch path's int64 sums; use backend='numpy'")
        seg = np.repeat(np.arange(n_sets, dtype=np.int64), index.walk_sizes)
        key_dtype = np.int32 if n_sets * V < INT32_KEY_LIMIT else np.int64
        t = lambda a, dtype=np.int64: torch.as_tensor(np.asarray(a, dtype=dtype), device=device)  # noqa: E731
        per_index[str(device)] = {
            "member_ids": t(index.member_ids),
            "key_offset": t(index.key_offset_m, key_dtype),
            "jv": t(index.j_times_v_m),
            "k": t(index.k_m),
            "seg_lift": t(seg * lift),
            "ends": t(index.starts[1:] - 1),
            "walk_sizes": t(index.walk_sizes),
        }
    return per_index[str(device)]


def _segment_extreme(u: torch.Tensor, dev: dict[str, torch.Tensor], largest: bool) -> torch.Tensor:
    """u [c, M] int64, set-major -> each set's max (largest) or min of u, [c, n_sets]: one running
    max or min over the lifted values (``_device_index``) read at the segment ends. No atomics: a
    scatter_reduce into 121 targets per row serialises on a GPU."""
    if largest:
        running = torch.cummax(u + dev["seg_lift"], dim=1).values
    else:
        running = torch.cummin(u - dev["seg_lift"], dim=1).values
    at_ends = running.index_select(1, dev["ends"])
    lift = dev["seg_lift"].index_select(0, dev["ends"])
    return at_ends - lift if largest else at_ends + lift


def _sides_torch(x: torch.Tensor, index: SetIndex, max_elements: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x [n, V] on any device -> (amax, bmin) [n, n_sets] int64, in row batches of about
    max_elements / (V + M) so memory stays bounded.

    Same integer closed form as the numpy path; sets are sorted all at once by adding
    set_index * V to every position (one batched sort instead of n_sets small ones).
    """
    V, M = index.vocab_size, index.member_ids.size
    dev = _device_index(index, x.device)
    desc_pos = torch.arange(V - 1, -1, -1, device=x.device, dtype=dev["key_offset"].dtype)
    pos_v = torch.arange(V, device=x.device)
    batch = max(1, max_elements // (V + M))
    out_a, out_b = [], []
    for r0 in range(0, x.shape[0], batch):
        xb = x[r0 : r0 + batch]
        c = xb.shape[0]
        asc_values, order = torch.sort(xb, dim=1)
        position = torch.empty(c, V, dtype=desc_pos.dtype, device=x.device).scatter_(1, order, desc_pos.expand(c, V))
        del order
        key = position.index_select(1, dev["member_ids"]).add_(dev["key_offset"])
        del position
        p = torch.sort(key, dim=1).values.sub_(dev["key_offset"]).long()
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
        out_a.append(_segment_extreme(u_after, dev, largest=True) - dev["walk_sizes"])
        out_b.append(_segment_extreme(u_before, dev, largest=False) - V)
    return torch.cat(out_a), torch.cat(out_b)


def _finish(amax, bmin, index: SetIndex, xp) -> tuple:
    """Integer sides -> (d float64, direction int8); `xp` is numpy or torch (same expressions)."""
    comp: Any = index.complemented  # numpy arrays, or tensors on the logits' device
    k: Any = index.walk_sizes
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


def finish_sides(amax: np.ndarray, bmin: np.ndarray, index: SetIndex) -> tuple[np.ndarray, np.ndarray]:
    """`row_sides` of n features stacked ([n, n_sets] int64 each) -> (d float64, direction int8), [n, n_sets]."""
    d, direction = _finish(amax, bmin, index, np)
    return d, direction


def enrichment_scores(
    logits: torch.Tensor,
    index: SetIndex,
    *,
    n_threads: int | None = None,
    backend: str = "auto",
    max_elements: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [n_features, V] -> (d [n_features, n_sets] float64, direction [n_features, n_sets] int8).

    d is the KS statistic of every (feature, set) pair, direction +1 when the set's members sit among
    the feature's promoted tokens (see the module docstring for the exact tie rule). Results live
    on logits.device. Working memory is O(V + M) per row in flight (n_threads rows for numpy,
    ~max_elements / (V + M) rows for torch; by default 2^24 on CPU and up to 2^28 on a GPU, see
    TORCH_BATCH_ELEMENTS_CPU), never n_sets * n_features * V; the outputs are
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
        high, low = _sides_torch(x, index, max_elements or _torch_batch_elements(x.device))
        return _finish(high, low, index, torch)
    raise ValueError(f"unknown backend {backend!r}")


@dataclass(frozen=True, eq=False)
class SetScorer:
    """`enrichment_scores` against one SetIndex, as the callable ``analyze_sae`` takes: logits [n, V] ->
    (d, direction). ``analyze_sae`` sees the index through it and, on CPU, scores each row from the
    sort it makes for the histogram and the top tokens instead of sorting twice."""

    index: SetIndex
    backend: str = "auto"  # enrichment_scores' backend; analyze_sae's CPU row stage ignores it

    def __call__(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return enrichment_scores(logits, self.index, backend=self.backend)
