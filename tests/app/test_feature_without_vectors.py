"""The Feature page on an SAE ingested with `--decoder-storage none` (issue 12): it says why there is no
logit histogram and no neighbours, instead of failing, and the neighbours of other SAEs name it."""

from __future__ import annotations

import shutil

from catalog.connect import open_for_write
from tests.app.conftest import SAE0, SAE1, no_exception, texts


def _without_vectors(demo_db, folder):
    path = folder / "no_vectors.duckdb"
    shutil.copy(demo_db, path)
    con = open_for_write(path)
    try:
        con.execute("DELETE FROM decoder WHERE sae_id = $s", {"s": SAE1})
        con.execute("UPDATE saes SET decoder_storage = 'none' WHERE sae_id = $s", {"s": SAE1})
    finally:
        con.close()
    return path


def test_the_feature_page_says_which_sae_lacks_vectors(run_page, demo_db, tmp_path):
    db = _without_vectors(demo_db, tmp_path)
    at = run_page("feature", db=db, sae=SAE1, feature="3")
    no_exception(at)
    page = texts(at)
    assert f"SAE `{SAE1}` was ingested with `--decoder-storage none`" in page
    assert "logit_hist" not in {chart.key for chart in at.get("plotly_chart") if hasattr(chart, "key")}
    other = run_page("feature", db=db, sae=SAE0, feature="3")
    no_exception(other)
    assert f"Not searched (ingested without decoder vectors): 1 SAE(s) of this model, `{SAE1}`" in texts(other)
