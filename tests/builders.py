"""Test data made in code: tiny GPT-2 model folders and SAE folders in the exact SAELens layout."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from ingest.sources.vocabulary import gpt2_tokenizer


def write_tiny_gpt2(folder: Path, d_model: int = 32, n_layer: int = 1, seed: int = 0) -> Path:
    """A randomly initialised GPT-2 with the real 50,257-token vocabulary, saved as a HF model folder."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_embd=d_model, n_layer=n_layer, n_head=4, n_positions=64, vocab_size=50257)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # non-trivial final LayerNorm so that folding it is visible
        model.transformer.ln_f.weight.copy_(1.0 + 0.1 * torch.randn(d_model))
        model.transformer.ln_f.bias.copy_(0.1 * torch.randn(d_model))
    model.save_pretrained(folder)
    gpt2_tokenizer().save_pretrained(folder)
    return folder


def old_cfg(d_in: int, d_sae: int, hook: str = "blocks.0.hook_resid_pre", layer: int = 0) -> dict:
    """cfg.json in the schema of jbloom/GPT2-Small-SAEs-Reformatted."""
    return {
        "model_name": "gpt2-small",
        "hook_point": hook,
        "hook_point_layer": layer,
        "hook_point_head_index": None,
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "torch.float32",
        "device": "mps",
        "context_size": 128,
        "dataset_path": "Skylion007/openwebtext",
        "l1_coefficient": 8e-05,
        "lr": 0.0004,
    }


def new_cfg(d_in: int, d_sae: int, hook: str = "blocks.3.hook_resid_post", under_metadata: bool = False) -> dict:
    """cfg.json in the newer SAELens schema (model and hook at the top level or under metadata)."""
    cfg = {
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "float32",
        "architecture": "standard",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
    }
    about = {"model_name": "gpt2-small", "hook_name": hook, "hook_head_index": None}
    return cfg | ({"metadata": about} if under_metadata else about)


def write_sae_folder(
    folder: Path,
    W_dec: torch.Tensor,
    cfg: dict | None = None,
    log10_density: torch.Tensor | None = None,
    weights: dict | None = None,
) -> Path:
    """Write cfg.json, sae_weights.safetensors and optionally sparsity.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    d_sae, d_in = W_dec.shape
    cfg = cfg if cfg is not None else old_cfg(d_in, d_sae)
    (folder / "cfg.json").write_text(json.dumps(cfg))
    tensors = (
        weights
        if weights is not None
        else {
            "W_enc": W_dec.T.contiguous(),
            "b_enc": torch.zeros(d_sae),
            "W_dec": W_dec.contiguous(),
            "b_dec": torch.zeros(d_in),
        }
    )
    save_file(tensors, str(folder / "sae_weights.safetensors"))
    if log10_density is not None:
        save_file({"sparsity": log10_density}, str(folder / "sparsity.safetensors"))
    return folder


def random_decoder(d_sae: int, d_in: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(d_sae, d_in, generator=generator)
