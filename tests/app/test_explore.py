"""Explore page on the demo catalog: filters (from the URL and from widgets) against pandas over the base tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.app.conftest import SAE0, SAE1, figure, frame_with, no_exception, texts


def _features(tables) -> pd.DataFrame:
    return tables("SELECT f.*, s.layer FROM features f JOIN saes s USING (sae_id)")


def _pairs(frame: pd.DataFrame) -> set[tuple[str, int]]:
    return set(zip(frame["sae_id"], frame["feature"].astype(int), strict=True))


def test_default_view_lists_every_feature_most_skewed_first(run_page, tables):
    at = run_page("explore")
    no_exception(at)
    features = _features(tables)
    assert at.metric[0].value == f"{len(features):,}"
    table = frame_with(at, "open", "sae_id", "feature", "skewness", "top_tokens")
    expected = features.sort_values(["skewness", "sae_id", "feature"], ascending=[False, True, True]).head(200)
    assert list(zip(table["sae_id"], table["feature"], strict=True)) == list(
        zip(expected["sae_id"], expected["feature"], strict=True)
    )
    assert (
        table["open"].iloc[0]
        == f"feature?sae={expected.iloc[0].sae_id.replace('/', '%2F')}&feature={expected.iloc[0].feature}"
    )
    scatter = figure(at, "moments_scatter")
    assert len(scatter["data"][0]["x"]) == len(features) and scatter["layout"]["yaxis"]["type"] == "log"
    assert "No Neuronpedia source for this SAE" in texts(at)


def test_filters_from_a_deep_link(run_page, tables):
    at = run_page("explore", sae=SAE1, min_skewness="0.1", max_kurtosis="10", dead="exclude", order="kurtosis")
    no_exception(at)
    f = _features(tables)
    keep = f[
        (f["sae_id"] == SAE1)
        & (f["skewness"] >= 0.1)
        & (f["kurtosis"] <= 10)
        & ~f["is_dead"].fillna(False).astype(bool)
    ]
    table = frame_with(at, "open", "sae_id", "feature", "kurtosis")
    assert _pairs(table) == _pairs(keep) and len(keep) > 5
    assert table["kurtosis"].is_monotonic_decreasing
    skew_hist, kurt_hist = figure(at, "moment_hists")["data"]
    assert sorted(skew_hist["x"]) == sorted(keep["skewness"])
    np.testing.assert_allclose(sorted(kurt_hist["x"]), sorted(np.log10(keep["kurtosis"])))


def test_enrichment_filter_through_the_widgets(run_page, tables):
    at = run_page("explore")
    at.selectbox(key="set").set_value("colors").run()
    at.number_input(key="min_score").set_value(3.0).run()
    at.radio(key="direction").set_value("promoted").run()
    no_exception(at)
    rows = tables(
        "SELECT e.sae_id, e.feature, e.d, e.direction FROM enrichment e JOIN token_sets ts USING (set_id)"
        " WHERE ts.name = 'colors'"
    )
    with np.errstate(divide="ignore"):
        wanted = rows[(-np.log1p(-rows.d.astype(float)) >= 3.0) & (rows.direction == 1)]
    table = frame_with(at, "open", "set_score", "set_direction")
    assert _pairs(table) == _pairs(wanted) and len(wanted) >= 3
    assert " red" in {token for tokens in table["top_tokens"] for token in tokens}


def test_no_match_says_so(run_page):
    at = run_page("explore", min_skewness="1000")
    no_exception(at)
    assert "No feature matches these filters" in at.info[0].value


def test_selecting_a_row_opens_the_feature_page(run_page, tables):
    at = run_page("explore", sae=SAE0)
    first = frame_with(at, "open", "sae_id", "feature").iloc[0]
    at.session_state["results"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    no_exception(at)
    assert at.title[0].value == f"Feature {first.feature}"
    assert at.sidebar.selectbox(key="sae").value == SAE0 and at.number_input(key="feature").value == first.feature


def test_quick_list_links_when_neuronpedia_knows_the_sae(run_page, np_demo_db):
    at = run_page("explore", db=np_demo_db, sae=SAE0, min_skewness="1")
    no_exception(at)
    buttons = at.get("link_button")
    assert len(buttons) == 1
    url = buttons[0].proto.url
    assert url.startswith("https://neuronpedia.org/quick-list/?name=catalog%20selection&features=")
    assert "gpt2-small" in url and "0-res-jb" in url
