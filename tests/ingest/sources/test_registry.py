"""The release registry is SAELens's directory: every release and SAE id, with its Neuronpedia ids."""

import pytest

from ingest.sources.registry import get_release, load_registry, sae_lens_config_overrides
from ingest.sources.release_listing import hook_kinds, listing, widths


def test_every_release_and_sae_of_saelens_is_known():
    """The oracle: SAELens's own reader of its directory."""
    from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

    directory = get_pretrained_saes_directory()
    releases = load_registry()
    assert sorted(releases) == sorted(directory)
    for name, lookup in directory.items():
        release = releases[name]
        assert (release.repo_id, release.model_name, release.conversion_func) == (
            lookup.repo_id,
            lookup.model,
            lookup.conversion_func,
        )
        assert [(s.id, s.path) for s in release.saes] == list(lookup.saes_map.items())
        assert [s.neuronpedia_id for s in release.saes] == [lookup.neuronpedia_id[s.id] for s in release.saes]
    assert sum(len(r.saes) for r in releases.values()) == 13857


def test_config_overrides_are_saelens_s():
    from sae_lens.loading.pretrained_saes_directory import get_config_overrides

    for name, sae_id in [
        ("gpt2-small-res-jb", "blocks.8.hook_resid_pre"),
        ("gpt2-small-resid-post-v5-32k", "blocks.3.hook_resid_post"),
    ]:
        release = get_release(name)
        assert sae_lens_config_overrides(release, release.sae(sae_id)) == get_config_overrides(name, sae_id)
    release = get_release("gemma-scope-2b-pt-res")
    sae = release.sae("embedding/width_4k/average_l0_6")
    assert (
        sae_lens_config_overrides(release, sae)
        == get_config_overrides(release.name, sae.id)
        == {"neuronpedia_id": None}
    )


def test_gpt2_small_res_jb_has_13_saes_with_neuronpedia_ids():
    release = get_release("gpt2-small-res-jb")
    assert release.repo_id == "jbloom/GPT2-Small-SAEs-Reformatted"
    assert release.model_name == "gpt2-small" and release.layout == "sae_lens"
    ids = [sae.id for sae in release.saes]
    assert ids == [f"blocks.{layer}.hook_resid_pre" for layer in range(12)] + ["blocks.11.hook_resid_post"]
    assert release.sae("blocks.8.hook_resid_pre").neuronpedia_id == "gpt2-small/8-res-jb"
    assert release.sae("blocks.11.hook_resid_post").neuronpedia_id == "gpt2-small/12-res-jb"


def test_the_hand_registry_s_gpt2_releases_keep_their_neuronpedia_ids():
    """The three releases of the removed releases.toml, under SAELens's ids; the old file-path ids still work."""
    splitting = get_release("gpt2-small-res-jb-feature-splitting")
    assert splitting.sae("blocks.8.hook_resid_pre_98304").neuronpedia_id == "gpt2-small/8-res_fs98304-jb"
    v5 = get_release("gpt2-small-resid-post-v5-32k")
    assert [s.id for s in v5.saes] == [f"blocks.{layer}.hook_resid_post" for layer in range(12)]
    assert v5.sae("blocks.3.hook_resid_post").neuronpedia_id == "gpt2-small/3-res_post_32k-oai"
    assert v5.sae("blocks.3.hook_resid_post").path == "v5_32k_layer_3.pt"
    assert v5.sae("v5_32k_layer_3.pt").id == "blocks.3.hook_resid_post"  # the old id, by its path
    assert v5.sae("gpt2-small/3-res_post_32k-oai").id == "blocks.3.hook_resid_post"  # by Neuronpedia id


def test_gemma_scope_canonical_release():
    release = get_release("gemma-scope-2b-pt-res-canonical")
    assert (release.repo_id, release.model_name, release.layout) == (
        "google/gemma-scope-2b-pt-res",
        "gemma-2-2b",
        "gemma_2",
    )
    sae = release.sae("layer_20/width_16k/canonical")
    assert sae.neuronpedia_id == "gemma-2-2b/20-gemmascope-res-16k"
    assert sae.path.startswith("layer_20/width_16k/average_l0_")


def test_unknown_release_suggests_close_matches():
    with pytest.raises(
        KeyError, match=r"unknown release 'gpt2-small-res-j' \(did you mean 'gpt2-small-res-jb'"
    ) as info:
        get_release("gpt2-small-res-j")
    assert "list them with `llcat-ingest releases [FILTER]`" in str(info.value)


def test_unknown_sae_lists_valid_ids():
    release = get_release("gpt2-small-res-jb")
    with pytest.raises(
        KeyError,
        match=r"no SAE 'blocks.13.hook_resid_pre' \(did you mean 'blocks.3.hook_resid_pre' or.*valid --sae-id values: "
        r"blocks.0.hook_resid_pre, .*\.\.\. and 3 more",
    ):
        release.select(["blocks.13.hook_resid_pre"])
    assert [s.id for s in release.select(["blocks.3.hook_resid_pre"])] == ["blocks.3.hook_resid_pre"]


def test_listing_filters_and_describes():
    releases = list(load_registry().values())
    text = listing(releases, "gemma-scope-2b-pt-att-canonical", with_saes=False)
    lines = text.splitlines()
    assert len(lines) == 2 and lines[0].startswith("gemma-scope-2b-pt-att-canonical  model gemma-2-2b, 52 SAEs")
    assert "1 releases matching 'gemma-scope-2b-pt-att-canonical', 52 SAEs" in lines[1]
    res = get_release("gemma-scope-2b-pt-res")
    assert hook_kinds(res) == ["embed", "resid_post"]
    assert widths(res) == ["4k", "16k", "32k", "65k", "131k", "262k", "524k", "1m"]
    full = listing(releases, None, with_saes=False).splitlines()
    assert len(full) == len(releases) + 1
