"""Choosing the torch device for the analysis."""

from __future__ import annotations

import torch

from ingest.errors import IngestInputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> torch.device:
    """'auto' takes CUDA when there is a GPU; 'cuda' without one is an error, not a silent fallback."""
    if requested not in DEVICE_CHOICES:
        raise IngestInputError(f"--device {requested!r} is not one of {', '.join(DEVICE_CHOICES)}")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise IngestInputError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return torch.device(requested)
