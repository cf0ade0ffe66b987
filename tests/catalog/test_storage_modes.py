"""Storage modes on the demo catalog (issue 12): compact enrichment answers the saved queries exactly
as every pair does, for the ranks it keeps; int16 and absent decoder vectors; the reverse token index.

The compact catalog is the demo with each SAE's enrichment replaced by the pairs
``ingest.compact_enrichment`` keeps from the stored ones (through ``store.write_enrichment``, as a
rescore writes them), so both catalogs hold the same numbers and differ only in which rows exist.
"""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

from catalog import store
from catalog.connect import open_for_write
from catalog.errors import CatalogError
from catalog.queries import run_query
from catalog.vectors import load_decoder
from ingest import tables
from ingest.compact_enrichment import CompactRule, compact_keep, dropped_bounds

SAE0, SAE1 = "demo/blocks.0.hook_resid_pre", "demo/blocks.1.hook_resid_pre"
RULE = CompactRule(top_sets=3, top_features=5, max_q=0.01)


def _stored_matrices(con: duckdb.DuckDBPyConnection, sae_id: str) -> dict[str, np.ndarray]:
    frame = con.execute(
        "SELECT e.feature, e.set_id, e.d, e.direction, e.p_value, e.p_null, e.q_value, e.p_calibrated"
        " FROM enrichment AS e WHERE sae_id = $s ORDER BY set_id, feature",
        {"s": sae_id},
    ).df()
    set_ids = np.sort(frame["set_id"].unique())
    n = frame["feature"].max() + 1
    pivot = {col: frame[col].to_numpy().reshape(len(set_ids), n).T for col in frame.columns[2:]}
    return pivot | {"set_ids": set_ids}


def _compact(db) -> None:
    con = open_for_write(db)
    try:
        sets = con.execute("SELECT set_id, name, size FROM token_sets ORDER BY set_id").df()
        for (sae_id,) in con.execute("SELECT sae_id FROM saes").fetchall():
            m = _stored_matrices(con, sae_id)
            chosen = sets.set_index("set_id").loc[m["set_ids"]]
            keep = compact_keep(
                m["d"], m["direction"], m["p_calibrated"], m["q_value"], list(chosen["name"]), chosen["size"], RULE
            )
            rows = tables.enrichment_table(
                m["d"], m["direction"], m["p_value"], m["p_null"], m["q_value"], m["set_ids"], m["p_calibrated"], keep
            )
            dropped = tables.enrichment_dropped_table(m["set_ids"], *dropped_bounds(m["d"], keep))
            store.write_enrichment(con, sae_id, rows, dropped)
            con.execute(
                "UPDATE saes SET enrichment_storage = 'compact', enrichment_top_sets = $a,"
                " enrichment_top_features = $b, enrichment_max_q = $q WHERE sae_id = $s",
                {"a": RULE.top_sets, "b": RULE.top_features, "q": RULE.max_q, "s": sae_id},
            )
    finally:
        con.close()


