"""SAE folders and local-run reference catalogs shared by the executor tests (built once per session).

- ``enriched``: two SAEs (40 and 24 features, one with a sparsity file) scored against the token set
  library with a small null: every table of the catalog is filled, q-values included.
- ``faults``: six SAEs of 256 features without enrichment, slow enough for a kill to land mid-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ingest.config import IngestConfig
from ingest.runner import IngestRunner
from tests.builders import old_cfg, random_decoder, write_sae_folder

D_MODEL = 32


@dataclass(frozen=True)
class Fixture:
    folders: list[Path]
    options: dict  # IngestConfig fields besides db, model, sae_dirs
    reference: Path  # the catalog a local run wrote

    def config(self, db: Path, model: Path, **overrides) -> IngestConfig:
        values = {"db": db, "model": str(model), "sae_dirs": list(self.folders)} | self.options
        return IngestConfig(**(values | overrides))

    def cli_args(self, db: Path, model: Path, *extra: str) -> list[str]:
        args = ["run", "--db", str(db), "--model", str(model), "--device", "cpu"]
        args += ["--chunk-size", str(self.options["chunk_size"]), "--top-k", str(self.options["top_k"])]
        if self.options.get("enrichment", True):
            args += ["--null-directions", str(self.options["null_directions"])]
            args += ["--null-holdout", str(self.options["null_holdout"])]
        else:
            args.append("--no-enrichment")
        for folder in self.folders:
            args += ["--sae-dir", str(folder)]
        return args + list(extra)


def sae_folders(root: Path, sizes: list[int], seed: int) -> list[Path]:
    folders = []
    for i, d_sae in enumerate(sizes):
        hook = f"blocks.{i}.hook_resid_pre"
        density = torch.linspace(-10, -1, d_sae) if i == 0 else None
        decoder = random_decoder(d_sae, D_MODEL, seed=seed + i)
        folders.append(write_sae_folder(root / hook, decoder, old_cfg(D_MODEL, d_sae, hook, i), density))
    return folders


def local_reference(root: Path, model: Path, sizes: list[int], seed: int, **options) -> Fixture:
    folders = sae_folders(root / "saes", sizes, seed)
    options = {"device": "cpu"} | options
    fixture = Fixture(folders, options, root / "local.duckdb")
    IngestRunner(fixture.config(fixture.reference, model)).run()
    return fixture


@pytest.fixture(scope="session")
def enriched(tmp_path_factory, tiny_gpt2) -> Fixture:
    root = tmp_path_factory.mktemp("enriched")
    return local_reference(root, tiny_gpt2, [40, 24], 1, chunk_size=16, top_k=5, null_directions=256, null_holdout=64)


@pytest.fixture(scope="session")
def faults(tmp_path_factory, tiny_gpt2) -> Fixture:
    root = tmp_path_factory.mktemp("faults")
    return local_reference(root, tiny_gpt2, [256] * 6, 11, chunk_size=64, top_k=4, enrichment=False)
