"""Reading one SAE of a release in its upstream layout from an offline HF cache, decoder only."""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from safetensors.numpy import save as save_numpy

from ingest.errors import IngestInputError
from ingest.sources.registry import get_release
from ingest.sources.release_sae import ReleaseSaeHandle, read_npz_member
from tests.hub_cache import npz_bytes, write_snapshot


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    hf_home = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return hf_home


def test_npz_member_is_read_alone(tmp_path):
    """W_enc's member is not valid .npy data: reading W_dec must not touch it."""
    W_dec = np.arange(12, dtype=np.float32).reshape(3, 4)
    buffer = io.BytesIO(npz_bytes({"W_dec": W_dec}))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("W_enc.npy", b"not an array at all")
    path = tmp_path / "params.npz"
    path.write_bytes(buffer.getvalue())
    np.testing.assert_array_equal(read_npz_member(path, ("W_dec",)), W_dec)
    with pytest.raises(IngestInputError, match=r"params.npz has no w_dec \(it has \['W_dec.npy', 'W_enc.npy'\]\)"):
        read_npz_member(path, ("w_dec",))


def test_gemma_scope_2_reads_w_dec_and_its_shape_from_the_cached_file(offline_cache):
    release = get_release("gemma-scope-2-4b-pt-res")
    sae = release.sae("layer_17_width_16k_l0_big")
    rng = np.random.default_rng(0)
    W_dec = rng.normal(size=(8, 16)).astype(np.float32)
    weights = {"w_enc": W_dec.T.copy(), "w_dec": W_dec, "b_enc": np.zeros(8, np.float32)}
    weights |= {"b_dec": np.zeros(16, np.float32), "threshold": np.zeros(8, np.float32)}
    write_snapshot(
        offline_cache,
        release.repo_id,
        {
            f"{sae.path}/params.safetensors": save_numpy(weights),
            f"{sae.path}/config.json": json.dumps(
                {"architecture": "jump_relu", "model_name": "gemma-v3-4b-pt"}
            ).encode(),
        },
    )
    loaded = ReleaseSaeHandle(release, sae).load()
    assert (loaded.cfg.d_in, loaded.cfg.d_sae, loaded.cfg.hook_name) == (16, 8, "blocks.17.hook_resid_post")
    assert loaded.cfg.hook.kind == "resid_post" and loaded.cfg.model_name == "google/gemma-3-4b-pt"
    assert torch.equal(loaded.W_dec, torch.from_numpy(W_dec))


def test_llama_scope_decoder_is_transposed(offline_cache):
    release = get_release("llama_scope_lxm_8x")
    sae = release.sae("l3m_8x")
    W_dec = np.random.default_rng(1).normal(size=(6, 10)).astype(np.float32)
    hyper = {"d_model": 10, "d_sae": 6, "hook_point_in": "blocks.3.hook_mlp_out", "jump_relu_threshold": 0.1}
    hyper["dataset_average_activation_norm"] = {"in": 2.0}
    write_snapshot(
        offline_cache,
        release.repo_id,
        {
            f"{sae.path}/hyperparams.json": json.dumps(hyper).encode(),
            f"{sae.path}/checkpoints/final.safetensors": save_numpy({"decoder.weight": np.ascontiguousarray(W_dec.T)}),
        },
    )
    loaded = ReleaseSaeHandle(release, sae).load()
    assert loaded.cfg.hook.kind == "mlp_out" and loaded.cfg.hook.layer == 3
    assert torch.equal(loaded.W_dec, torch.from_numpy(W_dec))


def test_a_file_missing_from_the_offline_cache_names_file_sae_and_release(offline_cache):
    release = get_release("gpt2-small-res-jb")
    sae = release.sae("blocks.2.hook_resid_pre")
    with pytest.raises(
        IngestInputError,
        match=r"could not download blocks.2.hook_resid_pre/cfg.json \(SAE 'blocks.2.hook_resid_pre' of release "
        r"'gpt2-small-res-jb'\) from jbloom/GPT2-Small-SAEs-Reformatted",
    ):
        ReleaseSaeHandle(release, sae).config()


def test_other_layouts_go_through_saelens_s_full_loader_and_say_so(offline_cache, caplog):
    """Qwen Scope's torch checkpoints are not read natively: SAELens's loader reads them (W_enc too)."""
    release = get_release("qwen-scope-3-1.7b-base-w32k-l50")
    sae = release.sae("layer0")
    rng = np.random.default_rng(2)
    W_dec = torch.from_numpy(rng.normal(size=(8, 2048)).astype(np.float32))
    checkpoint = io.BytesIO()
    # Qwen Scope stores W_enc [d_sae, d_in] and W_dec [d_in, d_sae]
    torch.save(
        {"W_enc": W_dec.clone(), "W_dec": W_dec.T.contiguous(), "b_enc": torch.zeros(8), "b_dec": torch.zeros(2048)},
        checkpoint,
    )
    write_snapshot(offline_cache, release.repo_id, {sae.path: checkpoint.getvalue()})
    with caplog.at_level("INFO", logger="ingest"):
        loaded = ReleaseSaeHandle(release, sae).load()
    assert torch.equal(loaded.W_dec, W_dec)
    assert (loaded.cfg.d_in, loaded.cfg.d_sae, loaded.cfg.hook_name) == (2048, 8, "blocks.0.hook_resid_post")
    assert "layout 'qwen_scope' is read through SAELens's full loader (W_enc is read too)" in caplog.text
