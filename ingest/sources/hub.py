"""Downloading a release's SAE folders from the Hugging Face hub: only the files the catalog reads,
kept in huggingface_hub's own cache so that a second run downloads nothing."""

from __future__ import annotations

from pathlib import Path

from ingest.errors import IngestInputError
from ingest.sources.registry import Release, ReleaseSae
from ingest.sources.sae import CFG_FILE, SPARSITY_FILE, WEIGHTS_FILE


def download_sae_folder(release: Release, sae: ReleaseSae, revision: str | None = None) -> Path:
    """Fetch cfg.json, the weights and (when the repo has it) the sparsity file; return the local folder."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    def fetch(filename: str) -> Path:
        return Path(hf_hub_download(repo_id=release.repo_id, filename=f"{sae.id}/{filename}", revision=revision))

    def failed(filename: str, error: Exception) -> IngestInputError:
        return IngestInputError(
            f"could not download {sae.id}/{filename} (SAE {sae.id!r} of release {release.name!r}) from {release.repo_id} "
            f"({type(error).__name__}: {error}); nothing was written for it: check the network (or HF_HUB_OFFLINE with "
            "a warm cache) and re-run, or download the folder yourself and pass --sae-dir")

    # LocalEntryNotFoundError (a subclass of EntryNotFoundError) means the hub could not be reached and
    # the file is not cached: a failed download, not a file missing from the repo.
    for filename in (CFG_FILE, WEIGHTS_FILE, SPARSITY_FILE):
        try:
            path = fetch(filename)
        except LocalEntryNotFoundError as error:
            raise failed(filename, error) from error
        except EntryNotFoundError as error:
            if filename == SPARSITY_FILE:
                continue  # the sparsity file is optional: features get no density
            raise IngestInputError(f"release {release.name!r}: {release.repo_id} has no {sae.id}/{filename} ({error}); "
                                   f"the registry entry for {sae.id!r} is out of date") from error
        except Exception as error:  # network, authentication and cache errors all end the same way for the user
            raise failed(filename, error) from error
        if filename == CFG_FILE:
            cfg_path = path
    return cfg_path.parent
