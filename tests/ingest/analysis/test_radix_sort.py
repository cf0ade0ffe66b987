"""ingest.analysis.radix_sort against numpy's own stable sort (np.lexsort with index tie-breaks)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.analysis.radix_sort import argsort_row, argsort_rows, sortable_keys


def stable_order(x: np.ndarray) -> np.ndarray:
    """Ascending, -0.0 just before +0.0, equal values by index: np.lexsort on (index, +0 flag, value)."""
    plus_zero = (x == 0) & ~np.signbit(x)
    return np.lexsort((np.arange(x.size), plus_zero, x))


def awkward_row(rng: np.random.Generator, dtype: type, n: int) -> np.ndarray:
    x = rng.standard_normal(n).astype(dtype)
    x[: n // 4] = np.round(x[: n // 4] * 3)  # heavy ties, and -0.0 from rounding small negatives
    info = np.finfo(dtype)
    x[-8:] = [0.0, -0.0, np.inf, -np.inf, info.max, -info.max, info.smallest_subnormal, -info.smallest_subnormal]
    return rng.permutation(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_argsort_row_is_the_stable_order(dtype):
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000, 70_000):  # 70,000 > 65,536: indices past one 16-bit digit
        x = awkward_row(rng, dtype, n) if n >= 8 else rng.standard_normal(n).astype(dtype)
        order = argsort_row(x)
        np.testing.assert_array_equal(order, stable_order(x))
        assert order.dtype == np.int64


def test_argsort_rows_sorts_each_row():
    rng = np.random.default_rng(1)
    x = np.stack([awkward_row(rng, np.float32, 500) for _ in range(4)])
    np.testing.assert_array_equal(argsort_rows(x), np.stack([stable_order(row) for row in x]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sortable_keys_order_every_kind_of_float(dtype):
    info = np.finfo(dtype)
    ascending = np.array(
        [-np.inf, -info.max, -1.5, -info.tiny, -info.smallest_subnormal, -0.0, 0.0]
        + [info.smallest_subnormal, info.tiny, 1.0, 1.5, info.max, np.inf],
        dtype=dtype,
    )
    keys = sortable_keys(ascending)
    assert (np.diff(keys.astype(np.float64 if dtype == np.float32 else object)) > 0).all()
    assert keys.dtype == (np.uint32 if dtype == np.float32 else np.uint64)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="float32 or float64 rows, got int64"):
        sortable_keys(np.arange(4))
    with pytest.raises(ValueError, match="1-d array, got shape"):
        argsort_row(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="2-d array, got shape"):
        argsort_rows(np.zeros(3, dtype=np.float32))
