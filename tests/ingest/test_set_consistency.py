"""Rewriting enrichment never leaves a stored set without scores: sets the library cannot build now
stop the command before any write, or are dropped everywhere with --drop-missing-sets. And
`sets --model` reads a model the catalog holds from the catalog."""

from __future__ import annotations

import shutil
import sys

import duckdb
import nltk
import pytest

import ingest.sources.model
from ingest.cli import main
from tests.builders import old_cfg, random_decoder, write_sae_folder
from tests.ingest.catalog_snapshot import snapshot

NLTK_FAMILIES = ("nltk_pos", "universal_pos", "names")


@pytest.fixture
def catalog(demo_db, tmp_path):
    db = tmp_path / "c.duckdb"
    shutil.copy(demo_db, db)
    return db


@pytest.fixture
def no_nltk_data(tmp_path, monkeypatch):
    """NLTK finds no data and cannot download any, as on a machine where setup had no network."""
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "no-nltk-data")])
    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)


def query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def rescore(db, *extra):
    return main(["rescore", "--db", str(db), "--device", "cpu", "--null-directions", "16", *extra])


def test_rescoring_without_nltk_data_stops_before_writing(catalog, no_nltk_data, capsys):
    before = snapshot(catalog)
    nltk_sets = [
        name
        for (name,) in query(catalog, f"SELECT name FROM token_sets WHERE family IN {NLTK_FAMILIES} ORDER BY set_id")
    ]
    assert len(nltk_sets) == 56
    assert rescore(catalog) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(
        f"error: catalog {catalog} holds 56 token sets of model 'demo-gpt2-d64' that the current "
        "token set library cannot build"
    )
    assert "names (2: 'boys_names', 'girls_names'): NLTK data ['names'] not found" in error
    assert f"install the NLTK data with `{sys.executable} -m ingest.token_sets.nltk_data`" in error
    assert "--drop-missing-sets to delete these sets and their enrichment on purpose" in error
    assert snapshot(catalog) == before


def test_drop_missing_sets_removes_them_everywhere(catalog, no_nltk_data, capsys):
    kept = [name for (name,) in query(catalog, f"SELECT name FROM token_sets WHERE family NOT IN {NLTK_FAMILIES}")]
    assert rescore(catalog, "--drop-missing-sets") == 0
    assert "dropped 56 token sets of 'demo-gpt2-d64'" in capsys.readouterr().err
    assert sorted(name for (name,) in query(catalog, "SELECT name FROM token_sets")) == sorted(kept)
    n_features = query(catalog, "SELECT count(*) FROM features")[0][0]
    assert query(catalog, "SELECT count(*) FROM enrichment")[0][0] == n_features * len(kept)
    for table in ("enrichment", "enrichment_null", "token_set_members"):
        orphans = query(catalog, f"SELECT count(*) FROM {table} WHERE set_id NOT IN (SELECT set_id FROM token_sets)")
        assert orphans == [(0,)], table


def test_ingesting_more_saes_checks_the_stored_sets_too(tiny_gpt2, tmp_path, capsys):
    sets_file = tmp_path / "sets.toml"
    sets_file.write_text('[sets.ends_with_ing]\nregex = "ing$"\n')
    first = write_sae_folder(tmp_path / "blocks.0.hook_resid_pre", random_decoder(8, 32), old_cfg(32, 8))
    second = write_sae_folder(
        tmp_path / "blocks.1.hook_resid_pre",
        random_decoder(8, 32, seed=1),
        old_cfg(32, 8, "blocks.1.hook_resid_pre", 1),
    )
    db = tmp_path / "c.duckdb"
    base = ["run", "--model", str(tiny_gpt2), "--db", str(db), "--device", "cpu", "--null-directions", "8"]
    assert main([*base, "--sae-dir", str(first), "--token-sets", str(sets_file)]) == 0
    before = snapshot(db)
    capsys.readouterr()
    assert main([*base, "--sae-dir", str(second)]) == 2  # the user file is not given again
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "user (1: 'ends_with_ing'): not defined by the --token-sets file given now" in error
    assert "pass the --token-sets file that defined them" in error
    assert snapshot(db) == before
    assert main([*base, "--sae-dir", str(second), "--token-sets", str(sets_file)]) == 0
    n_sets = query(db, "SELECT count(*) FROM token_sets")[0][0]
    assert query(db, "SELECT count(*) FROM enrichment")[0][0] == 16 * n_sets


def test_sets_model_reads_a_catalog_model_without_loading_it(demo_db, monkeypatch, capsys):
    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded although the catalog holds it")

    monkeypatch.setattr(ingest.sources.model, "load_model", no_loading)
    assert main(["sets", "--model", "demo-gpt2-d64", "--db", str(demo_db), "--samples", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    stored = query(demo_db, "SELECT count(*), max(d_vocab) FROM token_sets, models")[0]
    assert out[0] == f"{stored[0]} token sets of 'demo-gpt2-d64' ({stored[1]} tokens)"
    assert out[-1] == f"catalog {demo_db} ('demo-gpt2-d64') holds the same {stored[0]} token sets"
    assert not [line for line in out if line.startswith("warning")]


def test_sets_model_with_a_missing_explicit_catalog_is_an_error(tmp_path, capsys):
    assert main(["sets", "--model", "demo-gpt2-d64", "--db", str(tmp_path / "absent.duckdb")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: catalog {tmp_path / 'absent.duckdb'} (--db) does not exist; pass an existing catalog, or leave --db "
        "out "
        "to load model 'demo-gpt2-d64' itself"
    )
    assert not (tmp_path / "absent.duckdb").exists()
