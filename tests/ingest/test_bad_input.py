"""Every bad input ends in one clear `error:` line (exit 2) and leaves the catalog as it was."""

import shutil

import duckdb
import pytest

from catalog.schema import SCHEMA_VERSION
from ingest.cli import main
from ingest.config import IngestConfig
from ingest.runner import IngestRunner
from tests.builders import old_cfg, random_decoder, write_sae_folder
from tests.ingest.catalog_snapshot import snapshot

D_MODEL, D_SAE = 32, 12


@pytest.fixture(scope="module")
def base_catalog(tmp_path_factory, tiny_gpt2):
    root = tmp_path_factory.mktemp("bad-input")
    good = write_sae_folder(root / "good", random_decoder(D_SAE, D_MODEL), old_cfg(D_MODEL, D_SAE))
    db = root / "base.duckdb"
    IngestRunner(IngestConfig(db=db, model=str(tiny_gpt2), sae_dirs=[good], device="cpu", enrichment=False)).run()
    return db, good


@pytest.fixture
def catalog(base_catalog, tmp_path):
    db = tmp_path / "c.duckdb"
    shutil.copy(base_catalog[0], db)
    return db


def run_cli(capsys, *args):
    status = main(["run", "--device", "cpu", "--no-enrichment", *map(str, args)])
    err = capsys.readouterr().err
    return status, err.strip().splitlines()[-1] if err.strip() else ""


def assert_refused(capsys, db, args, message):
    before = snapshot(db)
    status, err = run_cli(capsys, "--db", db, *args)
    assert status == 2, err
    assert err.startswith("error: ") and message in err, err
    assert snapshot(db) == before


def bad_folder(tmp_path, name="bad", decoder=None, cfg=None, **kwargs):
    decoder = random_decoder(D_SAE, D_MODEL) if decoder is None else decoder
    return write_sae_folder(
        tmp_path / name, decoder, cfg if cfg is not None else old_cfg(D_MODEL, decoder.shape[0]), **kwargs
    )


def test_missing_sae_folder(capsys, catalog, tiny_gpt2, tmp_path):
    assert_refused(
        capsys,
        catalog,
        ["--model", tiny_gpt2, "--sae-dir", tmp_path / "absent"],
        "does not exist or is not a folder; pass a folder in the SAELens layout",
    )


def test_cfg_without_d_in(capsys, catalog, tiny_gpt2, tmp_path):
    cfg = old_cfg(D_MODEL, D_SAE)
    del cfg["d_in"]
    assert_refused(
        capsys,
        catalog,
        ["--model", tiny_gpt2, "--sae-dir", bad_folder(tmp_path, cfg=cfg)],
        "no 'd_in'; an SAELens cfg.json must give d_in and d_sae",
    )


def test_shapes_disagree_with_cfg(capsys, catalog, tiny_gpt2, tmp_path):
    folder = bad_folder(tmp_path, cfg=old_cfg(D_MODEL, D_SAE * 2))
    assert_refused(
        capsys, catalog, ["--model", tiny_gpt2, "--sae-dir", folder], "the weights and cfg.json do not belong together"
    )


def test_d_in_disagrees_with_model(capsys, catalog, tiny_gpt2, tmp_path):
    folder = bad_folder(tmp_path, decoder=random_decoder(D_SAE, 48), cfg=old_cfg(48, D_SAE))
    assert_refused(
        capsys,
        catalog,
        ["--model", tiny_gpt2, "--sae-dir", folder],
        "has d_in 48 but model 'tiny-gpt2' has d_model 32; the SAE was trained on another model",
    )


def test_nan_in_decoder_after_a_good_folder(capsys, catalog, base_catalog, tiny_gpt2, tmp_path):
    decoder = random_decoder(D_SAE, D_MODEL)
    decoder[0, 0] = float("nan")
    new_good = bad_folder(tmp_path, "new-good", decoder=random_decoder(D_SAE, D_MODEL, seed=5))
    assert_refused(
        capsys,
        catalog,
        ["--model", tiny_gpt2, "--sae-dir", new_good, "--sae-dir", bad_folder(tmp_path, decoder=decoder)],
        "W_dec has 1 NaN or Inf values",
    )


def test_unknown_release(capsys, catalog):
    assert_refused(capsys, catalog, ["--release", "gpt2-small-res"], "unknown release 'gpt2-small-res'")


def test_unknown_sae_id(capsys, catalog):
    assert_refused(
        capsys,
        catalog,
        ["--release", "gpt2-small-res-jb", "--sae-id", "blocks.99.hook_resid_pre"],
        "valid --sae-id values: blocks.0.hook_resid_pre, blocks.1.hook_resid_pre",
    )


def test_catalog_file_that_is_not_duckdb(capsys, tiny_gpt2, base_catalog, tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database")
    status, err = run_cli(capsys, "--db", path, "--model", tiny_gpt2, "--sae-dir", base_catalog[1])
    assert status == 2 and "is not a DuckDB database" in err
    assert path.read_text() == "not a database"


def test_catalog_from_a_newer_schema(capsys, catalog, tiny_gpt2, base_catalog):
    con = duckdb.connect(str(catalog))
    con.execute("INSERT INTO schema_migrations (version, description) VALUES ($v, 'newer')", {"v": SCHEMA_VERSION + 1})
    con.close()
    assert_refused(
        capsys,
        catalog,
        ["--model", tiny_gpt2, "--sae-dir", base_catalog[1]],
        f"written by schema version {SCHEMA_VERSION + 1}, but this code knows only versions up to {SCHEMA_VERSION}",
    )


def test_release_and_folders_together(capsys, catalog, base_catalog):
    assert_refused(
        capsys,
        catalog,
        ["--release", "gpt2-small-res-jb", "--sae-dir", base_catalog[1]],
        "give either --release NAME (with optional --sae-id) or one or more --sae-dir DIR",
    )


def test_folder_without_model(capsys, catalog, base_catalog):
    assert_refused(capsys, catalog, ["--sae-dir", base_catalog[1]], "--sae-dir needs --model NAME_OR_PATH")
