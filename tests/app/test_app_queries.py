"""The app's own saved queries (sql/app_queries/app_*.sql), each checked against pandas over the base tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from app.ordering import in_block_order
from catalog.cli import main as catalog_cli
from catalog.errors import CatalogError
from catalog.queries import APP_QUERIES_DIR, QUERIES_DIR, app_queries, run_query, saved_queries
from tests.app.conftest import SAE0, SAE1, SAE1_POST

APP_QUERIES = {
    "app_sae_provenance",
    "app_models",
    "app_feature_filter",
    "app_set_scores",
    "app_top_features_per_layer",
    "app_set_members",
    "app_token_lookup",
    "app_layer_scatter",
    "app_feature_logits",
}


def _pairs(frame: pd.DataFrame) -> set[tuple[str, int]]:
    return set(zip(frame["sae_id"], frame["feature"].astype(int), strict=True))


def _score(d: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore"):
        return -np.log1p(-d.astype(float))  # +inf at d = 1, as the SQL's -ln(1 - d)


def _set_rows(tables, name: str) -> pd.DataFrame:
    return tables("SELECT e.*, ts.name FROM enrichment e JOIN token_sets ts USING (set_id)").query("name == @name")


def test_every_app_query_parses_and_runs_with_its_defaults(demo_db):
    assert set(app_queries()) == APP_QUERIES
    for name, query in app_queries().items():
        assert query.path.parent == APP_QUERIES_DIR and query.description and "\n" not in query.description
        assert not re.search(r"(?<![:\w]):[A-Za-z_]", query.sql)  # every :name became a bound $name
        assert not query.param("limit").required
        run_query(demo_db, name)  # every parameter is optional, so bench and CLI runs need no values


def test_app_queries_are_kept_apart_from_the_public_ones(capsys):
    public = saved_queries()
    assert not [name for name in public if name.startswith("app_")]
    assert {q.path.parent for q in public.values()} == {QUERIES_DIR}
    assert list(saved_queries(include_app=True)) == [*public, *app_queries()]  # public first
    assert catalog_cli(["queries"]) == 0
    listing = capsys.readouterr().out
    assert "app_" not in listing and "high_skew_features" in listing


def test_every_app_query_runs_from_the_cli_by_name(demo_db, capsys):
    """Not listed, but runnable as any saved query is: `llcat run app_...`."""
    for name in sorted(APP_QUERIES):
        assert catalog_cli(["run", name, "--db", str(demo_db), "--format", "csv", "--limit", "2"]) == 0, name
        out, err = capsys.readouterr()
        assert len(out.splitlines()) <= 3, (name, out, err)


def test_app_saes_and_models_count_what_the_tables_hold(demo_db, tables):
    """The app's SAE list: the public saes query in block order, with app_sae_provenance beside it."""
    saes = in_block_order(run_query(demo_db, "saes").frame)
    saes = saes.merge(run_query(demo_db, "app_sae_provenance").frame, on="sae_id", how="left")
    features = tables("SELECT * FROM features")
    assert list(saes["sae_id"]) == [SAE0, SAE1, SAE1_POST]  # layer order, then resid_pre before resid_post
    assert dict(zip(saes["sae_id"], saes["n_features"], strict=True)) == features.groupby("sae_id").size().to_dict()
    assert (
        dict(zip(saes["sae_id"], saes["n_dead"], strict=True))
        == features.groupby("sae_id")["is_dead"].sum().astype(int).to_dict()
    )
    assert saes["run_id"].notna().all() and saes["source"].notna().all()
    stored = tables("SELECT sae_id, weights_fingerprint, seconds FROM saes").set_index("sae_id")
    assert (
        dict(zip(saes["sae_id"], saes["weights_fingerprint"], strict=True)) == stored["weights_fingerprint"].to_dict()
    )
    assert dict(zip(saes["sae_id"], saes["ingest_seconds"], strict=True)) == pytest.approx(stored["seconds"].to_dict())
    models = run_query(demo_db, "app_models").frame
    assert models.loc[0, "n_features"] == len(features) and models.loc[0, "n_saes"] == 3
    assert models.loc[0, "n_token_sets"] == len(tables("SELECT * FROM token_sets"))


