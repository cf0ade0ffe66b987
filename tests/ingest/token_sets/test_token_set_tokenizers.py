"""Token set families on tokenizers other than GPT-2's, built in code: a Gemma-style SentencePiece
(``▁`` word starts, ``<0x0A>`` byte fallback, ``<start_of_turn>``, ``<unused3>``), the same with a
Llama-2-style decoder that strips the first space, and a Llama-3-style byte-level BPE.

The oracle decodes each token *in context* through the tokenizer itself (after an anchor token,
so a decoder that strips the first space cannot hide a word start), writes that text as GPT-2's
tokenizer would (the ``tokenizers`` ByteLevel pre-tokenizer: a space is ``Ġ``) and applies the
notebook's rules to it unchanged; word lists are checked against the tokenizer's own ``encode``.
Note the notebook's quirks, kept for every tokenizer: ``Ġ`` is itself a word character, so
``ĠUSA`` is in ``length_3`` *and* ``length_4`` (``re.match`` backtracks ``Ġ*`` to nothing).
"""

from __future__ import annotations

import re
import string

import pytest
from tokenizers import pre_tokenizers

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import build_library, describe_library
from ingest.token_sets.families import REGEX_DICT, word_list_files
from ingest.token_sets.spec_file import read_set_specs
from tests.tokenizer_builders import DEFAULT_WORDS, llama3_style_tokenizer, sentencepiece_style_tokenizer

BUILDERS = {
    "sentencepiece": sentencepiece_style_tokenizer,
    "sentencepiece_llama2_decoder": lambda: sentencepiece_style_tokenizer(strip_first_space=True),
    "llama3": llama3_style_tokenizer,
}
FAMILIES = ["letters", "regex", "word_list"]
BYTE_LEVEL = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)


@pytest.fixture(scope="module", params=list(BUILDERS))
def built(request):
    tokenizer = BUILDERS[request.param]()
    vocab = Vocabulary.from_tokenizer(request.param, tokenizer)
    return tokenizer, vocab, build_library(vocab, families=FAMILIES)


def in_context(tokenizer, token_id: int) -> str:
    """The text the token adds after an anchor token: its word-start space kept by any decoder."""
    anchor = tokenizer.convert_tokens_to_ids("x")
    text = tokenizer.decode([anchor, token_id], clean_up_tokenization_spaces=False)
    assert text.startswith("x")
    return text[1:]


