"""A deep link value that a page cannot show (an unknown SAE, feature, layer, set, query, view) is replaced by
the widget's default, and the page says so: what was asked and what is shown instead, on every page."""

from __future__ import annotations

import pytest

from tests.app.conftest import SAE0, no_exception


def _notices(at) -> list[str]:
    return [w.value for w in at.warning]


def _says(at, asked: str, shown: str) -> None:
    assert any(f"**{asked}**" in text and f"showing **{shown}**" in text for text in _notices(at)), _notices(at)


@pytest.mark.parametrize(
    "page, query, asked, shown",
    [
        ("overview", {"model": "no-such-model"}, "no-such-model", "demo-gpt2-d64"),
        ("overview", {"plot": "Pie chart"}, "Pie chart", "Percentile bands"),
        ("explore", {"layer": "8"}, "8", "(any)"),
        ("explore", {"set": "no_such_set"}, "no_such_set", "(any)"),
        ("explore", {"order": "alphabet"}, "alphabet", "skewness"),
        ("enrichment", {"sae": "no/such-sae"}, "no/such-sae", SAE0),
        ("enrichment", {"view": "Pie"}, "Pie", "Manhattan"),
        ("enrichment", {"view": "Set vs set", "x_set": "no_such_set"}, "no_such_set", "boys_names"),
        ("feature", {"sae": "nope"}, "nope", SAE0),
        ("feature", {"sae": SAE0, "feature": "99999"}, "99999", "0"),
        ("feature", {"set": "no_such_set"}, "no_such_set", "(most enriched)"),
        ("feature", {"colour": "no_such_set"}, "no_such_set", "(most enriched)"),  # the older spelling of set
        ("token_sets", {"family": "no_such_family"}, "no_such_family", "(any)"),
        ("token_sets", {"set": "no_such_set"}, "no_such_set", "colors"),
        ("sql_console", {"query": "no_such_query"}, "no_such_query", "saes"),
        ("sql_console", {"query": "high_skew_features", "p_layer": "8"}, "8", "0"),
        ("sql_console", {"mode": "Shell"}, "Shell", "Saved query"),
    ],
)
def test_unknown_value_is_noticed_with_what_is_shown(run_page, page, query, asked, shown):
    at = run_page(page, **query)
    no_exception(at)
    _says(at, asked, shown)


def test_the_defaults_shown_are_the_catalogs(run_page, tables):
    at = run_page("feature", sae="nope", feature="99999")
    first = tables("SELECT sae_id, layer, d_sae FROM saes ORDER BY layer, sae_id DESC").iloc[0]  # resid_pre first
    assert at.sidebar.selectbox(key="sae").value == first["sae_id"] and at.title[0].value == "Feature 0"
    _says(at, "nope", first["sae_id"])
    assert any(f"0 to {first['d_sae'] - 1}" in text for text in _notices(at))


def test_the_older_colour_spelling_is_read_as_set(run_page):
    at = run_page("feature", sae=SAE0, feature="24", colour="colors")
    no_exception(at)
    assert at.sidebar.selectbox(key="set").value == "colors" and "colour" not in at.query_params
    assert [text for text in _notices(at) if "`colour=` is an older spelling of `set=`" in text]


def test_some_of_several_sets_unknown(run_page):
    at = run_page("enrichment", sets=["colors", "no_such_set"])
    no_exception(at)
    assert at.sidebar.multiselect(key="sets").value == ["colors"]
    _says(at, "no_such_set", "colors")


def test_not_a_finite_number_is_noticed(run_page):
    at = run_page("overview", feature="inf")
    no_exception(at)
    assert any("**inf**" in text and "not a finite number" in text for text in _notices(at))


def test_valid_links_and_later_runs_have_no_notice(run_page):
    at = run_page("explore", layer="1", set="colors", min_score="2")
    no_exception(at)
    assert not _notices(at)
    at = run_page("feature", sae="nope")
    assert _notices(at)
    at.number_input(key="feature").set_value(3).run()  # the next run shows what the person chose: no notice
    assert not _notices(at) and at.title[0].value == "Feature 3"