@pytest.mark.parametrize(
    "params",
    [
        {"sae": SAE0},
        {"layer": 1, "min_skewness": 0.5, "max_kurtosis": 20.0},
        {"min_std": 0.13, "max_std": 0.2, "dead": "exclude"},
        {"dead": "only"},
        {"min_log10_density": -4.0, "max_log10_density": -2.0},
    ],
)
def test_feature_filter_matches_pandas(demo_db, tables, params):
    f = tables("SELECT f.*, s.layer FROM features f JOIN saes s USING (sae_id)")
    keep = pd.Series(True, index=f.index)
    if "sae" in params:
        keep &= f["sae_id"] == params["sae"]
    if "layer" in params:
        keep &= f["layer"] == params["layer"]
    for name in ("skewness", "kurtosis", "std", "log10_density"):
        if f"min_{name}" in params:
            keep &= f[name] >= params[f"min_{name}"]
        if f"max_{name}" in params:
            keep &= f[name] <= params[f"max_{name}"]
    if params.get("dead") == "only":
        keep &= f["is_dead"].fillna(False).astype(bool)
    if params.get("dead") == "exclude":
        keep &= ~f["is_dead"].fillna(False).astype(bool)
    result = run_query(demo_db, "app_feature_filter", params).frame
    assert _pairs(result) == _pairs(f[keep]) and len(result) == keep.sum()
    assert result["skewness"].is_monotonic_decreasing


def test_feature_filter_by_enrichment_and_order(demo_db, tables):
    rows = _set_rows(tables, "colors")
    wanted = rows[(_score(rows["d"]) >= 3.0) & (rows["direction"] == 1)]
    result = run_query(
        demo_db,
        "app_feature_filter",
        {"token_set": "colors", "min_score": 3.0, "set_direction": 1, "order_by": "set_score"},
    ).frame
    assert _pairs(result) == _pairs(wanted) and len(wanted) >= 3  # the planted colour features, one per SAE
    assert result["set_score"].is_monotonic_decreasing
    top = tables(
        "SELECT ft.sae_id, ft.feature, t.token FROM feature_tokens ft JOIN tokens t USING (token_id)"
        " WHERE direction = 'top' AND rank = 0"
    )
    first = result.iloc[0]
    assert first["top_tokens"][0] == top[(top.sae_id == first.sae_id) & (top.feature == first.feature)].token.item()


@pytest.mark.parametrize("order_by", ["skewness", "kurtosis", "std", "log10_density", "feature"])
def test_feature_filter_keeps_the_first_rows_in_order_when_capped(demo_db, tables, order_by):
    # the top-n of :limit rows must be the first rows of the full ordering: value descending, NULLs last,
    # ties (every row for 'feature') by SAE id, then feature
    f = tables("SELECT sae_id, feature, skewness, kurtosis, std, log10_density FROM features")
    value = f[order_by] if order_by != "feature" else pd.Series(np.nan, index=f.index)
    f = f.assign(has=value.notna(), value=value.fillna(0.0))
    expected = f.sort_values(["has", "value", "sae_id", "feature"], ascending=[False, False, True, True]).head(7)
    result = run_query(demo_db, "app_feature_filter", {"order_by": order_by, "limit": 7, "with_tokens": 3}).frame
    assert list(zip(result["sae_id"], result["feature"], strict=True)) == list(
        zip(expected["sae_id"], expected["feature"], strict=True)
    )
    assert result["top_tokens"].head(3).map(len).eq(10).all() and result["top_tokens"].iloc[3:].isna().all()


def test_feature_filter_gives_top_tokens_to_the_first_rows_only(demo_db):
    result = run_query(demo_db, "app_feature_filter", {"with_tokens": 5}).frame
    assert result["top_tokens"].head(5).map(len).eq(10).all()
    assert result["top_tokens"].iloc[5:].isna().all()


def test_set_scores_match_the_enrichment_table(demo_db, tables):
    result = run_query(demo_db, "app_set_scores", {"token_sets": ["colors", "all_digits"], "sae": SAE1}).frame
    assert set(result["set_name"]) == {"colors", "all_digits"} and len(result) == 2 * 256
    for name in ("colors", "all_digits"):
        rows = _set_rows(tables, name).query("sae_id == @SAE1").sort_values("feature")
        got = result[result.set_name == name].sort_values("feature")
        np.testing.assert_allclose(got["d"], rows["d"], rtol=1e-6)
        np.testing.assert_allclose(got["score"], _score(rows["d"]), rtol=1e-6)
    assert run_query(demo_db, "app_set_scores", {"token_sets": ["colors"], "layer": 1}).frame["sae_id"].nunique() == 2
    assert run_query(demo_db, "app_set_scores", {}).frame.empty
    assert run_query(demo_db, "app_set_scores", {"token_sets": []}).frame.empty
    as_text = run_query(
        demo_db, "app_set_scores", {"token_sets": "colors,all_digits", "sae": SAE1}
    ).frame  # the CLI's form
    pd.testing.assert_frame_equal(as_text, result)


