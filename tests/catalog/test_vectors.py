import numpy as np
import pytest

from catalog.connect import open_read_only
from catalog.errors import CatalogError
from catalog.vectors import load_decoder, load_unembed


def test_unknown_model_and_sae_list_what_exists(demo_db):
    con = open_read_only(demo_db)
    try:
        with pytest.raises(
            CatalogError, match=r"model 'gpt2' is not in the catalog; models there: \['demo-gpt2-d64'\]"
        ):
            load_unembed(con, "gpt2")
        with pytest.raises(CatalogError, match=r"SAE 'demo/x' is not in the catalog; SAEs there: \['demo/blocks.0"):
            load_decoder(con, "demo/x")
        unembed = load_unembed(con, "demo-gpt2-d64")
        decoder = load_decoder(con, "demo/blocks.0.hook_resid_pre")
        assert unembed.shape == (50257, 64) and decoder.shape == (256, 64)
        # one stored logit weight (top token of feature 0) equals the product of the stored vectors
        token_id, value = con.execute(
            "SELECT token_id, value FROM feature_tokens WHERE sae_id = 'demo/blocks.0.hook_resid_pre'"
            " AND feature = 0 AND direction = 'top' AND rank = 0"
        ).fetchall()[0]
        assert float(decoder[0].astype(np.float64) @ unembed[token_id].astype(np.float64)) == pytest.approx(
            value, rel=1e-5
        )
    finally:
        con.close()
