"""A user regex that backtracks catastrophically stops the build with a clear error, not a hang."""

from __future__ import annotations

import re

import pytest

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import build_library, builtin_clash
from ingest.token_sets.user_file import REGEX_BUDGET_S, user_sets

# 'a' * 60 + '!' makes '(a|aa)+$' try every split of the run into ones and twos (about 10**12) before failing.
VOCAB = Vocabulary("toy", raw=["a" * 60 + "!", "Ġbanana", "Ġcab"], text=["a" * 60 + "!", " banana", " cab"])


def write(tmp_path, pattern: str):
    path = tmp_path / "slow.toml"
    path.write_text(f'[sets.fine]\nregex = "ana"\n[sets.runaway]\nregex = "{pattern}"\n')
    return path


def test_catastrophic_backtracking_is_an_error_naming_the_set_and_the_file(tmp_path):
    path = write(tmp_path, "(a|aa)+$")
    with pytest.raises(ValueError) as caught:
        user_sets(path, VOCAB, builtin_clash, budget_s=0.2)
    message = str(caught.value)
    assert message.startswith(f"{path}: token set 'runaway': regex '(a|aa)+$' took more than 0.2 s on the 3 tokens")
    assert "catastrophic backtracking" in message and "Fix: simplify the pattern" in message


def test_the_default_budget_is_seconds_and_ordinary_patterns_pass(tmp_path):
    assert 1 <= REGEX_BUDGET_S <= 30
    path = write(tmp_path, "^Ġc")
    library = build_library(VOCAB, path, families=["user"])
    assert library["fine"].token_ids.tolist() == [1]
    assert library["runaway"].token_ids.tolist() == [2]


def test_nested_repeat_that_the_regex_engine_handles_ends_normally(tmp_path):
    # '(a+)+x$' is the textbook example; the regex package recognises it, so it just matches nothing.
    path = write(tmp_path, "(a+)+x$")
    with pytest.raises(ValueError, match=re.escape("token set 'runaway': regex '(a+)+x$' matches no token")):
        user_sets(path, VOCAB, builtin_clash, budget_s=5.0)
