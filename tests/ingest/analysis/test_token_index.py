"""The reverse token index against a brute-force sort of the whole [features, V] logit matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ingest.analysis.token_index import TokenFeatureIndex
from ingest.tables import token_features_table


def _brute_force(logits: np.ndarray, k: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """[k, V] features and values: each token's k most extreme features, lower feature first on ties."""
    n = logits.shape[0]
    features = np.arange(n)[:, None].repeat(logits.shape[1], axis=1)
    order = np.lexsort((features, -logits if largest else logits), axis=0)[:k]
    return order, np.take_along_axis(logits, order, axis=0)


@pytest.mark.parametrize("n_features, chunk, k", [(300, 64, 4), (7, 3, 5), (50, 50, 1), (3, 2, 6)])
def test_folding_chunks_gives_the_brute_force_top_k_per_token(n_features, chunk, k):
    rng = np.random.default_rng(n_features)
    logits = rng.standard_normal((n_features, 40)).astype(np.float32)
    index = TokenFeatureIndex(40, k)
    for start in range(0, n_features, chunk):
        index.fold(start, torch.from_numpy(logits[start : start + chunk]))
    kept = min(k, n_features)
    for largest, features, values in (
        (True, index.top_features, index.top_values),
        (False, index.bottom_features, index.bottom_values),
    ):
        want_features, want_values = _brute_force(logits, kept, largest)
        np.testing.assert_array_equal(features[:kept], want_features)
        np.testing.assert_array_equal(values[:kept], want_values)
        assert (features[kept:] == -1).all()  # fewer features than k: the rest stay empty


def test_ties_go_to_the_lower_feature():
    logits = np.zeros((6, 3), dtype=np.float32)
    logits[4, 1] = 1.0
    index = TokenFeatureIndex(3, 2)
    index.fold(0, torch.from_numpy(logits[:3]))
    index.fold(3, torch.from_numpy(logits[3:]))
    assert index.top_features[:, 0].tolist() == [0, 1]
    assert index.top_features[:, 1].tolist() == [4, 0]
    assert index.bottom_features[:, 1].tolist() == [0, 1]


def test_rows_are_sorted_by_token_and_skip_empty_ranks():
    index = TokenFeatureIndex(5, 3)
    index.fold(0, torch.tensor([[1.0, 2, 3, 4, 5], [5.0, 4, 3, 2, 1]]))
    table = token_features_table(index).to_pandas()
    assert len(table) == 5 * 2 * 2  # two features: ranks 0 and 1 only, in both directions
    assert table["token_id"].is_monotonic_increasing
    top = table[(table["direction"] == "top") & (table["token_id"] == 0)]
    assert top["feature"].tolist() == [1, 0] and top["value"].tolist() == [5.0, 1.0]


def test_a_chunk_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match=r"logits must be \[chunk, 5\], got \[2, 4\]"):
        TokenFeatureIndex(5, 2).fold(0, torch.zeros(2, 4))


@pytest.mark.parametrize("split", [1, 8, 13])
def test_indexes_of_feature_ranges_merge_into_the_single_pass_index(split):
    rng = np.random.default_rng(7)
    logits = torch.from_numpy(rng.normal(size=(20, 9)).astype(np.float32))
    logits[3, :] = logits[15, :]  # exact ties across ranges: the lower feature wins in both
    whole, first, second = TokenFeatureIndex(9, 3), TokenFeatureIndex(9, 3), TokenFeatureIndex(9, 3)
    for start in range(0, 20, 4):
        whole.fold(start, logits[start : start + 4])
    for start in range(0, split, 4):
        first.fold(start, logits[start : min(start + 4, split)])
    for start in range(split, 20, 4):
        second.fold(start, logits[start : min(start + 4, 20)])
    second.merge(first)  # order of arrival does not matter
    expected = np.argsort(-logits.numpy(), axis=0, kind="stable")[:3]  # brute force, lower feature on ties
    np.testing.assert_array_equal(second.top_features, expected)
    np.testing.assert_array_equal(second.top_features, whole.top_features)
    np.testing.assert_array_equal(second.bottom_features, whole.bottom_features)
    np.testing.assert_array_equal(second.bottom_values, whole.bottom_values)
