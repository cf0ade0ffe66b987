"""The known SAE releases: SAELens's pretrained-SAE directory (``sae_lens.loading.pretrained_saes_directory``).

SAELens keeps the field's registry (170 releases, 13,857 SAEs in sae-lens 6.54): for each release
its hub repo, the model it was trained on, the converter of its upstream layout
(``conversion_func``: Gemma Scope, Llama Scope, ...), and per SAE its id, its path in the repo and
its Neuronpedia id. A release's SAEs are named by SAELens's ids (``blocks.8.hook_resid_pre``,
``layer_20/width_16k/canonical``); the path or the Neuronpedia id of an SAE are accepted for it too.

Importing sae_lens takes seconds (it imports its whole training stack), so the directory is read
from sae_lens's own data file (``pretrained_saes.yaml``, located without importing the package) the
way ``get_pretrained_saes_directory`` reads it; sae_lens itself is imported only to convert an SAE's
cfg or weights, after a run has checked that the hub answers.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ingest.errors import IngestInputError

CLOSE_MATCHES = 3
LISTED_IDS = 10  # SAE ids named in an "unknown SAE" error before "... and N more"


@dataclass(frozen=True)
class ReleaseSae:
    """One SAE of a release: SAELens's id, its path in the hub repo, its Neuronpedia id."""

    id: str
    path: str
    neuronpedia_id: str | None


@dataclass(frozen=True)
class Release:
    name: str
    repo_id: str
    model_name: str  # SAELens's model name (e.g. 'gemma-2-2b'), the catalog's name for the model
    conversion_func: str | None  # SAELens's converter of the upstream layout; None: the SAELens layout
    saes: tuple[ReleaseSae, ...]
    config_overrides: dict[str, Any] | None = field(
        default=None, hash=False, compare=False
    )  # cfg entries of the release

    @property
    def layout(self) -> str:
        return self.conversion_func or "sae_lens"

    def sae(self, sae_id: str) -> ReleaseSae:
        """The SAE with SAELens id ``sae_id`` (or the one whose repo path or Neuronpedia id it is)."""
        for entry in self.saes:
            if entry.id == sae_id:
                return entry
        aliases = [entry for entry in self.saes if sae_id in (entry.path, entry.neuronpedia_id)]
        if len(aliases) == 1:
            return aliases[0]
        ids = [s.id for s in self.saes]
        listed = ", ".join(ids[:LISTED_IDS]) + (
            f", ... and {len(ids) - LISTED_IDS} more" if len(ids) > LISTED_IDS else ""
        )
        raise KeyError(
            f"release {self.name!r} has no SAE {sae_id!r}{_did_you_mean(sae_id, ids)}; valid --sae-id values: "
            f"{listed} (all of them: llcat-ingest releases {self.name} --saes)"
        )

    def select(self, sae_ids: list[str] | None) -> list[ReleaseSae]:
        """The SAEs named (all of them when `sae_ids` is empty), in the order given."""
        if not sae_ids:
            return list(self.saes)
        return [self.sae(sae_id) for sae_id in sae_ids]


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=CLOSE_MATCHES)
    if not close:
        return ""
    return f" (did you mean {' or '.join(map(repr, close))}?)"


def directory_file() -> Path:
    """sae_lens's ``pretrained_saes.yaml``, found without importing sae_lens."""
    spec = importlib.util.find_spec("sae_lens")
    if spec is None or not spec.submodule_search_locations:
        raise IngestInputError("sae-lens is not installed; it holds the directory of releases: pip install sae-lens")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained_saes.yaml"


@cache
def load_registry() -> dict[str, Release]:
    """Every release of SAELens's directory, by name (as ``get_pretrained_saes_directory`` reads it)."""
    import yaml

    with directory_file().open("r", encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    releases = {}
    for name, entry in data.items():
        saes = tuple(
            ReleaseSae(
                id=sae["id"],
                path=str(sae["path"]),  # SAELens turns integer paths into text too
                neuronpedia_id=sae.get("neuronpedia") or None,
            )
            for sae in entry["saes"]
        )
        releases[name] = Release(
            name=name,
            repo_id=entry["repo_id"],
            model_name=entry["model"],
            conversion_func=entry.get("conversion_func"),
            saes=saes,
            config_overrides=entry.get("config_overrides"),
        )
    return releases


def get_release(name: str) -> Release:
    """The release called `name`; a KeyError naming close matches and how to list them otherwise."""
    releases = load_registry()
    if name not in releases:
        raise KeyError(
            f"unknown release {name!r}{_did_you_mean(name, list(releases))}; SAELens's directory has "
            f"{len(releases)} releases: list them with `llcat-ingest releases [FILTER]`"
        )
    return releases[name]


def sae_lens_config_overrides(release: Release, sae: ReleaseSae) -> dict[str, Any]:
    """The cfg entries SAELens's directory adds for this SAE, as ``get_config_overrides`` gives them: the
    release's ``config_overrides`` and the SAE's Neuronpedia id (None when it has none). Computed here
    rather than imported: sae_lens binds ``hf_hub_download`` when it is first imported."""
    return {**(release.config_overrides or {}), "neuronpedia_id": sae.neuronpedia_id}
