"""Letters, regex and word list families on the real GPT-2 vocabulary, checked against
independent re-computations and hand-picked tokens."""

import re
import string

from ingest.token_sets.families import REGEX_DICT

# Copied from the notebook's regex_dict by hand (not imported), so a changed pattern fails here.
NOTEBOOK_REGEXES = {
    "starts_with_space": r"Ġ.*",
    "starts_with_capital": r"^Ġ*[A-Z].*",
    "starts_with_lower": r"^Ġ*[a-z].*",
    "all_digits": r"^Ġ*\d+$",
    "is_punctuation": r"^[^\w\s]+$",
    "contains_close_bracket": r".*\).*",
    "contains_open_bracket": r".*\(.*",
    "all_caps": r"Ġ*[A-Z]+$",
    "1 digit": r"Ġ*\d{1}$",
    "2 digits": r"Ġ*\d{2}$",
    "3 digits": r"Ġ*\d{3}$",
    "4 digits": r"Ġ*\d{4}$",
    "length_1": r"^Ġ*\w{1}$",
    "length_2": r"^Ġ*\w{2}$",
    "length_3": r"^Ġ*\w{3}$",
    "length_4": r"^Ġ*\w{4}$",
    "length_5": r"^Ġ*\w{5}$",
}


def test_regex_sets_equal_brute_force_re_match(gpt2_vocab, gpt2_library):
    assert REGEX_DICT == NOTEBOOK_REGEXES
    for name, pattern in NOTEBOOK_REGEXES.items():
        expected = [i for i, raw in enumerate(gpt2_vocab.raw) if re.match(pattern, raw)]
        assert gpt2_library[name].token_ids.tolist() == expected, name
        assert gpt2_library[name].family == "regex"
        assert pattern in gpt2_library[name].definition


def test_regex_sets_by_hand(gpt2_library, token_id):
    hello = token_id("ĠHello")
    assert hello == 18435
    assert hello in gpt2_library["starts_with_space"].token_ids
    assert hello in gpt2_library["starts_with_capital"].token_ids
    assert hello in gpt2_library["length_5"].token_ids
    assert hello not in gpt2_library["all_caps"].token_ids
    # re.match is anchored at the start only: "ĠUSA" is all caps, "USAĠ"-style tails don't exist
    assert token_id("ĠUSA") in gpt2_library["all_caps"].token_ids
    assert token_id("Ġ2016") in gpt2_library["4 digits"].token_ids
    assert token_id(")") in gpt2_library["contains_close_bracket"].token_ids
    assert token_id("!") in gpt2_library["is_punctuation"].token_ids


def test_letter_sets_by_brute_force_and_by_hand(gpt2_vocab, gpt2_library, token_id):
    for letter in string.ascii_lowercase:
        expected = [
            i
            for i, raw in enumerate(gpt2_vocab.raw)
            if raw.strip("Ġ").isalpha() and raw.strip("Ġ")[0].lower() == letter
        ]
        assert gpt2_library[letter].token_ids.tolist() == expected, letter
    assert 18435 in gpt2_library["h"].token_ids  # "ĠHello": Ġ stripped, case folded
    assert token_id("hello") in gpt2_library["h"].token_ids
    assert token_id("Ġ3") not in gpt2_library["h"].token_ids
    in_any = set().union(*(gpt2_library[c].token_ids.tolist() for c in string.ascii_lowercase))
    assert token_id("ĠiPhone") in gpt2_library["i"].token_ids
    # the rule reads raw BPE strings: " café" is "ĠcafÃ©" there, and "©" is not a letter
    assert token_id("ĠcafÃ©") not in in_any
    assert token_id("Ġ(") not in in_any


# Words per list in sae_lens get_test_gene_sets, counted by hand (French and Spanish: the notebook's
# ten plus the single-token words added to them).
WORD_COUNTS = {
    "colors": 16,
    "positive_words": 49,
    "negative_words": 49,
    "emotions": 17,
    "capital_cities": 10,
    "countries": 10,
    "spanish_words": 22,
    "french_words": 26,
    "neuroscience_terms": 20,
    "economics_terms": 20,
    "ologies": 25,
    **{f"{decade}'s": 10 for decade in range(1910, 2020, 10)},
}


def test_word_lists_singles_and_dropped_by_hand(gpt2_vocab, gpt2_library):
    capitals = gpt2_library["capital_cities"]
    assert 6342 in capitals.token_ids and gpt2_vocab.text[6342] == " Paris"
    assert capitals.dropped == ("Washington, D.C.", "New Delhi")
    assert [gpt2_vocab.text[i] for i in capitals.token_ids] == [
        " London",
        " Paris",
        " Moscow",
        " Berlin",
        " Beijing",
        " Tokyo",
        " Ottawa",
        " Canberra",
    ]
    assert gpt2_library["colors"].dropped == ("teal", "lavender", "maroon")
    assert gpt2_library["countries"].dropped == ("United States", "United Kingdom")
    assert gpt2_vocab.text_to_id[" 1914"] in gpt2_library["1910's"].token_ids
    assert gpt2_library["neuroscience_terms"].token_ids.tolist() == [gpt2_vocab.text_to_id[" neuron"]]
    assert "colors.toml" in gpt2_library["colors"].definition


def test_word_lists_keep_every_word_once(gpt2_library):
    for name, count in WORD_COUNTS.items():
        if name in gpt2_library:
            token_set = gpt2_library[name]
            assert token_set.size + len(token_set.dropped) == count, name


# The notebook's French and Spanish words: none is a single GPT-2 token.
NOTEBOOK_FOREIGN_WORDS = {
    "french_words": ("bonjour", "amour", "heureux", "maison", "famille", "merci", "livre", "matin", "nuit", "ami"),
    "spanish_words": ("hola", "amor", "feliz", "casa", "familia", "gracias", "libro", "mañana", "noche", "amigo"),
}


def test_french_and_spanish_sets_are_built_for_gpt2_from_single_token_words(gpt2_library):
    from ingest.sources.vocabulary import gpt2_tokenizer

    tokenizer = gpt2_tokenizer()  # the BPE itself, not the vocabulary lookup the sets use
    for name, notebook_words in NOTEBOOK_FOREIGN_WORDS.items():
        token_set = gpt2_library[name]
        assert token_set.dropped == notebook_words, name
        assert token_set.size >= 12, name
        for token in token_set.token_ids.tolist():
            text = tokenizer.decode([token])
            assert text.startswith(" ") and tokenizer.encode(text) == [token], (name, text)
    assert not set(gpt2_library["french_words"].token_ids) & set(gpt2_library["spanish_words"].token_ids)
    assert not [w for w in gpt2_library.warnings if "word_list" in w]
