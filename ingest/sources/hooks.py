"""Where an SAE's decoder writes, and how its features reach the logits (docs/definitions.md).

The logit lens of a feature is its decoder row mapped into the residual stream, times the
processed unembedding ``W_U``. For most hooks the decoder row already lives in the residual
stream (``d_model`` wide):

==============  ======================================  =======================================
hook kind       TransformerLens hook                    map to the logits
==============  ======================================  =======================================
embed           ``hook_embed``                          ``W_dec @ W_U``
resid_pre       ``blocks.N.hook_resid_pre``             ``W_dec @ W_U``
attn_out        ``blocks.N.hook_attn_out``              ``W_dec @ W_U``
attn_z          ``blocks.N.attn.hook_z``                ``W_dec`` reshaped ``[d_sae, n_heads, d_head]``
                                                        contracted with ``W_O[N]`` ``[n_heads, d_head,
                                                        d_model]`` (one head when ``hook_head_index``
                                                        is set), then ``@ W_U``
resid_mid       ``blocks.N.hook_resid_mid``             ``W_dec @ W_U``
mlp_out         ``blocks.N.hook_mlp_out``               ``W_dec @ W_U``
transcoder      reads any hook, writes ``hook_name_out``  ``W_dec @ W_U`` (its decoder writes the MLP
                (e.g. ``blocks.N.hook_mlp_out``)        output, which is added to the residual stream)
resid_post      ``blocks.N.hook_resid_post``            ``W_dec @ W_U``
==============  ======================================  =======================================

``hook_z`` SAEs are mapped as SAEDashboard does for its logit tables. The ``hook_position`` sort key
orders a model's SAEs as the residual stream meets them: the embedding, then each block's
resid_pre, attention, resid_mid, MLP and resid_post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ingest.errors import IngestInputError

_BLOCK_HOOK = re.compile(r"^blocks\.(\d+)\.(.+)$")
# Hook suffix within a block -> (kind, place in the block).
_BLOCK_KINDS = {
    "hook_resid_pre": ("resid_pre", 0),
    "hook_attn_out": ("attn_out", 1),
    "attn.hook_z": ("attn_z", 1),
    "hook_resid_mid": ("resid_mid", 2),
    "hook_mlp_out": ("mlp_out", 3),
    "hook_resid_post": ("resid_post", 4),
}
PLACES_PER_BLOCK = 5
HOOK_KINDS = ("embed", "resid_pre", "attn_out", "attn_z", "resid_mid", "mlp_out", "transcoder", "resid_post")
PLAIN_MAPPING = "W_dec @ W_U"


@dataclass(frozen=True)
class Hook:
    """Where an SAE's decoder writes: its kind, block (0 for the embedding) and sort key within the model."""

    kind: str
    layer: int
    position: int  # 0 for the embedding, then 1 + PLACES_PER_BLOCK * layer + place in the block
    head_index: int | None = None  # hook_z SAEs of one head only


def _block_hook(hook_name: str) -> tuple[int, str, int] | None:
    match = _BLOCK_HOOK.match(hook_name)
    if match is None or match.group(2) not in _BLOCK_KINDS:
        return None
    kind, place = _BLOCK_KINDS[match.group(2)]
    return int(match.group(1)), kind, place


def classify_hook(hook_name: str, hook_name_out: str | None = None, head_index: int | None = None) -> Hook:
    """The hook kind of an SAE reading ``hook_name`` (a transcoder when it writes ``hook_name_out``).

    Raises ValueError for hooks whose decoder does not write into the residual stream (or
    one of the outputs added to it), naming the supported ones.
    """
    if hook_name_out:
        written = _block_hook(hook_name_out)
        if written is None or written[1] == "attn_z":
            raise ValueError(
                f"transcoder writing {hook_name_out!r}: only transcoders whose output is a residual-stream "
                "write (blocks.N.hook_mlp_out, hook_attn_out, hook_resid_*) can be read through the logit lens"
            )
        layer, _, place = written
        return Hook("transcoder", layer, 1 + PLACES_PER_BLOCK * layer + place)
    if hook_name == "hook_embed":
        return Hook("embed", 0, 0)
    found = _block_hook(hook_name)
    if found is None:
        raise ValueError(
            f"hook {hook_name!r} is not one whose decoder writes into the residual stream; supported: "
            "hook_embed, blocks.N.hook_resid_pre/mid/post, blocks.N.hook_attn_out, blocks.N.hook_mlp_out, "
            "blocks.N.attn.hook_z, and transcoders (cfg hook_name_out)"
        )
    layer, kind, place = found
    return Hook(kind, layer, 1 + PLACES_PER_BLOCK * layer + place, head_index if kind == "attn_z" else None)


def map_hook_z(W_dec: torch.Tensor, W_O: torch.Tensor, head_index: int | None) -> tuple[torch.Tensor, str]:
    """Decoder rows of a ``hook_z`` SAE mapped into the residual stream through the layer's ``W_O``.

    ``W_dec [d_sae, n_heads * d_head]`` (or ``[d_sae, d_head]`` for one head), ``W_O [n_heads,
    d_head, d_model]``; returns ``[d_sae, d_model]`` and the mapping as text.
    """
    n_heads, d_head, _ = W_O.shape
    d_sae, width = W_dec.shape
    if head_index is not None:
        if not 0 <= head_index < n_heads or width != d_head:
            raise ValueError(
                f"hook_z SAE of head {head_index} has decoder width {width}; the model has {n_heads} heads of "
                f"{d_head}, so it must be {d_head} wide with a head index below {n_heads}"
            )
        mapped = W_dec @ W_O[head_index]
        return mapped, f"W_dec [{d_sae}, {d_head}] · W_O[head {head_index}] @ W_U"
    if width != n_heads * d_head:
        raise ValueError(
            f"hook_z SAE has decoder width {width} but the layer has {n_heads} heads of {d_head} "
            f"({n_heads * d_head}); the SAE was trained on another model"
        )
    mapped = torch.einsum("fhd,hdm->fm", W_dec.reshape(d_sae, n_heads, d_head), W_O)
    return mapped, f"W_dec reshaped [{d_sae}, {n_heads}, {d_head}] · W_O[all heads] @ W_U"


def hook_error(where: str, error: ValueError) -> IngestInputError:
    """An input error for an SAE whose hook cannot be read through the logit lens."""
    return IngestInputError(f"{where}: {error}")
