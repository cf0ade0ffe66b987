"""ingest.analysis.row_stage: what one sort of a row gives, against brute force over every value
and against logit_stats's whole-chunk torch functions (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ingest.analysis.enrichment import SetIndex, enrichment_scores, finish_sides
from ingest.analysis.logit_stats import N_HIST_BINS, extremes, histogram
from ingest.analysis.row_stage import RowResults, analyse_row, analyse_rows, histogram_from_sorted


def brute_force_counts(x: np.ndarray, n_bins: int = N_HIST_BINS) -> np.ndarray:
    """Every value binned by the rule, one by one: clamp(floor((float64(x) - min) / width), 0, n_bins - 1)."""
    low, high = float(x.min()), float(x.max())
    width = (high - low) / n_bins if high > low else 1.0
    bins = np.clip(np.floor((x.astype(np.float64) - low) / width), 0, n_bins - 1).astype(np.int64)
    return np.bincount(bins, minlength=n_bins)


def hard_rows() -> list[np.ndarray]:
    """Rows where a bin edge is easy to get wrong: values exactly on edges, values one float apart,
    heavy ties, a constant row, signed zeros, huge and tiny magnitudes."""
    rng = np.random.default_rng(0)
    one = np.float32(1.0)
    return [
        rng.standard_normal(5000).astype(np.float32),
        np.arange(0, 51, dtype=np.float32),  # width 1.02: edges fall between the integers
        np.arange(0, 101, dtype=np.float32) / 2,  # width exactly 1: values on every edge
        np.round(rng.standard_normal(3000) * 4).astype(np.float32),
        np.array([one, np.nextafter(one, np.float32(2))] * 40, dtype=np.float32),  # width far below an ulp
        np.full(100, 0.25, dtype=np.float32),
        np.concatenate([np.zeros(10), -np.zeros(10), rng.standard_normal(200)]).astype(np.float32),
        (rng.standard_normal(2000) * 1e30).astype(np.float32),
        (rng.standard_normal(2000) * 1e-40).astype(np.float32),  # subnormals
        rng.standard_normal(2000),  # float64
        np.cumsum(rng.exponential(size=4000)).astype(np.float32) % 7,
    ]


@pytest.mark.parametrize("row", range(len(hard_rows())))
def test_histogram_from_sorted_equals_brute_force_and_torch(row):
    x = hard_rows()[row]
    asc = np.sort(x)
    counts = histogram_from_sorted(asc, float(asc[0]), float(asc[-1]))
    np.testing.assert_array_equal(counts, brute_force_counts(x))
    np.testing.assert_array_equal(counts, histogram(torch.from_numpy(x)[None, :]).counts[0].numpy())


def test_histogram_from_sorted_with_fewer_bins():
    x = np.random.default_rng(1).standard_normal(999).astype(np.float32)
    asc = np.sort(x)
    np.testing.assert_array_equal(
        histogram_from_sorted(asc, float(asc[0]), float(asc[-1]), 7), brute_force_counts(x, 7)
    )


def chunk_with_ties(rng: np.random.Generator, V: int) -> np.ndarray:
    x = rng.standard_normal((6, V)).astype(np.float32)
    x[1, :3] = x[1].max() + 1  # three tokens tied for the top
    x[2, :2] = x[2].min() - 1  # two tied for the bottom
    x[3, 5] = x[3].max() + 1  # top 1 clear, but a tie on the 10th place
    x[3, 6:8] = np.sort(x[3])[-9]
    x[4] = 0.0  # zero extremes (and a constant row)
    x[5] = np.round(x[5] * 2)  # ties everywhere
    return x


def test_rows_match_the_torch_functions_or_say_which_need_torch():
    rng = np.random.default_rng(2)
    V, k = 3000, 10
    x = chunk_with_ties(rng, V)
    index = SetIndex.build([rng.choice(V, n, replace=False) for n in (1, 40, 700, 1600, 2999)], V)
    out = RowResults.allocate(len(x), k, x.dtype, index.n_sets)
    for row in range(len(x)):
        analyse_row(x[row], row, out, index)
    logits = torch.from_numpy(x)
    hist, ext = histogram(logits), extremes(logits, k)
    assert out.finite.all()
    np.testing.assert_array_equal(out.hist_counts, hist.counts.numpy())
    np.testing.assert_array_equal(out.low, hist.low.numpy())
    np.testing.assert_array_equal(out.high, hist.high.numpy())
    assert out.zero_extreme.tolist() == [False, False, False, False, True, False]
    assert out.needs_torch_extremes.tolist() == [False, True, True, True, True, True]
    clear = ~out.needs_torch_extremes
    np.testing.assert_array_equal(out.top_ids[clear], ext.top_ids.numpy()[clear])
    np.testing.assert_array_equal(out.top_values[clear], ext.top_values.numpy()[clear])
    np.testing.assert_array_equal(out.bottom_ids[clear], ext.bottom_ids.numpy()[clear])
    d, direction = finish_sides(out.amax, out.bmin, index)
    want_d, want_direction = enrichment_scores(logits, index)
    np.testing.assert_array_equal(d, want_d.numpy())
    np.testing.assert_array_equal(direction, want_direction.numpy())


def test_non_finite_rows_are_flagged_and_threads_fill_every_row():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 400)).astype(np.float32)
    x[1, 7], x[3, 9] = np.nan, -np.inf
    out = RowResults.allocate(5, 4, x.dtype, None)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        seconds = [future.result() for future in analyse_rows(x, out, None, pool, 2)]
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)
    assert out.finite.tolist() == [True, False, True, False, True]
    np.testing.assert_array_equal(out.top_ids[[0, 2, 4]], np.argsort(-x[[0, 2, 4]], axis=1)[:, :4])
