"""Loading a model's processed unembedding and vocabulary through TransformerLens 3.9
(the TransformerBridge API of 4.x; sae-lens still requires transformer-lens < 4).

``TransformerBridge.boot_transformers(...)`` followed by ``enable_compatibility_mode()`` applies
the processing that ``HookedTransformer.from_pretrained`` applied in the notebook (fold_ln,
center_writing_weights, center_unembed), so every row of ``W_dec @ W_U`` has mean ~0.
A model is given by a Hugging Face id (downloaded and cached) or a local model folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ingest.errors import IngestInputError
from ingest.sources.vocabulary import Vocabulary

PROCESSING = "TransformerBridge compatibility mode: fold_ln, center_writing_weights, center_unembed"
# Catalog model names (Neuronpedia's ids) that differ from the Hugging Face id to boot.
HF_ID_OF = {"gpt2-small": "gpt2"}


@dataclass(frozen=True)
class LoadedModel:
    model_name: str  # the catalog's name, e.g. 'gpt2-small'
    source: str  # hub id or local folder
    W_U: torch.Tensor  # [d_model, d_vocab] float32, CPU, processed
    vocab: Vocabulary
    fingerprint: str  # sha256 of W_U

    @property
    def d_model(self) -> int:
        return int(self.W_U.shape[0])

    @property
    def d_vocab(self) -> int:
        return int(self.W_U.shape[1])


def _one_line(error: Exception) -> str:
    """The error's message on one line (transformers' messages span several; the CLI prints one error line)."""
    return " ".join(str(error).split())


def _load_local(folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (folder / "config.json").is_file():
        raise IngestInputError(
            f"model folder {folder} has no config.json; pass a Hugging Face model folder "
            "(config.json, weights, tokenizer files) or a hub id such as 'gpt2'"
        )
    try:
        hf_model = AutoModelForCausalLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise IngestInputError(
            f"model folder {folder} could not be loaded with transformers ({_one_line(error)}); "
            "it needs config.json, the weights and the tokenizer files"
        ) from error
    return hf_model, tokenizer


def load_model(name_or_path: str, model_name: str | None = None, device: str = "cpu") -> LoadedModel:
    """Boot the model through TransformerBridge and keep only the processed W_U and the vocabulary."""
    from transformer_lens.model_bridge import TransformerBridge

    folder = Path(name_or_path)
    if folder.exists():
        hf_model, tokenizer = _load_local(folder)
        bridge = TransformerBridge.boot_transformers(str(folder), hf_model=hf_model, tokenizer=tokenizer, device=device)
        catalog_name = model_name or folder.resolve().name
    else:
        if "/" in name_or_path and name_or_path.startswith((".", "/", "~")):
            raise IngestInputError(
                f"model folder {name_or_path} does not exist; pass an existing local folder or a hub id such as 'gpt2'"
            )
        hf_id = HF_ID_OF.get(name_or_path, name_or_path)
        try:
            bridge = TransformerBridge.boot_transformers(hf_id, device=device)
        except Exception as error:  # unknown ids, network and architecture errors all need the same advice
            raise IngestInputError(
                f"model {name_or_path!r} could not be loaded through TransformerLens "
                f"({type(error).__name__}: {_one_line(error)}); check the name or pass a local "
                "model folder with --model PATH"
            ) from error
        tokenizer = bridge.tokenizer
        catalog_name = model_name or name_or_path
    bridge.enable_compatibility_mode(disable_warnings=True)
    with torch.no_grad():
        W_U = bridge.W_U.detach().to("cpu", torch.float32).contiguous()
    vocab = Vocabulary.from_tokenizer(catalog_name, tokenizer)
    if len(vocab) < W_U.shape[1]:
        raise IngestInputError(
            f"model {name_or_path}: the tokenizer has {len(vocab)} tokens but W_U has "
            f"{W_U.shape[1]} columns; the tokenizer does not belong to the model"
        )
    vocab = Vocabulary(catalog_name, vocab.raw[: W_U.shape[1]], vocab.text[: W_U.shape[1]])
    fingerprint = hashlib.sha256(W_U.numpy().tobytes()).hexdigest()
    return LoadedModel(model_name=catalog_name, source=str(name_or_path), W_U=W_U, vocab=vocab, fingerprint=fingerprint)
