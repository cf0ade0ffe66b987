"""Downloading a release's files from the Hugging Face hub: only the files the catalog reads, one at a
time, kept in huggingface_hub's own cache so that a second run downloads nothing (and a run with
``HF_HUB_OFFLINE=1`` reads them from the cache without asking the hub).

Before anything is fetched, :func:`require_hub` checks once, with a short timeout, that the hub
answers: huggingface_hub (and transformers through it) retry a failed request five times with
backoff (about 30 s) before giving up, which is only noise when there is no network at all.
"""

from __future__ import annotations

from pathlib import Path

from ingest.errors import IngestInputError
from ingest.sources.registry import Release, ReleaseSae

# The hub answers a HEAD on its front page in well under a second; a network that drops packets
# would otherwise keep the probe waiting for the default 10 s.
HUB_PROBE_TIMEOUT_S = 3.0


def hub_unreachable_reason(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> str | None:
    """Why the hub (``HF_ENDPOINT``, default https://huggingface.co) cannot be reached, or None when it
    answers, or when ``HF_HUB_OFFLINE`` is set (then only the local cache is used, and nothing is probed)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE:
        return None
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout_s)  # any HTTP answer, even an error status, will do
    except Exception as error:  # DNS, refused, timeout, proxy, TLS: all mean "cannot reach it"
        return f"{type(error).__name__}: {error}"
    return None


# What to do instead of downloading, for `ingest run`.
RUN_ALTERNATIVE = (
    'ingest SAE folders on disk with --sae-dir DIR --model PATH (make ingest SAE_DIRS="DIR ..." '
    "MODEL=PATH), PATH a local Hugging Face model folder"
)


def require_hub(needs: str, alternative: str = RUN_ALTERNATIVE, outcome: str = "; nothing was written") -> None:
    """Raise one IngestInputError, naming ``needs`` (what would be downloaded), ``outcome``, the offline
    cache and ``alternative``, when the hub cannot be reached."""
    from huggingface_hub import constants

    reason = hub_unreachable_reason()
    if reason is None:
        return
    raise IngestInputError(
        f"the Hugging Face hub ({constants.ENDPOINT}) cannot be reached ({reason}), and {needs} must be "
        f"downloaded from it{outcome}. Connect and re-run; or, if the files are already in the Hugging Face cache, "
        f"re-run with HF_HUB_OFFLINE=1 set; or {alternative}"
    )


def fetch_file(release: Release, sae: ReleaseSae, filename: str, optional: bool = False) -> Path | None:
    """Download (or find in the cache) ``filename`` of the release's repo; None when ``optional`` and the
    repo has no such file. Errors name the file, the SAE and the release."""
    from huggingface_hub import hf_hub_download  # looked up at each call: tests stand in for it
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id=release.repo_id, filename=filename))
    except LocalEntryNotFoundError as error:
        # the hub could not be reached and the file is not cached: a failed download, not a missing file
        raise _failed(release, sae, filename, error) from error
    except EntryNotFoundError as error:
        if optional:
            return None
        raise IngestInputError(
            f"release {release.name!r}: {release.repo_id} has no {filename} ({error}); SAE {sae.id!r} of "
            "SAELens's directory does not match the repo (a newer sae-lens may know it)"
        ) from error
    except Exception as error:  # network, authentication and cache errors all end the same way for the user
        raise _failed(release, sae, filename, error) from error


def _failed(release: Release, sae: ReleaseSae, filename: str, error: Exception) -> IngestInputError:
    return IngestInputError(
        f"could not download {filename} (SAE {sae.id!r} of release {release.name!r}) from {release.repo_id} "
        f"({type(error).__name__}: {error}); nothing was written for it: check the network (or HF_HUB_OFFLINE with "
        "a warm cache) and re-run, or download the folder yourself and pass --sae-dir"
    )
