"""A Hugging Face hub cache written in code, for offline tests of releases (no network, ever).

``write_snapshot`` lays files out exactly as ``huggingface_hub`` caches a repo
(``$HF_HOME/hub/models--org--name/snapshots/<commit>/...`` plus ``refs/main``), so that
``hf_hub_download`` under ``HF_HUB_OFFLINE=1`` finds them. The tiny models are Gemma-2- and
Llama-shaped with a SentencePiece-style vocabulary (``▁`` marks a leading space).

The tokenizer is ``tests.tokenizer_builders.sentencepiece_style_tokenizer``: Gemma-like, with
specials, ``<unusedN>`` control tokens and byte fallback (``<0x0A>``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedTokenizerFast

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def repo_snapshot(hf_home: Path, repo_id: str) -> Path:
    """The snapshot folder of ``repo_id`` in the cache under ``hf_home`` (created, with refs/main)."""
    repo = Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def write_snapshot(hf_home: Path, repo_id: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (path in the repo -> content) into the cached snapshot of ``repo_id``."""
    snapshot = repo_snapshot(hf_home, repo_id)
    for name, content in files.items():
        path = snapshot / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return snapshot


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive (as ``numpy.savez`` writes it) of ``arrays``."""
    buffer = io.BytesIO()
    np.savez(buffer, **dict(arrays))
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue()))
    return buffer.getvalue()


def write_tiny_gemma2(folder: Path, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> Path:
    """A one-layer Gemma 2 with Gemma Scope 2B's widths (d_model 2304, 8 heads of 256), random
    seeded weights and a non-trivial final RMSNorm, saved with its tokenizer."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(seed)
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=2304,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=256,
        max_position_embeddings=64,
        sliding_window=32,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=True,
    )
    model = Gemma2ForCausalLM(config)
    with torch.no_grad():
        model.model.norm.weight.copy_(0.2 * torch.randn(config.hidden_size))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_tiny_llama(folder: Path, tokenizer: PreTrainedTokenizerFast, d_model: int = 64, seed: int = 1) -> Path:
    """A one-layer Llama (untied unembedding, RMSNorm) with a SentencePiece-style vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=d_model,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.norm.weight.copy_(1.0 + 0.2 * torch.randn(d_model))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path relative to it (to copy a saved model into a snapshot)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
