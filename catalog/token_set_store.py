"""Writing the token set library and its calibration null.

Sets are identified by (model_name, name). A set whose members changed since the last run keeps
its name but loses every row computed from the old members (its null and enrichment), so that no
stored score describes a set that no longer exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from catalog.store import insert_rows, transaction


@dataclass(frozen=True)
class TokenSetRow:
    name: str
    family: str
    definition: str
    token_ids: np.ndarray  # sorted unique token ids
    dropped_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    set_ids: dict[str, int]  # name -> set_id, for every set given
    changed: list[str]  # names whose members changed (their old enrichment rows were deleted)
    added: list[str]


def _stored_members(con: duckdb.DuckDBPyConnection, set_id: int) -> np.ndarray:
    rows = con.execute(
        "SELECT token_id FROM token_set_members WHERE set_id = $set_id ORDER BY token_id", {"set_id": set_id}
    ).fetchnumpy()
    return np.asarray(rows["token_id"], dtype=np.int64)


def _forget_set_results(con: duckdb.DuckDBPyConnection, set_id: int) -> None:
    for table_name in ("token_set_members", "enrichment_null", "enrichment"):
        con.execute(f"DELETE FROM {table_name} WHERE set_id = $set_id", {"set_id": set_id})


def _insert_members(con: duckdb.DuckDBPyConnection, set_id: int, token_ids: np.ndarray) -> None:
    insert_rows(
        con,
        "token_set_members",
        pa.table(
            {
                "set_id": pa.array(np.full(len(token_ids), set_id, dtype=np.int32)),
                "token_id": pa.array(np.asarray(token_ids, dtype=np.int32)),
            }
        ),
    )


def sync_token_sets(con: duckdb.DuckDBPyConnection, model_name: str, sets: Sequence[TokenSetRow]) -> SyncResult:
    """Make the catalog's sets for `model_name` include `sets`, in one transaction."""
    existing = dict(
        con.execute("SELECT name, set_id FROM token_sets WHERE model_name = $model", {"model": model_name}).fetchall()
    )
    set_ids, changed, added = {}, [], []
    with transaction(con):
        for token_set in sets:
            members = np.asarray(token_set.token_ids, dtype=np.int64)
            params = {
                "model": model_name,
                "name": token_set.name,
                "family": token_set.family,
                "definition": token_set.definition,
                "size": int(len(members)),
                "dropped": list(token_set.dropped_words),
            }
            if token_set.name in existing:
                set_id = existing[token_set.name]
                if not np.array_equal(_stored_members(con, set_id), members):
                    _forget_set_results(con, set_id)
                    _insert_members(con, set_id, members)
                    changed.append(token_set.name)
                con.execute(
                    "UPDATE token_sets SET family = $family, definition = $definition, size = $size,"
                    " dropped_words = $dropped WHERE model_name = $model AND name = $name",
                    params,
                )
            else:
                set_id = con.execute(
                    "INSERT INTO token_sets (set_id, model_name, name, family, definition, size, dropped_words)"
                    " VALUES (nextval('token_set_ids'), $model, $name, $family, $definition, $size, $dropped)"
                    " RETURNING set_id",
                    params,
                ).fetchall()[0][0]
                _insert_members(con, set_id, members)
                added.append(token_set.name)
            set_ids[token_set.name] = int(set_id)
    return SyncResult(set_ids=set_ids, changed=changed, added=added)


def load_null(
    con: duckdb.DuckDBPyConnection, model_name: str, set_ids: Sequence[int], seed: int, n_directions: int
) -> dict[int, np.ndarray]:
    """Stored null d values (ascending) for those of `set_ids` computed with this seed and size."""
    rows = con.execute(
        "SELECT set_id, d_values FROM enrichment_null WHERE model_name = $model AND seed = $seed"
        " AND n_directions = $n AND list_contains($set_ids, set_id)",
        {"model": model_name, "seed": seed, "n": n_directions, "set_ids": [int(s) for s in set_ids]},
    ).fetchall()
    return {int(set_id): np.asarray(values, dtype=np.float64) for set_id, values in rows}


