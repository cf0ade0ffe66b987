"""Exports round-trip: what is written reads back as what the query or table held."""

from __future__ import annotations

import io
import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from catalog.errors import CatalogError
from catalog.export import (
    export_format,
    export_frame,
    export_neuronpedia,
    export_query,
    export_table,
)
from catalog.queries import run_query
from tests.synthetic_catalog import BenchShape, build_bench_catalog

SMALL = BenchShape(n_layers=2, d_sae=40, d_model=8, d_vocab=7000, n_sets=60)
SAE = "bench-res-jb/blocks.1.hook_resid_pre"


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return build_bench_catalog(tmp_path_factory.mktemp("export") / "small.duckdb", SMALL, log=io.StringIO())


def _read(path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pq.read_table(path).to_pandas()
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=True)
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])


def _listify(value):
    return list(value) if isinstance(value, (list, np.ndarray)) else json.loads(value)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_query_result_round_trips(small_db, tmp_path, fmt):
    expected = run_query(small_db, "high_skew_features", {"layer": 1, "min_skewness": 0.0}, limit=12).frame
    summary = export_query(
        small_db, "high_skew_features", {"layer": "1", "min_skewness": "0"}, tmp_path / f"r.{fmt}", limit=12
    )
    assert summary.rows == 12 and summary.truncated and summary.format == fmt
    back = _read(tmp_path / f"r.{fmt}", fmt)
    assert list(back.columns) == list(expected.columns)
    assert list(back["feature"]) == list(expected["feature"]) and list(back["sae_id"]) == list(expected["sae_id"])
    np.testing.assert_allclose(back["skewness"], expected["skewness"], rtol=1e-15)
    assert list(back["neuronpedia_url"]) == list(expected["neuronpedia_url"])
    for written, original in zip(back["top_tokens"], expected["top_tokens"]):
        assert _listify(written) == list(original)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_whole_table_round_trips(small_db, tmp_path, fmt):
    path = tmp_path / f"features.{fmt}"
    summary = export_table(small_db, "features", path, batch_rows=7)  # several batches
    con = duckdb.connect(str(small_db), read_only=True)
    expected = con.execute("SELECT * FROM features").df()
    con.close()
    assert summary.rows == len(expected) == 80 and not summary.truncated
    back = _read(path, fmt)
    np.testing.assert_allclose(back["kurtosis"], expected["kurtosis"], rtol=1e-15)
    assert [_listify(v) for v in back["hist_counts"]] == [list(v) for v in expected["hist_counts"]]


def test_views_export_too_and_unknown_tables_list_what_exists(small_db, tmp_path):
    assert export_table(small_db, "enrichment_scores", tmp_path / "e.parquet").rows == 2 * 40 * 60
    with pytest.raises(CatalogError, match=r"no table or view named 'feature' in catalog .*; there: .*features, "):
        export_table(small_db, "feature", tmp_path / "x.csv")
    with pytest.raises(CatalogError, match=r"no table or view named 'saes; DROP TABLE saes'"):
        export_table(small_db, "saes; DROP TABLE saes", tmp_path / "x.csv")


def test_neuronpedia_records_use_neuronpedias_field_names(small_db, tmp_path):
    path = tmp_path / "np.jsonl"
    summary = export_neuronpedia(small_db, path, sae=SAE)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert summary.rows == len(records) == 40
    first = records[0]
    assert {
        "modelId",
        "layer",
        "index",
        "pos_str",
        "pos_values",
        "neg_str",
        "neg_values",
        "frac_nonzero",
        "logits_hist_data_bar_heights",
        "logits_hist_data_bar_values",
    } <= set(first)
    assert (first["modelId"], first["layer"], first["index"]) == ("gpt2-small", "1-res-jb", "0")
    expected = run_query(small_db, "feature_card", {"sae": SAE, "feature": 0}).frame.iloc[0]
    assert first["pos_str"] == list(expected["top_tokens"]) and first["neg_str"] == list(expected["bottom_tokens"])
    np.testing.assert_allclose(first["pos_values"], expected["top_values"], rtol=1e-15)
    assert first["frac_nonzero"] == pytest.approx(10 ** expected["log10_density"], rel=1e-12)
    assert len(first["logits_hist_data_bar_heights"]) == len(first["logits_hist_data_bar_values"]) == 50


def test_json_has_no_nan_or_infinity(tmp_path):
    frame = pd.DataFrame({"score": [np.inf, 1.5, np.nan], "values": [[1.0, np.inf], [], None]})
    export_frame(frame, tmp_path / "f.jsonl")
    lines = (tmp_path / "f.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"score": None, "values": [1.0, None]},
        {"score": 1.5, "values": []},
        {"score": None, "values": None},
    ]


def test_an_empty_result_still_writes_a_header(small_db, tmp_path):
    summary = export_query(small_db, "high_skew_features", {"layer": 1, "min_skewness": 1e9}, tmp_path / "none.csv")
    assert summary.rows == 0
    assert (tmp_path / "none.csv").read_text().startswith('"sae_id","layer","feature"')


def test_the_format_comes_from_the_suffix_or_is_asked_for(tmp_path):
    assert export_format(tmp_path / "x.parquet") == "parquet" and export_format(tmp_path / "x.NDJSON") == "jsonl"
    assert export_format(tmp_path / "x.txt", "csv") == "csv"
    with pytest.raises(
        CatalogError, match=r"cannot tell the format of .*x.txt from its suffix; name it .parquet, .csv or .jsonl"
    ):
        export_format(tmp_path / "x.txt")
    with pytest.raises(CatalogError, match=r"unknown export format 'xlsx'; formats: parquet, csv, jsonl"):
        export_format(tmp_path / "x.csv", "xlsx")


def test_neuronpedia_export_refuses_saes_without_an_id_and_writes_nothing(demo_db, small_db, tmp_path):
    path = tmp_path / "np.jsonl"
    with pytest.raises(
        CatalogError,
        match=r"SAE\(s\) demo/blocks.0.hook_resid_pre, demo/blocks.1.hook_resid_post, "
        r"demo/blocks.1.hook_resid_pre have no Neuronpedia id in catalog .*"
        r"none of its SAEs has one \(export a saved query or a --table",
    ):
        export_neuronpedia(demo_db, path)
    with pytest.raises(CatalogError, match=r"--sae-id 'nope' is not in catalog .*`llcat run saes --db "):
        export_neuronpedia(small_db, path, sae="nope")
    assert not path.exists()
