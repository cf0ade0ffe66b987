"""`llcat-ingest rescore --db ... --token-sets FILE`: enrichment rescored from the stored vectors alone."""

import shutil

import numpy as np
import scipy.stats

from catalog.connect import open_read_only
from catalog.schema import SCHEMA_VERSION
from catalog.vectors import load_decoder, load_unembed
from ingest.cli import main
from tests.ingest.catalog_snapshot import snapshot

SAE = "demo/blocks.0.hook_resid_pre"


def test_a_new_user_set_is_scored_for_every_feature_and_matches_ks_2samp(demo_db, tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    shutil.copy(demo_db, db)
    sets_file = tmp_path / "sets.toml"
    sets_file.write_text('[sets.ends_with_ing]\nregex = "ing$"\n')
    before = snapshot(db)
    assert (
        main(["rescore", "--db", str(db), "--token-sets", str(sets_file), "--device", "cpu", "--null-directions", "64"])
        == 0
    )
    assert "enrichment recomputed for 3 SAEs" in capsys.readouterr().out
    after = snapshot(db)
    for untouched in ("features", "decoder", "feature_tokens", "saes", "unembed"):
        assert after[untouched] == before[untouched], untouched
    con = open_read_only(db)
    try:
        set_id, size = con.execute("SELECT set_id, size FROM token_sets WHERE name = 'ends_with_ing'").fetchall()[0]
        members = con.execute("SELECT token_id FROM token_set_members WHERE set_id = $s", {"s": set_id}).fetchnumpy()[
            "token_id"
        ]
        n_sets = con.execute("SELECT count(*) FROM token_sets").fetchall()[0][0]
        assert con.execute("SELECT count(*) FROM enrichment").fetchall()[0][0] == 3 * 256 * n_sets
        stored = con.execute(
            "SELECT feature, d FROM enrichment WHERE sae_id = $sae AND set_id = $s ORDER BY feature",
            {"sae": SAE, "s": set_id},
        ).df()
        logits = load_decoder(con, SAE).astype(np.float64) @ load_unembed(con, "demo-gpt2-d64").astype(np.float64).T
    finally:
        con.close()
    assert size == len(members) > 100
    is_member = np.zeros(logits.shape[1], dtype=bool)
    is_member[members] = True
    for feature in (0, 100, 255):
        expected = scipy.stats.ks_2samp(logits[feature, is_member], logits[feature, ~is_member]).statistic
        assert abs(stored["d"][feature] - expected) < 1e-6, feature


V3_COLUMNS = {
    "enrichment": ["p_calibrated"],
    "enrichment_null": [
        "fit_method",
        "tail_resolution",
        "tail_threshold",
        "tail_mass",
        "tail_rate",
        "tail_curvature",
        "tail_exceedances",
        "holdout_seed",
        "holdout_p",
    ],
}


def _as_schema_v2(db) -> None:
    """Turn a current catalog into one exactly as schema version 2 left it (no v3 columns, no v3 step)."""
    import duckdb

    con = duckdb.connect(str(db))
    con.execute("DROP VIEW enrichment_scores")  # v2's read no v3 column; the migration re-creates them
    con.execute("DROP VIEW null_holdout_p")
    for table, columns in V3_COLUMNS.items():
        for column in columns:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("DELETE FROM schema_migrations")  # a new v2 catalog recorded one step: schema.sql version 2
    con.execute("INSERT INTO schema_migrations (version, description) VALUES (2, 'schema.sql version 2')")
    con.execute("CREATE OR REPLACE VIEW catalog_views_version AS SELECT 2 AS views_version")
    con.close()


def test_a_v2_catalog_is_migrated_then_rescored_from_stored_vectors(demo_db, tmp_path, capsys):
    db = tmp_path / "v2.duckdb"
    shutil.copy(demo_db, db)
    _as_schema_v2(db)
    assert main(["migrate", "--db", str(db)]) == 0
    assert f"schema version {SCHEMA_VERSION}" in capsys.readouterr().out
    con = open_read_only(db)
    try:  # migrated: every row kept, the new columns NULL until rescored, the saved queries still run
        assert con.execute("SELECT count(*), count(p_calibrated) FROM enrichment").fetchall()[0][1] == 0
        assert con.execute("SELECT count(tail_rate), count(holdout_p) FROM enrichment_null").fetchall() == [(0, 0)]
    finally:
        con.close()
    from catalog.api import Catalog

    assert len(Catalog(db).feature_enrichment(SAE, 3, limit=5).frame) == 5
    assert main(["calibration", "--db", str(db)]) == 2
    assert "llcat-ingest rescore --db" in capsys.readouterr().err
    # rescored from the stored decoders and unembedding, against the stored null: no weights anywhere
    assert main(["rescore", "--db", str(db), "--device", "cpu", "--null-holdout", "0"]) == 0
    original, rescored = open_read_only(demo_db), open_read_only(db)
    try:
        query = "SELECT sae_id, feature, set_id, d, p_null, p_calibrated, q_value FROM enrichment ORDER BY ALL"
        a, b = original.execute(query).df(), rescored.execute(query).df()
        fits = "SELECT set_id, tail_threshold, tail_rate, tail_curvature FROM enrichment_null ORDER BY set_id"
        assert original.execute(fits).fetchall() == rescored.execute(fits).fetchall()
    finally:
        original.close()
        rescored.close()
    assert b["p_calibrated"].notna().all()
    np.testing.assert_array_equal(a["d"], b["d"])
    np.testing.assert_allclose(b["p_calibrated"], a["p_calibrated"], rtol=1e-12)
    np.testing.assert_allclose(b["q_value"], a["q_value"], rtol=1e-12)


def test_calibration_command_prints_the_table_per_family(demo_db, capsys):
    assert main(["calibration", "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    assert "held-out random directions stored with the null" in out
    lines = {line.split()[1]: line.split() for line in out.splitlines()[2:]}
    assert {"letters", "regex", "word_list", "nltk_pos"} <= set(lines)
    assert all(0.5 <= float(cells[5]) <= 1.5 for cells in lines.values())  # obs/nom below 0.01
    # fresh directions through the stored unembedding agree with the stored hold-out's story
    assert main(["calibration", "--db", str(demo_db), "--directions", "256", "--device", "cpu"]) == 0
    assert "256 fresh random directions" in capsys.readouterr().out
    assert main(["calibration", "--db", str(demo_db), "--directions", "-1"]) == 2
    assert "--directions -1 must be 0" in capsys.readouterr().err