@pytest.fixture(scope="module")
def compact_db(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("compact") / "compact.duckdb"
    shutil.copy(demo_db, path)
    _compact(path)
    return path


def _frame(db, name, params, limit):
    return run_query(db, name, params, limit=limit).frame.reset_index(drop=True)


def test_compact_keeps_far_fewer_rows_and_records_its_mode(demo_db, compact_db):
    counts = [
        duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM enrichment").fetchone()[0]
        for db in (demo_db, compact_db)
    ]
    assert counts[1] < counts[0] / 3
    saes = _frame(compact_db, "saes", {}, 100)
    assert set(saes["enrichment_storage"]) == {"compact"}
    assert set(_frame(demo_db, "saes", {}, 100)["enrichment_storage"]) == {"all"}


@pytest.mark.parametrize(
    "token_set, direction, layer", [("boys_names", None, None), ("a", 1, None), ("colors", -1, 1), ("a", None, 1)]
)
def test_top_features_for_set_is_exact_for_the_ranks_kept(demo_db, compact_db, token_set, direction, layer):
    params = {"token_set": token_set, "direction": direction, "layer": layer}
    for limit, max_q in ((RULE.top_features, None), (RULE.top_features, 0.5)):
        want = _frame(demo_db, "top_features_for_set", params | {"max_q": max_q}, limit)
        got = _frame(compact_db, "top_features_for_set", params | {"max_q": max_q}, limit)
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("feature, direction, min_size", [(7, None, 5), (26, 1, 1), (100, -1, 5), (3, None, 1)])
def test_feature_enrichment_is_exact_for_the_ranks_kept(demo_db, compact_db, feature, direction, min_size):
    for sae in (SAE0, SAE1):
        params = {"sae": sae, "feature": feature, "direction": direction, "min_size": min_size}
        want = _frame(demo_db, "feature_enrichment", params, RULE.top_sets)
        got = _frame(compact_db, "feature_enrichment", params, RULE.top_sets)
        pd.testing.assert_frame_equal(got, want)


def test_every_significant_pair_is_kept(demo_db, compact_db):
    query = "SELECT sae_id, feature, set_id, d FROM enrichment WHERE q_value <= 0.01 ORDER BY ALL"
    frames = [duckdb.connect(str(db), read_only=True).execute(query).df() for db in (demo_db, compact_db)]
    assert len(frames[0]) > 0
    pd.testing.assert_frame_equal(frames[1], frames[0])


def test_enriched_a_not_b_matches_where_both_pairs_are_kept_and_bounds_hold(demo_db, compact_db):
    params = {"set_a": "boys_names", "set_b": "girls_names"}
    want = _frame(demo_db, "enriched_a_not_b", params, 100_000).set_index(["sae_id", "feature"])
    got = _frame(compact_db, "enriched_a_not_b", params, 100_000).set_index(["sae_id", "feature"])
    assert len(got) > 0 and not want["b_is_bound"].any()
    exact = got[~got["b_is_bound"]]
    pd.testing.assert_series_equal(exact["score_difference"], want.loc[exact.index, "score_difference"])
    bounded = got[got["b_is_bound"]]
    assert len(bounded) > 0
    # the bound is at least the true d of the absent pair: the difference shown is at most the true one
    assert (bounded["score_b"] >= want.loc[bounded.index, "score_b"] - 1e-12).all()
    assert (bounded["score_difference"] <= want.loc[bounded.index, "score_difference"] + 1e-12).all()


# -- decoder storage --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vectors_db(demo_db, tmp_path_factory):
    """The demo with SAE0's decoder as int16 and SAE1's removed (decoder_storage none)."""
    path = tmp_path_factory.mktemp("vectors") / "vectors.duckdb"
    shutil.copy(demo_db, path)
    con = open_for_write(path)
    try:
        W0 = load_decoder(con, SAE0)
        with store.transaction(con):
            con.execute("DELETE FROM decoder WHERE sae_id IN ($a, $b)", {"a": SAE0, "b": SAE1})
            rows = tables.decoder_table(torch.from_numpy(W0), "int16")
            assert isinstance(rows, pa.Table)
            store.insert_rows(con, "decoder", rows, {"sae_id": SAE0})
            con.execute("UPDATE saes SET decoder_storage = 'int16' WHERE sae_id = $a", {"a": SAE0})
            con.execute("UPDATE saes SET decoder_storage = 'none' WHERE sae_id = $b", {"b": SAE1})
    finally:
        con.close()
    return path, W0


def test_int16_vectors_come_back_within_half_a_step(vectors_db):
    path, W0 = vectors_db
    con = duckdb.connect(str(path), read_only=True)
    try:
        back = load_decoder(con, SAE0)
    finally:
        con.close()
    step = np.abs(W0).max(axis=1, keepdims=True) / 32767
    assert np.all(np.abs(back - W0) <= step * 0.51)  # half a step, plus float32 rounding of q * scale


def test_int16_decoder_neighbours_rank_as_the_float32_vectors(demo_db, vectors_db):
    path, _ = vectors_db
    params = {"sae": SAE0, "feature": 3, "scope": "sae"}
    want = _frame(demo_db, "decoder_neighbours", params, 10)
    got = _frame(path, "decoder_neighbours", params, 10)
    np.testing.assert_allclose(got["cosine"], want["cosine"], atol=1e-4)
    assert list(got["feature"][:5]) == list(want["feature"][:5])


def test_int16_feature_logits_match_within_rounding(demo_db, vectors_db):
    path, _ = vectors_db
    params = {"sae": SAE0, "feature": 3}
    want = _frame(demo_db, "feature_logits", params, 1_000_000).set_index("token_id")["logit_weight"]
    got = _frame(path, "feature_logits", params, 1_000_000).set_index("token_id")["logit_weight"]
    np.testing.assert_allclose(got.loc[want.index], want, atol=1e-4 * np.abs(want).max())


def test_an_sae_without_vectors_says_so(vectors_db):
    path, _ = vectors_db
    con = duckdb.connect(str(path), read_only=True)
    try:
        with pytest.raises(CatalogError, match=r"ingested with --decoder-storage none.*re-ingest it with"):
            load_decoder(con, SAE1)
    finally:
        con.close()
    with pytest.raises(CatalogError, match=r"--decoder-storage none and has no decoder vectors"):
        run_query(path, "decoder_neighbours", {"sae": SAE1, "feature": 3})
    saes = _frame(path, "saes", {}, 100).set_index("sae_id")
    assert saes.loc[SAE1, "decoder_storage"] == "none" and saes.loc[SAE0, "decoder_storage"] == "int16"


# -- the reverse token index ------------------------------------------------------------------


def test_features_promoting_token_reads_each_saes_exact_top_k(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        token_id = con.execute("SELECT token_id FROM tokens WHERE token = ' Paris'").fetchone()[0]
        W_U = np.stack(con.execute("SELECT vec FROM unembed ORDER BY token_id").df()["vec"].to_numpy())
        saes = con.execute("SELECT sae_id, token_index_k FROM saes ORDER BY sae_id").fetchall()
        decoders = {sae_id: load_decoder(con, sae_id) for sae_id, _ in saes}
    finally:
        con.close()
    for direction, sign in (("top", 1.0), ("bottom", -1.0)):
        result = _frame(demo_db, "features_promoting_token", {"token": " Paris", "direction": direction}, 1000)
        assert (np.diff(sign * result["logit_weight"].to_numpy()) <= 0).all()
        for sae_id, k in saes:
            assert k == 2
            weights = decoders[sae_id].astype(np.float64) @ W_U[token_id].astype(np.float64)
            want = np.argsort(-sign * weights, kind="stable")[:k]
            rows = result[result["sae_id"] == sae_id]
            assert list(rows["feature"]) == list(want) and list(rows["index_rank"]) == list(range(k))
            np.testing.assert_allclose(rows["logit_weight"], weights[want], rtol=1e-5, atol=1e-6)


def test_saes_without_an_index_are_ranked_from_their_decoders(demo_db, tmp_path):
    """A catalog migrated from before the index (every SAE token_index_k = 0, no token_features rows):
    `features_promoting_token` answers from the decoder vectors, as `features_promoting_token_exact` does."""
    db = tmp_path / "unindexed.duckdb"
    shutil.copy(demo_db, db)
    with open_for_write(db) as con:
        con.execute("DELETE FROM token_features")
        con.execute("UPDATE saes SET token_index_k = 0")
    exact = _frame(db, "features_promoting_token_exact", {"token": " Paris"}, 40)
    answer = _frame(db, "features_promoting_token", {"token": " Paris"}, 40)
    assert answer["index_rank"].isna().all()
    columns = ["sae_id", "feature", "token_id", "logit_weight"]
    pd.testing.assert_frame_equal(answer[columns], exact[columns])
    bottom = _frame(db, "features_promoting_token", {"token": " Paris", "direction": "bottom"}, 5)
    assert (np.diff(bottom["logit_weight"].to_numpy()) >= 0).all()
    assert bottom["logit_weight"].iloc[0] < exact["logit_weight"].min()