def expected_excluded(tokenizer) -> set[int]:
    """Special tokens, unused slots and byte-fallback tokens, listed from the tokenizer by hand."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    unused = {i for i, token in enumerate(tokens) if re.fullmatch(r"<unused\d+>", token)}
    byte_fallback = {i for i, token in enumerate(tokens) if re.fullmatch(r"<0x[0-9A-F]{2}>", token)}
    return set(tokenizer.all_special_ids) | unused | byte_fallback


def test_excluded_tokens_are_in_no_set(built):
    tokenizer, vocab, library = built
    excluded = expected_excluded(tokenizer)
    assert {i for i, why in enumerate(vocab.excluded) if why} == excluded
    assert all(not excluded & set(token_set.token_ids.tolist()) for token_set in library)
    if vocab.kind == "sentencepiece":
        assert len(excluded) == 7 + 6 + 256
        assert vocab.excluded[tokenizer.convert_tokens_to_ids("<0x0A>")] == "byte_fallback"
        assert vocab.excluded[tokenizer.convert_tokens_to_ids("<unused3>")] == "control"
        assert vocab.excluded[tokenizer.convert_tokens_to_ids("<start_of_turn>")] == "special"
    else:
        assert vocab.excluded[tokenizer.convert_tokens_to_ids("<|reserved_special_token_0|>")] == "special"


def oracle_marked(tokenizer, vocab) -> dict[int, str]:
    """Per set-eligible token, its in-context text written as GPT-2's tokenizer writes text; tokens
    that decode to U+FFFD (lone bytes >= 0x80 of the byte-level one) are left to the GPT-2 pin."""
    excluded = expected_excluded(tokenizer)
    texts = {i: in_context(tokenizer, i) for i in range(len(vocab)) if i not in excluded}
    return {i: gpt2_written(text) for i, text in texts.items() if "\ufffd" not in text}


def gpt2_written(text: str) -> str:
    return "".join(piece for piece, _ in BYTE_LEVEL.pre_tokenize_str(text))


def test_regex_and_letter_sets_follow_the_decoded_text(built):
    tokenizer, vocab, library = built
    marked = oracle_marked(tokenizer, vocab)
    assert len(marked) > 300
    for name, pattern in REGEX_DICT.items():
        expected = {i for i, text in marked.items() if re.match(pattern, text)}
        members = set(library[name].token_ids.tolist()) if name in library else set()
        assert members & set(marked) == expected, name
    for letter in string.ascii_lowercase:
        expected = {
            i for i, text in marked.items() if text.strip("Ġ").isalpha() and text.strip("Ġ")[0].lower() == letter
        }
        assert set(library[letter].token_ids.tolist()) & set(marked) == expected, letter


def test_word_lists_are_single_tokens_of_the_models_own_tokenizer(built):
    tokenizer, vocab, library = built
    for path in word_list_files():
        for spec in read_set_specs(path):
            encoded = {word: tokenizer.encode(" " + word, add_special_tokens=False) for word in spec.words}
            expected = sorted({ids[0] for ids in encoded.values() if len(ids) == 1})
            got = library[spec.name].token_ids.tolist() if spec.name in library else []
            assert got == expected, spec.name
    capitals = [tokenizer.convert_ids_to_tokens(i) for i in library["capital_cities"].token_ids.tolist()]
    marker = "▁" if vocab.kind == "sentencepiece" else "Ġ"
    listed = next(spec.words for spec in read_set_specs(word_list_files()[0]) if spec.name == "capital_cities")
    assert sorted(capitals) == sorted(marker + city for city in listed if city in DEFAULT_WORDS)
    assert len(capitals) == 6


def test_hand_picked_tokens(built):
    tokenizer, vocab, library = built
    marker = "▁" if vocab.kind == "sentencepiece" else "Ġ"
    token = tokenizer.convert_tokens_to_ids

    def sets_of(piece: str) -> set[str]:
        return {token_set.name for token_set in library if token(piece) in token_set.token_ids}

    assert sets_of(marker + "Paris") == {"p", "starts_with_space", "starts_with_capital", "length_5", "capital_cities"}
    assert sets_of(marker + "USA") == {
        "u",
        "starts_with_space",
        "starts_with_capital",
        "all_caps",
        "length_3",
        "length_4",  # 'Ġ' is a \w character, and re.match lets 'Ġ*' match nothing: a notebook quirk
    }
    assert sets_of(marker + "42") == {"starts_with_space", "all_digits", "2 digits", "length_2", "length_3"}
    assert sets_of("2016") == {"all_digits", "4 digits", "length_4"}
    assert sets_of("ing") == {"i", "starts_with_lower", "length_3"}
    assert sets_of("(") == {"is_punctuation", "contains_open_bracket"}
    assert vocab.decoded[token(marker + "Paris")] == " Paris"
    if vocab.kind == "sentencepiece":
        assert sets_of("<0x0A>") == sets_of("<0x41>") == sets_of("<unused3>") == sets_of("<eos>") == set()
        assert vocab.marked[token("<0x0A>")] == "Ċ"
    else:
        assert sets_of("<|begin_of_text|>") == sets_of("<|reserved_special_token_3|>") == set()


def test_a_catalog_vocabulary_gets_the_same_sets(built):
    """Read back from the catalog (raw and text only, no declared specials), a vocabulary builds
    the same library: the control token forms stand in for the tokenizer's special list."""
    _, vocab, library = built
    stored = Vocabulary(vocab.model_name, list(vocab.raw), list(vocab.text))
    assert stored.declared_special == frozenset()
    assert [bool(why) for why in stored.excluded] == [bool(why) for why in vocab.excluded]
    assert build_library(stored, families=FAMILIES) == library


def test_user_file_words_and_regex_on_sentencepiece(tmp_path):
    tokenizer = sentencepiece_style_tokenizer(strip_first_space=True)
    vocab = Vocabulary.from_tokenizer("sp", tokenizer)
    path = tmp_path / "mine.toml"
    path.write_text('[sets.cities]\nwords = ["Paris", "London", "Atlantis"]\n[sets.capitalised]\nregex = "^Ġ[A-Z]"\n')
    library = build_library(vocab, path, families=["user"])
    cities = library["cities"]
    assert cities.token_ids.tolist() == sorted(tokenizer.encode(" Paris London", add_special_tokens=False))
    assert cities.dropped == ("Atlantis",)
    assert vocab.text[cities.token_ids[0]] == "Paris"  # this decoder strips a lone token's space...
    assert "[' Paris', ' London']" in describe_library(library, vocab)  # ...the listing shows it
    expected = [i for i in range(len(vocab)) if vocab.raw[i].startswith("▁") and vocab.raw[i][1:2].isupper()]
    assert library["capitalised"].token_ids.tolist() == expected
    assert len(expected) == sum(word[0].isupper() for word in DEFAULT_WORDS)


def test_sentencepiece_builder_round_trips_through_save_pretrained(tmp_path):
    from transformers import AutoTokenizer

    sentencepiece_style_tokenizer().save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert 512 <= len(loaded) <= 2000
    ids = loaded.encode(" the Paris\n", add_special_tokens=False)
    assert loaded.convert_ids_to_tokens(ids) == ["▁the", "▁Paris", "<0x0A>"]
    assert loaded.decode(ids) == " the Paris\n"
    assert set(loaded.all_special_tokens) >= {"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>"}
    assert (
        Vocabulary.from_tokenizer("saved", loaded).excluded
        == Vocabulary.from_tokenizer("built", sentencepiece_style_tokenizer()).excluded
    )
