"""Calibration of p_calibrated, proven on fixtures whose truth is known.

1. Held out: random directions the tail fit never saw give uniform calibrated p-values: for every
   set family the fraction below 0.01, 0.001 and 1e-4 is within a factor 1.5 of the nominal level.
2. Planted: an SAE of random directions (the null's own distribution) plus a few features planted
   along a set's shared direction: BH at q < 0.05 over p_calibrated finds every planted pair with
   q < 0.001, and the false discovery proportion averaged over seeds is at most 5%.

The fixture is a small model (V = 2000 tokens, d_model = 128) with three families the real library
has: exchangeable sets (members unrelated), clustered sets (members share a direction, as lexical
sets do) and one-to-four-token sets (d is a token's percentile), with token norms as uneven as GPT-2's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ingest.analysis.enrichment import SetIndex, enrichment_scores
from ingest.analysis.null import (
    benjamini_hochberg,
    fit_tails,
    null_d_values,
    p_calibrated,
    p_null,
    random_unit_directions,
)

V, D_MODEL, N_FIT = 2000, 128, 4096
LEVELS = (1e-2, 1e-3, 1e-4)


def fixture_model(seed: int = 7):
    rng = np.random.default_rng(seed)
    norms = np.exp(rng.normal(0, 0.35, V))  # uneven token norms
    W_U = rng.standard_normal((D_MODEL, V)) * norms / np.sqrt(D_MODEL)
    families, members, cluster_dirs = [], [], {}
    for k in (5, 12, 30, 60, 120, 250, 400, 700):  # exchangeable
        families.append("exchangeable")
        members.append(np.sort(rng.choice(V, k, replace=False)))
    sizes, strengths = (8, 15, 25, 40, 60, 90, 150, 300), (0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.5, 2.0)
    for k, strength in zip(sizes, strengths, strict=True):
        ids = np.sort(rng.choice(V, k, replace=False))
        u = rng.standard_normal(D_MODEL)
        u /= np.linalg.norm(u)
        W_U[:, ids] += strength * u[:, None] / np.sqrt(D_MODEL) * 6
        families.append("clustered")
        members.append(ids)
        cluster_dirs[len(members) - 1] = u
    for k in (1, 1, 2, 2, 3, 3, 4, 4):  # tiny
        families.append("tiny")
        members.append(np.sort(rng.choice(V, k, replace=False)))
    W_U -= W_U.mean(axis=1, keepdims=True)  # centred, as the processed W_U
    W = torch.from_numpy(W_U.astype(np.float32))
    return W, SetIndex.build(members, V), np.array(families), cluster_dirs


@pytest.fixture(scope="module")
def model():
    W_U, index, families, cluster_dirs = fixture_model()
    null_sorted = null_d_values(W_U, index, n_directions=N_FIT, seed=0)
    fit = fit_tails(null_sorted, index.set_sizes, V)
    return W_U, index, families, cluster_dirs, null_sorted, fit


def scores(directions: torch.Tensor, W_U: torch.Tensor, index: SetIndex) -> np.ndarray:
    return np.concatenate(
        [
            enrichment_scores(directions[i : i + 4096] @ W_U, index)[0].numpy()
            for i in range(0, directions.shape[0], 4096)
        ]
    )


def test_held_out_random_directions_give_uniform_p_in_every_family(model):
    W_U, index, families, _, null_sorted, fit = model
    # 50,000 held-out directions x 8 sets = 400,000 p-values per family: 40 expected below 1e-4
    held_out = random_unit_directions(D_MODEL, 50_000, seed=12345)
    p = p_calibrated(scores(held_out, W_U, index), null_sorted, fit)
    assert (fit.n_exceedances > 0).all()
    for family in ("exchangeable", "clustered", "tiny"):
        pooled = p[:, families == family].ravel()
        for level in LEVELS:
            ratio = np.mean(pooled < level) / level
            assert 1 / 1.5 <= ratio <= 1.5, f"{family}: {ratio:.2f} x nominal below {level}"


def test_p_calibrated_extends_p_null_below_its_floor(model):
    W_U, index, families, cluster_dirs, null_sorted, fit = model
    s = max(cluster_dirs)  # the most strongly clustered set
    planted = torch.from_numpy(cluster_dirs[s].astype(np.float32))[None, :]
    d = scores(planted, W_U, index)
    p = p_calibrated(d, null_sorted, fit)
    assert d[0, s] > null_sorted[s].max()  # beyond every null direction
    assert p[0, s] < 1 / (N_FIT + 1) / 100  # far below p_null's floor 1/(N+1)
    body = null_sorted[:, N_FIT // 2][None, :]  # the null's median: p_calibrated = p_null
    continuous = families != "tiny"  # a 1-4 token set's d ties a lot
    np.testing.assert_allclose(p_calibrated(body, null_sorted, fit)[0, continuous], 0.5, atol=0.03)
    np.testing.assert_array_equal(p_calibrated(body, null_sorted, fit), p_null(body, null_sorted))


@pytest.mark.parametrize("n_features", [400])
def test_bh_over_p_calibrated_finds_planted_pairs_and_controls_fdr(model, n_features):
    W_U, index, families, cluster_dirs, null_sorted, fit = model
    # Planted along the shared direction of the clustered sets whose direction scores far beyond every null
    # direction (d at least 0.15 above the null's maximum): a planted feature is one that is clearly there.
    strong = [
        (s, u)
        for s, u in sorted(cluster_dirs.items())
        if scores(torch.from_numpy(u.astype(np.float32))[None], W_U, index)[0, s] >= null_sorted[s, -1] + 0.15
    ]
    assert len(strong) >= 3
    fdp = []
    for seed in range(8):
        g = torch.Generator().manual_seed(100 + seed)
        W_dec = torch.randn(n_features, D_MODEL, generator=g)
        planted = {}
        for j, (s, u) in enumerate(strong):
            noisy = torch.from_numpy(u.astype(np.float32)) + 0.05 * torch.randn(D_MODEL, generator=g)
            W_dec[7 + 13 * j] = noisy
            planted[(7 + 13 * j, s)] = True
        W_dec /= W_dec.norm(dim=1, keepdim=True)
        q = benjamini_hochberg(p_calibrated(scores(W_dec, W_U, index), null_sorted, fit))
        for f, s in planted:
            assert q[f, s] < 1e-3, f"seed {seed}: planted pair ({f}, {s}) has q = {q[f, s]:.3g}"
        found = set(zip(*np.nonzero(q < 0.05), strict=True))
        fdp.append(len(found - set(planted)) / max(len(found), 1))
    print("false discovery proportions", fdp)
    assert np.mean(fdp) <= 0.05, f"false discovery proportions {fdp}"
