"""The tokenizer-independent view of a vocabulary: marked forms, decoded text, excluded tokens."""

from __future__ import annotations

import pytest

from ingest.sources.vocabulary import Vocabulary, bytes_from_marked, check_decoding, marked_from_bytes


def test_marked_forms_of_a_sentencepiece_vocabulary():
    raw = ["<pad>", "<0x0A>", "<0xC3>", "▁Paris", "▁é", "ing", "▁▁", "<unused12>", "<start_of_turn>"]
    vocab = Vocabulary("sp", raw=raw, text=["<pad>", "\n", "\ufffd", " Paris", " é", "ing", "  ", "<unused12>", "?"])
    assert vocab.kind == "sentencepiece"
    assert vocab.marked[1:7] == ["Ċ", "Ã", "ĠParis", "ĠÃ©", "ing", "ĠĠ"]  # GPT-2 writes " é" as "ĠÃ©" too
    assert vocab.decoded[3:7] == [" Paris", " é", "ing", "  "]
    assert vocab.excluded == ["control", "byte_fallback", "byte_fallback", "", "", "", "", "control", "control"]
    assert [token_id for token_id, _ in vocab.members()] == [3, 4, 5, 6]
    assert vocab.decoded_to_id == {" Paris": 3, " é": 4, "ing": 5, "  ": 6}


def test_byte_level_tokens_added_as_literal_text():
    # Pythia's tokenizer adds runs of spaces as literal text: no byte-alphabet characters in them.
    vocab = Vocabulary("neox", raw=["ĠParis", "   ", "<|padding|>"], text=[" Paris", "   ", "<|padding|>"])
    assert vocab.kind == "byte_level"
    assert vocab.marked == ["ĠParis", "ĠĠĠ", "<|padding|>"]
    assert vocab.excluded == ["", "", "control"]


def test_byte_alphabet_round_trip():
    data = bytes(range(256))
    assert bytes_from_marked(marked_from_bytes(data)) == data
    assert marked_from_bytes(b" Hello\n") == "ĠHelloĊ"


def test_truncated_keeps_the_declared_specials_below_the_size():
    vocab = Vocabulary("m", raw=["a", "b", "c"], text=["a", "b", "c"], declared_special=frozenset({0, 2}))
    head = vocab.truncated(2)
    assert head.raw == ["a", "b"] and head.declared_special == frozenset({0})
    assert head.excluded == ["special", ""]


def test_a_tokenizer_of_an_unknown_kind_is_refused():
    # WordPiece marks continuations with '##' and decodes them without it: not a kind we know.
    vocab = Vocabulary("bert", raw=["hello", "##ing"], text=["hello", "ing"])
    with pytest.raises(ValueError) as caught:
        check_decoding(vocab)
    message = str(caught.value)
    assert "tokenizer of 'bert' (byte_level by its token strings): 1 tokens decode otherwise" in message
    assert "id 1 '##ing' decodes to 'ing', not '##ing'" in message
    assert "Token sets support byte-level BPE" in message
