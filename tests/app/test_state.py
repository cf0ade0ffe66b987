"""Deep-link helpers of app/state.py."""

from __future__ import annotations

import urllib.parse

import pandas as pd

from app import state


def test_feature_link_is_relative_and_encoded():
    link = state.feature_link("gpt2-small-res-jb/blocks.8.hook_resid_pre", 14215)
    assert link == "feature?sae=gpt2-small-res-jb%2Fblocks.8.hook_resid_pre&feature=14215"
    assert urllib.parse.parse_qs(link.split("?", 1)[1]) == {
        "sae": ["gpt2-small-res-jb/blocks.8.hook_resid_pre"],
        "feature": ["14215"],
    }
    assert state.feature_params("a&b=c", 3) == {"sae": "a&b=c", "feature": "3"}
    assert "a%26b%3Dc" in state.feature_link("a&b=c", 3)  # values cannot inject parameters


def test_open_links_column_comes_first():
    frame = pd.DataFrame({"sae_id": ["x/y", "x/z"], "feature": [1, 2], "d": [0.5, 0.6]}, index=[5, 9])
    linked = state.with_open_links(frame)
    assert list(linked.columns) == ["open", "sae_id", "feature", "d"]
    assert list(linked["open"]) == ["feature?sae=x%2Fy&feature=1", "feature?sae=x%2Fz&feature=2"]


def test_defaults_prefer_what_exists():
    assert state.index_of(["a", "b", "c"], ["z", "c", "b"]) == 2
    assert state.index_of(["a"], ["z"], fallback=0) == 0
    assert state.present(["a", "b", "c", "d"], ["c", "zz", "a"], 3) == ["c", "a", "b"]
    assert state.present(["a"], ["b"], 2) == ["a"]
    assert state.optional(state.ANY) is None and state.optional("x") == "x"
