"""SQL page on the demo catalog: saved queries with parameters from inputs, and the sandboxed console."""

from __future__ import annotations

import pandas as pd
import pytest

import catalog.api
from catalog.queries import saved_queries
from tests.app.conftest import SAE1, frame_with, no_exception, texts


def _run_console(run_page, **link: str):
    """Open the console through a deep link, check that it only filled the text area, then press Run."""
    at = run_page("sql_console", **link)
    assert at.text_area(key="sql").value == link["sql"] and not at.dataframe and not at.error
    return at.button(key="run_sql").click().run()


def test_menu_lists_every_saved_query_and_runs_the_default(run_page, tables):
    at = run_page("sql_console")
    no_exception(at)
    menu = at.sidebar.selectbox(key="query")
    assert set(saved_queries()) <= set(menu.options) and menu.value == "saes"
    result = frame_with(at, "sae_id", "n_features", "n_dead")
    assert sorted(result["sae_id"]) == sorted(tables("SELECT sae_id FROM saes")["sae_id"])
    download = at.get("download_button")
    assert len(download) == 1


def test_saved_query_parameters_from_a_deep_link(run_page, tables):
    at = run_page("sql_console", query="high_skew_features", p_layer="1", p_min_skewness="0.5")
    no_exception(at)
    result = frame_with(at, "sae_id", "skewness", "top_tokens")
    features = tables("SELECT f.*, s.layer FROM features f JOIN saes s USING (sae_id)")
    expected = features[(features["layer"] == 1) & (features["skewness"] > 0.5)]
    assert len(result) == len(expected) and set(result["feature"]) == set(expected["feature"])


def test_parameters_through_the_widgets(run_page, tables):
    at = run_page("sql_console", query="decoder_neighbours")
    no_exception(at)
    assert "Fill in the required parameter(s)" in at.info[0].value and "feature" in at.info[0].value
    at.selectbox(key="p_sae").set_value(SAE1).run()
    at.number_input(key="p_feature").set_value(7).run()
    at.selectbox(key="p_scope").set_value("sae").run()
    at.number_input(key="p_limit").set_value(5).run()
    no_exception(at)
    result = frame_with(at, "sae_id", "cosine")
    assert len(result) == 5 and set(result["sae_id"]) == {SAE1} and 7 not in set(result["feature"])


def test_text_parameters_are_bound_not_spliced(run_page, tables):
    at = run_page("sql_console", query="token_sets", p_family="word_list' OR '1'='1")
    no_exception(at)
    assert frame_with(at, "name", "family", "size").empty  # a literal family name that matches nothing
    at = run_page("sql_console", query="token_sets", p_family="word_list")
    assert (
        len(frame_with(at, "name", "family", "size"))
        == (tables("SELECT family FROM token_sets")["family"] == "word_list").sum()
    )


def test_console_runs_a_select_and_refuses_anything_else(run_page, tables):
    at = _run_console(run_page, query="(console)", sql="SELECT count(*) AS n FROM features")
    no_exception(at)
    assert frame_with(at, "n")["n"].item() == len(tables("SELECT * FROM features"))
    at = _run_console(run_page, query="(console)", sql="DELETE FROM features")
    assert not at.exception
    assert "only SELECT queries run in the console" in at.error[0].value
    at = _run_console(run_page, query="(console)", sql="SELECT * FROM read_csv('/etc/passwd')")
    assert not at.exception and at.error  # no file access from the console
    assert "/etc/passwd" not in at.error[0].value  # the sandbox's message, stripped of paths


def test_console_row_cap_is_reported(run_page):
    at = _run_console(run_page, mode="Console", sql="SELECT * FROM range(20000)")
    no_exception(at)
    assert len(frame_with(at, "range")) == 10_000 and "more rows matched" in at.warning[0].value


@pytest.mark.parametrize("link", [{"mode": "Console"}, {"query": "(console)"}])
def test_a_console_link_runs_nothing_until_run_is_pressed(run_page, monkeypatch, tables, link):
    statements = []
    real = catalog.api.run_sql
    monkeypatch.setattr(catalog.api, "run_sql", lambda db, sql, **kw: statements.append(sql) or real(db, sql, **kw))
    sql = "SELECT count(*) AS n FROM saes"
    at = run_page("sql_console", sql=sql, **link)
    no_exception(at)
    assert statements == [] and not at.dataframe and "Press **Run**" in texts(at)
    at.run()  # any rerun (another widget, a reload) runs nothing either
    assert statements == [] and not at.dataframe
    at.button(key="run_sql").click().run()
    assert statements == [sql] and frame_with(at, "n")["n"].item() == len(tables("SELECT * FROM saes"))
    at.run()  # the result stays on reruns, without running again
    assert statements == [sql] and frame_with(at, "n")["n"].item() == len(tables("SELECT * FROM saes"))
    at.text_area(key="sql").set_value("SELECT 2 AS two").run()  # an edit shows no stale result
    assert statements == [sql] and not at.dataframe


def test_console_download_is_built_only_when_clicked(run_page, monkeypatch):
    """Drawing a result makes no CSV copy of it (the download's bytes are made on click, from the capped rows)."""
    built = []
    real = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, *a, **kw: built.append(len(self)) or real(self, *a, **kw))
    at = _run_console(run_page, mode="Console", sql="SELECT * FROM range(20000)")
    no_exception(at)
    assert len(at.get("download_button")) == 1 and len(frame_with(at, "range")) == 10_000
    assert built == []
