"""Writing the token set library and its calibration null.

Sets are identified by (model_name, name). A set whose members changed since the last run keeps
its name but loses every row computed from the old members (its null and enrichment), so that no
stored score describes a set that no longer exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from catalog.store import insert_rows, transaction


@dataclass(frozen=True)
class TokenSetRow:
    name: str
    family: str
    definition: str
    token_ids: np.ndarray          # sorted unique token ids
    dropped_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    set_ids: dict[str, int]        # name -> set_id, for every set given
    changed: list[str]             # names whose members changed (their old enrichment rows were deleted)
    added: list[str]


def _stored_members(con: duckdb.DuckDBPyConnection, set_id: int) -> np.ndarray:
    rows = con.execute("SELECT token_id FROM token_set_members WHERE set_id = $set_id ORDER BY token_id",
                       {"set_id": set_id}).fetchnumpy()
    return np.asarray(rows["token_id"], dtype=np.int64)


def _forget_set_results(con: duckdb.DuckDBPyConnection, set_id: int) -> None:
    for table_name in ("token_set_members", "enrichment_null", "enrichment"):
        con.execute(f"DELETE FROM {table_name} WHERE set_id = $set_id", {"set_id": set_id})


def _insert_members(con: duckdb.DuckDBPyConnection, set_id: int, token_ids: np.ndarray) -> None:
    insert_rows(con, "token_set_members", pa.table({
        "set_id": pa.array(np.full(len(token_ids), set_id, dtype=np.int32)),
        "token_id": pa.array(np.asarray(token_ids, dtype=np.int32)),
    }))


def sync_token_sets(con: duckdb.DuckDBPyConnection, model_name: str, sets: Sequence[TokenSetRow]) -> SyncResult:
    """Make the catalog's sets for `model_name` include `sets`, in one transaction."""
    existing = dict(con.execute("SELECT name, set_id FROM token_sets WHERE model_name = $model",
                                {"model": model_name}).fetchall())
    set_ids, changed, added = {}, [], []
    with transaction(con):
        for token_set in sets:
            members = np.asarray(token_set.token_ids, dtype=np.int64)
            params = {"model": model_name, "name": token_set.name, "family": token_set.family,
                      "definition": token_set.definition, "size": int(len(members)),
                      "dropped": list(token_set.dropped_words)}
            if token_set.name in existing:
                set_id = existing[token_set.name]
                if not np.array_equal(_stored_members(con, set_id), members):
                    _forget_set_results(con, set_id)
                    _insert_members(con, set_id, members)
                    changed.append(token_set.name)
                con.execute("UPDATE token_sets SET family = $family, definition = $definition, size = $size,"
                            " dropped_words = $dropped WHERE model_name = $model AND name = $name", params)
            else:
                set_id = con.execute(
                    "INSERT INTO token_sets (set_id, model_name, name, family, definition, size, dropped_words)"
                    " VALUES (nextval('token_set_ids'), $model, $name, $family, $definition, $size, $dropped)"
                    " RETURNING set_id", params).fetchall()[0][0]
                _insert_members(con, set_id, members)
                added.append(token_set.name)
            set_ids[token_set.name] = int(set_id)
    return SyncResult(set_ids=set_ids, changed=changed, added=added)


def load_null(con: duckdb.DuckDBPyConnection, model_name: str, set_ids: Sequence[int], seed: int,
              n_directions: int) -> dict[int, np.ndarray]:
    """Stored null d values (ascending) for those of `set_ids` computed with this seed and size."""
    rows = con.execute(
        "SELECT set_id, d_values FROM enrichment_null WHERE model_name = $model AND seed = $seed"
        " AND n_directions = $n AND list_contains($set_ids, set_id)",
        {"model": model_name, "seed": seed, "n": n_directions, "set_ids": [int(s) for s in set_ids]},
    ).fetchall()
    return {int(set_id): np.asarray(values, dtype=np.float64) for set_id, values in rows}


def write_null(con: duckdb.DuckDBPyConnection, model_name: str, set_ids: Sequence[int], null_sorted: np.ndarray,
               seed: int) -> None:
    """Replace the null of each set: null_sorted [len(set_ids), n_directions], ascending per row."""
    with transaction(con):
        for set_id in set_ids:
            con.execute("DELETE FROM enrichment_null WHERE model_name = $model AND set_id = $set_id",
                        {"model": model_name, "set_id": int(set_id)})
        insert_rows(con, "enrichment_null", pa.table({
            "set_id": pa.array(np.asarray(set_ids, dtype=np.int32)),
            "seed": pa.array(np.full(len(set_ids), seed, dtype=np.int64)),
            "n_directions": pa.array(np.full(len(set_ids), null_sorted.shape[1], dtype=np.int32)),
            "d_values": pa.array(list(null_sorted.astype(np.float64))),
        }), {"model_name": model_name})
