"""The notebook's enrichment method, kept as the benchmarks' baseline and as a test oracle for
``ingest.analysis.enrichment.enrichment_scores``; not part of the product."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["baseline_enrichment"]


def baseline_enrichment(logits: torch.Tensor, member_ids: Sequence[np.ndarray]) -> np.ndarray:
    """The notebook's method as the benchmark baseline: logits [n_features, V] -> d [n_features, n_sets].

    Materialises the membership of every set in every feature's sorted order, [n_sets, n_features,
    V], turns it into +1/k, -1/(V-k) steps, takes a cumsum and the max |.|. Slow and memory-hungry
    on purpose; ignores ties (each token is its own step). float64 steps so it agrees with
    `enrichment_scores` to ~1e-12 on tie-free data.
    """
    n_features, V = logits.shape
    order = torch.argsort(logits, dim=1, descending=True)  # [n_features, V]
    membership = torch.zeros(len(member_ids), V, dtype=torch.bool, device=logits.device)
    for s, ids in enumerate(member_ids):
        membership[s, torch.tensor(np.asarray(ids, dtype=np.int64), device=logits.device)] = True
    in_order = membership[:, order]  # [n_sets, n_features, V]
    k = membership.sum(1, dtype=torch.float64)[:, None, None]
    steps = torch.where(in_order, 1.0 / k, -1.0 / (V - k))
    d = steps.cumsum(dim=2).abs().amax(dim=2)  # [n_sets, n_features]
    return d.T.cpu().numpy()
