"""The Python API: typed helpers, row caps that say so, quick lists, and bad input."""

from __future__ import annotations

import io

import duckdb
import numpy as np
import pandas as pd
import pytest

from catalog.api import Catalog
from catalog.errors import CatalogError
from catalog.neuronpedia import feature_url
from catalog.result import QueryResult
from tests.synthetic_catalog import PARIS_TOKEN_ID, BenchShape, build_bench_catalog

SMALL = BenchShape(n_layers=3, d_sae=200, d_model=16, d_vocab=7000, n_sets=60)
SAE1 = "bench-res-jb/blocks.1.hook_resid_pre"


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return build_bench_catalog(tmp_path_factory.mktemp("api") / "small.duckdb", SMALL, log=io.StringIO())


@pytest.fixture(scope="module")
def cat(small_db) -> Catalog:
    return Catalog(small_db)


@pytest.fixture(scope="module")
def tables(small_db) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        return {name: con.execute(f"SELECT * FROM {name}").df() for name in ("saes", "features", "decoder", "unembed")}
    finally:
        con.close()


def test_high_skew_features_is_the_notebooks_first_query(cat, tables):
    result = cat.high_skew_features(layer=1, min_skewness=0.4, limit=10)
    assert isinstance(result, QueryResult)
    f = tables["features"]
    expected = f[(f["sae_id"] == SAE1) & (f["skewness"] > 0.4)].sort_values("skewness", ascending=False)
    assert list(result.frame["feature"]) == list(expected["feature"].head(10))
    assert result.truncated == (len(expected) > 10)
    assert list(result.frame["neuronpedia_url"]) == [
        feature_url("gpt2-small/1-res-jb", i) for i in result.frame["feature"]
    ]


def test_truncation_is_reported_and_a_larger_limit_lifts_it(cat):
    capped = cat.dead_and_dense_features(which="dense", dense_above=-3.0, limit=5)
    assert capped.truncated and len(capped.frame) == 5 and "showing the first 5 rows" in capped.notice()
    everything = cat.dead_and_dense_features(which="dense", dense_above=-3.0, limit=100_000)
    assert not everything.truncated and everything.notice() is None
    assert list(everything.frame["feature"][:5]) == list(capped.frame["feature"])


def test_features_promoting_a_token_exactly(cat, tables):
    result = cat.features_promoting_token_exact(" Paris", limit=10)
    u = np.asarray(tables["unembed"].set_index("token_id").loc[PARIS_TOKEN_ID, "vec"], dtype=np.float64)
    weights = np.stack(tables["decoder"]["vec"].to_numpy()).astype(np.float64) @ u
    best = np.argsort(-weights)[:10]
    np.testing.assert_allclose(result.frame["logit_weight"], weights[best], rtol=1e-5)
    assert list(result.frame["feature"]) == list(tables["decoder"]["feature"].iloc[best])


def test_neighbours_logits_and_sets_helpers_run(cat):
    neighbours = cat.decoder_neighbours(SAE1, 7, scope="sae", limit=3).frame
    assert set(neighbours["sae_id"]) == {SAE1} and 7 not in set(neighbours["feature"])
    logits = cat.feature_logits(SAE1, 7, token_set="boys_names")
    assert len(logits.frame) == 7000 and not logits.truncated and logits.frame["in_set"].any()
    assert cat.top_features_for_set("boys_names", limit=4).frame["set_name"].eq("boys_names").all()
    assert len(cat.enriched_a_not_b("boys_names", "girls_names", layer=2, limit=4).frame) == 4
    assert len(cat.feature_enrichment(SAE1, 7, limit=60).frame) == 60
    assert cat.feature_card(SAE1, 7)["feature"] == 7
    assert set(cat.layer_percentiles(statistic="skewness").frame["statistic"]) == {"skewness"}
    assert len(cat.saes().frame) == 3 and len(cat.token_sets(family="names").frame) == 2


def test_run_any_query_by_name_with_keywords(cat):
    result = cat.run("high_skew_features", layer=2, min_skewness=0.0, limit=3)
    assert result.source == "high_skew_features" and result.params["layer"] == 2 and len(result.frame) == 3


def test_feature_links(cat):
    assert cat.feature_links(SAE1, 7) == {
        "url": "https://neuronpedia.org/gpt2-small/1-res-jb/7",
        "embed_url": "https://neuronpedia.org/gpt2-small/1-res-jb/7?embed=true&embedexplanation=true&embedplots=true"
        "&embedtest=true&height=300",
    }


