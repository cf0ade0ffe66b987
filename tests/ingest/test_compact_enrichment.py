"""The compact enrichment rule against pandas ranks, and the pipeline writing it (issue 12)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from ingest.compact_enrichment import MIN_SET_SIZE, CompactRule, compact_keep, dropped_bounds
from ingest.pipeline import SaePipeline, StorageOptions


def _pairs(n: int, n_sets: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    d = np.round(rng.beta(1.2, 12.0, (n, n_sets)), 2).astype(np.float32)  # rounded: many ties in d
    direction = np.where(rng.random((n, n_sets)) < 0.5, 1, -1).astype(np.int8)
    p = np.round(np.exp(-20 * d.astype(np.float64)), 3)  # ties in p too, broken by d then name/feature
    q = np.minimum(1.0, p * 30)
    names = [f"set_{i:02d}" for i in rng.permutation(n_sets)]
    sizes = rng.integers(1, 12, n_sets)
    return d, direction, p, q, names, sizes


def _oracle(d, direction, p, q, names, sizes, rule: CompactRule) -> np.ndarray:
    n, n_sets = d.shape
    frame = pd.DataFrame(
        {
            "feature": np.repeat(np.arange(n), n_sets),
            "set": np.tile(np.arange(n_sets), n),
            "d": d.reshape(-1).astype(np.float64),
            "direction": direction.reshape(-1),
            "p": p.reshape(-1),
            "q": q.reshape(-1),
        }
    )
    frame["name"] = [names[s] for s in frame["set"]]
    frame["small"] = [sizes[s] < MIN_SET_SIZE for s in frame["set"]]
    per_feature = frame.sort_values(["p", "d", "name"], ascending=[True, False, True])
    kept_a = per_feature.groupby(["feature", "direction", "small"]).head(rule.top_sets).index
    per_set = frame.sort_values(["p", "d", "feature"], ascending=[True, False, True])
    kept_b = per_set.groupby(["set", "direction"]).head(rule.top_features).index
    kept = set(kept_a) | set(kept_b) | set(frame.index[frame["q"] <= rule.max_q])
    keep = np.zeros(n * n_sets, dtype=bool)
    keep[sorted(kept)] = True
    return keep.reshape(n, n_sets)


def test_compact_keep_is_the_union_of_the_three_rankings():
    d, direction, p, q, names, sizes = _pairs(200, 17)
    for rule in (CompactRule(3, 5, 0.05), CompactRule(1, 1, 0.0), CompactRule(20, 300, 1.0)):
        keep = compact_keep(d, direction, p, q, names, sizes, rule)
        np.testing.assert_array_equal(keep, _oracle(d, direction, p, q, names, sizes, rule))


def test_dropped_bounds_are_the_largest_d_left_out():
    d = np.array([[0.1, 0.5], [0.3, 0.2], [0.2, 0.9]], dtype=np.float32)
    keep = np.array([[True, True], [False, True], [False, True]])
    n_dropped, d_max = dropped_bounds(d, keep)
    assert n_dropped.tolist() == [2, 0]
    assert d_max[0] == np.float32(0.3) and np.isnan(d_max[1])


def test_the_pipeline_writes_exactly_the_kept_pairs_and_records_the_mode():
    d, direction, p, q, names, sizes = _pairs(60, 9, seed=1)
    context = SimpleNamespace(
        set_ids=np.arange(10, 19),
        set_names=names,
        index=SimpleNamespace(set_sizes=sizes),
        significance=lambda d_: (p * 0.5, p, p, q),
    )
    storage = StorageOptions(enrichment="compact", top_sets=2, top_features=4, max_q=0.01)
    pipeline = SaePipeline(
        catalog=None,  # type: ignore[arg-type]  # never opened here
        device=torch.device("cpu"),
        chunk_size=8,
        top_k=3,
        enrichment=context,  # type: ignore[arg-type]
        storage=storage,
    )
    compact = pipeline.enrichment_rows(d, direction, compact=True)
    every = pipeline.enrichment_rows(d, direction, compact=False)["enrichment"].to_pandas()
    keep = compact_keep(d, direction, p, q, names, sizes, CompactRule(2, 4, 0.01))
    kept_rows = every[keep.T.reshape(-1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(compact["enrichment"].to_pandas(), kept_rows)
    dropped = compact["enrichment_dropped"].to_pandas()
    assert dropped["n_dropped"].sum() == (~keep).sum()
    assert dropped["set_id"].tolist() == list(range(10, 19))
