"""Synthetic layers for ``benchmarks.ingest_layer``: a GPT-2-small shape and a Gemma-2-2b shape, with a
token set library of the right size for each, and the peak-memory and release-size helpers.

GPT-2 small: d_model 768, the real GPT-2 vocabulary (50,257 tokens) and the default library built
from it. Gemma 2 2b: d_model 2,304 and 256,000 tokens; its tokenizer cannot be fetched offline, so
its library is GPT-2's with every set scaled to the larger vocabulary (same number of sets, each
with k * 256,000 / 50,257 seeded random members): the same M / V and set size spread, which is
what the enrichment's cost depends on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ingest.sources.vocabulary import gpt2_vocabulary
from ingest.token_sets import build_library

GEMMA_RELEASE = "gemma-scope-2b-pt-res-canonical"


@dataclass(frozen=True)
class LayerShape:
    name: str
    d_model: int
    d_vocab: int
    default_features: int
    description: str


SHAPES = {
    "gpt2": LayerShape("gpt2", 768, 50257, 24576, "GPT-2-small-shaped"),
    "gemma": LayerShape("gemma", 2304, 256000, 16384, "Gemma-2-2b-shaped"),
}


def synthetic_layer(
    n_features: int, d_vocab: int, seed: int = 0, d_model: int = 768
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred random W_U [d_model, d_vocab] and unit-norm W_dec [n_features, d_model], built in place
    (a Gemma-sized W_U is 2.4 GB: no second copy of it, so the peak memory is the pipeline's own)."""
    generator = torch.Generator().manual_seed(seed)
    W_U = torch.randn(d_model, d_vocab, generator=generator).mul_(0.1)
    W_U.sub_(W_U.mean(dim=1, keepdim=True))
    W_dec = torch.randn(n_features, d_model, generator=generator)
    return W_U, W_dec.div_(W_dec.norm(dim=1, keepdim=True))


def token_sets(shape: LayerShape, seed: int = 0) -> list[np.ndarray]:
    """The default library's sets for GPT-2; for another vocabulary size, each set scaled to it."""
    gpt2_sets = [s.token_ids for s in build_library(gpt2_vocabulary("bench")).sets]
    if shape.d_vocab == len(gpt2_vocabulary("bench")):
        return gpt2_sets
    rng = np.random.default_rng(seed)
    scale = shape.d_vocab / 50257
    sizes = [min(shape.d_vocab - 1, max(1, round(len(s) * scale))) for s in gpt2_sets]
    return [np.sort(rng.choice(shape.d_vocab, k, replace=False)) for k in sizes]


def peak_rss_gib() -> float:
    """Peak resident memory of this process since the last `reset_peak_rss` (VmHWM), in GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20  # kB
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # no /proc: peak since start


def reset_peak_rss() -> bool:
    """Start VmHWM again from the current RSS (Linux: write 5 to clear_refs); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _width(sae_id: str) -> int:
    """'layer_3/width_16k/canonical' -> 16,384: Gemma Scope widths are powers of two named in round thousands."""
    match = re.search(r"width_(\d+)([km])", sae_id)
    if match is None:
        raise ValueError(f"no width in SAE id {sae_id!r}")
    nominal = int(match.group(1)) * (1000 if match.group(2) == "k" else 1_000_000)
    return 2 ** round(math.log2(nominal))


def release_widths(release: str = GEMMA_RELEASE) -> dict[int, int]:
    """{features per SAE: number of SAEs} of a release, from SAELens's directory of pretrained SAEs."""
    from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

    widths: dict[int, int] = {}
    for sae_id in get_pretrained_saes_directory()[release].saes_map:
        widths[_width(sae_id)] = widths.get(_width(sae_id), 0) + 1
    return dict(sorted(widths.items()))
