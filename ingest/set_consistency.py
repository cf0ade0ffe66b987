"""Keeping a catalog's token sets and their enrichment in step when the library changes.

Rewriting a model's enrichment (``ingest sets --db``, or ingesting more SAEs of a model already in
the catalog) scores the sets the current library builds. A set the catalog holds but the library
cannot build now (NLTK data missing, a user file not given again, a word list now empty) would be
left listed in ``token_sets`` with enrichment for only some SAEs, or none. So such sets stop the
command before anything is written, unless the user asks to drop them (``--drop-missing-sets``):
then the sets go with their members, null and enrichment, and nothing lists a set without scores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from catalog.store import transaction
from ingest.errors import IngestInputError
from ingest.token_sets import TokenSetLibrary
from ingest.token_sets.nltk_data import FAMILY_PACKAGES, is_installed, setup_command

log = logging.getLogger(__name__)
_NAMES_SHOWN = 6  # per family in the error line; the rest are counted


@dataclass(frozen=True)
class MissingFamily:
    family: str
    names: list[str]
    reason: str


def _reason(family: str) -> str:
    if family in FAMILY_PACKAGES:
        absent = [package for package in FAMILY_PACKAGES[family] if not is_installed(package)]
        if absent:
            return f"NLTK data {absent} not found"
    if family == "user":
        return "not defined by the --token-sets file given now"
    return "the current library does not build them (see the warnings above)"


def missing_from_library(
    con: duckdb.DuckDBPyConnection, model_name: str, library: TokenSetLibrary
) -> list[MissingFamily]:
    """The catalog's sets for ``model_name`` that ``library`` does not hold, grouped by family."""
    built = set(library.names())
    by_family: dict[str, list[str]] = {}
    for name, family in con.execute(
        "SELECT name, family FROM token_sets WHERE model_name = $m ORDER BY set_id", {"m": model_name}
    ).fetchall():
        if name not in built:
            by_family.setdefault(family, []).append(name)
    return [MissingFamily(family, names, _reason(family)) for family, names in by_family.items()]


def _fixes(missing: Sequence[MissingFamily]) -> str:
    fixes = []
    if any(group.reason.startswith("NLTK data") for group in missing):
        fixes.append(
            f"install the NLTK data with `{setup_command()}` (add --copy-from DIR to copy it from a folder "
            "that holds it) and re-run"
        )
    if any(group.family == "user" for group in missing):
        fixes.append("pass the --token-sets file that defined them")
    fixes.append("or pass --drop-missing-sets to delete these sets and their enrichment on purpose")
    return "; ".join(fixes)


def missing_sets_error(db: Path | str, model_name: str, missing: Sequence[MissingFamily]) -> IngestInputError:
    groups = []
    for group in missing:
        shown = ", ".join(repr(name) for name in group.names[:_NAMES_SHOWN])
        more = f" and {len(group.names) - _NAMES_SHOWN} more" if len(group.names) > _NAMES_SHOWN else ""
        groups.append(f"{group.family} ({len(group.names)}: {shown}{more}): {group.reason}")
    count = sum(len(group.names) for group in missing)
    return IngestInputError(
        f"catalog {db} holds {count} token sets of model {model_name!r} that the current token set library cannot "
        f"build, so rewriting the enrichment would leave them without scores: {'; '.join(groups)}. Nothing was "
        f"written. Fix: {_fixes(missing)}"
    )


def check_stored_sets(
    con: duckdb.DuckDBPyConnection, db: Path | str, model_name: str, library: TokenSetLibrary, drop_missing: bool
) -> list[str]:
    """The names of the catalog's sets that ``library`` lacks, to be dropped; raises IngestInputError
    naming them (and the fix) when there are any and ``drop_missing`` is false."""
    missing = missing_from_library(con, model_name, library)
    if missing and not drop_missing:
        raise missing_sets_error(db, model_name, missing)
    return [name for group in missing for name in group.names]


def drop_token_sets(con: duckdb.DuckDBPyConnection, model_name: str, names: Sequence[str]) -> None:
    """Delete the named sets of the model with their members, null and enrichment, in one transaction."""
    if not names:
        return
    set_ids = [
        row[0]
        for row in con.execute(
            "SELECT set_id FROM token_sets WHERE model_name = $m AND list_contains($names, name)",
            {"m": model_name, "names": list(names)},
        ).fetchall()
    ]
    with transaction(con):
        # children first: enrichment, null and members reference the set
        for table_name in ("enrichment", "enrichment_null", "token_set_members", "token_sets"):
            con.execute(f"DELETE FROM {table_name} WHERE list_contains($ids, set_id)", {"ids": set_ids})
    log.info(
        "dropped %d token sets of %r that the library no longer builds, with their enrichment: %s",
        len(set_ids),
        model_name,
        ", ".join(names),
    )
