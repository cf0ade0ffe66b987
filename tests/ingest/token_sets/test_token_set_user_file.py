"""User-defined token sets from TOML and YAML files, and every error a user can make."""

import re

import pytest

from ingest.token_sets import build_library

TOML = """
[sets.my_months]
words = ["January", "February", "Smarch"]

[sets.ends_with_ing]
regex = "ing$"
family = "user"
"""

YAML = """
sets:
  my_months:
    words: [January, February, Smarch]
  ends_with_ing:
    regex: "ing$"
"""


def build_user(vocab, tmp_path, text, suffix=".toml"):
    path = tmp_path / f"my_sets{suffix}"
    path.write_text(text, encoding="utf-8")
    return build_library(vocab, path, families=["user"]), path


@pytest.mark.parametrize(("text", "suffix"), [(TOML, ".toml"), (YAML, ".yaml"), (YAML, ".yml")])
def test_round_trip(gpt2_vocab, tmp_path, text, suffix):
    library, _ = build_user(gpt2_vocab, tmp_path, text, suffix)
    assert library.names() == ["my_months", "ends_with_ing"]
    months = library["my_months"]
    assert months.family == "user"
    assert [gpt2_vocab.text[i] for i in months.token_ids] == [" January", " February"]
    assert months.dropped == ("Smarch",)
    expected = [i for i, raw in enumerate(gpt2_vocab.raw) if raw.endswith("ing")]
    assert library["ends_with_ing"].token_ids.tolist() == expected
    assert "re.search with regex ing$ " in library["ends_with_ing"].definition
    assert f"my_sets{suffix}" in library["ends_with_ing"].definition


def test_user_sets_come_after_built_in_ones(gpt2_vocab, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(TOML)
    library = build_library(gpt2_vocab, path, families=["letters", "user"])
    assert library.names()[:26] == list("abcdefghijklmnopqrstuvwxyz")
    assert library.names()[26:] == ["my_months", "ends_with_ing"]


BAD_INPUTS = [
    # (file text, suffix, pieces the message must contain)
    (
        '[sets.x\nwords = ["a"]',
        ".toml",
        ["cannot parse the file as TOML", "Fix: correct the syntax"],
    ),
    (
        "sets:\n  x: [unclosed",
        ".yaml",
        ["cannot parse the file as YAML", "Fix: correct the syntax"],
    ),
    (
        '[other]\nwords = ["a"]',
        ".toml",
        ["no 'sets' table found", "Fix: define each set under 'sets'"],
    ),
    (
        "",
        ".yaml",
        ["no 'sets' table found"],
    ),
    (
        'title = "x"\n[sets.x]\nwords = ["the"]',
        ".toml",
        ["unknown top-level key(s) ['title']", "Fix: put every set"],
    ),
    (
        '[sets.x]\nregex = "(unclosed"',
        ".toml",
        ["token set 'x'", "invalid regex '(unclosed'", "missing )", "Fix: correct the pattern"],
    ),
    (
        '[sets.x]\nwords = ["the"]\ncolour = "red"',
        ".toml",
        ["token set 'x'", "unknown key(s) ['colour']", "Fix: use only ['words', 'regex', 'family']"],
    ),
    (
        '[sets.x]\nwords = ["the"]\nregex = "a"',
        ".toml",
        ["token set 'x'", "needs exactly one of 'words' or 'regex'", "Fix: keep one"],
    ),
    (
        '[sets.x]\nfamily = "user"',
        ".toml",
        ["token set 'x'", "needs exactly one of 'words' or 'regex'"],
    ),
    (
        '[sets.x]\nwords = "the"',
        ".toml",
        ["token set 'x'", "'words' must be a list of strings, got str"],
    ),
    (
        "sets:\n  decade:\n    words: [1910, '1911']",
        ".yaml",
        ["token set 'decade'", "word 1910 is a int", 'Fix: quote it ("1910")'],
    ),
    (
        "[sets.x]\nregex = 5",
        ".toml",
        ["token set 'x'", "'regex' must be a string, got int"],
    ),
    (
        '[sets.x]\nwords = ["the"]\nfamily = "letters"',
        ".toml",
        ["token set 'x'", "family must be 'user', got 'letters'", "Fix: remove the 'family' key"],
    ),
    (
        '[sets]\nx = ["the"]',
        ".toml",
        ["token set 'x'", "expected a table with 'words' or 'regex', got list"],
    ),
    (
        '[sets.mine]\nregex = "^zzzqqq$"',
        ".toml",
        ["token set 'mine'", "matches no token of the 'gpt2' vocabulary", "Fix: loosen the pattern", "'Ġ'"],
    ),
    (
        '[sets.mine]\nwords = ["hola", "supercalifragilistic"]',
        ".toml",
        ["token set 'mine'", "none of its 2 words is a single token", "'hola'", "Fix: use words"],
    ),
    (
        '[sets.colors]\nwords = ["red"]',
        ".toml",
        [
            "token set 'colors'",
            "already used by the built-in 'word_list' set 'colors'",
            "Fix: rename the set (e.g. 'my_colors')",
        ],
    ),
    (
        '[sets.a]\nwords = ["red"]',
        ".toml",
        ["token set 'a'", "built-in 'letters' set 'a'"],
    ),
    (
        '[sets.nltk_pos_ZZ]\nwords = ["red"]',
        ".toml",
        [
            "token set 'nltk_pos_ZZ'",
            "starts with 'nltk_pos_', which is reserved for the built-in 'nltk_pos' family",
            "Fix: rename",
        ],
    ),
    (
        '[sets."1910\'s"]\nwords = ["red"]',
        ".toml",
        ['token set "1910\'s"', "built-in 'word_list' set"],
    ),
    (
        "sets:\n  x:\n    words: [red]",
        ".json",
        ["unsupported token set file type '.json'", "Fix: use a .toml, .yaml or .yml file"],
    ),
]


@pytest.mark.parametrize(("text", "suffix", "pieces"), BAD_INPUTS)
def test_bad_user_files_raise_clear_errors(gpt2_vocab, tmp_path, text, suffix, pieces):
    with pytest.raises(ValueError) as error:
        build_user(gpt2_vocab, tmp_path, text, suffix)
    message = str(error.value)
    assert message.startswith(str(tmp_path / f"my_sets{suffix}")), message  # names the file
    for piece in pieces:
        assert piece in message, (piece, message)


def test_unreadable_file(gpt2_vocab, tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ValueError, match=re.escape(f"{missing}: cannot read the token set file")):
        build_library(gpt2_vocab, missing, families=["user"])
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="readable UTF-8 text file"):
        build_library(gpt2_vocab, binary, families=["user"])


def test_user_file_without_user_family_and_unknown_family(gpt2_vocab, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(TOML)
    with pytest.raises(ValueError, match="'user' is not in families \\['letters'\\]"):
        build_library(gpt2_vocab, path, families=["letters"])
    expected = "unknown token set famil(ies) ['colours']; valid: ['letters'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        build_library(gpt2_vocab, families=["colours"])
