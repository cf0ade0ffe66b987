"""The ingest job's configuration: one dataclass, recorded as JSON in the catalog's `runs` table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Bump when a change to the analysis changes any stored number: stored SAEs from an older
# analysis version are then recomputed by the next run instead of skipped.
ANALYSIS_VERSION = 1
DEFAULT_CHUNK_SIZE = {"cpu": 128, "cuda": 2048}


@dataclass
class IngestConfig:
    db: Path
    model: str | None = None              # hub id or local model folder; a release brings its own
    model_name: str | None = None         # the catalog's name for the model (default: release's, or folder name)
    release: str | None = None            # a registry release to download
    sae_ids: list[str] = field(default_factory=list)   # SAEs of the release (all when empty)
    sae_dirs: list[Path] = field(default_factory=list)  # local SAELens folders
    release_name: str = "local"           # release name recorded for --sae-dir SAEs
    device: str = "auto"                  # auto | cpu | cuda
    chunk_size: int | None = None         # features per chunk; bounds memory (default by device)
    top_k: int = 10
    force: bool = False                   # recompute SAEs already in the catalog
    token_sets_file: Path | None = None   # user-defined token sets (TOML or YAML)
    enrichment: bool = True
    null_directions: int = 2048
    null_seed: int = 0
    drop_missing_sets: bool = False       # delete stored sets the current library cannot build (else: an error)

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: (str(value) if isinstance(value, Path) else value) for key, value in data.items()} | {
            "sae_dirs": [str(path) for path in self.sae_dirs],
            "analysis_version": ANALYSIS_VERSION,
        }
