"""``llcat-ingest sets --model NAME``: print the token set library a model would get.

The listing of every set is followed by one row per family (number of sets, min / median / max
size, empty sets), the quick check that a new tokenizer (Gemma's SentencePiece, Llama 3's
byte-level BPE) gets sensible sets. A model already in the catalog is read from there (its stored
vocabulary: no download, no hub), and the listing ends with how it compares to the sets the catalog
holds for it. Any other model is loaded from its local folder or the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catalog.connect import open_read_only
from ingest import token_sets
from ingest.catalog_model import catalog_vocabulary, stored_model_name, stored_set_names
from ingest.errors import IngestInputError
from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import TokenSetLibrary, describe_library, family_summary

_SETS_ALTERNATIVE = (
    "pass --model with a local Hugging Face model folder, or with a model that the catalog given by --db holds"
)
_NAMES_SHOWN = 8


@dataclass(frozen=True)
class CatalogModel:
    db: Path
    model_name: str
    vocab: Vocabulary
    stored_sets: list[str]


def find_in_catalog(model_ref: str, db: Path, db_given: bool) -> CatalogModel | None:
    """The model from the catalog ``db`` when it holds it; None otherwise (also when a default ``db`` is absent)."""
    if not db.exists():
        if db_given:
            raise IngestInputError(
                f"catalog {db} (--db) does not exist; pass an existing catalog, or leave --db "
                f"out to load model {model_ref!r} itself"
            )
        return None
    con = open_read_only(db)
    try:
        model_name = stored_model_name(con, model_ref)
        if model_name is None:
            return None
        return CatalogModel(db, model_name, catalog_vocabulary(con, model_name), stored_set_names(con, model_name))
    finally:
        con.close()


def _loaded_vocabulary(model_ref: str) -> Vocabulary:
    from ingest.sources.hub import require_hub
    from ingest.sources.model import load_model

    if not Path(model_ref).exists():
        require_hub(f"model {model_ref!r}", _SETS_ALTERNATIVE, outcome="")
    return load_model(model_ref).vocab


def _names(names: list[str]) -> str:
    more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
    return ", ".join(repr(name) for name in names[:_NAMES_SHOWN]) + more


def compare_with_catalog(library: TokenSetLibrary, stored: CatalogModel) -> list[str]:
    """Lines saying how the library differs from the sets the catalog holds for the model."""
    built, held = library.names(), stored.stored_sets
    not_built = [name for name in held if name not in set(built)]
    not_held = [name for name in built if name not in set(held)]
    where = f"catalog {stored.db} ({stored.model_name!r})"
    if not not_built and not not_held:
        return [f"{where} holds the same {len(held)} token sets"]
    lines = []
    if not_built:
        lines.append(
            f"note: {where} holds {len(not_built)} sets this library does not build: {_names(not_built)} "
            f"(`llcat-ingest rescore --db {stored.db}` stops on them and says why)"
        )
    if not_held:
        lines.append(
            f"note: {len(not_held)} sets of this library are not in {where} yet: {_names(not_held)} "
            f"(`llcat-ingest rescore --db {stored.db}` adds and scores them)"
        )
    return lines


def library_report(model_ref: str, db: Path, db_given: bool, token_sets_file: Path | None, samples: int) -> str:
    """The library of ``model_ref`` as a text table, read from the catalog when it holds the model."""
    stored = find_in_catalog(model_ref, db, db_given)
    vocab = stored.vocab if stored else _loaded_vocabulary(model_ref)
    library = token_sets.build_library(vocab, token_sets_file)  # looked up when called: tests may swap the builder
    lines = [describe_library(library, vocab, samples=samples), family_summary(library)]
    if stored:
        lines += compare_with_catalog(library, stored)
    return "\n".join(lines)
