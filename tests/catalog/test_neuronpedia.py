"""Neuronpedia links, character for character against docs/architecture.md ("Neuronpedia") and the notebook's output."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from catalog.errors import CatalogError
from catalog.neuronpedia import (
    NeuronpediaFeature,
    embed_url,
    feature_url,
    features_of,
    quick_list_url,
    quick_list_urls,
    split_neuronpedia_id,
)
from catalog.queries import run_query
from tests.synthetic_catalog import BenchShape, build_bench_catalog

# The URL the notebook printed for get_neuronpedia_quick_list([14215, 19273, 8992, 895], layer=8).
NOTEBOOK_QUICK_LIST = (
    "https://neuronpedia.org/quick-list/?name=temporary_list&features=%5B%7B%22modelId%22%3A%20%22gpt2-small%22%2C%20%22layer"
    "%22%3A%20%228-res-jb%22%2C%20%22index%22%3A%20%2214215%22%7D%2C%20%7B%22modelId%22%3A%20%22gpt2-small%22%2C%20%22layer%22"
    "%3A%20%228-res-jb%22%2C%20%22index%22%3A%20%2219273%22%7D%2C%20%7B%22modelId%22%3A%20%22gpt2-small%22%2C%20%22layer%22%3A"
    "%20%228-res-jb%22%2C%20%22index%22%3A%20%228992%22%7D%2C%20%7B%22modelId%22%3A%20%22gpt2-small%22%2C%20%22layer%22%3A%20"
    "%228-res-jb%22%2C%20%22index%22%3A%20%22895%22%7D%5D"
)
SMALL = BenchShape(n_layers=3, d_sae=64, d_model=16, d_vocab=7000, n_sets=60)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """A synthetic catalog whose SAEs have Neuronpedia ids gpt2-small/{0,1,2}-res-jb."""
    return build_bench_catalog(tmp_path_factory.mktemp("small") / "small.duckdb", SMALL, log=io.StringIO())


def test_feature_and_embed_urls():
    assert feature_url("gpt2-small/8-res-jb", 14215) == "https://neuronpedia.org/gpt2-small/8-res-jb/14215"
    assert embed_url("gpt2-small/8-res-jb", 14215) == (
        "https://neuronpedia.org/gpt2-small/8-res-jb/14215"
        "?embed=true&embedexplanation=true&embedplots=true&embedtest=true&height=300"
    )


def test_quick_list_is_the_notebooks_url_exactly():
    features = [NeuronpediaFeature.from_ids("gpt2-small/8-res-jb", i) for i in (14215, 19273, 8992, 895)]
    assert quick_list_url(features) == NOTEBOOK_QUICK_LIST


def test_quick_list_name_is_quoted_and_repeats_are_dropped():
    feature = NeuronpediaFeature.from_ids("gpt2-small/12-res-jb", 7)
    url = quick_list_url([feature, feature], name="layer 12 & more")
    assert url == (
        "https://neuronpedia.org/quick-list/?name=layer%2012%20%26%20more&features=%5B%7B%22modelId%22%3A%20%22"
        "gpt2-small%22%2C%20%22layer%22%3A%20%2212-res-jb%22%2C%20%22index%22%3A%20%227%22%7D%5D"
    )


def test_more_than_150_features_is_an_error_or_splits():
    features = [NeuronpediaFeature("gpt2-small", "8-res-jb", i) for i in range(320)]
    assert quick_list_url(features[:150]).count("modelId") == 150
    with pytest.raises(
        CatalogError,
        match=r"a Neuronpedia quick list holds at most 150 features, got 151; lower the "
        r"limit, or use quick_list_urls",
    ):
        quick_list_url(features[:151])
    urls = quick_list_urls(features, name="big")
    assert [url.count("modelId") for url in urls] == [150, 150, 20]
    assert [url.split("&")[0] for url in urls] == [
        f"https://neuronpedia.org/quick-list/?name=big%20%28{i}%20of%203%29" for i in (1, 2, 3)
    ]
    assert quick_list_urls(features[:3], name="small") == [quick_list_url(features[:3], name="small")]
    with pytest.raises(CatalogError, match="a quick list needs at least one feature"):
        quick_list_urls([])


@pytest.mark.parametrize(
    "bad, message",
    [
        (None, r"this SAE has no Neuronpedia id \(saes.neuronpedia_id is NULL\)"),
        ("gpt2-small", r"Neuronpedia id 'gpt2-small' is not of the form 'model/source'"),
        ("/8-res-jb", r"is not of the form 'model/source'"),
    ],
)
def test_bad_neuronpedia_ids(bad, message):
    with pytest.raises(CatalogError, match=message):
        split_neuronpedia_id(bad)


@pytest.mark.parametrize("index", [-1, 1.5, "7", True])
def test_bad_indices(index):
    with pytest.raises(CatalogError, match="feature index must be a non-negative integer"):
        feature_url("gpt2-small/8-res-jb", index)


def test_view_urls_equal_the_python_urls(small_db):
    frame = run_query(small_db, "high_skew_features", {"layer": 2, "min_skewness": 0.0}, limit=5).frame
    for row in frame.itertuples():
        assert row.neuronpedia_url == feature_url("gpt2-small/2-res-jb", row.feature)
        assert row.neuronpedia_url == f"https://neuronpedia.org/gpt2-small/2-res-jb/{row.feature}"


def test_features_of_a_result_map_sae_ids_to_neuronpedia_ids(small_db):
    frame = pd.DataFrame(
        {"sae_id": ["bench-res-jb/blocks.1.hook_resid_pre", "bench-res-jb/blocks.0.hook_resid_pre"], "feature": [3, 60]}
    )
    assert features_of(small_db, frame) == [
        NeuronpediaFeature("gpt2-small", "1-res-jb", 3),
        NeuronpediaFeature("gpt2-small", "0-res-jb", 60),
    ]
    with pytest.raises(CatalogError, match=r"a quick list needs columns sae_id and feature; the result lacks feature"):
        features_of(small_db, frame[["sae_id"]])


def test_demo_saes_have_no_neuronpedia_id(demo_db):
    frame = pd.DataFrame({"sae_id": ["demo/blocks.0.hook_resid_pre"], "feature": [1]})
    with pytest.raises(
        CatalogError,
        match=r"SAE\(s\) 'demo/blocks.0.hook_resid_pre' have no Neuronpedia id in catalog "
        r".*so their features cannot go in a quick list",
    ):
        features_of(demo_db, frame)
