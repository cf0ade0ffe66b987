import json

import pytest
import torch

from ingest.errors import IngestInputError
from ingest.sources.sae import load_sae_folder
from tests.builders import new_cfg, old_cfg, random_decoder, write_sae_folder

D_IN, D_SAE = 16, 24


@pytest.fixture
def decoder():
    return random_decoder(D_SAE, D_IN)


def test_old_schema_with_sparsity(tmp_path, decoder):
    density = torch.linspace(-10, -1, D_SAE)
    folder = write_sae_folder(
        tmp_path / "blocks.4.hook_resid_pre", decoder, old_cfg(D_IN, D_SAE, "blocks.4.hook_resid_pre", 4), density
    )
    sae = load_sae_folder(folder)
    assert (sae.cfg.d_in, sae.cfg.d_sae, sae.cfg.hook_name, sae.cfg.layer) == (
        D_IN,
        D_SAE,
        "blocks.4.hook_resid_pre",
        4,
    )
    assert sae.cfg.model_name == "gpt2-small"
    assert torch.equal(sae.W_dec, decoder) and torch.equal(sae.log10_density, density)


@pytest.mark.parametrize("under_metadata", [False, True])
def test_new_schema_without_sparsity(tmp_path, decoder, under_metadata):
    folder = write_sae_folder(
        tmp_path / "sae", decoder, new_cfg(D_IN, D_SAE, "blocks.7.hook_resid_post", under_metadata)
    )
    sae = load_sae_folder(folder)
    assert (sae.cfg.hook_name, sae.cfg.layer, sae.cfg.model_name) == ("blocks.7.hook_resid_post", 7, "gpt2-small")
    assert sae.log10_density is None


def test_half_precision_weights_load_as_float32(tmp_path, decoder):
    weights = {"W_dec": decoder.half()}
    sae = load_sae_folder(write_sae_folder(tmp_path / "sae", decoder, weights=weights))
    assert sae.W_dec.dtype == torch.float32
    torch.testing.assert_close(sae.W_dec, decoder.half().float())


def test_fingerprint_tracks_weights_and_sparsity(tmp_path, decoder):
    first = load_sae_folder(write_sae_folder(tmp_path / "a", decoder)).fingerprint
    same = load_sae_folder(write_sae_folder(tmp_path / "b", decoder.clone())).fingerprint
    changed = decoder.clone()
    changed[0, 0] += 1e-3
    assert first == same
    assert load_sae_folder(write_sae_folder(tmp_path / "c", changed)).fingerprint != first
    assert (
        load_sae_folder(write_sae_folder(tmp_path / "d", decoder, log10_density=torch.zeros(D_SAE))).fingerprint
        != first
    )


def test_missing_folder(tmp_path):
    with pytest.raises(IngestInputError, match=r"SAE folder .*nowhere does not exist .*pass a folder holding cfg.json"):
        load_sae_folder(tmp_path / "nowhere")


def test_missing_cfg(tmp_path):
    (tmp_path / "sae").mkdir()
    with pytest.raises(IngestInputError, match=r"cfg.json is missing"):
        load_sae_folder(tmp_path / "sae")


def test_unparsable_cfg(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder)
    (folder / "cfg.json").write_text("{not json")
    with pytest.raises(IngestInputError, match=r"cfg.json could not be read as JSON"):
        load_sae_folder(folder)


@pytest.mark.parametrize("key", ["d_in", "d_sae"])
def test_cfg_without_sizes(tmp_path, decoder, key):
    cfg = old_cfg(D_IN, D_SAE)
    del cfg[key]
    folder = write_sae_folder(tmp_path / "sae", decoder, cfg)
    with pytest.raises(IngestInputError, match=rf"no '{key}'; an SAELens cfg.json must give d_in and d_sae"):
        load_sae_folder(folder)


def test_cfg_with_non_integer_size(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder, old_cfg(D_IN, D_SAE) | {"d_sae": "24"})
    with pytest.raises(IngestInputError, match=r"'d_sae' is '24'; it must be a positive integer"):
        load_sae_folder(folder)


def test_missing_weights(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder)
    (folder / "sae_weights.safetensors").unlink()
    with pytest.raises(IngestInputError, match=r"sae_weights.safetensors is missing"):
        load_sae_folder(folder)


def test_truncated_weights(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder)
    path = folder / "sae_weights.safetensors"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(IngestInputError, match=r"could not be read as safetensors .*re-download"):
        load_sae_folder(folder)


def test_shape_disagrees_with_cfg(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder, old_cfg(D_IN, D_SAE + 1))
    with pytest.raises(IngestInputError, match=r"W_dec has shape \[24, 16\] but .*cfg.json says \[25, 16\]"):
        load_sae_folder(folder)


def test_weights_without_w_dec(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder, weights={"W_enc": decoder.T.contiguous()})
    with pytest.raises(IngestInputError, match=r"has no tensor 'W_dec'"):
        load_sae_folder(folder)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_decoder(tmp_path, decoder, bad):
    decoder[3, 2] = bad
    folder = write_sae_folder(tmp_path / "sae", decoder)
    with pytest.raises(IngestInputError, match=r"W_dec has 1 NaN or Inf values \(features \[3\]"):
        load_sae_folder(folder)


def test_sparsity_of_wrong_length(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "sae", decoder, log10_density=torch.zeros(D_SAE - 1))
    with pytest.raises(IngestInputError, match=r"sparsity has shape \[23\] but .* says \[24\]"):
        load_sae_folder(folder)


def test_cfg_json_is_kept_verbatim(tmp_path, decoder):
    cfg = old_cfg(D_IN, D_SAE) | {"extra": [1, 2]}
    sae = load_sae_folder(write_sae_folder(tmp_path / "sae", decoder, cfg))
    assert json.loads(json.dumps(sae.cfg.raw)) == cfg


def test_embedding_sae_sits_at_layer_0_before_every_block(tmp_path, decoder):
    sae = load_sae_folder(write_sae_folder(tmp_path / "embed", decoder, new_cfg(D_IN, D_SAE, "hook_embed")))
    assert (sae.cfg.layer, sae.cfg.hook.kind, sae.cfg.hook.position) == (0, "embed", 0)


def test_transcoder_folder_reads_its_decoder_at_d_out(tmp_path):
    W_dec = random_decoder(D_SAE, 10)
    cfg = new_cfg(D_IN, D_SAE, "blocks.2.ln2.hook_normalized", under_metadata=True)
    cfg["d_out"] = 10
    cfg["metadata"]["hook_name_out"] = "blocks.2.hook_mlp_out"
    sae = load_sae_folder(write_sae_folder(tmp_path / "tc", W_dec, cfg, weights={"W_dec": W_dec}))
    assert (sae.cfg.hook.kind, sae.cfg.hook.layer, sae.cfg.d_out) == ("transcoder", 2, 10)
    assert torch.equal(sae.W_dec, W_dec) and sae.logit_mapping == "W_dec @ W_U"


def test_a_hook_outside_the_residual_stream_is_refused_naming_the_cfg(tmp_path, decoder):
    folder = write_sae_folder(tmp_path / "q", decoder, new_cfg(D_IN, D_SAE, "blocks.1.attn.hook_q"))
    with pytest.raises(
        IngestInputError, match=r"cfg.json: hook 'blocks.1.attn.hook_q' is not one whose decoder writes"
    ):
        load_sae_folder(folder)