def test_quick_lists_from_results(cat):
    result = cat.high_skew_features(layer=0, min_skewness=-100.0, limit=200)
    urls = cat.quick_list_urls(result, name="layer 0")
    assert len(urls) == 2 and urls[0].count("modelId") == 150 and urls[1].count("modelId") == 50
    with pytest.raises(CatalogError, match="at most 150 features, got 200"):
        cat.quick_list_url(result)
    assert cat.quick_list_url(result.frame.head(3)).count("%22index%22") == 3


def test_bad_input_is_named(cat, tmp_path):
    with pytest.raises(
        CatalogError,
        match=r"catalog .*nope.duckdb does not exist; build the demo catalog there with `llcat-ingest demo --db",
    ):
        Catalog(tmp_path / "nope.duckdb")
    with pytest.raises(CatalogError, match=r"set_a and set_b are both 'boys_names'; give two different sets"):
        cat.enriched_a_not_b("boys_names", "boys_names")
    with pytest.raises(
        CatalogError, match=r"query decoder_neighbours: parameter scope expects one of 'sae', 'layer', 'model'"
    ):
        cat.decoder_neighbours(SAE1, 7, scope="everything")  # type: ignore[arg-type]
    with pytest.raises(CatalogError, match=r"query high_skew_features has no parameter 'min_skew'"):
        cat.run("high_skew_features", layer=1, min_skew=2)
    with pytest.raises(
        CatalogError, match=rf"parameter feature: feature 500 is not in SAE '{SAE1}' \(it has 200 features, 0 to 199\)"
    ):
        cat.feature_card(SAE1, 500)
    with pytest.raises(
        CatalogError, match=r"parameter model: model 'gpt2' is not in catalog .*; models there: 'bench-gpt2-small'"
    ):
        cat.features_promoting_token(" Paris", model="gpt2")


def test_demo_catalog_through_the_api(demo_db):
    cat = Catalog(demo_db)
    skewed = cat.high_skew_features(layer=0, min_skewness=0.5)
    assert len(skewed.frame) > 0 and skewed.frame["neuronpedia_url"].isna().all()
    with pytest.raises(CatalogError, match=r"have no Neuronpedia id"):
        cat.quick_list_url(skewed)
    with pytest.raises(
        CatalogError,
        match=r"SAE 'demo/blocks.0.hook_resid_pre' has no Neuronpedia id in catalog .*so feature 3 has no links",
    ):
        cat.feature_links("demo/blocks.0.hook_resid_pre", 3)


def test_engine_answers_pandas_read_sql_with_bound_parameters_and_holds_no_lock(cat, tables, small_db):
    import sqlalchemy as sa

    query = sa.text(
        "SELECT sae_id, feature, skewness FROM feature_stats WHERE layer = :layer AND skewness > :s "
        "ORDER BY sae_id, feature"
    )
    frame = pd.read_sql(query, cat.engine, params={"layer": 1, "s": 0.5})
    features, saes = tables["features"], tables["saes"]
    expected = features.merge(saes[["sae_id", "layer"]], on="sae_id")
    expected = expected[(expected["layer"] == 1) & (expected["skewness"] > 0.5)].sort_values(["sae_id", "feature"])
    assert len(frame) == len(expected) > 0
    np.testing.assert_allclose(frame["skewness"], expected["skewness"], rtol=1e-6)
    # No pooled connection keeps the file: a writer can open it right after.
    duckdb.connect(str(small_db)).close()


def test_every_api_method_agrees_with_its_saved_querys_header():
    """The typed helpers repeat each query's parameters for IDEs and docs: the SQL header is the truth."""
    import inspect

    from catalog.queries import saved_queries
    from catalog.query_params import REQUIRED

    queries = saved_queries()
    helpers = {name: member for name, member in inspect.getmembers(Catalog, inspect.isfunction) if name in queries}
    assert len(helpers) >= 12, sorted(helpers)
    for name, method in helpers.items():
        declared = {param.name: param for param in queries[name].params}
        arguments = {arg: spec for arg, spec in inspect.signature(method).parameters.items() if arg != "self"}
        assert set(arguments) <= set(declared), (name, set(arguments) - set(declared))
        # Every parameter the query needs is in the method; optional ones may be left to the query's default.
        assert {p for p, param in declared.items() if param.required} <= set(arguments), name
        for arg, spec in arguments.items():
            expected = inspect.Parameter.empty if declared[arg].default is REQUIRED else declared[arg].default
            assert spec.default == expected, (
                f"{name}({arg}=...): the method says {spec.default!r}, the SQL {expected!r}"
            )
        assert method.__doc__.strip(), name