def write_null(
    con: duckdb.DuckDBPyConnection, model_name: str, set_ids: Sequence[int], null_sorted: np.ndarray, seed: int
) -> None:
    """Replace the null of each set: null_sorted [len(set_ids), n_directions], ascending per row."""
    with transaction(con):
        for set_id in set_ids:
            con.execute(
                "DELETE FROM enrichment_null WHERE model_name = $model AND set_id = $set_id",
                {"model": model_name, "set_id": int(set_id)},
            )
        insert_rows(
            con,
            "enrichment_null",
            pa.table(
                {
                    "set_id": pa.array(np.asarray(set_ids, dtype=np.int32)),
                    "seed": pa.array(np.full(len(set_ids), seed, dtype=np.int64)),
                    "n_directions": pa.array(np.full(len(set_ids), null_sorted.shape[1], dtype=np.int32)),
                    "d_values": pa.array(list(null_sorted.astype(np.float64))),
                }
            ),
            {"model_name": model_name},
        )


def load_null_fit_state(
    con: duckdb.DuckDBPyConnection, model_name: str, set_ids: Sequence[int], holdout_seed: int, n_holdout: int
) -> dict[int, bool]:
    """set_id -> whether its stored held-out p-values come from `n_holdout` directions of `holdout_seed`."""
    rows = con.execute(
        "SELECT set_id, holdout_p IS NOT NULL AND holdout_seed = $seed AND len(holdout_p) = $n FROM enrichment_null"
        " WHERE model_name = $model AND list_contains($set_ids, set_id)",
        {"model": model_name, "seed": holdout_seed, "n": n_holdout, "set_ids": [int(s) for s in set_ids]},
    ).fetchall()
    return {int(set_id): bool(ok) for set_id, ok in rows}


def write_null_fit(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    set_ids: Sequence[int],
    fit: Any,
    holdout_rows: Sequence[int],
    holdout_p: np.ndarray | None,
    holdout_seed: int,
) -> None:
    """Store each set's tail fit (a ``TailFit`` of [len(set_ids)] arrays) and, for the sets at positions
    `holdout_rows`, the calibrated p-values of held-out directions (holdout_p [len(holdout_rows), n])."""
    fit_rows = pa.table(
        {
            "set_id": pa.array(np.asarray(set_ids, dtype=np.int32)),
            "fit_method": pa.array(fit.methods, pa.string()),
            "tail_resolution": pa.array(np.asarray(fit.resolution, dtype=np.float64)),
            "tail_threshold": pa.array(np.asarray(fit.threshold, dtype=np.float64), from_pandas=True),
            "tail_mass": pa.array(np.asarray(fit.tail_mass, dtype=np.float64)),
            "tail_rate": pa.array(np.asarray(fit.rate, dtype=np.float64)),
            "tail_curvature": pa.array(np.asarray(fit.curvature, dtype=np.float64)),
            "tail_exceedances": pa.array(np.asarray(fit.n_exceedances, dtype=np.int32)),
        }
    )
    with transaction(con):
        con.register("incoming_fit", fit_rows)
        try:
            con.execute(
                "UPDATE enrichment_null AS n SET fit_method = f.fit_method, tail_resolution = f.tail_resolution,"
                " tail_threshold = f.tail_threshold, tail_mass = f.tail_mass, tail_rate = f.tail_rate,"
                " tail_curvature = f.tail_curvature, tail_exceedances = f.tail_exceedances"
                " FROM incoming_fit AS f WHERE n.model_name = $model AND n.set_id = f.set_id",
                {"model": model_name},
            )
        finally:
            con.unregister("incoming_fit")
        if holdout_p is not None and len(holdout_rows):
            holdout = pa.table(
                {
                    "set_id": pa.array(np.asarray([set_ids[i] for i in holdout_rows], dtype=np.int32)),
                    "holdout_p": pa.array(list(np.asarray(holdout_p, dtype=np.float64))),
                }
            )
            con.register("incoming_holdout", holdout)
            try:
                con.execute(
                    "UPDATE enrichment_null AS n SET holdout_seed = $seed, holdout_p = h.holdout_p"
                    " FROM incoming_holdout AS h WHERE n.model_name = $model AND n.set_id = h.set_id",
                    {"model": model_name, "seed": holdout_seed},
                )
            finally:
                con.unregister("incoming_holdout")
