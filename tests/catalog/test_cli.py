"""`python -m catalog`: every subcommand, its output formats, and its error messages."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from catalog.cli import main, parse_params
from catalog.errors import CatalogError
from catalog.queries import run_query, saved_queries
from tests.synthetic_catalog import BenchShape, build_bench_catalog

SMALL = BenchShape(n_layers=2, d_sae=200, d_model=8, d_vocab=7000, n_sets=60)
REPO = Path(__file__).resolve().parents[2]
MINE = {
    "high_skew_features",
    "top_features_for_set",
    "enriched_a_not_b",
    "features_promoting_token",
    "decoder_neighbours",
    "feature_logits",
    "dead_and_dense_features",
    "density_summary",
    "layer_percentiles",
    "saes",
    "token_sets",
    "feature_card",
    "feature_enrichment",
    "neuronpedia_features",
}


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return build_bench_catalog(tmp_path_factory.mktemp("cli") / "small.duckdb", SMALL, log=io.StringIO())


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_python_dash_m_catalog_lists_the_saved_queries():
    done = subprocess.run(
        [sys.executable, "-m", "catalog", "queries"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    queries = saved_queries()
    for name in MINE:
        assert f"{name}\n    {queries[name].description}" in done.stdout
    assert all(f"{name}\n    " in done.stdout for name in queries)
    assert "--param layer LAYER (required)" in done.stdout and "--param min_skewness DOUBLE = 3.0" in done.stdout


def test_queries_as_json(capsys):
    code, out, _ = _run(capsys, "queries", "--format", "json")
    listing = {entry["name"]: entry for entry in json.loads(out)}
    assert code == 0 and set(listing) == set(saved_queries())
    assert {
        "name": "layer",
        "type": "LAYER",
        "required": True,
        "default": None,
        "description": "layer of the SAE (0-based; GPT-2 small res-jb's blocks.11.hook_resid_post is layer 12)",
    } in listing["high_skew_features"]["params"]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_run_prints_the_same_rows_as_the_api(capsys, small_db, fmt):
    code, out, err = _run(
        capsys,
        "run",
        "high_skew_features",
        "--db",
        str(small_db),
        "--param",
        "layer=1",
        "-p",
        "min_skewness=0.1",
        "--limit",
        "4",
        "--format",
        fmt,
    )
    expected = run_query(small_db, "high_skew_features", {"layer": 1, "min_skewness": 0.1}, limit=4).frame
    assert code == 0 and "high_skew_features: showing the first 4 rows; more rows matched" in err
    if fmt == "csv":
        assert list(pd.read_csv(io.StringIO(out))["feature"]) == list(expected["feature"])
    elif fmt == "json":
        assert [row["feature"] for row in json.loads(out)] == list(expected["feature"])
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
        assert [row["top_tokens"] for row in rows] == [list(v) for v in expected["top_tokens"]]
    else:
        assert out.splitlines()[0].split()[:3] == ["sae_id", "layer", "feature"] and len(out.splitlines()) == 5


def test_every_saved_query_runs_from_the_cli(capsys, small_db):
    """Each query with example values for its required parameters (others' queries: by parameter type)."""
    sae = "bench-res-jb/blocks.1.hook_resid_pre"
    by_kind = {
        "SAE": sae,
        "FEATURE": "3",
        "LAYER": "1",
        "TOKEN": " Paris",
        "TOKEN_SET": "boys_names",
        "MODEL": "bench-gpt2-small",
    }
    examples = {"enriched_a_not_b": {"set_b": "girls_names"}, "high_skew_features": {"min_skewness": "0"}}
    for name, query in saved_queries().items():
        argv = ["run", name, "--db", str(small_db), "--format", "jsonl", "--limit", "3"]
        for param in query.params:
            value = examples.get(name, {}).get(param.name, by_kind.get(param.kind) if param.required else None)
            if value is not None:
                argv += ["--param", f"{param.name}={value}"]
        code, out, err = _run(capsys, *argv)
        assert code == 0, err
        assert len(out.splitlines()) <= 3, name
        if name in MINE:
            assert len(out.splitlines()) >= 1, name


def test_sql_console(capsys, small_db):
    code, out, _ = _run(
        capsys,
        "sql",
        "--db",
        str(small_db),
        "SELECT layer, count(*) AS n FROM feature_stats GROUP BY layer ORDER BY 1",
        "--format",
        "csv",
    )
    assert code == 0 and out == "layer,n\n0,200\n1,200\n"
    code, _, err = _run(capsys, "sql", "--db", str(small_db), "DELETE FROM saes")
    assert code == 2 and err.startswith("error: sql: only SELECT queries run in the console")
    code, _, err = _run(capsys, "sql", "--db", str(small_db), "SELECT * FROM range(100)", "--limit", "10")
    assert code == 0 and "sql: showing the first 10 rows" in err


def test_quicklist_from_a_query_and_from_sql(capsys, small_db):
    code, out, _ = _run(
        capsys,
        "quicklist",
        "high_skew_features",
        "--db",
        str(small_db),
        "-p",
        "layer=0",
        "-p",
        "min_skewness=0",
        "--limit",
        "2",
        "--list-name",
        "skewed",
    )
    assert code == 0 and out.startswith("https://neuronpedia.org/quick-list/?name=skewed&features=%5B%7B%22modelId")
    assert out.count("0-res-jb") == 2
    code, out, err = _run(
        capsys,
        "quicklist",
        "--db",
        str(small_db),
        "--sql",
        "SELECT sae_id, feature FROM features ORDER BY sae_id, feature",
    )
    assert code == 0 and len(out.splitlines()) == 3 and "400 features: split into 3 quick lists of at most 150" in err
    code, _, err = _run(capsys, "quicklist", "--db", str(small_db))
    assert code == 2 and "quicklist needs a saved query name or --sql" in err


def test_export_subcommands(capsys, small_db, tmp_path):
    code, _, err = _run(
        capsys,
        "export",
        "--db",
        str(small_db),
        "top_features_for_set",
        "-p",
        "token_set=boys_names",
        "--to",
        str(tmp_path / "boys.parquet"),
    )
    assert code == 0 and "wrote 100 rows" in err and "stopped at the limit of 100 rows" in err
    assert pq.read_table(tmp_path / "boys.parquet").num_rows == 100
    code, _, err = _run(capsys, "export", "--db", str(small_db), "--table", "saes", "--to", str(tmp_path / "saes.csv"))
    assert code == 0 and len(pd.read_csv(tmp_path / "saes.csv")) == 2
    code, _, _ = _run(
        capsys,
        "export",
        "--db",
        str(small_db),
        "--neuronpedia",
        "--sae-id",
        "bench-res-jb/blocks.0.hook_resid_pre",
        "--to",
        str(tmp_path / "np.jsonl"),
    )
    records = [json.loads(line) for line in (tmp_path / "np.jsonl").read_text().splitlines()]
    assert code == 0 and len(records) == 200 and records[5]["index"] == "5" and records[5]["layer"] == "0-res-jb"
    code, _, err = _run(capsys, "export", "--db", str(small_db), "--to", str(tmp_path / "x.csv"))
    assert code == 2 and "export needs exactly one of: a saved query NAME, --table NAME or --neuronpedia" in err


def test_bad_input_exits_2_with_the_message(capsys, small_db, tmp_path):
    cases = [
        (["run", "nope", "--db", str(small_db)], "error: no saved query named 'nope'; saved queries: "),
        (["run", "high_skew_features", "--db", str(small_db)], "missing required parameter layer"),
        (
            ["run", "high_skew_features", "--db", str(small_db), "-p", "layer=1", "-p", "colour=red"],
            "has no parameter 'colour'; its parameters: layer LAYER (required)",
        ),
        (
            ["run", "high_skew_features", "--db", str(small_db), "-p", "layer"],
            "--param expects NAME=VALUE, got 'layer'",
        ),
        (
            ["run", "high_skew_features", "--db", str(small_db), "-p", "layer=one"],
            "expects a layer number such as 8 (LAYER), got 'one'",
        ),
        (
            ["run", "saes", "--db", str(tmp_path / "missing.duckdb")],
            "missing.duckdb does not exist; build the demo catalog there with `llcat-ingest demo --db",
        ),
        (
            [
                "run",
                "feature_card",
                "--db",
                str(small_db),
                "-p",
                "sae=bench-res-jb/blocks.7.hook_resid_pre",
                "-p",
                "feature=1",
            ],
            "SAE 'bench-res-jb/blocks.7.hook_resid_pre' is not in catalog",
        ),
    ]
    for argv, message in cases:
        code, out, err = _run(capsys, *argv)
        assert code == 2 and out == "" and message in err, (argv, err)


def test_parse_params_keeps_spaces_and_equals_signs():
    assert parse_params(["token= Paris", "expr=a=b"]) == {"token": " Paris", "expr": "a=b"}
    with pytest.raises(CatalogError, match="parameter layer given twice"):
        parse_params(["layer=1", "layer=2"])
