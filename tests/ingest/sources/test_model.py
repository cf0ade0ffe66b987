import pytest
import torch
from safetensors.torch import load_file

from ingest.errors import IngestInputError
from ingest.sources.model import load_model


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    return load_model(str(tiny_gpt2))


def test_processed_unembedding_matches_folded_and_centred_weights(loaded, tiny_gpt2):
    weights = load_file(str(tiny_gpt2 / "model.safetensors"))
    wte = weights["transformer.wte.weight"].double()  # [d_vocab, d_model]; GPT-2 ties W_U to it
    ln_weight = weights["transformer.ln_f.weight"].double()
    # Oracle: fold ln_f's scale into W_U, centre each token's column over d_model (LayerNorm centres its
    # input, so that component is invisible), then centre each residual dimension over the vocabulary.
    expected = (wte * ln_weight).T
    expected = expected - expected.mean(dim=0, keepdim=True)
    expected = expected - expected.mean(dim=1, keepdim=True)
    assert loaded.W_U.shape == (32, 50257)
    torch.testing.assert_close(loaded.W_U.double(), expected, atol=1e-5, rtol=1e-4)


def test_every_logit_row_has_mean_zero(loaded):
    generator = torch.Generator().manual_seed(0)
    W_dec = torch.randn(20, loaded.d_model, generator=generator)
    logit_rows = W_dec @ loaded.W_U
    assert logit_rows.mean(dim=1).abs().max().item() < 1e-6


def test_vocabulary_is_gpt2(loaded, tiny_gpt2):
    assert loaded.model_name == "tiny-gpt2"
    assert loaded.vocab.raw[18435] == "ĠHello" and loaded.vocab.text[18435] == " Hello"
    assert loaded.vocab.text[50256] == "<|endoftext|>"
    assert len(loaded.vocab) == loaded.d_vocab == 50257
    assert len(loaded.fingerprint) == 64


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(IngestInputError, match="model folder .* does not exist"):
        load_model(str(tmp_path / "nope" / "model"))


def test_folder_without_config_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestInputError, match="has no config.json"):
        load_model(str(tmp_path / "empty"))
