"""Feature page on the demo catalog, opened through deep links to planted features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app.conftest import SAE0, SAE1, figure, frame_with, no_exception, texts


def _best(tables, sae_id: str, set_name: str) -> int:
    """The feature most enriched for a set: the demo planted one there."""
    rows = tables("SELECT e.sae_id, e.feature, e.d, ts.name FROM enrichment e JOIN token_sets ts USING (set_id)")
    rows = rows[(rows["sae_id"] == sae_id) & (rows["name"] == set_name)]
    return int(rows.sort_values("d", ascending=False).iloc[0]["feature"])


def _ranking(tables, sae_id: str, feature: int, min_size: int = 5) -> list[str]:
    """The page's default order of token sets, from the base tables: sets of at least min_size tokens, by
    calibrated p ascending, then d descending, then name."""
    rows = tables(
        "SELECT e.sae_id, e.feature, e.d, e.p_calibrated, ts.name, ts.size FROM enrichment e JOIN token_sets ts "
        "USING (set_id)"
    )
    rows = rows[(rows["sae_id"] == sae_id) & (rows["feature"] == feature) & (rows["size"] >= min_size)]
    ordered = sorted(rows.itertuples(), key=lambda r: (r.p_calibrated, -r.d, r.name))
    return [r.name for r in ordered]


def _tokens(tables, sae_id: str, feature: int, direction: str) -> list[str]:
    rows = tables("SELECT ft.*, t.token FROM feature_tokens ft JOIN tokens t USING (token_id)")
    rows = rows[(rows["sae_id"] == sae_id) & (rows["feature"] == feature) & (rows["direction"] == direction)]
    return list(rows.sort_values("rank")["token"])


@pytest.mark.parametrize("sae_id, set_name", [(SAE0, "colors"), (SAE1, "countries")])
def test_deep_link_shows_the_planted_features_tokens_and_moments(run_page, tables, sae_id, set_name):
    feature = _best(tables, sae_id, set_name)
    at = run_page("feature", sae=sae_id, feature=str(feature))
    no_exception(at)
    assert at.title[0].value == f"Feature {feature}"
    top, bottom = at.table[0].value, at.table[1].value
    assert list(top["token"]) == [repr(t) for t in _tokens(tables, sae_id, feature, "top")]
    assert list(bottom["token"]) == [repr(t) for t in _tokens(tables, sae_id, feature, "bottom")]
    stats = tables("SELECT * FROM features").set_index(["sae_id", "feature"]).loc[(sae_id, feature)]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Skewness"] == f"{stats['skewness']:.3f}" and metrics["Kurtosis"] == f"{stats['kurtosis']:.2f}"
    assert metrics["log10 density"] == f"{stats['log10_density']:.2f}"
    enrichment = frame_with(at, "set_name", "set_family", "p_calibrated", "q_value", "score")
    expected = _ranking(tables, sae_id, feature)
    assert enrichment.iloc[0]["set_name"] == set_name and list(enrichment["set_name"]) == expected
    assert (enrichment["set_size"] >= 5).all() and len(expected) < len(tables("SELECT * FROM token_sets"))
    assert list(figure(at, "enrichment_bars")["layout"]["yaxis"]["categoryarray"]) == expected[:20][::-1]
    assert "No Neuronpedia source for this SAE" in texts(at)


def test_planted_set_first_and_p_in_scientific_notation(run_page):
    # The README's example link: the demo's planted colour feature leads with its set.
    at = run_page("feature", sae=SAE0, feature="24", set="colors")
    no_exception(at)
    table = next(e for e in at.dataframe if "p_calibrated" in e.value.columns)
    assert table.value.iloc[0]["set_name"] == "colors"
    columns = json.loads(table.proto.columns)
    for column in ("p_calibrated", "q_value", "p_null", "p_value"):
        assert columns[column]["type_config"]["format"] == "%.2e"
    assert columns["score"]["label"] == "-ln(1-d)"


def test_smaller_sets_on_request_and_ranking_by_score(run_page, tables):
    feature = _best(tables, SAE0, "colors")
    sizes = tables("SELECT name, size FROM token_sets").set_index("name")["size"]
    at = run_page("feature", sae=SAE0, feature=str(feature), min_size="1")
    no_exception(at)
    shown = frame_with(at, "set_name", "p_calibrated")
    assert list(shown["set_name"]) == _ranking(tables, SAE0, feature, min_size=1)
    assert len(shown) == len(sizes) and "smaller sets hidden" not in texts(at)
    at.number_input(key="min_size").set_value(20).run()
    no_exception(at)
    shown = frame_with(at, "set_name", "p_calibrated")
    assert list(shown["set_name"]) == _ranking(tables, SAE0, feature, min_size=20)
    assert f"{int((sizes < 20).sum())} smaller sets hidden" in texts(at)
    at.selectbox(key="rank").set_value("score").run()
    no_exception(at)
    shown = frame_with(at, "set_name", "p_calibrated")
    rows = tables(
        "SELECT e.sae_id, e.feature, e.d, ts.name, ts.size FROM enrichment e JOIN token_sets ts USING (set_id)"
    )
    rows = rows[(rows["sae_id"] == SAE0) & (rows["feature"] == feature) & (rows["size"] >= 20)]
    assert list(shown["set_name"]) == list(rows.sort_values(["d", "name"], ascending=[False, True])["name"])


def test_histograms_cover_the_vocabulary_and_colour_the_most_enriched_set(run_page, tables):
    feature = _best(tables, SAE0, "colors")
    at = run_page("feature", sae=SAE0, feature=str(feature))
    no_exception(at)
    vocabulary = len(tables("SELECT token_id FROM tokens"))
    coloured = figure(at, "logit_hist")
    assert sum(int(np.sum(trace["y"])) for trace in coloured["data"]) == vocabulary  # members + the rest
    members, rest = coloured["data"][1], coloured["data"][0]
    size = int(tables("SELECT size FROM token_sets WHERE name = 'colors'")["size"].item())
    assert members["name"].startswith("in colors") and int(np.sum(members["y"])) == size
    assert int(np.sum(rest["y"])) == vocabulary - size
    # The planted colour feature promotes its members: their weights sit in the top bins.
    assert np.average(members["x"], weights=members["y"]) > np.average(rest["x"], weights=rest["y"])


def test_colour_set_and_feature_follow_the_widgets(run_page, tables):
    at = run_page("feature", sae=SAE0, feature="3")
    at.selectbox(key="set").set_value("all_digits").run()
    at.number_input(key="feature").set_value(5).run()
    no_exception(at)
    assert at.title[0].value == "Feature 5"
    assert figure(at, "logit_hist")["data"][1]["name"].startswith("in all_digits")
    assert list(at.table[0].value["token"]) == [repr(t) for t in _tokens(tables, SAE0, 5, "top")]


def test_neighbours_are_the_highest_decoder_cosines(run_page, tables):
    feature = _best(tables, SAE1, "colors")
    at = run_page("feature", sae=SAE1, feature=str(feature))
    no_exception(at)
    decoder = tables("SELECT d.sae_id, d.feature, d.vec, s.layer FROM decoder d JOIN saes s USING (sae_id)")
    vectors = np.stack(decoder["vec"].to_numpy())
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    probe = unit[((decoder["sae_id"] == SAE1) & (decoder["feature"] == feature)).to_numpy()][0]
    decoder = decoder.assign(cosine=unit @ probe)
    decoder = decoder[~((decoder["sae_id"] == SAE1) & (decoder["feature"] == feature))]
    within, across = [element.value for element in at.dataframe if "cosine" in element.value.columns]
    expected_within = decoder[decoder["layer"] == 1].nlargest(10, "cosine")
    expected_across = decoder.nlargest(10, "cosine")
    assert list(zip(within["sae_id"], within["feature"], strict=True)) == list(
        zip(expected_within["sae_id"], expected_within["feature"], strict=True)
    )
    assert list(zip(across["sae_id"], across["feature"], strict=True)) == list(
        zip(expected_across["sae_id"], expected_across["feature"], strict=True)
    )
    assert within["open"].iloc[0].startswith("feature?sae=")


def test_bad_deep_links_fall_back_or_explain(run_page, tables):
    at = run_page("feature", sae="no/such-sae", feature="7")
    no_exception(at)
    assert at.sidebar.selectbox(key="sae").value == SAE0 and at.title[0].value == "Feature 7"
    at = run_page("feature", sae=SAE0, feature="99999")
    no_exception(at)
    assert at.title[0].value == "Feature 0"  # out of range: the number box drops it


def test_neuronpedia_link_and_offline_fallback(run_page, np_demo_db):
    at = run_page("feature", db=np_demo_db, sae=SAE1, feature="12")
    no_exception(at)
    buttons = at.get("link_button")
    assert [b.proto.url for b in buttons] == ["https://neuronpedia.org/gpt2-small/1-res-jb/12"]
    assert "cannot be reached from here" in texts(at) and not at.get("iframe")


def test_neuronpedia_embed_when_online(run_page, np_demo_db, monkeypatch):
    from app import data

    monkeypatch.setattr(data, "neuronpedia_reachable", lambda: True)
    at = run_page("feature", db=np_demo_db, sae=SAE0, feature="3")
    no_exception(at)
    frames = at.get("iframe")
    assert len(frames) == 1
    assert "https://neuronpedia.org/gpt2-small/0-res-jb/3?embed=true" in str(frames[0].proto)
