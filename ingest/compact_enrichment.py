"""Compact enrichment storage: which (feature, set) pairs of one SAE to keep, so that the saved
queries and pages answer exactly as with every pair, for the ranks kept.

Every pair costs about 3.4 KB per feature at 119 sets (d, direction and four p-values), more than the
whole per-feature budget at Gemma Scope size. The queries read far fewer: a feature's best sets
(``feature_enrichment``), a set's best features (``top_features_for_set``) and significant pairs. A
pair is kept when any of these holds:

- **per feature**: the set is among the feature's ``top_sets`` best sets of its direction and size class
  (fewer than ``MIN_SET_SIZE`` tokens, or not), in ``feature_enrichment``'s order (p_calibrated, then d
  descending, then set name). ``feature_enrichment`` with ``limit <= top_sets``, either direction or both,
  and ``min_size`` 1 or ``MIN_SET_SIZE`` (the default) is then exact;
- **per set**: the feature is among the set's ``top_features`` best features of the SAE in that direction,
  in ``top_features_for_set``'s order (p_calibrated, d descending, feature). That query with
  ``limit <= top_features`` and any direction, layer or ``max_q`` filter is then exact, across SAEs too
  (the global top L is within the union of each SAE's top L);
- **significant**: ``q_value <= max_q``.

For each set, the largest ``d`` of the pairs not kept is stored (``enrichment_dropped``): an absent pair
has ``d`` at most that, which ``enriched_a_not_b`` uses as a bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SET_SIZE = 5  # feature_enrichment's default min_size: sets below it form their own size class
ROW_BLOCK = 16384  # features sorted at a time: bounds the sort's memory for the widest SAEs


@dataclass(frozen=True)
class CompactRule:
    top_sets: int
    top_features: int
    max_q: float


def _top_sets_per_feature(
    d: np.ndarray, direction: np.ndarray, p_cal: np.ndarray, name_rank: np.ndarray, small: np.ndarray, top_sets: int
) -> np.ndarray:
    """[n, S] bool: the ``top_sets`` best sets of each feature within each (direction, size class)."""
    n, n_sets = d.shape
    keep = np.zeros((n, n_sets), dtype=bool)
    names = np.broadcast_to(name_rank, (n, n_sets))
    rows = np.arange(n)[:, None]
    for sign in (1, -1):
        for size_class in (True, False):
            in_group = (direction == sign) & (small[None, :] == size_class)
            if not in_group.any():
                continue
            order = np.lexsort((names, -d, p_cal, ~in_group), axis=1)[:, :top_sets]
            keep[rows, order] |= in_group[rows, order]
    return keep


def _top_features_per_set(d: np.ndarray, direction: np.ndarray, p_cal: np.ndarray, top_features: int) -> np.ndarray:
    """[n, S] bool: the ``top_features`` best features of each set within each direction."""
    n, n_sets = d.shape
    keep = np.zeros((n, n_sets), dtype=bool)
    features = np.arange(n)
    for s in range(n_sets):
        for sign in (1, -1):
            in_dir = direction[:, s] == sign
            order = np.lexsort((features, -d[:, s], p_cal[:, s], ~in_dir))[:top_features]
            keep[order[in_dir[order]], s] = True
    return keep


def compact_keep(
    d: np.ndarray,
    direction: np.ndarray,
    p_calibrated: np.ndarray,
    q_value: np.ndarray,
    set_names: list[str],
    set_sizes: np.ndarray,
    rule: CompactRule,
) -> np.ndarray:
    """d, direction, p_calibrated, q_value [d_sae, n_sets] -> keep [d_sae, n_sets] (see the module doc)."""
    name_rank = np.argsort(np.argsort(np.asarray(set_names, dtype=object), kind="stable"), kind="stable")
    small = np.asarray(set_sizes) < MIN_SET_SIZE
    keep = q_value <= rule.max_q
    keep |= _top_features_per_set(d, direction, p_calibrated, rule.top_features)
    for start in range(0, d.shape[0], ROW_BLOCK):
        rows = slice(start, start + ROW_BLOCK)
        keep[rows] |= _top_sets_per_feature(
            d[rows], direction[rows], p_calibrated[rows], name_rank, small, rule.top_sets
        )
    return keep


def dropped_bounds(d: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per set: how many pairs were not kept, and the largest d among them (NaN when none)."""
    dropped = ~keep
    n_dropped = dropped.sum(axis=0)
    d_max = np.where(dropped, d, -np.inf).max(axis=0, initial=-np.inf)
    return n_dropped.astype(np.int32), np.where(n_dropped > 0, d_max, np.nan).astype(np.float32)
