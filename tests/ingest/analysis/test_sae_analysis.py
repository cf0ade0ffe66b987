"""analyze_sae on CPU (rows sorted once in numpy threads, moments by blocks) against the whole-chunk
torch functions of logit_stats and enrichment_scores on the full logit matrix: bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from ingest.analysis.enrichment import SetIndex, SetScorer, enrichment_scores
from ingest.analysis.logit_stats import blocked_moments, extremes, histogram, inverse_token_norms, moments, row_blocks
from ingest.analysis.sae_analysis import analyze_sae
from ingest.analysis.token_index import TokenFeatureIndex

FIELDS = ("mean", "std", "skewness", "kurtosis")


def awkward_layer(seed: int = 0, d_model: int = 24, V: int = 700, n: int = 37) -> tuple[torch.Tensor, torch.Tensor]:
    """W_U with duplicated token columns (exact ties at the top and bottom of many features), W_dec with
    a zero row (a constant zero row: zero extremes), a repeated row and one aligned with a token."""
    g = torch.Generator().manual_seed(seed)
    W_U = torch.randn(d_model, V, generator=g)
    W_U[:, 1] = W_U[:, 0]
    W_U[:, 2] = W_U[:, 0]
    W_U[:, V - 1] = W_U[:, V - 2]
    W_U[:, 10] = 0  # a zero column: cosine logits of 0 for every feature
    W_dec = torch.randn(n, d_model, generator=g)
    W_dec[3] = 0
    W_dec[5] = W_dec[4]
    W_dec[6] = W_U[:, 0] * 5  # tokens 0, 1, 2 tie at its top
    return W_U, W_dec


def oracle(W_dec: torch.Tensor, W_U: torch.Tensor, index: SetIndex | None, k: int, chunk: int) -> dict[str, np.ndarray]:
    """The whole-chunk functions, chunk by chunk (a matmul's rounding depends on how many rows it takes)."""
    parts = [_oracle_chunk(W_dec[a : a + chunk] @ W_U, W_U, index, k) for a in range(0, len(W_dec), chunk)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _oracle_chunk(logits: torch.Tensor, W_U: torch.Tensor, index: SetIndex | None, k: int) -> dict[str, np.ndarray]:
    raw, cos = moments(logits), moments(logits * inverse_token_norms(W_U)[None, :])
    hist, ext = histogram(logits), extremes(logits, k)
    want = {
        **{name: getattr(raw, name).numpy() for name in FIELDS},
        **{f"cos_{name}": getattr(cos, name).numpy() for name in FIELDS},
        "logit_min": hist.low.numpy(),
        "logit_max": hist.high.numpy(),
        "hist_counts": hist.counts.numpy(),
        "top_ids": ext.top_ids.numpy(),
        "top_values": ext.top_values.numpy().astype(np.float32),
        "bottom_ids": ext.bottom_ids.numpy(),
        "bottom_values": ext.bottom_values.numpy().astype(np.float32),
    }
    if index is not None:
        d, direction = enrichment_scores(logits, index)
        want |= {"enrichment_d": d.numpy().astype(np.float32), "enrichment_direction": direction.numpy()}
    return want


def assert_bitwise(result, want: dict[str, np.ndarray]) -> None:
    for name, expected in want.items():
        got = result.columns[name] if name in result.columns else getattr(result, name)
        assert got.dtype == expected.dtype or name in result.columns, name
        expected = expected.astype(got.dtype)
        assert np.array_equal(got.view(np.uint8), expected.view(np.uint8)), name  # -0.0 != 0.0 here


@pytest.mark.parametrize("chunk_size", [8, 12, 36, 64])  # last chunks of 5, 1, 1 and all 37 rows
def test_cpu_path_equals_whole_chunk_functions(chunk_size):
    W_U, W_dec = awkward_layer()
    rng = np.random.default_rng(0)
    index = SetIndex.build([rng.choice(700, n, replace=False) for n in (1, 3, 90, 350, 600)] + [np.arange(3)], 700)
    result = analyze_sae(
        W_dec, W_U, torch.device("cpu"), chunk_size, top_k=5, enrichment=SetScorer(index), n_sets=index.n_sets
    )
    assert_bitwise(result, oracle(W_dec, W_U, index, 5, chunk_size))
    assert result.seconds["rows"] > 0 and result.seconds["matmul"] > 0


@pytest.mark.parametrize("chunk_size", [12, 64])
def test_the_gpu_path_on_cpu_tensors_equals_the_row_stage(chunk_size):
    """The whole-chunk ops and the torch enrichment backend, the code CUDA runs (row_stage=False), give
    the CPU row path's bits, the reverse token index included (benchmarks.gpu_check runs the same
    comparison on a GPU)."""
    W_U, W_dec = awkward_layer(seed=3)
    rng = np.random.default_rng(3)
    index = SetIndex.build([rng.choice(700, n, replace=False) for n in (2, 40, 351, 690)], 700)
    results, token_indexes = [], []
    for row_stage, backend in ((True, "numpy"), (False, "torch")):
        token_index = TokenFeatureIndex(700, 2)
        results.append(
            analyze_sae(
                W_dec,
                W_U,
                torch.device("cpu"),
                chunk_size,
                top_k=5,
                enrichment=SetScorer(index, backend=backend),
                n_sets=index.n_sets,
                logit_observer=token_index.fold,
                row_stage=row_stage,
            )
        )
        token_indexes.append(token_index)
    rows, generic = results
    assert generic.seconds["generic"] > 0 and "rows" not in generic.seconds
    want = oracle(W_dec, W_U, index, 5, chunk_size)
    assert_bitwise(rows, want)
    assert_bitwise(generic, want)
    assert np.array_equal(token_indexes[0].top_features, token_indexes[1].top_features)
    assert np.array_equal(token_indexes[0].bottom_values, token_indexes[1].bottom_values)


def test_the_row_stage_refuses_another_device():
    W_U, W_dec = awkward_layer()
    with pytest.raises(ValueError, match="the row stage sorts rows in numpy, on the CPU; it cannot run on meta"):
        analyze_sae(W_dec, W_U, torch.device("meta"), 8, row_stage=True)


def test_plain_enrichment_callable_and_no_enrichment_give_the_same_statistics():
    W_U, W_dec = awkward_layer(seed=1)
    index = SetIndex.build([np.arange(0, 700, 3)], 700)
    want = oracle(W_dec, W_U, index, 10, 16)
    plain = analyze_sae(
        W_dec, W_U, torch.device("cpu"), 16, enrichment=lambda x: enrichment_scores(x, index), n_sets=1, n_threads=3
    )
    assert_bitwise(plain, want)
    without = analyze_sae(W_dec, W_U, torch.device("cpu"), 16)
    assert without.enrichment_d is None
    assert_bitwise(without, oracle(W_dec, W_U, None, 10, 16))


def test_float64_layer():
    W_U, W_dec = awkward_layer(seed=2)
    W_U, W_dec = W_U.double(), W_dec.double()
    index = SetIndex.build([np.arange(5, 300)], 700)
    result = analyze_sae(W_dec, W_U, torch.device("cpu"), 10, enrichment=SetScorer(index), n_sets=1)
    assert_bitwise(result, oracle(W_dec, W_U, index, 10, 10))


def test_non_finite_logits_fail_as_the_whole_chunk_functions_do():
    W_U, W_dec = awkward_layer(seed=3)
    W_dec[7, 0] = float("nan")
    index = SetIndex.build([np.arange(10)], 700)
    with pytest.raises(Exception) as fused:
        analyze_sae(W_dec, W_U, torch.device("cpu"), 16, enrichment=SetScorer(index), n_sets=1)
    with pytest.raises(Exception) as whole:
        oracle(W_dec[:16], W_U, index, 10, 16)
    assert type(fused.value) is type(whole.value) and str(fused.value) == str(whole.value)


@pytest.mark.parametrize("n_rows", [1, 2, 3, 9, 17, 40])
def test_blocked_moments_equal_moments_bit_for_bit(n_rows):
    g = torch.Generator().manual_seed(n_rows)
    logits = torch.randn(n_rows, 3001, generator=g) + 2 * torch.rand(n_rows, 3001, generator=g) ** 3
    scale = torch.rand(1, 3001, generator=g)
    for got, want in (
        (blocked_moments(logits, block_rows=4), moments(logits)),
        (blocked_moments(logits, scale, block_rows=8), moments(logits * scale)),
    ):
        for name in FIELDS:
            assert torch.equal(getattr(got, name), getattr(want, name)), name
    values = logits.double().numpy()
    np.testing.assert_allclose(
        blocked_moments(logits, block_rows=2).skewness.numpy(), scipy.stats.skew(values, axis=1), rtol=1e-9
    )


def test_row_blocks_never_leave_a_single_row_alone():
    assert row_blocks(1, 8) == [(0, 1)]
    assert row_blocks(17, 8) == [(0, 8), (8, 17)]
    assert row_blocks(16, 8) == [(0, 8), (8, 16)]
    for n in range(2, 50):
        blocks = row_blocks(n, 4)
        assert blocks[0][0] == 0 and blocks[-1][1] == n
        assert all(stop - start >= 2 for start, stop in blocks)
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))


def test_moments_leave_float64_logits_as_they_were():
    logits = torch.randn(3, 50, dtype=torch.float64)
    before = logits.clone()
    moments(logits)
    assert torch.equal(logits, before)


def test_histogram_leaves_float64_logits_as_they_were():
    logits = torch.randn(3, 50, dtype=torch.float64)
    before = logits.clone()
    histogram(logits)
    assert torch.equal(logits, before)
