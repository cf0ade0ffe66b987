"""Schema 6: the integer ``sae_key`` on every per-feature row and the per-SAE feature summaries.

A catalog written by schema 5 is migrated in place (sql/migrations/006_*.sql) and must then hold a key
per SAE, copied onto each of its rows, and summaries equal to numpy's counts, medians and linear
quantiles of its features; the views that read the summaries must return what the pre-v6 views
computed from every feature (their SQL is kept below as the oracle). The write path (store.write_sae,
store.write_enrichment) must number SAEs, keep a rewritten SAE's key and replace its summary.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from catalog import schema, store
from catalog.connect import open_for_write
from catalog.queries import run_query
from tests.catalog.test_migrations import build_v1_catalog

QUANTILES = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]
STATISTICS = ("skewness", "kurtosis", "cos_skewness", "cos_kurtosis")
# (sae_id, layer, d_sae, has_sparsity), in the order a v5 ingest wrote them: not the key order
SAES = [("r/b-layer1-wide", 1, 40, True), ("r/a-layer0", 0, 30, False), ("r/c-layer1", 1, 25, True)]
EMPTY_SAE = ("r/d-no-features", 2, 10, True)  # an SAE row without features: no summary, 0 counts

# The views as schema 5 defined them, computed from every feature: the oracle for the summaries.
OLD_LAYER_PERCENTILES = """
WITH per_sae AS (
    SELECT sae_id, count(*) AS n,
           quantile_cont(skewness, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS skewness,
           quantile_cont(kurtosis, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS kurtosis,
           quantile_cont(cos_skewness, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS cos_skewness,
           quantile_cont(cos_kurtosis, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS cos_kurtosis
    FROM features GROUP BY sae_id
), long_form AS (
    SELECT sae_id, n, 'skewness' AS statistic, skewness AS q FROM per_sae
    UNION ALL SELECT sae_id, n, 'kurtosis', kurtosis FROM per_sae
    UNION ALL SELECT sae_id, n, 'cos_skewness', cos_skewness FROM per_sae
    UNION ALL SELECT sae_id, n, 'cos_kurtosis', cos_kurtosis FROM per_sae
)
SELECT s.model_name, s.release, s.sae_id, s.hook_name, s.layer, lf.statistic, lf.n,
       lf.q[1] AS p01, lf.q[2] AS p05, lf.q[3] AS p10, lf.q[4] AS p25, lf.q[5] AS p50,
       lf.q[6] AS p75, lf.q[7] AS p90, lf.q[8] AS p95, lf.q[9] AS p99
FROM long_form AS lf JOIN saes AS s ON s.sae_id = lf.sae_id
ORDER BY model_name, statistic, layer, sae_id
"""
OLD_SAE_COUNTS = """
SELECT s.sae_id, count(f.feature) AS n_features, count(*) FILTER (WHERE f.is_dead) AS n_dead,
       median(f.log10_density) AS median_log10_density
FROM saes AS s LEFT JOIN features AS f ON f.sae_id = s.sae_id
GROUP BY s.sae_id ORDER BY s.sae_id
"""


def _features(d_sae: int, has_sparsity: bool, rng: np.random.Generator) -> pa.Table:
    density = rng.uniform(-11, -1, d_sae) if has_sparsity else np.full(d_sae, np.nan)
    columns = {name: rng.standard_normal(d_sae) * 2 + (3 if "kurtosis" in name else 0) for name in STATISTICS}
    columns["skewness"][:3] = 1.5  # ties: quantiles interpolate between equal values too
    return pa.table(
        {
            "feature": np.arange(d_sae, dtype=np.int32),
            "log10_density": pa.array(density, from_pandas=True),
            "is_dead": pa.array(density < -9 if has_sparsity else [None] * d_sae, type=pa.bool_()),
            "decoder_norm": np.ones(d_sae),
            "mean": np.zeros(d_sae),
            "std": rng.uniform(0.5, 2, d_sae),
            "cos_mean": np.zeros(d_sae),
            "cos_std": np.ones(d_sae),
            **columns,
            "logit_min": np.full(d_sae, -1.0),
            "logit_max": np.full(d_sae, 1.0),
            "hist_counts": [[1, 2]] * d_sae,
        }
    )


def _feature_tokens(d_sae: int) -> pa.Table:
    feature = np.repeat(np.arange(d_sae, dtype=np.int32), 2)
    return pa.table(
        {
            "feature": feature,
            "direction": ["top", "bottom"] * d_sae,
            "rank": np.zeros(2 * d_sae, dtype=np.int32),
            "token_id": (feature % 3).astype(np.int32),
            "value": np.linspace(-1, 1, 2 * d_sae),
        }
    )


def _enrichment(d_sae: int) -> pa.Table:
    return pa.table(
        {
            "feature": np.arange(d_sae, dtype=np.int32),
            "set_id": np.ones(d_sae, dtype=np.int32),
            "d": np.linspace(0.1, 0.9, d_sae).astype(np.float32),
            "direction": np.ones(d_sae, dtype=np.int8),
            "p_value": np.full(d_sae, 0.5),
            "p_null": np.full(d_sae, 0.5),
            "q_value": np.full(d_sae, 0.5),
            "p_calibrated": np.full(d_sae, 0.5),
        }
    )


def _saes_row(sae_id: str, layer: int, d_sae: int, has_sparsity: bool) -> dict[str, object]:
    return {
        "sae_id": sae_id,
        "release": "r",
        "sae_name": sae_id[2:],
        "hook_name": f"blocks.{layer}.hook_resid_pre",
        "layer": layer,
        "model_name": "m",
        "d_in": 4,
        "d_sae": d_sae,
        "neuronpedia_id": None,
        "source": "src",
        "weights_fingerprint": "w",
        "analysis_version": 1,
        "has_sparsity": has_sparsity,
        "cfg_json": "{}",
        "run_id": "r1",
    }


def build_v5_catalog(path, rng: np.random.Generator) -> dict[str, pa.Table]:
    """A catalog as schema 5 wrote it (v1 + migrations 2..5, no sae_key), with rows; its features."""
    build_v1_catalog(path)
    con = duckdb.connect(str(path))
    for version in range(2, 6):
        con.execute(schema.migrations()[version].read_text())
        con.execute("INSERT INTO schema_migrations (version, description) VALUES ($v, 'v')", {"v": version})
    con.execute("DELETE FROM features")  # build_v1_catalog's one row belongs to no SAE
    written = {}
    for sae_id, layer, d_sae, has_sparsity in [*SAES, EMPTY_SAE]:
        store.insert_rows(con, "saes", pa.Table.from_pylist([_saes_row(sae_id, layer, d_sae, has_sparsity)]))
        if (sae_id, layer, d_sae, has_sparsity) == EMPTY_SAE:
            continue
        written[sae_id] = _features(d_sae, has_sparsity, rng)
        store.insert_rows(con, "features", written[sae_id], {"sae_id": sae_id})
        store.insert_rows(con, "feature_tokens", _feature_tokens(d_sae), {"sae_id": sae_id})
        store.insert_rows(con, "enrichment", _enrichment(d_sae), {"sae_id": sae_id})
    con.close()
    return written


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    path = tmp_path_factory.mktemp("v5") / "old.duckdb"
    written = build_v5_catalog(path, np.random.default_rng(5))
    open_for_write(path).close()  # a writer migrates 5 -> 6
    return path, written


def test_migration_numbers_saes_by_model_layer_width_and_id(migrated):
    path, _ = migrated
    con = duckdb.connect(str(path), read_only=True)
    keys = dict(con.execute("SELECT sae_id, sae_key FROM saes").fetchall())
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0] == schema.SCHEMA_VERSION
    con.close()
    by_layer_width_id = sorted([*SAES, EMPTY_SAE], key=lambda s: (s[1], s[2], s[0]))
    assert keys == {sae[0]: key for key, sae in enumerate(by_layer_width_id, start=1)}


@pytest.mark.parametrize("table", ["features", "feature_tokens", "enrichment"])
def test_migration_copies_the_key_onto_every_row(migrated, table):
    path, written = migrated
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        f"SELECT t.sae_id, t.sae_key, s.sae_key AS saes_key, count(*) AS n FROM {table} AS t"
        " JOIN saes AS s ON s.sae_id = t.sae_id GROUP BY ALL ORDER BY 1"
    ).fetchall()
    total = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    con.close()
    per_feature = {"features": 1, "feature_tokens": 2, "enrichment": 1}[table]
    assert [(sae, n) for sae, _, _, n in rows] == sorted((s, len(f) * per_feature) for s, f in written.items())
    assert all(key == saes_key and key is not None for _, key, saes_key, _ in rows)
    assert sum(n for *_, n in rows) == total


def _numpy_summary(features: pa.Table) -> dict[str, object]:
    density = features["log10_density"].to_numpy(zero_copy_only=False)
    density = density[~np.isnan(density)]
    dead = features["is_dead"].to_pandas()
    return {
        "n_features": len(features),
        "n_dead": int(dead.fillna(False).astype(bool).sum()),
        "median_log10_density": float(np.median(density)) if len(density) else None,
        **{f"{name}_q": np.quantile(features[name].to_numpy(), QUANTILES) for name in STATISTICS},
    }


def test_migrated_summaries_match_numpy(migrated):
    path, written = migrated
    con = duckdb.connect(str(path), read_only=True)
    stored = con.execute("SELECT * FROM sae_feature_summary ORDER BY sae_id").df().set_index("sae_id")
    con.close()
    assert sorted(stored.index) == sorted(written)  # the SAE without features has no row
    for sae_id, features in written.items():
        expected = _numpy_summary(features)
        row = stored.loc[sae_id]
        assert row["n_features"] == expected["n_features"]
        assert row["n_dead"] == expected["n_dead"]
        if expected["median_log10_density"] is None:
            assert pd.isna(row["median_log10_density"])
        else:
            assert row["median_log10_density"] == pytest.approx(expected["median_log10_density"], rel=1e-12)
        for name in STATISTICS:
            np.testing.assert_allclose(row[f"{name}_q"], expected[f"{name}_q"], rtol=1e-12, atol=1e-12)


def test_views_return_what_the_full_scans_returned(migrated):
    path, _ = migrated
    con = duckdb.connect(str(path), read_only=True)
    old_percentiles = con.execute(OLD_LAYER_PERCENTILES).df()
    old_counts = con.execute(OLD_SAE_COUNTS).df()
    con.close()
    new_percentiles = run_query(path, "layer_percentiles", {}).frame
    pd.testing.assert_frame_equal(new_percentiles, old_percentiles, check_dtype=False)
    saes = run_query(path, "saes", {}).frame.set_index("sae_id").sort_index()
    expected = old_counts.set_index("sae_id")
    assert list(saes["n_features"]) == list(expected["n_features"])
    assert list(saes["n_dead"]) == list(expected["n_dead"])
    pd.testing.assert_series_equal(saes["median_log10_density"], expected["median_log10_density"])


def _record(sae_id: str, layer: int, d_sae: int) -> store.SaeRecord:
    row = _saes_row(sae_id, layer, d_sae, True)
    return store.SaeRecord(**row, seconds=0.0)  # type: ignore[arg-type]


def test_write_sae_numbers_new_saes_keeps_a_rewritten_ones_key_and_replaces_its_summary(migrated, tmp_path):
    path = tmp_path / "written.duckdb"
    path.write_bytes(migrated[0].read_bytes())
    rng = np.random.default_rng(6)
    con = open_for_write(path)
    try:
        before = dict(con.execute("SELECT sae_id, sae_key FROM saes").fetchall())
        new_features = _features(12, True, rng)
        rows = {"features": new_features, "feature_tokens": _feature_tokens(12), "enrichment": _enrichment(12)}
        store.write_sae(con, _record("r/e-new", 0, 12), rows)
        rewritten = _features(7, True, rng)
        store.write_sae(con, _record(SAES[0][0], 1, 7), {"features": rewritten, "feature_tokens": _feature_tokens(7)})
        store.write_enrichment(con, SAES[0][0], _enrichment(7))
        after = dict(con.execute("SELECT sae_id, sae_key FROM saes").fetchall())
        keyed = con.execute(
            "SELECT count(*) FROM (SELECT sae_id, sae_key FROM features UNION ALL SELECT sae_id, sae_key"
            " FROM feature_tokens UNION ALL SELECT sae_id, sae_key FROM enrichment) AS t"
            " JOIN saes AS s USING (sae_id) WHERE t.sae_key IS DISTINCT FROM s.sae_key"
        ).fetchall()[0][0]
        summary = con.execute("SELECT * FROM sae_feature_summary").df().set_index("sae_id")
    finally:
        con.close()
    assert after == before | {"r/e-new": max(before.values()) + 1}
    assert keyed == 0
    for sae_id, features in (("r/e-new", new_features), (SAES[0][0], rewritten)):
        expected = _numpy_summary(features)
        assert summary.loc[sae_id, "n_features"] == expected["n_features"]
        assert summary.loc[sae_id, "n_dead"] == expected["n_dead"]
        np.testing.assert_allclose(summary.loc[sae_id, "skewness_q"], expected["skewness_q"], rtol=1e-12)


def test_deleting_an_sae_removes_its_summary(migrated, tmp_path):
    path = tmp_path / "deleted.duckdb"
    path.write_bytes(migrated[0].read_bytes())
    con = open_for_write(path)
    try:
        with store.transaction(con):
            store.delete_sae_rows(con, SAES[1][0])
        left = [r[0] for r in con.execute("SELECT sae_id FROM sae_feature_summary ORDER BY 1").fetchall()]
    finally:
        con.close()
    assert left == sorted(s[0] for s in SAES if s[0] != SAES[1][0])


def test_explore_cutoff_keeps_the_first_rows_when_the_limit_falls_among_ties(migrated):
    # app_feature_filter sorts only rows at or above the limit-th largest value: with 9 features tied at
    # skewness 1.5 (3 per SAE), every limit inside the tied group must still give the full order's first rows
    path, written = migrated
    frame = pd.concat(
        [
            pd.DataFrame({"sae_id": sae, "feature": t["feature"].to_numpy(), "v": t["skewness"].to_numpy()})
            for sae, t in written.items()
        ]
    )
    expected = frame.sort_values(["v", "sae_id", "feature"], ascending=[False, True, True])
    first_tie = int(np.flatnonzero(expected["v"].to_numpy() == 1.5)[0])
    for limit in (first_tie + 1, first_tie + 4, first_tie + 9):
        result = run_query(path, "app_feature_filter", {"limit": limit, "with_tokens": 2}).frame
        assert list(zip(result["sae_id"], result["feature"], strict=True)) == list(
            zip(expected["sae_id"].head(limit), expected["feature"].head(limit), strict=True)
        )
