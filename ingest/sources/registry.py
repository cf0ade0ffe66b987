"""Known SAE releases, read from `releases.toml` beside this file (data, not code)."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REGISTRY_FILE = Path(__file__).with_name("releases.toml")


@dataclass(frozen=True)
class ReleaseSae:
    """One SAE of a release: its folder in the hub repo and where it reads the model."""

    id: str
    hook_name: str
    layer: int
    neuronpedia_id: str | None


@dataclass(frozen=True)
class Release:
    name: str
    repo_id: str
    model_name: str
    hf_model: str
    saes: tuple[ReleaseSae, ...]

    def sae(self, sae_id: str) -> ReleaseSae:
        for entry in self.saes:
            if entry.id == sae_id:
                return entry
        valid = ", ".join(entry.id for entry in self.saes)
        raise KeyError(
            f"release {self.name!r} has no SAE "
            f"{sae_id!r}{_did_you_mean(sae_id, [s.id for s in self.saes])}; "
            f"valid --sae-id values: {valid}"
        )

    def select(self, sae_ids: list[str] | None) -> list[ReleaseSae]:
        """The SAEs named (all of them when `sae_ids` is empty), in the order given."""
        if not sae_ids:
            return list(self.saes)
        return [self.sae(sae_id) for sae_id in sae_ids]


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@cache
def load_registry(path: Path = REGISTRY_FILE) -> dict[str, Release]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    releases = {}
    for name, entry in data["releases"].items():
        saes = tuple(
            ReleaseSae(
                id=sae["id"],
                hook_name=sae["hook_name"],
                layer=int(sae["layer"]),
                neuronpedia_id=sae.get("neuronpedia_id"),
            )
            for sae in entry["saes"]
        )
        releases[name] = Release(
            name=name, repo_id=entry["repo_id"], model_name=entry["model_name"], hf_model=entry["hf_model"], saes=saes
        )
    return releases


def get_release(name: str) -> Release:
    """The release called `name`; a KeyError that lists the known releases otherwise."""
    releases = load_registry()
    if name not in releases:
        raise KeyError(
            f"unknown release {name!r}{_did_you_mean(name, list(releases))}; "
            f"known releases: {', '.join(sorted(releases))} (defined in {REGISTRY_FILE})"
        )
    return releases[name]
