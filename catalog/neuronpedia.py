"""Links to Neuronpedia (docs/architecture.md, "Neuronpedia"): feature pages, embeds, and quick lists.

A catalog SAE's ``neuronpedia_id`` is ``'{model}/{source}'`` (e.g. ``'gpt2-small/8-res-jb'``), so

- feature page: ``https://neuronpedia.org/gpt2-small/8-res-jb/14215``
- embed: the page URL plus ``?embed=true&embedexplanation=true&embedplots=true&embedtest=true&height=300``
- quick list: ``https://neuronpedia.org/quick-list/?name=<quoted name>&features=<quoted JSON>``, the
  JSON a list of ``{"modelId": "gpt2-small", "layer": "8-res-jb", "index": "14215"}``, quoted
  exactly as SAELens's ``get_neuronpedia_quick_list`` (the notebook's) does it.

Neuronpedia takes at most 150 features per quick list: ``quick_list_url`` refuses more, and
``quick_list_urls`` splits a longer list into several, named ``"<name> (1 of 3)"`` and so on.
SAEs without a Neuronpedia id (the demo's) have no links: asking for one is an error naming them.
"""

from __future__ import annotations

import json
import operator
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from catalog.connect import reading
from catalog.errors import CatalogError

NEURONPEDIA_URL = "https://neuronpedia.org"
EMBED_OPTIONS = "embed=true&embedexplanation=true&embedplots=true&embedtest=true&height=300"
QUICK_LIST_MAX = 150
DEFAULT_LIST_NAME = "temporary_list"  # SAELens's default name


@dataclass(frozen=True)
class NeuronpediaFeature:
    """One feature as Neuronpedia addresses it."""

    model_id: str  # e.g. 'gpt2-small'
    source: str  # e.g. '8-res-jb' (Neuronpedia calls it "layer" in quick lists)
    index: int

    @classmethod
    def from_ids(cls, neuronpedia_id: str | None, index: int) -> NeuronpediaFeature:
        model_id, source = split_neuronpedia_id(neuronpedia_id)
        try:
            value = operator.index(index)  # ints and numpy integers; not floats, bools or text
        except TypeError:
            value = -1
        if isinstance(index, bool) or value < 0:
            raise CatalogError(f"feature index must be a non-negative integer, got {index!r}")
        return cls(model_id, source, value)

    @property
    def url(self) -> str:
        return f"{NEURONPEDIA_URL}/{self.model_id}/{self.source}/{self.index}"

    @property
    def embed_url(self) -> str:
        return f"{self.url}?{EMBED_OPTIONS}"

    def quick_list_entry(self) -> dict[str, str]:
        return {"modelId": self.model_id, "layer": self.source, "index": str(self.index)}


def split_neuronpedia_id(neuronpedia_id: str | None) -> tuple[str, str]:
    """``'gpt2-small/8-res-jb'`` -> ``('gpt2-small', '8-res-jb')``."""
    if neuronpedia_id is None:
        raise CatalogError(
            "this SAE has no Neuronpedia id (saes.neuronpedia_id is NULL), so it has no Neuronpedia links"
        )
    model_id, slash, source = str(neuronpedia_id).partition("/")
    if not slash or not model_id or not source:
        raise CatalogError(
            f"Neuronpedia id {neuronpedia_id!r} is not of the form 'model/source', e.g. 'gpt2-small/8-res-jb'"
        )
    return model_id, source


def feature_url(neuronpedia_id: str | None, index: int) -> str:
    return NeuronpediaFeature.from_ids(neuronpedia_id, index).url


def embed_url(neuronpedia_id: str | None, index: int) -> str:
    return NeuronpediaFeature.from_ids(neuronpedia_id, index).embed_url


def quick_list_url(features: Sequence[NeuronpediaFeature], name: str = DEFAULT_LIST_NAME) -> str:
    """One quick-list URL for at most 150 features (repeats dropped, order kept)."""
    unique = list(dict.fromkeys(features))
    if not unique:
        raise CatalogError("a quick list needs at least one feature; the result had none")
    if len(unique) > QUICK_LIST_MAX:
        raise CatalogError(
            f"a Neuronpedia quick list holds at most {QUICK_LIST_MAX} features, got {len(unique)}; "
            "lower the limit, or use quick_list_urls (the CLI's quicklist) to split it into several lists"
        )
    entries = json.dumps([feature.quick_list_entry() for feature in unique])
    return f"{NEURONPEDIA_URL}/quick-list/?name={urllib.parse.quote(name)}&features={urllib.parse.quote(entries)}"


def quick_list_urls(features: Sequence[NeuronpediaFeature], name: str = DEFAULT_LIST_NAME) -> list[str]:
    """As many quick-list URLs as it takes at 150 features each; named "name (i of n)" when more than one."""
    unique = list(dict.fromkeys(features))
    chunks = [unique[start : start + QUICK_LIST_MAX] for start in range(0, len(unique), QUICK_LIST_MAX)] or [[]]
    if len(chunks) == 1:
        return [quick_list_url(chunks[0], name)]
    return [quick_list_url(chunk, f"{name} ({i} of {len(chunks)})") for i, chunk in enumerate(chunks, start=1)]


def features_of(db_path: Path | str, frame: pd.DataFrame) -> list[NeuronpediaFeature]:
    """The Neuronpedia features of a result's rows, from its ``sae_id`` and ``feature`` columns."""
    missing = [column for column in ("sae_id", "feature") if column not in frame.columns]
    if missing:
        raise CatalogError(
            f"a quick list needs columns sae_id and feature; the result lacks {', '.join(missing)} "
            f"(it has {', '.join(map(str, frame.columns))})"
        )
    sae_ids = sorted(set(frame["sae_id"]))
    with reading(db_path) as con:
        rows = con.execute(
            "SELECT sae_id, neuronpedia_id FROM saes WHERE list_contains($ids, sae_id)", {"ids": sae_ids}
        ).fetchall()
    ids = dict(rows)
    without = [sae_id for sae_id in sae_ids if ids.get(sae_id) is None]
    if without:
        raise CatalogError(
            f"SAE(s) {', '.join(map(repr, without))} have no Neuronpedia id in catalog {db_path}, "
            "so their features cannot go in a quick list"
        )
    return [
        NeuronpediaFeature.from_ids(ids[sae_id], int(feature))
        for sae_id, feature in zip(frame["sae_id"], frame["feature"], strict=True)
    ]
