import shutil

import numpy as np
import pytest
import scipy.stats
import torch

from catalog.connect import open_read_only
from catalog.vectors import load_decoder, load_unembed
from ingest.config import IngestConfig
from ingest.runner import IngestRunner
from tests.builders import new_cfg, old_cfg, random_decoder, write_sae_folder
from tests.ingest.catalog_snapshot import snapshot

D_MODEL, D_SAE, TOP_K = 32, 40, 5


@pytest.fixture(scope="module")
def sae_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("saes")
    density = torch.linspace(-10, -1, D_SAE)
    old = write_sae_folder(
        root / "blocks.0.hook_resid_pre",
        random_decoder(D_SAE, D_MODEL, seed=1),
        old_cfg(D_MODEL, D_SAE, "blocks.0.hook_resid_pre", 0),
        density,
    )
    new = write_sae_folder(
        root / "blocks.0.hook_resid_post",
        random_decoder(D_SAE, D_MODEL, seed=2),
        new_cfg(D_MODEL, D_SAE, "blocks.0.hook_resid_post", under_metadata=True),
    )
    return [old, new]


def config(db, tiny_gpt2, sae_dirs, **overrides):
    values = dict(
        db=db, model=str(tiny_gpt2), sae_dirs=list(sae_dirs), device="cpu", chunk_size=16, top_k=TOP_K, enrichment=False
    )
    return IngestConfig(**(values | overrides))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, tiny_gpt2, sae_dirs):
    db = tmp_path_factory.mktemp("catalog") / "c.duckdb"
    summary = IngestRunner(config(db, tiny_gpt2, sae_dirs)).run()
    return db, summary


def test_run_fills_every_table(ingested):
    db, summary = ingested
    assert summary.written == ["local/blocks.0.hook_resid_pre", "local/blocks.0.hook_resid_post"]
    con = open_read_only(db)
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("models", "tokens", "unembed", "saes", "features", "decoder", "feature_tokens", "runs")
    }
    assert counts == {
        "models": 1,
        "tokens": 50257,
        "unembed": 50257,
        "saes": 2,
        "features": 2 * D_SAE,
        "decoder": 2 * D_SAE,
        "feature_tokens": 2 * D_SAE * 2 * TOP_K,
        "runs": 1,
    }
    saes = con.execute(
        "SELECT sae_id, hook_name, layer, model_name, d_in, d_sae, has_sparsity FROM saes ORDER BY sae_id"
    ).fetchall()
    assert saes == [
        ("local/blocks.0.hook_resid_post", "blocks.0.hook_resid_post", 0, "tiny-gpt2", D_MODEL, D_SAE, False),
        ("local/blocks.0.hook_resid_pre", "blocks.0.hook_resid_pre", 0, "tiny-gpt2", D_MODEL, D_SAE, True),
    ]
    status, config_json, library_versions = con.execute(
        "SELECT status, config_json, library_versions FROM runs"
    ).fetchone()
    assert status == "finished" and '"chunk_size": 16' in config_json
    assert '"torch": "2.' in library_versions and '"duckdb": ' in library_versions
    con.close()


def test_stored_vectors_reproduce_stored_statistics(ingested):
    db, _ = ingested
    con = open_read_only(db)
    unembed = load_unembed(con, "tiny-gpt2").astype(np.float64)  # [V, d_model]
    for sae_id in ("local/blocks.0.hook_resid_pre", "local/blocks.0.hook_resid_post"):
        logits = load_decoder(con, sae_id).astype(np.float64) @ unembed.T  # [d_sae, V]
        cos_logits = (
            load_decoder(con, sae_id).astype(np.float64) @ (unembed / np.linalg.norm(unembed, axis=1, keepdims=True)).T
        )
        stored = con.execute("SELECT * FROM features WHERE sae_id = $s ORDER BY feature", {"s": sae_id}).df()
        np.testing.assert_allclose(stored["mean"], logits.mean(axis=1), atol=1e-6)
        np.testing.assert_allclose(stored["std"], logits.std(axis=1), rtol=1e-5)
        np.testing.assert_allclose(
            stored["skewness"], scipy.stats.skew(logits, axis=1, bias=True), rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            stored["kurtosis"], scipy.stats.kurtosis(logits, axis=1, fisher=False, bias=True), rtol=1e-4
        )
        np.testing.assert_allclose(
            stored["cos_skewness"], scipy.stats.skew(cos_logits, axis=1, bias=True), rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            stored["cos_kurtosis"], scipy.stats.kurtosis(cos_logits, axis=1, fisher=False, bias=True), rtol=1e-4
        )
        assert np.abs(stored["mean"]).max() < 1e-5  # the processed unembedding is centred
        top = con.execute(
            "SELECT feature, rank, token_id FROM feature_tokens WHERE sae_id = $s AND direction = 'top'"
            " ORDER BY feature, rank",
            {"s": sae_id},
        ).df()
        np.testing.assert_array_equal(
            top["token_id"].to_numpy().reshape(D_SAE, TOP_K), np.argsort(-logits, axis=1)[:, :TOP_K]
        )
        counts = np.stack(stored["hist_counts"].to_numpy())
        assert counts.shape == (D_SAE, 50) and (counts.sum(axis=1) == 50257).all()
        np.testing.assert_allclose(stored["logit_max"], logits.max(axis=1), rtol=1e-5)
    density = con.execute(
        "SELECT log10_density, is_dead FROM features WHERE sae_id = 'local/blocks.0.hook_resid_pre' ORDER BY feature"
    ).df()
    np.testing.assert_allclose(density["log10_density"], torch.linspace(-10, -1, D_SAE).numpy(), rtol=1e-6)
    assert density["is_dead"].tolist() == (torch.linspace(-10, -1, D_SAE) < -9).tolist()
    assert (
        con.execute("SELECT count(*) FROM features WHERE sae_id LIKE '%post' AND log10_density IS NULL").fetchone()[0]
        == D_SAE
    )
    con.close()


def test_rerun_skips_present_saes_and_force_redoes_them(ingested, tiny_gpt2, sae_dirs, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copy(ingested[0], db)
    before = snapshot(db)
    again = IngestRunner(config(db, tiny_gpt2, sae_dirs)).run()
    assert again.written == [] and len(again.skipped) == 2
    after = snapshot(db)
    assert {t: after[t] for t in after if t != "runs"} == {t: before[t] for t in before if t != "runs"}
    forced = IngestRunner(config(db, tiny_gpt2, sae_dirs, force=True)).run()
    assert len(forced.written) == 2
    redone = snapshot(db)
    for table in ("features", "decoder", "feature_tokens"):
        assert redone[table] == before[table]  # same rows, no duplicates


def test_changed_weights_are_reingested(ingested, tiny_gpt2, sae_dirs, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copy(ingested[0], db)
    changed = write_sae_folder(
        tmp_path / "blocks.0.hook_resid_pre",
        random_decoder(D_SAE, D_MODEL, seed=99),
        old_cfg(D_MODEL, D_SAE, "blocks.0.hook_resid_pre", 0),
    )
    summary = IngestRunner(config(db, tiny_gpt2, [changed])).run()
    assert summary.written == ["local/blocks.0.hook_resid_pre"]
    con = open_read_only(db)
    stored = load_decoder(con, "local/blocks.0.hook_resid_pre")
    np.testing.assert_array_equal(stored, random_decoder(D_SAE, D_MODEL, seed=99).numpy())
    assert con.execute("SELECT count(*) FROM features").fetchone()[0] == 2 * D_SAE
    con.close()
