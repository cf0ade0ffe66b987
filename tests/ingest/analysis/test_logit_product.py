"""ingest.analysis.logit_product: the chunk product is the plain W_dec[chunk] @ W_U, bit for bit."""

from __future__ import annotations

import torch

from ingest.analysis import logit_product
from ingest.analysis.logit_product import MIN_ROWS, LogitProduct


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


def test_every_chunk_height_gives_the_plain_products_bits():
    g = torch.Generator().manual_seed(0)
    W_U = torch.randn(96, 3001, generator=g)
    W_dec = torch.randn(300, 96, generator=g)
    product = LogitProduct(W_U)
    for rows in (1, 3, MIN_ROWS - 1, MIN_ROWS, 100, 128, 128, 300):  # 128 twice: checked, then trusted
        chunk = W_dec[:rows]
        got = product(chunk)
        assert got.is_contiguous() and torch.equal(bits(got), bits(chunk @ W_U)), rows
    assert set(product.transposed_ok) == {MIN_ROWS, 100, 128, 300}  # small chunks are never tried


def test_a_height_whose_check_failed_keeps_the_plain_product(monkeypatch):
    g = torch.Generator().manual_seed(1)
    W_U, chunk = torch.randn(64, 500, generator=g), torch.randn(40, 64, generator=g)
    monkeypatch.setattr(logit_product, "_same_bits", lambda a, b: False)
    calls = []
    product = LogitProduct(W_U)
    monkeypatch.setattr(product, "W_U", _Spy(W_U, calls))
    product(chunk)
    product(chunk)
    assert product.transposed_ok == {40: False}
    assert calls == ["plain", "transposed", "plain"]  # the check's two, then the plain one only


class _Spy:
    """W_U that records which form of the product is taken."""

    def __init__(self, W_U: torch.Tensor, calls: list[str]):
        self.W_U, self.calls, self.device = W_U, calls, W_U.device

    def __rmatmul__(self, other: torch.Tensor) -> torch.Tensor:
        self.calls.append("plain")
        return other @ self.W_U

    @property
    def T(self) -> torch.Tensor:
        self.calls.append("transposed")
        return self.W_U.T


def test_same_bits_tells_signed_zeros_apart():
    assert not logit_product._same_bits(torch.tensor([0.0]), torch.tensor([-0.0]))
    assert logit_product._same_bits(torch.tensor([1.5, float("nan")]), torch.tensor([1.5, float("nan")]))
