"""An SAE's decoder rows as residual-stream directions, ready for ``@ W_U`` (see ``ingest.sources.hooks``).

Every hook kind but ``attn_z`` writes into the residual stream already; a ``hook_z`` SAE's rows are
mapped through the layer's ``W_O`` of the processed model. The result keeps the fingerprint of the
decoder as read and says in ``logit_mapping`` what was applied.
"""

from __future__ import annotations

import dataclasses

import torch

from ingest.errors import IngestInputError
from ingest.sources.hooks import map_hook_z
from ingest.sources.sae import LoadedSae


def to_residual(sae: LoadedSae, W_O: torch.Tensor | None, where: str) -> LoadedSae:
    """``sae`` with ``W_dec [d_sae, d_model]``; ``W_O [n_heads, d_head, d_model]`` of the SAE's layer
    for ``attn_z`` SAEs (None otherwise). ``where`` names the SAE in errors."""
    if sae.cfg.hook.kind != "attn_z":
        return sae
    if W_O is None:
        raise IngestInputError(
            f"SAE {where} reads {sae.cfg.hook_name} but the model has no layer {sae.cfg.hook.layer}; "
            "pass the model it was trained on"
        )
    try:
        with torch.no_grad():
            mapped, mapping = map_hook_z(sae.W_dec, W_O.to(torch.float32), sae.cfg.hook.head_index)
    except ValueError as error:
        raise IngestInputError(f"SAE {where}: {error}") from error
    return dataclasses.replace(sae, W_dec=mapped.contiguous(), logit_mapping=mapping)
