"""Saved queries: parsing, binding, and every query's answer on the demo catalog against an
independent computation (pandas over the base tables, numpy over the stored vectors)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from catalog.errors import CatalogError
from catalog.queries import get_query, parse_query_file, run_query, saved_queries

SAE0, SAE1, SAE1_POST = "demo/blocks.0.hook_resid_pre", "demo/blocks.1.hook_resid_pre", "demo/blocks.1.hook_resid_post"
REQUIRED_QUERIES = {
    "high_skew_features",
    "top_features_for_set",
    "enriched_a_not_b",
    "features_promoting_token",
    "decoder_neighbours",
    "feature_logits",
    "dead_and_dense_features",
    "layer_percentiles",
}


# -- parsing --------------------------------------------------------------------------------


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.sql"
    path.write_text(text)
    return path


def test_every_saved_query_parses_with_a_description_and_a_limit():
    queries = saved_queries()
    assert REQUIRED_QUERIES <= set(queries)
    for query in queries.values():
        assert query.description and "\n" not in query.description
        assert query.param("limit").kind == "INTEGER"
        assert not re.search(r"(?<![:\w]):[A-Za-z_]", query.sql)  # every :name became a bound $name


def test_named_parameters_become_typed_dollar_bindings(tmp_path):
    path = _write(
        tmp_path,
        "q",
        "-- name: q\n-- description: d\n-- param: layer LAYER  the layer\n"
        "-- param: x DOUBLE = 2  a number\n"
        "SELECT ':not_a_param' AS s, 1::INTEGER AS i -- :comment\n"
        "FROM saes WHERE layer = :layer AND :x > 1 LIMIT :limit",
    )
    query = parse_query_file(path)
    assert "CAST($layer AS INTEGER)" in query.sql and "CAST($x AS DOUBLE)" in query.sql
    assert "':not_a_param'" in query.sql and "1::INTEGER" in query.sql and "-- :comment" in query.sql
    assert query.param("x").default == 2.0 and isinstance(query.param("x").default, float)
    assert query.param("limit").default == 100
    assert query.bind({"layer": "3"}) == {"layer": 3, "x": 2.0, "limit": 100}


@pytest.mark.parametrize(
    "text, message",
    [
        ("-- name: other\n-- description: d\nSELECT :limit", r"needs exactly one '-- name: q' line"),
        ("-- name: q\nSELECT :limit", r"needs exactly one '-- description: \.\.\.' line"),
        ("-- name: q\n-- description: d\nSELECT :nope LIMIT :limit", r"uses :nope but declares no '-- param: nope"),
        (
            "-- name: q\n-- description: d\n-- param: a INTEGER\nSELECT 1 LIMIT :limit",
            r"declares parameter\(s\) a that its SQL never uses",
        ),
        (
            "-- name: q\n-- description: d\n-- param: a WIDGET\nSELECT :a LIMIT :limit",
            r"unknown parameter type 'WIDGET'",
        ),
        ("-- name: q\n-- description: d\nSELECT 1", r"declares parameter\(s\) limit that its SQL never uses"),
        (
            "-- name: q\n-- description: d\n-- param: a INTEGER = x  no\nSELECT :a LIMIT :limit",
            r"cannot read the default 'x': write NULL, a number",
        ),
        (
            "-- name: q\n-- description: d\n-- param: a INTEGER = 1.5  no\nSELECT :a LIMIT :limit",
            r"the default of a, 1.5, is not INTEGER",
        ),
        (
            "-- name: q\n-- description: d\n-- param: limit INTEGER = NULL  rows\nSELECT :limit",
            r"declare limit as '-- param: limit INTEGER = N'",
        ),
    ],
)
def test_a_malformed_query_file_is_refused_naming_the_file(tmp_path, text, message):
    path = _write(tmp_path, "q", text)
    with pytest.raises(CatalogError, match=rf"saved query file {path}: {message}"):
        parse_query_file(path)


def test_unknown_query_name_lists_the_saved_queries():
    with pytest.raises(
        CatalogError,
        match=r"no saved query named 'high_skew'; did you mean high_skew_features\? "
        r"saved queries: .*decoder_neighbours.*`python -m catalog queries`",
    ):
        get_query("high_skew")


def test_binding_errors_name_the_parameter_and_list_the_valid_ones():
    query = get_query("high_skew_features")
    with pytest.raises(
        CatalogError,
        match=r"query high_skew_features has no parameter 'layr'; its parameters: "
        r"layer LAYER \(required\); min_skewness DOUBLE = 3\.0; sae SAE = NULL",
    ):
        query.bind({"layr": 8})
    with pytest.raises(
        CatalogError, match=r"query high_skew_features: missing required parameter layer; its parameters"
    ):
        query.bind({})
    with pytest.raises(CatalogError, match=r"parameter layer expects a layer number such as 8 \(LAYER\), got 'eight'"):
        query.bind({"layer": "eight"})
    with pytest.raises(CatalogError, match=r"parameter min_skewness expects a number \(DOUBLE\), got 'high'"):
        query.bind({"layer": 8, "min_skewness": "high"})
    with pytest.raises(CatalogError, match=r"parameter layer cannot be NULL"):
        query.bind({"layer": None})
    with pytest.raises(CatalogError, match=r"limit must be between 1 and 1000000, got 0"):
        query.bind({"layer": 8}, limit=0)
    with pytest.raises(CatalogError, match=r"parameter scope expects one of 'sae', 'layer', 'model', got 'all'"):
        get_query("decoder_neighbours").bind({"sae": "x", "feature": 1, "scope": "all"})
    assert query.bind({"layer": 8, "min_skewness": "2.5"})["min_skewness"] == 2.5
    with pytest.raises(CatalogError, match=r"parameter layer expects a layer number such as 8 \(LAYER\), got True"):
        query.bind({"layer": True})


# -- the demo catalog, independently ------------------------------------------------------


@pytest.fixture(scope="module")
def base(demo_db) -> dict[str, pd.DataFrame]:
    """The demo's base tables as pandas frames (vectors as numpy matrices)."""
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        tables = {
            name: con.execute(f"SELECT * FROM {name}").df()
            for name in (
                "saes",
                "features",
                "feature_tokens",
                "tokens",
                "token_sets",
                "token_set_members",
                "enrichment",
            )
        }
        decoder = con.execute("SELECT sae_id, feature, vec FROM decoder ORDER BY sae_id, feature").df()
        unembed = con.execute("SELECT token_id, vec FROM unembed ORDER BY token_id").df()
    finally:
        con.close()
    tables["decoder_keys"] = decoder[["sae_id", "feature"]]
    tables["W_dec"] = np.stack(decoder["vec"].to_numpy()).astype(np.float64)
    tables["W_U"] = np.stack(unembed["vec"].to_numpy()).astype(np.float64)  # [vocab, d_model]
    tables["features"] = tables["features"].merge(tables["saes"][["sae_id", "layer", "neuronpedia_id"]], on="sae_id")
    return tables


