"""Fixtures and helpers for the app's tests: AppTest runs of a page on the demo catalog, and readers
for what a page drew (plotly specs, tables) so tests can compare it with the base tables."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
SAE0, SAE1, SAE1_POST = "demo/blocks.0.hook_resid_pre", "demo/blocks.1.hook_resid_pre", "demo/blocks.1.hook_resid_post"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network probe, no --db from pytest's argv, and no cached result carried between tests."""
    monkeypatch.setenv("LLCAT_OFFLINE", "1")
    monkeypatch.delenv("LLCAT_DB", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def run_page(monkeypatch: pytest.MonkeyPatch, demo_db: Path) -> Callable[..., AppTest]:
    """``run_page("explore", min_skewness="1")``: the page, opened through a deep link, run once."""

    def run(page: str, db: Path | None = None, timeout: float = 60, **query: str | list[str]) -> AppTest:
        monkeypatch.setenv("LLCAT_DB", str(db or demo_db))
        at = AppTest.from_file(str(MAIN), default_timeout=timeout)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()  # the first run registers st.navigation's pages; a switch before it would run the page alone
        if page != "overview":
            at.switch_page(f"views/{page}.py").run()
        return at

    return run


@pytest.fixture(scope="session")
def tables(demo_db: Path) -> Callable[[str], pd.DataFrame]:
    """The demo catalog's base tables as DataFrames (the oracle the app is checked against)."""
    cache: dict[str, pd.DataFrame] = {}

    def table(sql: str) -> pd.DataFrame:
        if sql not in cache:
            with duckdb.connect(str(demo_db), read_only=True) as con:
                cache[sql] = con.execute(sql).df()
        return cache[sql]

    return table


@pytest.fixture(scope="session")
def np_demo_db(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo catalog whose SAEs have Neuronpedia ids, as a real release's do."""
    path = tmp_path_factory.mktemp("np") / "with_neuronpedia.duckdb"
    shutil.copy(demo_db, path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE saes SET neuronpedia_id = 'gpt2-small/' || layer || '-res-jb'")
    return path


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _decode(node: object) -> object:
    """Plotly's JSON with typed arrays ({'dtype', 'bdata'}) decoded to numpy."""
    if isinstance(node, Mapping):
        if "bdata" in node and "dtype" in node:
            array = np.frombuffer(base64.b64decode(node["bdata"]), dtype=np.dtype(node["dtype"]))
            return array.reshape(node["shape"]) if "shape" in node and isinstance(node["shape"], list) else array
        return {key: _decode(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_decode(value) for value in node]
    return node


def figure(at: AppTest, key: str) -> dict:
    """The plotly figure drawn with ``key`` as a plain dict (arrays decoded)."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return _decode(pio.from_json(chart.proto.spec, skip_invalid=True).to_plotly_json())
    raise AssertionError(f"no plotly chart with key {key!r}; keys: {[c.proto.id for c in at.get('plotly_chart')]}")


def frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table (st.dataframe) on the page that has all ``columns``."""
    for element in at.dataframe:
        value = element.value
        if set(columns) <= set(value.columns):
            return value
    raise AssertionError(f"no table with columns {columns}; tables: {[list(d.value.columns) for d in at.dataframe]}")


def texts(at: AppTest) -> str:
    """Every markdown, caption, info and warning text of the page, joined."""
    parts = [e.value for e in (*at.markdown, *at.caption, *at.info, *at.warning, *at.title, *at.subheader)]
    return "\n".join(str(p) for p in parts)
