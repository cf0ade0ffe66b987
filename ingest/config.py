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
    # Storage modes (issue 12; recorded per SAE in `saes`). Decoder vectors: float32 (exact: rescore and
    # every vector query reproduce ingest's numbers), int16 (half the bytes, per-vector scale), none.
    decoder_storage: str = "float32"
    # Enrichment: every feature x set pair ('all'), or only the pairs the queries and pages rank ('compact').
    enrichment_storage: str = "all"
    enrichment_top_sets: int = 3  # compact: sets kept per feature, direction and size class
    enrichment_top_features: int = 100  # compact: features kept per set and direction
    enrichment_max_q: float = 0.05  # compact: every pair with q_value at most this is kept as well
    token_index_k: int = 2  # features per token and direction in the reverse token index (0: none)

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
        self._validate_storage()

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

    def _validate_storage(self) -> None:
        from catalog.store import DECODER_STORAGE, ENRICHMENT_STORAGE

        if self.decoder_storage not in DECODER_STORAGE:
            raise IngestInputError(
                f"--decoder-storage {self.decoder_storage!r} is not one of {', '.join(DECODER_STORAGE)}"
            )
        if self.enrichment_storage not in ENRICHMENT_STORAGE:
            raise IngestInputError(
                f"--enrichment-storage {self.enrichment_storage!r} is not one of {', '.join(ENRICHMENT_STORAGE)}"
            )
        for option, value in (
            ("--enrichment-top-sets", self.enrichment_top_sets),
            ("--enrichment-top-features", self.enrichment_top_features),
        ):
            if value <= 0:
                raise IngestInputError(f"{option} {value} must be a positive number (pairs kept in compact mode)")
        if not 0 <= self.enrichment_max_q <= 1:
            raise IngestInputError(
                f"--enrichment-max-q {self.enrichment_max_q} must be a q-value between 0 and 1 "
                "(0 keeps no pair for its significance alone)"
            )
        if self.token_index_k < 0:
            raise IngestInputError(
                f"--token-index-k {self.token_index_k} must be zero (no reverse token index) or a positive "
                "number of features per token"
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
