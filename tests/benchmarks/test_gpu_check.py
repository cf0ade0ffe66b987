"""benchmarks.gpu_check, run on CPU tensors (--device cpu): the script a lent GPU runs keeps working,
and its bounds hold where the two paths must agree bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import gpu_check


def test_gpu_check_on_cpu_tensors_holds_every_bound(capsys):
    assert gpu_check.main(["--device", "cpu", "--features", "48", "--same-logits-features", "16"]) == 0
    out = capsys.readouterr().out
    assert "every bound held" in out
    assert "KS d as stored (float32), max absolute difference" in out


def test_column_difference_scales_each_column_as_it_lives():
    a = {"mean": np.array([1e-9, 0.5]), "std": np.array([0.1, 0.2]), "skewness": np.array([1e-6, 2.0])}
    b = {"mean": np.array([-1e-9, 0.5]), "std": np.array([0.1, 0.2 * (1 + 1e-6)]), "skewness": np.array([-1e-6, 2.0])}
    # means in units of std: 2e-9 / 0.1; skewness absolutely: 2e-6; std relatively: 1e-6
    assert gpu_check.column_difference("mean", a, b) == pytest.approx(2e-8)
    assert gpu_check.column_difference("skewness", a, b) == pytest.approx(2e-6)
    assert gpu_check.column_difference("std", a, b) == pytest.approx(1e-6, rel=1e-5)


def test_a_missing_gpu_is_said_and_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--device", "cuda"]) == 2
    assert "--device cuda, but torch sees no CUDA GPU" in capsys.readouterr().err
