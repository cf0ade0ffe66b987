"""Loading a model's processed unembedding and vocabulary through TransformerLens 3.9
(the TransformerBridge API of 4.x; sae-lens still requires transformer-lens < 4).

``TransformerBridge.boot_transformers(...)`` followed by ``enable_compatibility_mode()`` applies
the processing that ``HookedTransformer.from_pretrained`` applied in the notebook (fold_ln,
center_writing_weights, center_unembed), so every row of ``W_dec @ W_U`` has mean ~0.
A model is given by a Hugging Face id (downloaded and cached) or a local model folder; SAELens's
model names (``gemma-2-2b``, ``gpt2-small``, ``pythia-70m-deduped``) are mapped to the hub id
TransformerLens boots through TransformerLens's own table of official names and aliases. For RMSNorm
models (Gemma, Llama, Qwen) TransformerLens folds the norm weights but centres no writing weights
(that needs LayerNorm), and with a logit soft-cap (Gemma 2) it leaves the unembedding uncentred;
``LoadedModel.processing`` records what was applied.

The model is booted once per run and dropped at once: only the processed ``W_U`` (the final norm is
folded into it), the vocabulary and, for ``hook_z`` SAEs, the ``W_O`` of their layers are kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ingest.errors import IngestInputError
from ingest.sources.vocabulary import Vocabulary

log = logging.getLogger(__name__)
PROCESSING = "TransformerBridge compatibility mode: fold_ln, center_writing_weights, center_unembed"
# Catalog model names that differ from the Hugging Face id to boot, beyond TransformerLens's own aliases.
HF_ID_OF = {"gpt2-small": "gpt2"}


def hf_id_of(model_name: str) -> str:
    """The hub id TransformerLens boots for a SAELens model name ('gemma-2-2b' -> 'google/gemma-2-2b')."""
    if model_name in HF_ID_OF:
        return HF_ID_OF[model_name]
    if "/" in model_name:
        return model_name  # a hub id already (meta-llama/Llama-3.1-8B): no need to import TransformerLens
    from transformer_lens.loading_from_pretrained import get_official_model_name

    try:
        return get_official_model_name(model_name)
    except ValueError:
        return model_name  # a hub id TransformerLens does not list: booted as it is


@dataclass(frozen=True)
class LoadedModel:
    model_name: str  # the catalog's name, e.g. 'gpt2-small'
    source: str  # hub id or local folder
    W_U: torch.Tensor  # [d_model, d_vocab] float32, CPU, processed
    vocab: Vocabulary
    fingerprint: str  # sha256 of W_U
    processing: str = PROCESSING  # what TransformerLens applied, as text
    W_O: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [n_heads, d_head, d_model], processed

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


class _RootWarningsAsNotes(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "root":
            log.info("note: TransformerLens: %s", record.getMessage())


@contextmanager
def _root_warnings_as_notes() -> Iterator[None]:
    """TransformerLens warns through the root logger (``logging.warning``: Gemma 2's soft-cap), which, when
    the root has no handler, installs one (``logging.basicConfig``) that then prints every later line of
    the run twice. While the model boots, such warnings become this module's notes instead."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler = _RootWarningsAsNotes()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _processing(bridge) -> str:
    """The steps TransformerLens applied in compatibility mode to this model, as text."""
    cfg = bridge.cfg
    steps = ["fold_ln"]
    if getattr(cfg, "normalization_type", "LN") in ("LN", "LNPre"):
        steps.append("center_writing_weights")
    else:
        steps.append(f"no center_writing_weights ({cfg.normalization_type}: only LayerNorm allows it)")
    soft_cap = getattr(cfg, "output_logits_soft_cap", None)
    if soft_cap is not None and soft_cap > 0:
        steps.append(f"no center_unembed (logit soft-cap {soft_cap:g})")
    else:
        steps.append("center_unembed")
    return "TransformerBridge compatibility mode: " + ", ".join(steps)


def _kept_W_O(bridge, layers: Iterable[int]) -> dict[int, torch.Tensor]:
    """The processed W_O [n_heads, d_head, d_model] of each layer asked for that the model has."""
    wanted = sorted(set(layers))
    if not wanted:
        return {}
    with torch.no_grad():
        W_O = bridge.W_O  # [n_layers, n_heads, d_head, d_model]
        return {layer: W_O[layer].detach().to("cpu", torch.float32).clone() for layer in wanted if layer < W_O.shape[0]}


def load_model(
    name_or_path: str, model_name: str | None = None, device: str = "cpu", W_O_layers: Iterable[int] = ()
) -> LoadedModel:
    """Boot the model through TransformerBridge and keep only the processed W_U, the vocabulary and
    the W_O of ``W_O_layers`` (for hook_z SAEs)."""
    with _root_warnings_as_notes():
        return _load_model(name_or_path, model_name, device, W_O_layers)


def _load_model(name_or_path: str, model_name: str | None, device: str, W_O_layers: Iterable[int]) -> LoadedModel:
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
        hf_id = hf_id_of(name_or_path)
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
    W_O = _kept_W_O(bridge, W_O_layers)
    processing = _processing(bridge)
    del bridge  # the rest of the model is not needed again in this run
    vocab = Vocabulary.from_tokenizer(catalog_name, tokenizer)
    if len(vocab) < W_U.shape[1]:
        raise IngestInputError(
            f"model {name_or_path}: the tokenizer has {len(vocab)} tokens but W_U has "
            f"{W_U.shape[1]} columns; the tokenizer does not belong to the model"
        )
    vocab = vocab.truncated(W_U.shape[1])
    fingerprint = hashlib.sha256(W_U.numpy().tobytes()).hexdigest()
    return LoadedModel(
        model_name=catalog_name,
        source=str(name_or_path),
        W_U=W_U,
        vocab=vocab,
        fingerprint=fingerprint,
        processing=processing,
        W_O=W_O,
    )
