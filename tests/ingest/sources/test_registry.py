import pytest

from ingest.sources.registry import get_release, load_registry


def test_gpt2_small_res_jb_has_13_saes_with_neuronpedia_ids():
    release = get_release("gpt2-small-res-jb")
    assert release.repo_id == "jbloom/GPT2-Small-SAEs-Reformatted"
    assert release.model_name == "gpt2-small" and release.hf_model == "gpt2"
    ids = [sae.id for sae in release.saes]
    assert ids == [f"blocks.{layer}.hook_resid_pre" for layer in range(12)] + ["blocks.11.hook_resid_post"]
    assert [sae.layer for sae in release.saes] == list(range(13))
    assert release.sae("blocks.8.hook_resid_pre").neuronpedia_id == "gpt2-small/8-res-jb"
    assert release.sae("blocks.11.hook_resid_post").neuronpedia_id == "gpt2-small/12-res-jb"


def test_other_gpt2_releases_are_known():
    releases = load_registry()
    splitting = releases["gpt2-small-res-jb-feature-splitting"]
    assert splitting.sae("blocks.8.hook_resid_pre_98304").neuronpedia_id == "gpt2-small/8-res_fs98304-jb"
    assert (
        releases["gpt2-small-resid-post-v5-32k"].sae("v5_32k_layer_3.pt").neuronpedia_id
        == "gpt2-small/3-res_post_32k-oai"
    )


def test_unknown_release_lists_the_known_ones():
    with pytest.raises(
        KeyError,
        match=r"unknown release 'gpt2-small-res-j' \(did you mean 'gpt2-small-res-jb'\?\); "
        r"known releases: gpt2-small-res-jb",
    ):
        get_release("gpt2-small-res-j")


def test_unknown_sae_lists_valid_ids():
    release = get_release("gpt2-small-res-jb")
    with pytest.raises(
        KeyError,
        match=r"no SAE 'blocks.13.hook_resid_pre'.*valid --sae-id values: "
        r"blocks.0.hook_resid_pre",
    ):
        release.select(["blocks.13.hook_resid_pre"])
    assert [s.id for s in release.select(["blocks.3.hook_resid_pre"])] == ["blocks.3.hook_resid_pre"]
