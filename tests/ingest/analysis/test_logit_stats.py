import numpy as np
import pytest
import scipy.stats
import torch

from ingest.analysis.logit_stats import cosine_unembed, extremes, histogram, moments


@pytest.fixture
def logits() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    # heavy-tailed rows so that skewness and kurtosis are far from the Gaussian values
    base = torch.randn(6, 5000, generator=generator)
    return base + 3.0 * torch.distributions.Exponential(1.0).sample((6, 5000))


def test_moments_match_scipy(logits):
    stats = moments(logits)
    values = logits.double().numpy()
    np.testing.assert_allclose(stats.mean.numpy(), values.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(stats.std.numpy(), values.std(axis=1, ddof=0), rtol=1e-10)
    np.testing.assert_allclose(stats.skewness.numpy(), scipy.stats.skew(values, axis=1, bias=True), rtol=1e-9)
    np.testing.assert_allclose(
        stats.kurtosis.numpy(), scipy.stats.kurtosis(values, axis=1, fisher=False, bias=True), rtol=1e-9
    )


def test_gaussian_kurtosis_is_three_not_excess():
    generator = torch.Generator().manual_seed(2)
    stats = moments(torch.randn(1, 400_000, generator=generator))
    assert abs(stats.kurtosis.item() - 3.0) < 0.05
    assert abs(stats.skewness.item()) < 0.02


def test_constant_row_has_zero_shape_not_nan():
    stats = moments(torch.zeros(1, 10))
    assert stats.std.item() == 0 and stats.skewness.item() == 0 and stats.kurtosis.item() == 0


def test_histogram_matches_numpy(logits):
    hist = histogram(logits, n_bins=50)
    for row, values in enumerate(logits.double().numpy()):
        expected, edges = np.histogram(values, bins=50, range=(values.min(), values.max()))
        np.testing.assert_array_equal(hist.counts[row].numpy(), expected)
        assert hist.low[row].item() == edges[0] and hist.high[row].item() == edges[-1]
    assert int(hist.counts.sum()) == logits.numel()


def test_extremes_match_argsort(logits):
    ext = extremes(logits, k=7)
    order = np.argsort(-logits.numpy(), axis=1, kind="stable")
    np.testing.assert_array_equal(ext.top_ids.numpy(), order[:, :7])
    np.testing.assert_array_equal(ext.bottom_ids.numpy(), np.argsort(logits.numpy(), axis=1, kind="stable")[:, :7])
    np.testing.assert_allclose(ext.top_values.numpy(), np.take_along_axis(logits.numpy(), order[:, :7], axis=1))


def test_cosine_unembed_normalises_each_token_column():
    generator = torch.Generator().manual_seed(3)
    W_U = torch.randn(16, 100, generator=generator)
    W_U[:, 5] = 0
    normalised = cosine_unembed(W_U)
    norms = normalised.norm(dim=0)
    assert torch.allclose(norms[torch.arange(100) != 5], torch.ones(99))
    assert norms[5] == 0
    decoder = torch.randn(3, 16, generator=generator)
    cosine = torch.nn.functional.cosine_similarity(decoder[:, :, None], W_U[None, :, :], dim=1)
    expected = cosine * decoder.norm(dim=1, keepdim=True)  # W_dec @ (W_U / ||W_U||) keeps the decoder's norm
    assert torch.allclose(
        (decoder @ normalised)[:, torch.arange(100) != 5], expected[:, torch.arange(100) != 5], atol=1e-5
    )
