"""Building the whole library: contents, filters, determinism, description."""

from collections import Counter

import pytest

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import FAMILIES, build_library, describe_library


def test_gpt2_library_has_every_family_and_valid_ids(gpt2_library, gpt2_vocab):
    counts = Counter(token_set.family for token_set in gpt2_library)
    assert counts["letters"] == 26 and counts["regex"] == 17 and counts["names"] == 2
    assert counts["word_list"] == 22  # every packaged list has single-token words in GPT-2
    assert counts["nltk_pos"] > 30 and counts["universal_pos"] >= 10
    assert gpt2_library.vocab_size == len(gpt2_vocab) == 50257
    for token_set in gpt2_library:
        assert 0 < token_set.size < len(gpt2_vocab)
        assert token_set.token_ids[0] >= 0 and token_set.token_ids[-1] < len(gpt2_vocab)
        assert token_set.definition
    order = [FAMILIES.index(token_set.family) for token_set in gpt2_library]
    assert order == sorted(order)


def test_building_twice_gives_identical_libraries(gpt2_vocab, gpt2_library):
    again = build_library(gpt2_vocab)
    assert again.names() == gpt2_library.names()
    assert again == gpt2_library


def test_min_size_and_whole_vocabulary_sets_are_left_out_with_warnings(gpt2_vocab, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[sets.everything]\nregex = ""\n[sets.pair]\nwords = ["red", "blue"]\n')
    library = build_library(gpt2_vocab, path, families=["word_list", "user"], min_size=11)
    assert "1910's" not in library and "everything" not in library and "pair" not in library
    assert "positive_words" in library
    warnings = "\n".join(library.warnings)
    assert 'token set "1910\'s" (word_list) left out: 10 members, fewer than min_size=11' in warnings
    assert "token set 'pair' (user) left out: 2 members" in warnings
    assert (
        "token set 'everything' (user) left out: it holds all 50256 tokens a set may hold "
        "(the other 1 are special)" in warnings
    )
    with pytest.raises(ValueError, match="min_size must be at least 1"):
        build_library(gpt2_vocab, min_size=0)


def test_whole_vocabulary_built_in_set_on_a_toy_vocabulary():
    vocab = Vocabulary("toy", raw=["Ġa", "Ġb"], text=[" a", " b"])
    library = build_library(vocab, families=["regex", "letters"])
    assert "starts_with_space" not in library
    assert library["a"].token_ids.tolist() == [0]
    assert any("'starts_with_space' (regex) left out: it holds all 2 tokens" in w for w in library.warnings)
    printed = describe_library(library, vocab).splitlines()
    assert [line for line in printed if line.startswith("warning:")] == [f"warning: {w}" for w in library.warnings]


def test_describe_library_prints_sizes_largest_first(gpt2_library, gpt2_vocab):
    text = describe_library(gpt2_library, gpt2_vocab, samples=3)
    lines = text.splitlines()
    assert lines[0] == f"{len(gpt2_library)} token sets of 'gpt2' (50257 tokens)"
    rows = [line for line in lines[2:] if not line.startswith("warning:")]
    assert len(rows) == len(gpt2_library)
    size_column = slice(lines[1].index("size") - 2, lines[1].index("size") + 4)  # right-aligned, 6 wide
    sizes = [int(row[size_column]) for row in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes == sorted((token_set.size for token_set in gpt2_library), reverse=True)
    capitals = next(row for row in rows if row.startswith("capital_cities "))
    assert capitals.split()[1:4] == ["word_list", "8", "2"]
    assert "[' London', ' Paris', ' Moscow']" in capitals
    assert not any(line.startswith("warning:") for line in lines)  # every built-in set is built for GPT-2