def _token_lists(base, direction: str) -> pd.Series:
    ft = (
        base["feature_tokens"][base["feature_tokens"]["direction"] == direction]
        .merge(base["tokens"][["token_id", "token"]], on="token_id")
        .sort_values("rank")
    )
    return ft.groupby(["sae_id", "feature"])["token"].agg(list)


def test_high_skew_features_matches_pandas(demo_db, base):
    result = run_query(demo_db, "high_skew_features", {"layer": 1, "min_skewness": 0.2}, limit=7)
    f = base["features"]
    expected = f[(f["layer"] == 1) & (f["skewness"] > 0.2)].sort_values(
        ["skewness", "sae_id", "feature"], ascending=[False, True, True]
    )
    assert result.truncated == (len(expected) > 7) and len(expected) > 7
    expected = expected.head(7)
    assert list(zip(result.frame["sae_id"], result.frame["feature"])) == list(
        zip(expected["sae_id"], expected["feature"])
    )
    np.testing.assert_allclose(result.frame["skewness"], expected["skewness"], rtol=0, atol=0)
    np.testing.assert_allclose(result.frame["kurtosis"], expected["kurtosis"], rtol=0, atol=0)
    tops = _token_lists(base, "top")
    for row in result.frame.itertuples():
        assert list(row.top_tokens) == tops[(row.sae_id, row.feature)]
    assert result.frame["neuronpedia_url"].isna().all()  # the demo SAEs have no Neuronpedia id


def test_high_skew_features_of_one_sae(demo_db, base):
    result = run_query(demo_db, "high_skew_features", {"layer": 1, "min_skewness": 0.0, "sae": SAE1_POST}, limit=1000)
    f = base["features"]
    assert len(result.frame) == ((f["sae_id"] == SAE1_POST) & (f["skewness"] > 0)).sum()
    assert set(result.frame["sae_id"]) == {SAE1_POST}


