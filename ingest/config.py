"""The ingest job's configuration: one dataclass, validated once and recorded as JSON in the
catalog's `runs` table, and the device and chunk size it resolves to.

Every path that computes (``llcat-ingest run``, ``demo`` and ``rescore``, and the benchmark) takes an
``IngestConfig``; an option that cannot work (a chunk size, top-k or number of null directions that is
not positive) is refused when the config is made, before anything is loaded or written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.errors import IngestInputError

if TYPE_CHECKING:
    import torch

# Bump when a change to the analysis changes any stored number: stored SAEs from an older
# analysis version are then recomputed by the next run instead of skipped.
ANALYSIS_VERSION = 2
DEFAULT_CHUNK_SIZE = {"cpu": 128, "cuda": 2048}
DEVICE_CHOICES = ("auto", "cpu", "cuda")
EXECUTOR_CHOICES = ("local", "ray")  # where SAEs are computed (ingest.executors); the driver always writes
DEFAULT_SPLIT_FEATURES = 16384  # with Ray, wider SAEs are split into feature-range tasks of about this size


@dataclass
class IngestConfig:
    db: Path
    model: str | None = None  # hub id or local model folder; a release brings its own
    model_name: str | None = None  # the catalog's name for the model (default: release's, or folder name)
    release: str | None = None  # a registry release to download
    sae_ids: list[str] = field(default_factory=list)  # SAEs of the release (all when empty)
    sae_dirs: list[Path] = field(default_factory=list)  # local SAELens folders
    release_name: str = "local"  # release name recorded for --sae-dir SAEs
    device: str = "auto"  # auto | cpu | cuda
    chunk_size: int | None = None  # features per chunk; bounds memory (default by device)
    top_k: int = 10
    force: bool = False  # recompute SAEs already in the catalog
    token_sets_file: Path | None = None  # user-defined token sets (TOML or YAML)
    enrichment: bool = True
    null_directions: int = 4096  # random directions the null and its tail fit come from
    null_holdout: int = 1024  # further directions (another seed) whose calibrated p are stored, as a check
    null_seed: int = 0
    drop_missing_sets: bool = False  # delete stored sets the current library cannot build (else: an error)
    executor: str = "local"  # local | ray (ingest.executors)
    ray_address: str | None = None  # a Ray cluster to join ("auto": the one started on this machine); None: start one
    split_features: int | None = DEFAULT_SPLIT_FEATURES  # Ray: SAEs wider than this become feature-range tasks

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse numbers that cannot work, naming the option and the fix (the one place they are checked)."""
        if self.chunk_size is not None and self.chunk_size <= 0:
            raise IngestInputError(f"--chunk-size {self.chunk_size} must be a positive number of features")
        if self.top_k <= 0:
            raise IngestInputError(
                f"--top-k {self.top_k} must be a positive number of tokens (stored per feature and direction)"
            )
        if self.enrichment and self.null_directions <= 0:
            raise IngestInputError(
                f"--null-directions {self.null_directions} must be a positive number of random "
                "directions (the enrichment null); use --no-enrichment to skip enrichment"
            )
        self._validate_executor()
        if self.null_holdout < 0:
            raise IngestInputError(
                f"--null-holdout {self.null_holdout} must be zero (none) or a positive number of "
                "held-out random directions"
            )

    def _validate_executor(self) -> None:
        if self.executor not in EXECUTOR_CHOICES:
            raise IngestInputError(f"--executor {self.executor!r} is not one of {', '.join(EXECUTOR_CHOICES)}")
        if self.ray_address is not None and self.executor != "ray":
            raise IngestInputError(
                f"--ray-address {self.ray_address} needs --executor ray (the local run uses no cluster)"
            )
        if self.split_features is not None and self.split_features <= 0:
            raise IngestInputError(
                f"--split-features {self.split_features} must be a positive number of features per Ray task"
            )

    def resolve_chunk_size(self, device: torch.device) -> int:
        return self.chunk_size or DEFAULT_CHUNK_SIZE[device.type]

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: (str(value) if isinstance(value, Path) else value) for key, value in data.items()} | {
            "sae_dirs": [str(path) for path in self.sae_dirs],
            "analysis_version": ANALYSIS_VERSION,
        }


def resolve_device(requested: str) -> torch.device:
    """'auto' takes CUDA when there is a GPU; 'cuda' without one is an error, not a silent fallback."""
    import torch

    if requested not in DEVICE_CHOICES:
        raise IngestInputError(f"--device {requested!r} is not one of {', '.join(DEVICE_CHOICES)}")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise IngestInputError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return torch.device(requested)
