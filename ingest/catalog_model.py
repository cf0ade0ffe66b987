"""Reading a model back from a catalog: its name as stored and its vocabulary.

A model already in a catalog needs no download to build its token set library: the catalog holds
every token's raw BPE string and decoded text.
"""

from __future__ import annotations

import duckdb

from ingest.sources.vocabulary import Vocabulary


def catalog_vocabulary(con: duckdb.DuckDBPyConnection, model_name: str) -> Vocabulary:
    """The stored vocabulary of ``model_name``, in token id order."""
    rows = con.execute(
        "SELECT raw, token FROM tokens WHERE model_name = $m ORDER BY token_id", {"m": model_name}
    ).fetchall()
    return Vocabulary(model_name, [raw for raw, _ in rows], [text for _, text in rows])


def stored_model_name(con: duckdb.DuckDBPyConnection, name_or_source: str) -> str | None:
    """The catalog's name of the model called ``name_or_source`` or loaded from it (e.g. 'gpt2' for
    'gpt2-small'), or None when the catalog does not hold it."""
    row = con.execute(
        "SELECT model_name FROM models WHERE model_name = $n OR source = $n"
        " ORDER BY model_name = $n DESC, model_name LIMIT 1",
        {"n": name_or_source},
    ).fetchone()
    return row[0] if row else None


def stored_set_names(con: duckdb.DuckDBPyConnection, model_name: str) -> list[str]:
    """The names of the token sets the catalog holds for ``model_name``, in the order they were added."""
    return [
        row[0]
        for row in con.execute(
            "SELECT name FROM token_sets WHERE model_name = $m ORDER BY set_id", {"m": model_name}
        ).fetchall()
    ]