def _enrichment(base) -> pd.DataFrame:
    e = base["enrichment"].merge(base["token_sets"][["set_id", "name"]], on="set_id")
    return e.merge(base["saes"][["sae_id", "layer"]], on="sae_id")


@pytest.mark.parametrize("params", [{}, {"direction": -1}, {"layer": 1, "max_q": 0.9}])
def test_top_features_for_set_matches_pandas(demo_db, base, params):
    result = run_query(demo_db, "top_features_for_set", {"token_set": "boys_names", **params}, limit=25)
    e = _enrichment(base)
    e = e[e["name"] == "boys_names"]
    if "direction" in params:
        e = e[e["direction"] == params["direction"]]
    if "layer" in params:
        e = e[(e["layer"] == params["layer"]) & (e["q_value"] <= params["max_q"])]
    expected = e.sort_values(["d", "sae_id", "feature"], ascending=[False, True, True]).head(25)
    assert list(zip(result.frame["sae_id"], result.frame["feature"])) == list(
        zip(expected["sae_id"], expected["feature"])
    )
    np.testing.assert_array_equal(result.frame["d"], expected["d"])
    np.testing.assert_allclose(result.frame["score"], -np.log(1 - expected["d"].astype(np.float64)), rtol=1e-12)
    np.testing.assert_array_equal(result.frame["direction"], expected["direction"])
    np.testing.assert_array_equal(result.frame["q_value"], expected["q_value"])


def test_enriched_a_not_b_matches_pandas(demo_db, base):
    result = run_query(demo_db, "enriched_a_not_b", {"set_a": "boys_names", "set_b": "girls_names"}, limit=30)
    e = _enrichment(base)
    wide = (
        e[e["name"].isin(["boys_names", "girls_names"])]
        .pivot_table(index=["sae_id", "feature"], columns="name", values="d")
        .reset_index()
    )
    wide["difference"] = -np.log(1 - wide["boys_names"].astype(np.float64)) + np.log(
        1 - wide["girls_names"].astype(np.float64)
    )
    expected = wide.sort_values(["difference", "sae_id", "feature"], ascending=[False, True, True]).head(30)
    assert list(zip(result.frame["sae_id"], result.frame["feature"])) == list(
        zip(expected["sae_id"], expected["feature"])
    )
    np.testing.assert_allclose(result.frame["score_difference"], expected["difference"], rtol=1e-12)
    np.testing.assert_array_equal(result.frame["d_b"], expected["girls_names"].astype(np.float32))


def _check_top_n(result_keys, result_values, all_keys, all_values, n, rtol=1e-5, atol=1e-6):
    """The SQL's top n agree with numpy's values, and nothing left out beats the last one kept.

    DuckDB sums float32 products in float32, numpy here in float64: values agree to ~1e-6, so near
    ties at the boundary may order differently, and the check allows exactly that much.
    """
    exact = dict(zip(all_keys, all_values))
    np.testing.assert_allclose(result_values, [exact[key] for key in result_keys], rtol=rtol, atol=atol)
    assert len(result_keys) == n and np.all(np.diff(result_values) <= 1e-6)
    left_out = [value for key, value in exact.items() if key not in set(result_keys)]
    assert max(left_out) <= min(result_values) + atol + rtol * abs(min(result_values))


def test_features_promoting_token_exact_matches_numpy(demo_db, base):
    token_id = int(base["tokens"].loc[base["tokens"]["token"] == " Paris", "token_id"].iloc[0])
    result = run_query(demo_db, "features_promoting_token_exact", {"token": " Paris"}, limit=20)
    weights = base["W_dec"] @ base["W_U"][token_id]
    keys = list(zip(base["decoder_keys"]["sae_id"], base["decoder_keys"]["feature"]))
    _check_top_n(
        list(zip(result.frame["sae_id"], result.frame["feature"])),
        result.frame["logit_weight"].to_numpy(),
        keys,
        weights,
        20,
    )
    assert set(result.frame["token_id"]) == {token_id}
    stats = base["features"].set_index(["sae_id", "feature"])
    for row in result.frame.itertuples():
        mean, std = stats.loc[(row.sae_id, row.feature), ["mean", "std"]]
        assert row.z_score == pytest.approx((row.logit_weight - mean) / std, rel=1e-9)


