"""TokenSet and TokenSetLibrary: normalisation, equality, lookup errors."""

import numpy as np
import pytest

from ingest.token_sets import TokenSet, TokenSetLibrary


def test_token_ids_are_sorted_unique_int64_and_read_only():
    token_set = TokenSet("s", "user", "test", [5, 3, 5, 1], dropped=["x"])
    assert token_set.token_ids.dtype == np.int64
    assert token_set.token_ids.tolist() == [1, 3, 5]
    assert token_set.size == len(token_set) == 3
    assert token_set.dropped == ("x",)
    with pytest.raises(ValueError):
        token_set.token_ids[0] = 7


def test_equality_compares_members_and_hash_agrees():
    a = TokenSet("s", "user", "test", [1, 2])
    assert a == TokenSet("s", "user", "test", np.array([2, 1]))
    assert hash(a) == hash(TokenSet("s", "user", "test", [2, 1]))
    assert a != TokenSet("s", "user", "test", [1, 3])
    assert a != TokenSet("t", "user", "test", [1, 2])


def test_library_lookup_and_close_match_error():
    sets = (TokenSet("colors", "word_list", "d", [1]), TokenSet("a", "letters", "d", [2]))
    library = TokenSetLibrary("toy", 10, sets)
    assert library.names() == ["colors", "a"]
    assert library["colors"].token_ids.tolist() == [1]
    assert "a" in library and len(library) == 2
    with pytest.raises(KeyError, match=r"no token set named 'colours'.*close matches: \['colors'\]"):
        library["colours"]
    with pytest.raises(KeyError, match=r"valid names: \['colors', 'a'\]"):
        library["zzzzzz"]


def test_library_rejects_duplicate_names():
    twice = (TokenSet("a", "letters", "d", [1]), TokenSet("a", "user", "d", [2]))
    with pytest.raises(ValueError, match="two sets named 'a' \\(letters and user\\)"):
        TokenSetLibrary("toy", 10, twice)
