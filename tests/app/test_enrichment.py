"""Enrichment page on the demo catalog: its three views against the enrichment table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.plots import SCORE_CAP
from catalog.queries import run_query
from tests.app.conftest import SAE0, SAE1, figure, frame_with, no_exception, texts


def _scores(tables, sae_id: str | None = None) -> pd.DataFrame:
    rows = tables(
        "SELECT e.sae_id, e.feature, e.d, e.direction, ts.name FROM enrichment e JOIN token_sets ts USING (set_id)"
    )
    rows = rows if sae_id is None else rows[rows["sae_id"] == sae_id]
    with np.errstate(divide="ignore"):
        return rows.assign(score=np.minimum(-np.log1p(-rows["d"].astype(float)), SCORE_CAP))


def test_manhattan_of_the_chosen_sets(run_page, tables):
    at = run_page("enrichment", sae=SAE1, sets=["colors", "all_digits"], top_n="2")
    no_exception(at)
    plot = figure(at, "manhattan")
    assert [trace["name"] for trace in plot["data"]] == ["all_digits", "colors"]
    scores = _scores(tables, SAE1)
    for trace in plot["data"]:
        expected = scores[scores["name"] == trace["name"]].sort_values("feature")
        np.testing.assert_array_equal(trace["x"], expected["feature"])
        np.testing.assert_allclose(trace["y"], expected["score"], rtol=1e-6)
    labels = {int(a["text"]) for a in plot["layout"]["annotations"]}
    best = {int(scores[scores["name"] == n].nlargest(1, "score")["feature"].item()) for n in ("colors", "all_digits")}
    assert best <= labels and len(labels) <= 4
    top = frame_with(at, "open", "set_name", "d", "p_calibrated", "q_value")
    assert len(top) == 4 and set(top["set_name"]) == {"colors", "all_digits"}


def test_default_sets_are_the_notebooks(run_page):
    at = run_page("enrichment")
    no_exception(at)
    names = [trace["name"] for trace in figure(at, "manhattan")["data"]]
    assert names == sorted(["starts_with_space", "starts_with_capital", "all_digits", "is_punctuation", "all_caps"])


def test_set_versus_set_labels_where_the_sets_differ_most(run_page, tables):
    at = run_page("enrichment", sae=SAE0, x_set="colors", y_set="countries", view="Set vs set")
    no_exception(at)
    scores = _scores(tables, SAE0).pivot_table(index="feature", columns="name", values="score")
    plot = figure(at, "versus")
    scatter = next(trace for trace in plot["data"] if trace["type"] == "scatter")
    np.testing.assert_allclose(np.sort(scatter["x"]), np.sort(scores["colors"]), rtol=1e-6)
    assert {"histogram"} <= {trace["type"] for trace in plot["data"]}  # the marginals
    gap = (scores["colors"] - scores["countries"]).abs().sort_values(ascending=False)
    labelled = {int(a["text"]) for a in plot["layout"]["annotations"] if a.get("text", "").isdigit()}
    assert set(gap.index[:3]) <= labelled
    apart = frame_with(at, "open", "difference")
    assert list(apart["feature"]) == list(gap.index[:10])


def test_top_features_across_layers(run_page, tables):
    at = run_page("enrichment", sets=["colors", "countries"], view="Across layers")
    no_exception(at)
    table = frame_with(at, "open", "set_name", "set_rank", "top_tokens")
    scores = _scores(tables)
    assert len(table) == 2 * 3 * 3
    for (name, sae_id), rows in table.groupby(["set_name", "sae_id"]):
        expected = scores[(scores["name"] == name) & (scores["sae_id"] == sae_id)].nlargest(3, "d")
        assert list(rows.sort_values("set_rank")["feature"]) == list(expected["feature"])
    plot = figure(at, "top_per_layer")
    assert {trace["name"] for trace in plot["data"]} == {"colors", "countries"}


def test_no_set_chosen_says_what_to_do(run_page):
    at = run_page("enrichment")
    at.multiselect(key="sets").set_value([]).run()
    no_exception(at)
    assert "Choose one or more token sets" in at.info[0].value


def test_calibration_view_plots_the_held_out_null_per_family(run_page, demo_db):
    at = run_page("enrichment", view="Calibration")
    no_exception(at)
    qq = run_query(demo_db, "null_qq", {}).frame
    assert not qq.empty
    plot = figure(at, "null_qq")
    families = sorted(set(qq["set_family"]))
    assert [trace["name"] for trace in plot["data"]] == [*families, "diagonal (calibrated)"]
    for trace in plot["data"][:-1]:
        rows = qq[qq["set_family"] == trace["name"]].sort_values("expected_p")
        np.testing.assert_array_equal(trace["x"], rows["expected_p"])
        np.testing.assert_array_equal(trace["y"], rows["observed_p"])
    diagonal = plot["data"][-1]
    assert list(diagonal["x"]) == list(diagonal["y"]) == [qq["expected_p"].min(), 1.0]
    assert plot["layout"]["xaxis"]["type"] == plot["layout"]["yaxis"]["type"] == "log"
    assert len({trace["marker"]["color"] for trace in plot["data"][:-1]}) == len(families)
    assert "diagonal" in texts(at) and "conservative" in texts(at)
    table = frame_with(at, "set_family", "ratio_1e_2", "ratio_1e_4")
    assert sorted(table["set_family"]) == families
