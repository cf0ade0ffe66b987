"""Overview page on the demo catalog: counts, provenance, and the by-layer plots against the base tables."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.conftest import SAE0, SAE1, SAE1_POST, figure, frame_with, no_exception


def test_counts_and_provenance_tables(run_page, tables):
    at = run_page("overview")
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Models": "1",
        "SAEs": "3",
        "Features": f"{len(tables('SELECT * FROM features')):,}",
        "Token sets": str(len(tables("SELECT * FROM token_sets"))),
    }
    saes = frame_with(at, "sae_id", "run_id", "weights_fingerprint")
    assert list(saes["sae_id"]) == [SAE0, SAE1, SAE1_POST]
    models = frame_with(at, "model_name", "processing", "fingerprint")
    assert list(models["model_name"]) == ["demo-gpt2-d64"] and models.loc[0, "d_vocab"] == 50257


@pytest.mark.parametrize(
    "variant, skew, kurt", [("logit weights", "skewness", "kurtosis"), ("cosine", "cos_skewness", "cos_kurtosis")]
)
def test_by_layer_plots_match_percentiles_of_the_features_table(run_page, tables, variant, skew, kurt):
    at = run_page("overview")
    at.radio(key="variant").set_value(variant).run()
    no_exception(at)
    features = tables("SELECT * FROM features")
    order = [SAE0, SAE1, SAE1_POST]
    for key, column in (("skew_bands", skew), ("kurt_bands", kurt)):
        bands = figure(at, key)["data"]
        assert [trace["name"] for trace in bands] == ["1%", "5%", "10%", "25%", "50%", "75%", "90%", "95%", "99%"]
        median = [features.loc[features.sae_id == s, column].quantile(0.5) for s in order]
        np.testing.assert_allclose(bands[4]["y"], median, rtol=1e-9)
    assert not at.get("plotly_chart")[2:], "one kind of plot per run"
    at.segmented_control(key="plot").set_value("Box plots").run()
    boxes = figure(at, "skew_boxes")["data"]
    assert [b["x"][0] for b in boxes] == ["L0", "L1 resid_pre", "L1 resid_post"]
    for box, sae_id in zip(boxes, order, strict=False):
        values = features.loc[features.sae_id == sae_id, skew]
        np.testing.assert_allclose(
            [box["q1"][0], box["q3"][0], box["lowerfence"][0], box["upperfence"][0]],
            values.quantile([0.25, 0.75, 0.01, 0.99]).to_numpy(),
            rtol=1e-9,
        )
    assert figure(at, "kurt_boxes")["layout"]["yaxis"]["type"] == "log"


def test_layer_scatter_is_animated_over_every_sae_without_dead_features(run_page, tables):
    at = run_page("overview", plot="Scatter across layers")
    no_exception(at)
    scatter = figure(at, "layer_scatter")
    assert [frame["name"] for frame in scatter["frames"]] == ["L0", "L1 resid_pre", "L1 resid_post"]
    features = tables("SELECT * FROM features")
    live = features[~features["is_dead"].fillna(False).astype(bool)]
    # The demo's SAEs are smaller than the sample, so every live feature is drawn, dead ones are not.
    drawn = sum(len(frame["data"][0]["x"]) for frame in scatter["frames"])
    assert drawn == len(live)
    assert scatter["layout"]["yaxis"]["type"] == "log"
