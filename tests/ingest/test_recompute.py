"""`llcat-ingest rescore --db ... --token-sets FILE`: enrichment rescored from the stored vectors alone."""

import shutil

import numpy as np
import scipy.stats

from catalog.connect import open_read_only
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