def test_features_promoting_token_exact_in_one_layer(demo_db, base):
    result = run_query(demo_db, "features_promoting_token_exact", {"token": " Paris", "layer": 0}, limit=5)
    assert set(result.frame["sae_id"]) == {SAE0}


def _cosines(base, sae: str, feature: int) -> tuple[list, np.ndarray]:
    keys = list(zip(base["decoder_keys"]["sae_id"], base["decoder_keys"]["feature"]))
    W = base["W_dec"]
    probe = W[keys.index((sae, feature))]
    cosines = W @ probe / (np.linalg.norm(W, axis=1) * np.linalg.norm(probe))
    return keys, cosines


@pytest.mark.parametrize(
    "scope, allowed", [("model", {SAE0, SAE1, SAE1_POST}), ("layer", {SAE1, SAE1_POST}), ("sae", {SAE1})]
)
def test_decoder_neighbours_match_numpy(demo_db, base, scope, allowed):
    result = run_query(demo_db, "decoder_neighbours", {"sae": SAE1, "feature": 26, "scope": scope}, limit=15)
    keys, cosines = _cosines(base, SAE1, 26)
    kept = [(key, value) for key, value in zip(keys, cosines) if key[0] in allowed and key != (SAE1, 26)]
    _check_top_n(
        list(zip(result.frame["sae_id"], result.frame["feature"])),
        result.frame["cosine"].to_numpy(),
        [k for k, _ in kept],
        np.array([v for _, v in kept]),
        15,
    )
    assert set(result.frame["sae_id"]) <= allowed and (SAE1, 26) not in set(
        zip(result.frame["sae_id"], result.frame["feature"])
    )


def test_feature_logits_match_numpy_with_set_membership(demo_db, base):
    result = run_query(demo_db, "feature_logits", {"sae": SAE0, "feature": 3, "token_set": "boys_names"})
    frame = result.frame
    keys = list(zip(base["decoder_keys"]["sae_id"], base["decoder_keys"]["feature"]))
    logits = base["W_U"] @ base["W_dec"][keys.index((SAE0, 3))]
    assert not result.truncated and len(frame) == len(logits) == 50257
    np.testing.assert_allclose(frame["logit_weight"], logits[frame["token_id"]], rtol=1e-5, atol=1e-6)
    assert list(frame["rank"]) == list(range(len(frame))) and np.all(np.diff(frame["logit_weight"]) <= 0)
    members = base["token_set_members"].merge(base["token_sets"][["set_id", "name"]], on="set_id")
    sets_of = members.groupby("token_id")["name"].agg(sorted)
    for row in frame.sample(2000, random_state=0).itertuples():
        assert list(row.sets) == sets_of.get(row.token_id, [])
    boys = set(members.loc[members["name"] == "boys_names", "token_id"])
    assert set(frame.loc[frame["in_set"], "token_id"]) == boys
    # the stored top tokens (from ingest) are the top of this vector
    stored = base["feature_tokens"].query("sae_id == @SAE0 and feature == 3 and direction == 'top'").sort_values("rank")
    np.testing.assert_allclose(frame["logit_weight"].head(len(stored)), stored["value"], rtol=1e-4, atol=1e-5)


def test_feature_logits_without_a_set_leave_in_set_null(demo_db):
    frame = run_query(demo_db, "feature_logits", {"sae": SAE1, "feature": 0}, limit=10).frame
    assert frame["in_set"].isna().all() and len(frame) == 10


@pytest.mark.parametrize("which", ["both", "dead", "dense"])
def test_dead_and_dense_features_match_pandas(demo_db, base, which):
    result = run_query(demo_db, "dead_and_dense_features", {"which": which, "dense_above": -2.5}, limit=1000)
    f = base["features"].copy()
    f["status"] = np.where(f["log10_density"] < -9, "dead", np.where(f["log10_density"] > -2.5, "dense", None))
    f = f[f["status"].notna() & ((which == "both") | (f["status"] == which))]
    expected = f.sort_values(["status", "log10_density", "sae_id", "feature"], ascending=[True, False, True, True])
    assert list(zip(result.frame["sae_id"], result.frame["feature"], result.frame["status"])) == list(
        zip(expected["sae_id"], expected["feature"], expected["status"])
    )
    assert SAE1_POST not in set(result.frame["sae_id"])  # no sparsity file, no density


