"""The order SAEs are listed and plotted in: by model, layer, then where the hook sits in its block.

Sorting hook names as text puts ``blocks.1.hook_resid_post`` before ``blocks.1.hook_resid_pre``; a
block is read in the order the residual stream flows through it instead.
"""

from __future__ import annotations

import pandas as pd

# Substrings of a hook name, in the order the residual stream meets them within one block.
_BLOCK_POSITIONS = ("hook_resid_pre", "ln1", "attn", "hook_resid_mid", "ln2", "mlp", "hook_resid_post")


def hook_position(hook_name: object) -> int:
    """Where a hook sits in its block: resid_pre 0, attention 2, resid_mid 3, MLP 5, resid_post 6; unknown last."""
    name = str(hook_name)
    for position, marker in enumerate(_BLOCK_POSITIONS):
        if marker in name:
            return position
    return len(_BLOCK_POSITIONS)


def in_block_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with layer and hook_name, optionally model_name) sorted by model, layer, hook position, sae_id."""
    keys = [k for k in ("model_name", "layer") if k in frame] + ["_hook_position"]
    keys += [k for k in ("sae_id",) if k in frame]
    return (
        frame.assign(_hook_position=frame["hook_name"].map(hook_position))
        .sort_values(keys, kind="stable")
        .drop(columns="_hook_position")
        .reset_index(drop=True)
    )
