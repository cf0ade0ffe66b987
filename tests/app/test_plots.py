"""The figure builders of app/plots.py on small hand-made frames (no Streamlit, no catalog)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app import plots

SAES = pd.DataFrame(
    {
        "sae_id": ["r/a", "r/b", "r/c"],
        "layer": [0, 1, 1],
        "hook_name": ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"],
    }
)


def _percentiles(statistic: str = "skewness") -> pd.DataFrame:
    rows = []
    for i, sae_id in enumerate(["r/c", "r/a", "r/b"]):  # out of layer order on purpose
        values = dict(zip(plots.PERCENTILES, np.arange(9, dtype=float) + 10 * i, strict=False))
        rows.append({"sae_id": sae_id, "statistic": statistic, **values})
    return pd.DataFrame(rows)


def test_sae_labels_name_the_hook_only_where_a_layer_has_several():
    assert plots.sae_labels(SAES) == {"r/a": "L0", "r/b": "L1 resid_pre", "r/c": "L1 resid_post"}


def test_capped_scores_draw_infinity_at_the_cap():
    capped = plots.capped(pd.Series([0.5, np.inf, 20.0]))
    assert list(capped) == [0.5, plots.SCORE_CAP, plots.SCORE_CAP] and plots.SCORE_CAP == pytest.approx(
        16.118, abs=1e-3
    )


def test_percentile_bands_follow_the_labels_order():
    fig = plots.percentile_bands(_percentiles(), "skewness", plots.sae_labels(SAES))
    assert len(fig.data) == 9 and [t.name for t in fig.data][:2] == ["1%", "5%"]
    assert list(fig.data[0].x) == ["L0", "L1 resid_pre", "L1 resid_post"]
    assert list(fig.data[4].y) == [14.0, 24.0, 4.0]  # p50 of r/a, r/b, r/c
    assert fig.data[0].fill is None and fig.data[1].fill == "tonexty"


def test_layer_boxes_use_the_stored_quartiles_and_whiskers():
    fig = plots.layer_boxes(_percentiles("kurtosis"), "kurtosis", plots.sae_labels(SAES), log_y=True)
    box = fig.data[0]
    assert (box.q1[0], box.median[0], box.q3[0], box.lowerfence[0], box.upperfence[0]) == (13, 14, 15, 10, 18)
    assert fig.layout.yaxis.type == "log"


def test_layer_scatter_animation_has_a_frame_per_sae():
    sample = pd.DataFrame(
        {
            "sae_id": ["r/a", "r/b", "r/b", "r/c"],
            "feature": [1, 2, 3, 4],
            "skewness": [0.1, 0.2, 3.0, -0.1],
            "kurtosis": [3.0, 3.5, 40.0, 3.1],
            "std": [0.1, 0.2, 0.3, 0.1],
        }
    )
    fig = plots.layer_scatter_animation(sample, plots.sae_labels(SAES))
    assert [f.name for f in fig.frames] == ["L0", "L1 resid_pre", "L1 resid_post"]
    assert len(fig.frames[1].data[0].x) == 2 and fig.layout.yaxis.type == "log"


def test_manhattan_labels_the_top_features_of_each_set():
    scores = pd.DataFrame(
        {
            "set_name": ["a"] * 4 + ["b"] * 4,
            "feature": [0, 1, 2, 3] * 2,
            "score": [0.1, 5.0, 0.2, np.inf, 3.0, 0.1, 0.1, 0.2],
        }
    )
    fig = plots.manhattan(scores, top_n=1, label_threshold=1.0)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].y) == [0.1, 5.0, 0.2, plots.SCORE_CAP]
    assert sorted((a.text, a.y) for a in fig.layout.annotations) == [("0", 3.0), ("3", plots.SCORE_CAP)]
    assert not plots.manhattan(scores, top_n=1, label_threshold=100).layout.annotations


def test_set_versus_set_labels_the_largest_differences():
    scores = pd.DataFrame(
        {
            "sae_id": ["s"] * 6,
            "feature": [0, 1, 2] * 2,
            "set_name": ["x"] * 3 + ["y"] * 3,
            "score": [1.0, 6.0, 2.0, 1.1, 0.5, 2.0],
        }
    )
    fig = plots.set_versus_set(scores, "x", "y", n_labels=1)
    assert [a.text for a in fig.layout.annotations if a.text.isdigit()] == ["1"]
    assert {t.type for t in fig.data} >= {"scatter", "histogram"}


def test_logit_histogram_counts_every_token_and_splits_members():
    logits = pd.DataFrame({"logit_weight": [-1.0, 0.0, 0.1, 0.2, 2.0], "in_set": [False, False, True, False, True]})
    whole = plots.logit_histogram(logits, None, bins=4, log_y=False)
    assert len(whole.data) == 1 and sum(whole.data[0].y) == 5
    split = plots.logit_histogram(logits, "s", bins=4)
    assert [t.name for t in split.data] == ["not in s", "in s (2)"]
    assert list(split.data[1].y) == [0, 1, 0, 1] and sum(split.data[0].y) == 3 and split.layout.yaxis.type == "log"


def test_enrichment_bars_keep_the_ranking_with_its_first_set_on_top():
    rows = pd.DataFrame(
        {
            "set_name": ["b", "c", "a"],  # ranked by significance: b first although c has the larger d
            "set_size": [30, 8, 12],
            "d": [0.9, 1.0, 0.5],
            "score": [2.3, np.inf, 0.69],
            "direction": [-1, 1, 1],
            "p_calibrated": [1e-12, 1e-3, 0.2],
            "q_value": [1e-9, 0.4, 1.0],
        }
    )
    fig = plots.enrichment_bars(rows, n=2, by="p_calibrated, then d")
    assert list(fig.layout.yaxis.categoryarray) == ["c", "b"]  # plotly draws the last category on top
    assert {t.name for t in fig.data} == {"promoted", "suppressed"}
    assert fig.layout.title.text == "Top 2 token sets by p_calibrated, then d"
    assert all("p_calibrated %{customdata[2]:.2e}" in t.hovertemplate for t in fig.data)


def test_null_qq_draws_one_trace_per_family_and_the_diagonal():
    qq = pd.DataFrame(
        {
            "model_name": ["m"] * 4,
            "set_family": ["letters", "letters", "regex", "regex"],
            "n_p": [100, 100, 50, 50],
            "expected_p": [0.01, 1.0, 0.02, 1.0],
            "observed_p": [0.008, 0.99, 0.05, 1.0],
        }
    )
    fig = plots.null_qq(qq)
    assert [t.name for t in fig.data] == ["letters", "regex", "diagonal (calibrated)"]
    assert list(fig.data[0].x) == [0.01, 1.0] and list(fig.data[0].y) == [0.008, 0.99]
    assert list(fig.data[-1].x) == list(fig.data[-1].y) == [0.01, 1.0]
    assert fig.data[0].marker.color != fig.data[1].marker.color
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    two = plots.null_qq(pd.concat([qq, qq.assign(model_name="n")]))
    assert [t.name for t in two.data][:2] == ["letters · m", "regex · m"] and len(two.data) == 5


def _moments(sae_ids: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = len(sae_ids)
    return pd.DataFrame(
        {
            "skewness": rng.normal(size=n),
            "kurtosis": np.exp(rng.normal(1, 0.2, n)),
            "std": rng.uniform(size=n),
            "feature": np.arange(n),
            "sae_id": sae_ids,
        }
    )


def test_moments_scatter_names_a_single_sae_once_and_several_per_point():
    one = _moments(["gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical"] * 300)
    trace = plots.moments_scatter(one, "t").data[0]
    assert trace.customdata is None
    assert "sae_id=gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical<br>" in trace.hovertemplate
    np.testing.assert_array_equal(trace.x, one["skewness"].astype(np.float32))
    np.testing.assert_array_equal(trace.hovertext, one["feature"])
    several = _moments(["r/a", "r/<b>"] * 150)
    trace = plots.moments_scatter(several, "t").data[0]
    assert list(trace.customdata[:2, 0]) == ["r/a", "r/<b>"] and "sae_id=%{customdata[0]}" in trace.hovertemplate
    assert "&lt;" not in trace.hovertemplate  # ids of several SAEs travel as data, not in the template
    escaped = plots.moments_scatter(_moments(["r/<b>"] * 3), "t").data[0].hovertemplate
    assert "sae_id=r/&lt;b&gt;<br>" in escaped
    json_one = plots.moments_scatter(one, "t").to_json()
    assert json_one.count("width_16k") == 1  # once, not once per point ("/" is escaped in JSON)