def test_density_summary_matches_pandas(demo_db, base):
    frame = run_query(demo_db, "density_summary").frame.set_index("sae_id")
    f = base["features"]
    for sae_id, group in f.groupby("sae_id"):
        assert frame.loc[sae_id, "n_features"] == len(group)
        assert frame.loc[sae_id, "n_dead"] == (group["log10_density"] < -9).sum()
        assert frame.loc[sae_id, "n_without_density"] == group["log10_density"].isna().sum()


def test_layer_percentiles_match_the_notebooks_describe(demo_db, base):
    frame = run_query(demo_db, "layer_percentiles").frame
    assert len(frame) == 4 * 3
    percentiles = [0.01, 0.05, 0.10, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
    columns = ["p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99"]
    for statistic in ("skewness", "kurtosis", "cos_skewness", "cos_kurtosis"):
        described = base["features"].groupby("sae_id")[statistic].describe(percentiles=percentiles)
        rows = frame[frame["statistic"] == statistic].set_index("sae_id")
        described = described.loc[rows.index, ["1%", "5%", "10%", "25%", "50%", "75%", "90%", "95%", "99%"]]
        np.testing.assert_allclose(rows[columns].to_numpy(), described.to_numpy(), rtol=1e-12)
    only = run_query(demo_db, "layer_percentiles", {"statistic": "kurtosis"}).frame
    assert set(only["statistic"]) == {"kurtosis"} and list(only["layer"]) == sorted(only["layer"])


def test_listing_queries_match_the_tables(demo_db, base):
    saes = run_query(demo_db, "saes").frame
    assert sorted(saes["sae_id"]) == sorted(base["saes"]["sae_id"]) and list(saes["layer"]) == [0, 1, 1]
    sets = run_query(demo_db, "token_sets", {"family": "names"}).frame
    assert set(sets["name"]) == {"boys_names", "girls_names"}
    sizes = base["token_set_members"].groupby("set_id").size()
    assert all(sizes[row.set_id] == row.size for row in sets.itertuples())


def test_feature_card_and_feature_enrichment_match_pandas(demo_db, base):
    card = run_query(demo_db, "feature_card", {"sae": SAE1, "feature": 26}).frame.iloc[0]
    stored = base["features"].set_index(["sae_id", "feature"]).loc[(SAE1, 26)]
    assert card["skewness"] == stored["skewness"] and card["layer"] == 1
    assert list(card["top_tokens"]) == _token_lists(base, "top")[(SAE1, 26)]
    assert list(card["bottom_tokens"]) == _token_lists(base, "bottom")[(SAE1, 26)]
    sets = run_query(demo_db, "feature_enrichment", {"sae": SAE1, "feature": 26}, limit=10).frame
    # Sets ranked by significance (calibrated p, then d), sets under 5 tokens hidden by default.
    e = _enrichment(base).merge(base["token_sets"][["set_id", "size"]], on="set_id")
    e = e.query("sae_id == @SAE1 and feature == 26 and size >= 5").sort_values(
        ["p_calibrated", "d", "name"], ascending=[True, False, True]
    )
    assert list(sets["set_name"]) == list(e["name"].head(10))
    np.testing.assert_allclose(sets["score"], -np.log(1 - e["d"].head(10).astype(np.float64)), rtol=1e-12)


def test_neuronpedia_features_match_pandas(demo_db, base):
    frame = run_query(demo_db, "neuronpedia_features", {"sae": SAE0, "feature": 5}).frame
    row = frame.iloc[0]
    stored = base["features"].set_index(["sae_id", "feature"]).loc[(SAE0, 5)]
    assert list(row["pos_str"]) == _token_lists(base, "top")[(SAE0, 5)]
    assert list(row["neg_str"]) == _token_lists(base, "bottom")[(SAE0, 5)]
    assert row["frac_nonzero"] == pytest.approx(10 ** stored["log10_density"], rel=1e-12)
    edges = np.linspace(stored["logit_min"], stored["logit_max"], len(stored["hist_counts"]) + 1)
    np.testing.assert_allclose(row["logits_hist_data_bar_values"], (edges[:-1] + edges[1:]) / 2, rtol=1e-9, atol=1e-12)
    assert list(row["logits_hist_data_bar_heights"]) == list(stored["hist_counts"])
    assert row["modelId"] is None and row["index"] == "5"  # no Neuronpedia id in the demo


# -- bad input, against the demo --------------------------------------------------------


def test_unknown_sae_lists_the_saes(demo_db):
    with pytest.raises(
        CatalogError,
        match=r"query feature_card: parameter sae: SAE 'demo/blocks.9.hook_resid_pre' is not in "
        rf"catalog {demo_db}; SAEs there: '{SAE0}', '{SAE1_POST}', '{SAE1}'",
    ):
        run_query(demo_db, "feature_card", {"sae": "demo/blocks.9.hook_resid_pre", "feature": 1})


def test_unknown_feature_says_the_range(demo_db):
    with pytest.raises(
        CatalogError, match=rf"parameter feature: feature 999 is not in SAE '{SAE0}' \(it has 256 features, 0 to 255\)"
    ):
        run_query(demo_db, "decoder_neighbours", {"sae": SAE0, "feature": 999})


def test_unknown_layer_lists_the_layers(demo_db):
    with pytest.raises(
        CatalogError,
        match=rf"layer 8 is not in catalog {demo_db}; layers there: 0 \({SAE0}\); 1 \({SAE1_POST}, {SAE1}\)",
    ):
        run_query(demo_db, "high_skew_features", {"layer": 8})


def test_unknown_token_set_suggests_the_closest(demo_db):
    with pytest.raises(
        CatalogError,
        match=r"token set 'boys_name' is not in catalog .*; closest: 'boys_names'.*"
        r"sets in all \(list them with `python -m catalog run token_sets`\)",
    ):
        run_query(demo_db, "top_features_for_set", {"token_set": "boys_name"})


def test_unknown_token_hints_at_the_leading_space(demo_db):
    with pytest.raises(
        CatalogError,
        match=r"token 'paris' is not in the vocabulary of catalog .*leading space included.*"
        r"tokens that differ only in spaces or case: ' Paris', 'Paris'$",
    ):
        run_query(demo_db, "features_promoting_token", {"token": "paris"})


def test_a_missing_catalog_and_a_file_that_is_not_one(tmp_path):
    with pytest.raises(
        CatalogError, match=r"missing.duckdb does not exist; build the demo catalog there with `llcat-ingest demo --db"
    ):
        run_query(tmp_path / "missing.duckdb", "saes")
    notes = tmp_path / "notes.duckdb"
    notes.write_text("not a database\n" * 20)
    with pytest.raises(CatalogError, match=r"notes.duckdb is not a DuckDB database"):
        run_query(notes, "saes")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INTEGER)").close()
    with pytest.raises(
        CatalogError, match=r"other.duckdb is a DuckDB database but not a catalog \(it has no schema_migrations table\)"
    ):
        run_query(other, "saes")


