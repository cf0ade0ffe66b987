"""NLTK families (part of speech, names) and the fallback when NLTK data is missing."""

import sys

import nltk

from ingest.token_sets import build_library
from ingest.token_sets.nltk_families import penn_tags


def test_pos_sets_contain_clear_cases(gpt2_library, token_id):
    cases = {
        "nltk_pos_DT": "Ġthe",
        "nltk_pos_VBD": "Ġwas",
        "nltk_pos_NN": "Ġhouse",
        "nltk_pos_VBG": "Ġrunning",
        "nltk_pos_PRP": "Ġhe",
        "nltk_pos_IN": "Ġof",
        "nltk_pos_MD": "Ġcan",
        "nltk_pos_NNP": "ĠJohn",
        "universal_pos_NOUN": "Ġhouse",
        "universal_pos_VERB": "Ġwas",
        "universal_pos_DET": "Ġthe",
    }
    for name, raw in cases.items():
        assert token_id(raw) in gpt2_library[name].token_ids, (name, raw)
    assert token_id("Ġhouse") not in gpt2_library["nltk_pos_VBD"].token_ids


def test_pos_tags_agree_with_nltk_pos_tag_on_a_sample(gpt2_vocab, gpt2_library):
    tag_of = {}
    for token_set in gpt2_library:
        if token_set.family == "nltk_pos":
            for i in token_set.token_ids.tolist():
                assert i not in tag_of, "every token has exactly one Penn tag"
                tag_of[i] = token_set.name.removeprefix("nltk_pos_")
    # every token but the special <|endoftext|> (id 50256), which is in no set
    assert sorted(tag_of) == list(range(len(gpt2_vocab) - 1))
    for i in range(0, len(gpt2_vocab), 211):  # the notebook's own call, one token at a time
        assert tag_of[i] == nltk.pos_tag([gpt2_vocab.raw[i].strip("Ġ")])[0][1], gpt2_vocab.raw[i]


def test_universal_sets_are_unions_of_mapped_penn_sets(gpt2_library):
    from nltk.tag.mapping import map_tag

    expected = {}
    for token_set in gpt2_library:
        if token_set.family == "nltk_pos":
            universal = map_tag("en-ptb", "universal", token_set.name.removeprefix("nltk_pos_"))
            expected.setdefault(universal, set()).update(token_set.token_ids.tolist())
    got = {
        s.name.removeprefix("universal_pos_"): set(s.token_ids.tolist())
        for s in gpt2_library
        if s.family == "universal_pos"
    }
    assert got == expected


def test_name_sets(gpt2_vocab, gpt2_library):
    boys, girls = gpt2_library["boys_names"], gpt2_library["girls_names"]
    assert gpt2_vocab.text_to_id[" John"] in boys.token_ids
    assert gpt2_vocab.text_to_id[" Mary"] in girls.token_ids
    assert gpt2_vocab.text_to_id[" Mary"] not in boys.token_ids
    assert not set(boys.token_ids.tolist()) & set(girls.token_ids.tolist())
    # "Alex" is in both male.txt and female.txt: unisex names are in neither set
    assert gpt2_vocab.text_to_id[" Alex"] not in boys.token_ids
    assert gpt2_vocab.text_to_id[" Alex"] not in girls.token_ids
    assert boys.size > 100 and girls.size > 100
    assert all(" " + name not in gpt2_vocab.text_to_id for name in boys.dropped[:50])


def test_missing_nltk_data_skips_three_families_with_one_warning(gpt2_vocab, tmp_path, monkeypatch):
    attempts = []
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setattr(nltk, "download", lambda package, **kwargs: attempts.append(package) or False)
    library = build_library(gpt2_vocab)
    families = {token_set.family for token_set in library}
    assert families == {"letters", "regex", "word_list"}
    nltk_warnings = [w for w in library.warnings if "NLTK" in w]
    assert len(nltk_warnings) == 1
    assert "['nltk_pos', 'universal_pos', 'names'] were skipped" in nltk_warnings[0]
    command = (
        f"`{sys.executable} -m ingest.token_sets.nltk_data --copy-from DIR`"  # the setup step, runnable as written
    )
    assert command in nltk_warnings[0]
    assert "NLTK_DATA" in nltk_warnings[0]
    assert attempts == ["averaged_perceptron_tagger_eng", "universal_tagset", "names"]


def test_missing_nltk_data_is_downloaded_when_possible(gpt2_vocab, tmp_path, monkeypatch):
    real_path = list(nltk.data.path)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setattr(nltk, "download", lambda package, **kwargs: nltk.data.path.extend(real_path) or True)
    library = build_library(gpt2_vocab, families=["names"])
    assert library.names() == ["boys_names", "girls_names"] and library.warnings == ()


def test_penn_tags_of_a_tiny_vocabulary():
    from ingest.sources.vocabulary import Vocabulary

    vocab = Vocabulary("toy", raw=["Ġthe", "Ġwas", "ĠĠ"], text=[" the", " was", "  "])
    assert penn_tags(vocab)[:2] == ["DT", "VBD"]