@pytest.mark.parametrize("name", ["app_set_scores", "app_top_features_per_layer"])
def test_a_misspelt_set_in_a_list_is_an_error_like_a_single_set(demo_db, name):
    with pytest.raises(CatalogError) as single:
        run_query(demo_db, "top_features_for_set", {"token_set": "colrs"})
    with pytest.raises(CatalogError) as listed:
        run_query(demo_db, name, {"token_sets": ["colors", "colrs"]})
    assert str(listed.value) == str(single.value).replace("top_features_for_set", name).replace(
        "parameter token_set:", "parameter token_sets:"
    )
    assert f"query {name}: parameter token_sets: token set 'colrs' is not in catalog" in str(listed.value)
    with pytest.raises(CatalogError, match=r"parameter token_sets expects token set names"):
        run_query(demo_db, name, {"token_sets": [1, 2]})


def test_top_features_per_layer_are_the_best_d_of_each_sae(demo_db, tables):
    result = run_query(
        demo_db, "app_top_features_per_layer", {"token_sets": ["colors", "countries"], "per_sae": 2}
    ).frame
    assert len(result) == 2 * 3 * 2
    for (name, sae_id), got in result.groupby(["set_name", "sae_id"]):
        rows = _set_rows(tables, name)
        rows = rows[rows["sae_id"] == sae_id].sort_values("d", ascending=False)
        assert list(got.sort_values("set_rank")["d"]) == pytest.approx(list(rows["d"].head(2)), rel=1e-6)
        assert list(got["set_rank"]) == [1, 2]
    assert result["top_tokens"].map(len).eq(10).all()
    promoted = run_query(demo_db, "app_top_features_per_layer", {"token_sets": ["colors"], "direction": -1}).frame
    assert (promoted["direction"] == -1).all()


def test_set_members_and_token_lookup(demo_db, tables):
    members = run_query(demo_db, "app_set_members", {"token_set": "colors"}).frame
    expected = tables(
        "SELECT m.token_id FROM token_set_members m JOIN token_sets s USING (set_id) WHERE s.name = 'colors'"
    )
    assert sorted(members["token_id"]) == sorted(expected["token_id"]) and " red" in set(members["token"])
    found = run_query(demo_db, "app_token_lookup", {"text": "RED "}).frame
    vocabulary = tables("SELECT token FROM tokens")["token"]
    assert sorted(found["token"]) == sorted(vocabulary[vocabulary.str.strip().str.lower() == "red"])
    assert {" red", "red", " RED"} <= set(found["token"])
    red = found[found.token == " red"].iloc[0]
    sets = tables("SELECT s.name, m.token_id FROM token_set_members m JOIN token_sets s USING (set_id)")
    assert sorted(red["sets"]) == sorted(sets[sets.token_id == red.token_id]["name"])
    assert run_query(demo_db, "app_token_lookup", {"text": " red"}).frame.iloc[0]["token"] == " red"  # exact first


def test_layer_scatter_keeps_live_features_and_the_extremes(demo_db, tables):
    result = run_query(demo_db, "app_layer_scatter", {"per_sae": 50, "extremes": 5}).frame
    features = tables("SELECT * FROM features")
    live = features[~features["is_dead"].fillna(False).astype(bool)]
    dead = features[features["is_dead"].fillna(False).astype(bool)]
    assert _pairs(result) <= _pairs(live) and not (_pairs(result) & _pairs(dead))
    for sae_id, rows in live.groupby("sae_id"):
        assert _pairs(rows.nlargest(5, "skewness")) <= _pairs(result)
        assert _pairs(rows.nlargest(5, "kurtosis")) <= _pairs(result)
        assert 20 <= (result["sae_id"] == sae_id).sum() <= 90  # ~50 sampled plus up to 10 extremes
    again = run_query(demo_db, "app_layer_scatter", {"per_sae": 50, "extremes": 5}).frame
    assert _pairs(again) == _pairs(result)  # the same sample every time


def test_feature_logits_are_decoder_times_unembed(demo_db, tables):
    result = run_query(demo_db, "app_feature_logits", {"sae": SAE0, "feature": 24, "token_set": "colors"}).frame
    decoder = np.asarray(tables(f"SELECT vec FROM decoder WHERE sae_id = '{SAE0}' AND feature = 24")["vec"][0])
    unembed = np.stack(tables("SELECT vec FROM unembed ORDER BY token_id")["vec"].to_numpy())
    np.testing.assert_allclose(result["logit_weight"], unembed @ decoder, rtol=1e-4, atol=1e-5)
    members = tables(
        "SELECT m.token_id FROM token_set_members m JOIN token_sets s USING (set_id) WHERE s.name = 'colors'"
    )
    assert set(result.loc[result["in_set"], "token_id"]) == set(members["token_id"])
    assert run_query(demo_db, "app_feature_logits", {"sae": SAE0, "feature": 24}).frame["in_set"].isna().all()
