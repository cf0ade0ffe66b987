"""The default catalog, a hub that cannot be reached, and failed runs that must leave no catalog file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingest.cli import build_parser, main
from ingest.config import IngestConfig
from ingest.runner import IngestRunner
from tests.builders import old_cfg, random_decoder, write_sae_folder

REPO = Path(__file__).resolve().parents[2]


def catalog_files(db: Path) -> list[Path]:
    return sorted(db.parent.glob(db.name + "*"))  # the file, its .wal, a writer's marker


def test_every_db_option_names_the_default_in_its_help():
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("run", "demo", "sets", "rescore", "migrate"):
        db = next(action for action in commands[name]._actions if "--db" in action.option_strings)
        assert "(default: $LLCAT_DB or catalog.duckdb)" in db.help, name
        assert db.default is None, name  # resolved when the command runs, not when the module is imported


@pytest.mark.parametrize("env, expected", [(None, "catalog.duckdb"), ("from-env.duckdb", "from-env.duckdb")])
def test_the_default_catalog_is_read_when_the_command_runs(env, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if env is None:
        monkeypatch.delenv("LLCAT_DB", raising=False)
    else:
        monkeypatch.setenv("LLCAT_DB", env)  # set after ingest.cli was imported
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: catalog {expected} does not exist, so there is nothing to migrate; pass --db with an existing catalog"
    )
    assert main(["rescore"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: catalog {expected} does not exist")
    assert f"`llcat-ingest demo --db {expected}`" in err  # the suggested command builds the file named
    assert list(tmp_path.iterdir()) == []


def test_release_ingest_without_a_reachable_hub_fails_fast_and_leaves_no_file(tmp_path):
    db = tmp_path / "catalog.duckdb"
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    env |= {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}  # refused at once; empty cache
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "run", "--release", "gpt2-small-res-jb", "--db", str(db)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - started
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    expected_start = "error: the Hugging Face hub (http://127.0.0.1:9) cannot be reached"
    assert len(lines) == 1 and lines[0].startswith(expected_start), lines
    for advice in (
        "release 'gpt2-small-res-jb' and model 'gpt2' must be downloaded",
        "HF_HUB_OFFLINE=1",
        "--sae-dir DIR --model PATH",
        'make ingest SAE_DIRS="DIR ..." MODEL=PATH',
    ):
        assert advice in lines[0], advice
    assert seconds < 20, seconds  # python and torch start-up included; the hub's own retries took 30 s
    assert catalog_files(db) == []


@pytest.fixture
def bad_shape_folder(tmp_path):
    return write_sae_folder(tmp_path / "bad", random_decoder(12, 32), old_cfg(32, 24))  # cfg says 24 features


def test_a_failed_sae_dir_run_on_a_new_path_leaves_no_file(tiny_gpt2, bad_shape_folder, tmp_path, capsys):
    db = tmp_path / "new.duckdb"
    status = main(
        [
            "run",
            "--model",
            str(tiny_gpt2),
            "--sae-dir",
            str(bad_shape_folder),
            "--db",
            str(db),
            "--device",
            "cpu",
            "--no-enrichment",
        ]
    )
    assert status == 2 and "error: " in capsys.readouterr().err
    assert catalog_files(db) == []


def test_a_run_that_fails_after_writing_the_model_removes_the_file_it_created(tiny_gpt2, tmp_path, monkeypatch):
    good = write_sae_folder(tmp_path / "good", random_decoder(12, 32), old_cfg(32, 12))
    db = tmp_path / "new.duckdb"
    written = []

    def crash(self, record, rows, pipeline, summary):
        written.append(db.exists())  # the model and the run are in the file by now
        raise RuntimeError("analysis crashed")

    monkeypatch.setattr(IngestRunner, "_write_result", crash)
    with pytest.raises(RuntimeError, match="analysis crashed"):
        IngestRunner(IngestConfig(db=db, model=str(tiny_gpt2), sae_dirs=[good], device="cpu", enrichment=False)).run()
    assert written == [True]
    assert catalog_files(db) == []


def test_a_failed_run_on_an_existing_catalog_keeps_it(tiny_gpt2, bad_shape_folder, tmp_path, capsys):
    good = write_sae_folder(tmp_path / "good", random_decoder(12, 32), old_cfg(32, 12))
    db = tmp_path / "c.duckdb"
    base = ["--model", str(tiny_gpt2), "--db", str(db), "--device", "cpu", "--no-enrichment"]
    assert main(["run", "--sae-dir", str(good), *base]) == 0
    assert main(["run", "--sae-dir", str(bad_shape_folder), *base]) == 2
    assert db.exists()


def test_a_failed_run_spares_a_new_file_that_another_run_wrote_to(tiny_gpt2, tmp_path, monkeypatch):
    first = write_sae_folder(tmp_path / "first", random_decoder(12, 32), old_cfg(32, 12))
    other = write_sae_folder(tmp_path / "other", random_decoder(12, 32, seed=3), old_cfg(32, 12))
    db = tmp_path / "new.duckdb"
    config = IngestConfig(db=db, model=str(tiny_gpt2), sae_dirs=[first], device="cpu", enrichment=False)
    other_config = IngestConfig(db=db, model=str(tiny_gpt2), sae_dirs=[other], device="cpu", enrichment=False)
    real_write_result = IngestRunner._write_result

    def another_run_then_crash(self, record, rows, pipeline, summary):
        monkeypatch.setattr(IngestRunner, "_write_result", real_write_result)
        IngestRunner(other_config).run()  # e.g. a second ingest started on the same new path
        raise RuntimeError("analysis crashed")

    monkeypatch.setattr(IngestRunner, "_write_result", another_run_then_crash)
    with pytest.raises(RuntimeError, match="analysis crashed"):
        IngestRunner(config).run()
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT sae_id FROM saes").fetchall() == [("local/other",)]
    finally:
        con.close()
