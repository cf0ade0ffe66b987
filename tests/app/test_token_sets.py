"""Token sets page on the demo catalog: the library, a set's members, and the token search."""

from __future__ import annotations

import numpy as np

from tests.app.conftest import frame_with, no_exception, texts


def test_library_and_members(run_page, tables):
    at = run_page("token_sets")
    no_exception(at)
    sets = tables("SELECT * FROM token_sets")
    library = frame_with(at, "name", "family", "size", "definition")
    assert len(library) == len(sets) and dict(zip(library["name"], library["size"], strict=True)) == dict(
        zip(sets["name"], sets["size"], strict=True)
    )
    members = frame_with(at, "token_id", "token", "raw")
    expected = tables(
        "SELECT m.token_id FROM token_set_members m JOIN token_sets s USING (set_id) WHERE s.name = 'colors'"
    )
    assert sorted(members["token_id"]) == sorted(expected["token_id"]) and "' red'" in set(members["token"])
    dropped = sets.loc[sets["name"] == "colors", "dropped_words"].item()
    assert all(word in texts(at) for word in dropped)


def test_family_filter_and_set_choice(run_page, tables):
    at = run_page("token_sets", family="regex", set="all_digits")
    no_exception(at)
    sets = tables("SELECT * FROM token_sets")
    assert set(frame_with(at, "name", "family", "size")["name"]) == set(sets.loc[sets["family"] == "regex", "name"])
    members = frame_with(at, "token_id", "token", "raw")
    assert len(members) == sets.loc[sets["name"] == "all_digits", "size"].item()


def test_token_search_lists_sets_and_the_features_promoting_it(run_page, tables):
    at = run_page("token_sets", token=" red")
    no_exception(at)
    token_id = int(tables("SELECT token_id FROM tokens WHERE token = ' red'")["token_id"].item())
    in_sets = tables(
        f"SELECT s.name FROM token_set_members m JOIN token_sets s USING (set_id) WHERE m.token_id = {token_id}"
    )
    page = texts(at)
    assert f"is in {len(in_sets)} token sets" in page and all(f"`{name}`" in page for name in in_sets["name"])
    promoters = frame_with(at, "open", "logit_weight", "z_score")
    decoder = tables("SELECT sae_id, feature, vec FROM decoder")
    unembed = np.asarray(tables(f"SELECT vec FROM unembed WHERE token_id = {token_id}")["vec"].item())
    # the page reads the reverse token index: each SAE's token_index_k most promoting features, merged
    k = dict(tables("SELECT sae_id, token_index_k FROM saes").itertuples(index=False))
    weights = decoder.assign(w=np.stack(decoder["vec"].to_numpy()) @ unembed)
    weights = weights.sort_values("w", ascending=False)
    rank_in_sae = weights.groupby("sae_id").cumcount()
    weights = weights[rank_in_sae < weights["sae_id"].map(k)].nlargest(20, "w")
    assert list(zip(promoters["sae_id"], promoters["feature"], strict=True)) == list(
        zip(weights["sae_id"], weights["feature"], strict=True)
    )
    assert "colors" in set(in_sets["name"])


def test_token_search_with_choices_and_misses(run_page):
    at = run_page("token_sets", token="RED")
    no_exception(at)
    choices = at.selectbox(key="token_pick")
    assert "'RED'" in choices.format_func(choices.value)  # the exact match comes first
    at = run_page("token_sets", token="zzqqxx")
    no_exception(at)
    assert "No token of the vocabulary reads 'zzqqxx'" in at.warning[0].value
