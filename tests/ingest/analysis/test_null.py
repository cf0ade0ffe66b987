"""Oracle tests for ingest.analysis.null: brute-force counts, BH by hand and by scipy, and the
random-direction null recomputed from its definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from ingest.analysis.enrichment import SetIndex, enrichment_scores
from ingest.analysis.null import benjamini_hochberg, null_d_values, p_null, random_unit_directions


def p_null_oracle(d: np.ndarray, null: np.ndarray) -> np.ndarray:
    """(1 + #null >= d) / (1 + N), one comparison at a time, in d's dtype."""
    out = np.empty(d.shape)
    for f in range(d.shape[0]):
        for s in range(d.shape[1]):
            hits = sum(1 for v in null[s] if d.dtype.type(v) >= d[f, s])
            out[f, s] = (1 + hits) / (1 + null.shape[1])
    return out


def test_p_null_matches_brute_force_count_with_ties():
    rng = np.random.default_rng(0)
    null = np.sort(rng.integers(0, 20, (3, 50)) / 20.0, axis=1)  # many exact ties with d
    d = rng.integers(-1, 22, (7, 3)) / 20.0
    p = p_null(d, null)
    np.testing.assert_array_equal(p, p_null_oracle(d, null))
    assert p.min() == 1 / 51 and p.max() == 1.0


def test_p_null_compares_in_the_dtype_of_d():
    """float32(0.1) > 0.1 in float64: a float32 d equal to a null value must still count it."""
    null = np.array([[0.05, 0.1, 0.2]])
    d32 = np.array([[0.1]], dtype=np.float32)
    assert float(d32[0, 0]) > null[0, 1]  # why the dtype matters
    assert p_null(d32, null)[0, 0] == (1 + 2) / 4 == p_null_oracle(d32, null)[0, 0]
    assert p_null(np.array([[0.1]]), null)[0, 0] == (1 + 2) / 4


def test_p_null_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="want"):
        p_null(np.zeros((2, 3)), np.zeros((2, 10)))


def test_benjamini_hochberg_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.20 -> p*m/rank = 0.04, 0.06, 0.0533.., 0.20
    # -> running min from the top: 0.04, 0.0533.., 0.0533.., 0.20
    q = benjamini_hochberg(np.array([[0.01, 0.04], [0.03, 0.20]]))
    np.testing.assert_allclose(q, [[0.04, 0.16 / 3], [0.16 / 3, 0.20]], rtol=1e-15)
    # 0.5*3/1 = 1.5, 0.9*3/2 = 1.35, 1.0*3/3 = 1 -> all capped / pulled to 1
    np.testing.assert_array_equal(benjamini_hochberg(np.array([0.9, 0.5, 1.0])), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(benjamini_hochberg(np.array([0.02, 0.02])), [0.02, 0.02])


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0, 1, 300), rng.uniform(0, 1e-3, 40), [0.5, 0.5, 0.0]])
    p = rng.permutation(p).reshape(7, 49)
    q = benjamini_hochberg(p)
    assert q.shape == p.shape
    np.testing.assert_allclose(q.ravel(), stats.false_discovery_control(p.ravel(), method="bh"), rtol=1e-12)
    with pytest.raises(ValueError):
        benjamini_hochberg(np.array([0.1, np.nan]))


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(2)
    V, d_model = 400, 16
    W_U = torch.from_numpy(rng.standard_normal((d_model, V)).astype(np.float32))
    sets = [rng.choice(V, k, replace=False) for k in (1, 5, 60, 250, 399)]
    return W_U, SetIndex.build(sets, V)


def test_null_d_values_shape_sorted_and_deterministic(small_model):
    W_U, index = small_model
    a = null_d_values(W_U, index, n_directions=50, seed=3, chunk_size=16)
    assert a.shape == (index.n_sets, 50) and a.dtype == np.float64
    assert (np.diff(a, axis=1) >= 0).all() and (a >= 0).all() and (a <= 1).all()
    np.testing.assert_array_equal(a, null_d_values(W_U, index, n_directions=50, seed=3, chunk_size=50))
    assert not np.array_equal(a, null_d_values(W_U, index, n_directions=50, seed=4))


def test_null_d_values_are_the_scores_of_the_random_directions(small_model):
    W_U, index = small_model
    dirs = random_unit_directions(W_U.shape[0], 30, seed=5)
    np.testing.assert_allclose(dirs.norm(dim=1).numpy(), 1.0, rtol=1e-6)
    d, _ = enrichment_scores(dirs @ W_U, index)
    null = null_d_values(W_U, index, n_directions=30, seed=5)
    np.testing.assert_array_equal(null, np.sort(d.numpy().T, axis=1))


def test_null_d_values_checks_vocab(small_model):
    W_U, index = small_model
    with pytest.raises(ValueError, match="V=400"):
        null_d_values(W_U[:, :300], index, n_directions=4)
