"""The embedded demo catalog, built once per session through the real ingest path (fixture `demo_db`)."""

import numpy as np
import pytest
import scipy.stats

from catalog.connect import open_read_only
from catalog.vectors import load_decoder, load_unembed
from ingest.sources.demo import D_SAE, DEMO_MODEL_NAME, PLANTED_SETS, build_demo_folders


@pytest.fixture(scope="module")
def con(demo_db):
    connection = open_read_only(demo_db)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def planted(demo_db):
    return build_demo_folders(demo_db.parent / "cache").planted  # reuses the finished build


def test_every_feature_of_every_sae_has_every_set(con):
    n_saes, n_features = con.execute("SELECT count(DISTINCT sae_id), count(*) FROM features").fetchone()
    n_sets = con.execute("SELECT count(*) FROM token_sets").fetchone()[0]
    assert (n_saes, n_features) == (3, 3 * D_SAE)
    assert n_sets > 100
    pairs = con.execute("SELECT count(*), count(DISTINCT (sae_id, feature, set_id)) FROM enrichment").fetchone()
    assert pairs == (3 * D_SAE * n_sets, 3 * D_SAE * n_sets)


def test_moments_match_scipy_on_the_demo(con):
    unembed = load_unembed(con, DEMO_MODEL_NAME).astype(np.float64)
    for sae_id in ("demo/blocks.0.hook_resid_pre", "demo/blocks.1.hook_resid_post"):
        logits = load_decoder(con, sae_id).astype(np.float64) @ unembed.T
        stored = con.execute(
            "SELECT skewness, kurtosis, std FROM features WHERE sae_id = $s ORDER BY feature", {"s": sae_id}
        ).df()
        np.testing.assert_allclose(stored["skewness"], scipy.stats.skew(logits, axis=1), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(stored["kurtosis"], scipy.stats.kurtosis(logits, axis=1, fisher=False), rtol=1e-4)
        np.testing.assert_allclose(stored["std"], logits.std(axis=1), rtol=1e-5)


@pytest.mark.parametrize("set_name", PLANTED_SETS)
def test_each_planted_feature_is_the_top_feature_for_its_set(con, planted, set_name):
    for sae_name, features in planted.items():
        ranked = con.execute(
            "SELECT e.feature, e.d, e.direction, e.p_null, e.q_value, e.p_calibrated FROM enrichment e"
            " JOIN token_sets s USING (set_id)"
            " WHERE e.sae_id = $sae AND s.name = $name ORDER BY e.d DESC LIMIT 2",
            {"sae": f"demo/{sae_name}", "name": set_name},
        ).fetchall()
        (best, best_d, direction, p_null, q_value, p_calibrated), (_, runner_up_d, *_) = ranked
        assert best == features[set_name], (sae_name, set_name, ranked)
        assert direction == 1 and best_d > runner_up_d
        # No random direction beats a planted feature: p_null sits at its floor 1/(1 + 4096); the tail
        # fit resolves far below it, and BH over p_calibrated makes every planted pair significant.
        assert p_null == pytest.approx(1 / 4097)
        assert p_calibrated < 1e-8 and q_value < 1e-3, (sae_name, set_name, p_calibrated, q_value)


def test_planted_features_promote_their_groups(con, planted):
    for sae_name, features in planted.items():
        for set_name, feature in features.items():
            top = [
                row[0]
                for row in con.execute(
                    "SELECT ft.token_id FROM feature_tokens ft WHERE ft.sae_id = $sae AND ft.feature = $f"
                    " AND ft.direction = 'top' ORDER BY ft.rank",
                    {"sae": f"demo/{sae_name}", "f": feature},
                ).fetchall()
            ]
            members = {
                row[0]
                for row in con.execute(
                    "SELECT token_id FROM token_set_members JOIN token_sets USING (set_id) WHERE name = $name",
                    {"name": set_name},
                ).fetchall()
            }
            expected = min(len(top), len(members))
            assert set(top[:expected]) <= members, (sae_name, set_name)


def test_density_and_schemas(con):
    rows = con.execute("SELECT sae_id, has_sparsity, hook_name, layer FROM saes ORDER BY sae_id").fetchall()
    assert rows == [
        ("demo/blocks.0.hook_resid_pre", True, "blocks.0.hook_resid_pre", 0),
        ("demo/blocks.1.hook_resid_post", False, "blocks.1.hook_resid_post", 1),
        ("demo/blocks.1.hook_resid_pre", True, "blocks.1.hook_resid_pre", 1),
    ]
    dead = con.execute("SELECT sae_id, count(*) FILTER (is_dead) FROM features GROUP BY 1 ORDER BY 1").fetchall()
    assert dead == [
        ("demo/blocks.0.hook_resid_pre", 8),
        ("demo/blocks.1.hook_resid_post", 0),
        ("demo/blocks.1.hook_resid_pre", 8),
    ]


def test_planted_sets_lead_their_features_ranking(demo_db, planted):
    """The saved query behind the Feature page's ranking puts each planted feature's own set first."""
    from catalog.api import Catalog

    cat = Catalog(demo_db)
    for sae_name, features in planted.items():
        for set_name, feature in features.items():
            ranked = cat.feature_enrichment(f"demo/{sae_name}", feature, limit=3).frame
            assert ranked["set_name"].iloc[0] == set_name, (sae_name, set_name, ranked)
            assert (ranked["set_size"] >= 5).all()


def test_p_values_are_bounded_and_q_is_bh_over_p_calibrated(con):
    n_null = con.execute("SELECT min(n_directions), max(n_directions) FROM enrichment_null").fetchone()
    assert n_null == (4096, 4096)
    low, bad = con.execute(
        "SELECT min(p_null), count(*) FILTER (q_value < p_calibrated - 1e-12 OR p_value < 0 OR p_value > 1"
        " OR p_calibrated <= 0 OR p_calibrated > 1 OR p_calibrated IS NULL) FROM enrichment"
    ).fetchone()
    assert low >= 1 / 4097 - 1e-12 and bad == 0
    sae = "demo/blocks.1.hook_resid_pre"
    frame = con.execute("SELECT p_calibrated, q_value FROM enrichment WHERE sae_id = $s", {"s": sae}).df()
    np.testing.assert_allclose(frame["q_value"], scipy.stats.false_discovery_control(frame["p_calibrated"]), rtol=1e-12)


def test_p_calibrated_is_reproduced_from_the_stored_fit_in_sql(con):
    """enrichment.d and the fit columns of enrichment_null give back every stored p_calibrated."""
    worst = con.execute("""
        SELECT max(abs(ln(e.p_calibrated) - ln(CASE
                   WHEN n.tail_exceedances > 0 AND -ln(1 - e.d::DOUBLE + n.tail_resolution) > n.tail_threshold
                   THEN greatest(n.tail_mass * exp(-(n.tail_rate * t + n.tail_curvature * t * t)),
                                 2.2250738585072014e-308)
                   ELSE e.p_null END)))
        FROM enrichment AS e
        JOIN saes AS s USING (sae_id)
        JOIN enrichment_null AS n ON n.model_name = s.model_name AND n.set_id = e.set_id,
        LATERAL (SELECT -ln(1 - e.d::DOUBLE + n.tail_resolution) - n.tail_threshold AS t)
    """).fetchone()[0]
    assert worst < 1e-9


def test_held_out_null_p_values_are_stored_and_calibrated(demo_db, con):
    from catalog.api import Catalog

    rows = con.execute("SELECT set_family, count(*), avg((p < 0.01)::INT) FROM null_holdout_p GROUP BY 1").fetchall()
    assert {family for family, *_ in rows} >= {"letters", "regex", "word_list"}
    for family, n, below in rows:
        assert n >= 1024 and below < 0.02, (family, n, below)
    table = Catalog(demo_db).run("null_calibration").frame
    assert set(table["set_family"]) == {family for family, *_ in rows}
    assert table["ratio_1e_2"].between(0.5, 1.5).all(), table
    qq = Catalog(demo_db).run("null_qq", family="letters", points=20).frame
    assert qq["expected_p"].is_monotonic_increasing and qq["observed_p"].is_monotonic_increasing
    assert qq["expected_p"].iloc[-1] == 1.0 and len(qq) >= 10


def test_demo_is_deterministic(tmp_path, demo_db):
    again = build_demo_folders(tmp_path / "cache")
    first = build_demo_folders(demo_db.parent / "cache")
    for a, b in zip(again.saes, first.saes, strict=True):
        assert (a / "sae_weights.safetensors").read_bytes() == (b / "sae_weights.safetensors").read_bytes()
    assert again.planted == first.planted


def test_a_clean_demo_build_prints_no_warnings(tmp_path):
    """`python -m ingest demo` as a user runs it (NLTK data found): every built-in set is built, nothing warns."""
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingest",
            "demo",
            "--db",
            str(tmp_path / "demo.duckdb"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--device",
            "cpu",
            "--null-directions",
            "32",
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = (result.stdout + result.stderr).splitlines()
    assert [line for line in output if "warn" in line.lower()] == []
    assert "  121 token sets, 92928 enrichment rows" in output  # 3 SAEs x 256 features x 121 sets
