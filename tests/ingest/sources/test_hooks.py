"""Hook kinds, their order in the model, and the hook_z map through W_O (oracle: explicit loops in numpy)."""

import numpy as np
import pytest
import torch

from ingest.sources.hooks import classify_hook, map_hook_z


def test_a_model_s_hooks_sort_in_residual_stream_order():
    hooks = [
        "blocks.1.hook_resid_post",
        "blocks.1.hook_mlp_out",
        "blocks.1.hook_resid_mid",
        "blocks.1.attn.hook_z",
        "blocks.1.hook_resid_pre",
        "blocks.0.hook_resid_post",
        "hook_embed",
    ]
    ordered = sorted(hooks, key=lambda name: classify_hook(name).position)
    assert ordered == hooks[::-1]
    assert classify_hook("blocks.1.hook_attn_out").position == classify_hook("blocks.1.attn.hook_z").position == 7
    assert [classify_hook(h).kind for h in hooks[::-1]] == [
        "embed",
        "resid_post",
        "resid_pre",
        "attn_z",
        "resid_mid",
        "mlp_out",
        "resid_post",
    ]


def test_a_transcoder_sits_where_it_writes():
    hook = classify_hook("blocks.3.ln2.hook_normalized", hook_name_out="blocks.3.hook_mlp_out")
    assert (hook.kind, hook.layer, hook.position) == ("transcoder", 3, classify_hook("blocks.3.hook_mlp_out").position)


@pytest.mark.parametrize("hook", ["blocks.2.hook_mlp_in", "blocks.2.attn.hook_q", "unembed", "blocks.x.hook_resid_pre"])
def test_hooks_that_do_not_write_the_residual_stream_are_refused(hook):
    with pytest.raises(ValueError, match="supported: hook_embed, blocks.N.hook_resid_pre/mid/post"):
        classify_hook(hook)


def _oracle(W_dec: np.ndarray, W_O: np.ndarray, heads: list[int]) -> np.ndarray:
    n_heads, d_head, d_model = W_O.shape
    out = np.zeros((W_dec.shape[0], d_model))
    for f in range(W_dec.shape[0]):
        for slot, h in enumerate(heads):
            for j in range(d_head):
                out[f] += W_dec[f, slot * d_head + j] * W_O[h, j]
    return out


def test_hook_z_rows_go_through_every_head_s_W_O():
    rng = np.random.default_rng(0)
    W_O = rng.normal(size=(3, 4, 5))
    W_dec = rng.normal(size=(6, 12))
    mapped, text = map_hook_z(torch.tensor(W_dec), torch.tensor(W_O), None)
    np.testing.assert_allclose(mapped.numpy(), _oracle(W_dec, W_O, [0, 1, 2]), rtol=1e-12)
    assert text == "W_dec reshaped [6, 3, 4] · W_O[all heads] @ W_U"


def test_hook_z_of_one_head_uses_that_head_only():
    rng = np.random.default_rng(1)
    W_O = rng.normal(size=(3, 4, 5))
    W_dec = rng.normal(size=(6, 4))
    mapped, text = map_hook_z(torch.tensor(W_dec), torch.tensor(W_O), 2)
    np.testing.assert_allclose(mapped.numpy(), _oracle(W_dec, W_O, [2]), rtol=1e-12)
    assert text == "W_dec [6, 4] · W_O[head 2] @ W_U"
    with pytest.raises(ValueError, match="the model has 3 heads of 4"):
        map_hook_z(torch.tensor(W_dec), torch.tensor(W_O), 3)
    with pytest.raises(ValueError, match=r"decoder width 10 but the layer has 3 heads of 4 \(12\)"):
        map_hook_z(torch.zeros(2, 10), torch.zeros(3, 4, 5), None)