# -- views ------------------------------------------------------------------------------------

VIEWS = (
    "catalog_views_version",
    "sae_summary",
    "feature_stats",
    "feature_token_lists",
    "feature_overview",
    "enrichment_scores",
    "layer_percentiles",
)


def test_views_apply_inside_the_schema_transaction_on_an_empty_catalog(tmp_path):
    from catalog.connect import open_for_write

    path = tmp_path / "empty.duckdb"
    con = open_for_write(path)
    con.close()
    for view in VIEWS:
        assert run_query_sql(path, f"SELECT count(*) AS n FROM {view}") == (1 if view == "catalog_views_version" else 0)
    assert run_query(path, "saes").frame.empty and run_query(path, "layer_percentiles").frame.empty


def run_query_sql(path: Path, sql: str) -> int:
    from catalog.sandbox import run_sql

    return int(run_sql(path, sql).frame.iloc[0, 0])


def test_a_catalog_with_old_or_missing_views_gets_the_current_ones(tmp_path):
    from catalog.connect import open_for_write

    path = tmp_path / "old.duckdb"
    open_for_write(path).close()
    con = duckdb.connect(str(path))  # as if written by code from before the views existed
    for view in VIEWS:
        con.execute(f"DROP VIEW {view}")
    con.close()
    assert run_query(path, "saes").frame.empty  # the views come back as TEMP views
    con = duckdb.connect(str(path))
    con.execute("CREATE VIEW catalog_views_version AS SELECT 0 AS views_version")
    con.execute("CREATE VIEW feature_stats AS SELECT 1 AS stale")
    con.close()
    assert "neuronpedia_url" in run_query(path, "dead_and_dense_features").frame.columns
