"""GPT-2's token sets are pinned to what the code gave before token sets learnt other tokenizers.

The sizes and hashes below were computed from the unchanged code (commit ecae446, where every rule
read GPT-2's raw BPE strings) on the real GPT-2 vocabulary, with the NLTK data installed: the
notebook's numbers depend on these memberships. The one intended change is that the special token
``<|endoftext|>`` (id 50256) is in no set any more; it used to be tagged as a noun.
"""

import hashlib

import numpy as np

# name -> (members, first 16 hex digits of sha256 of the sorted int64 little-endian token ids)
PINNED = {
    "a": (4085, "ac59f016a471c99e"),  # letters
    "b": (2243, "05d267c3e8eeb375"),  # letters
    "c": (4000, "d3d224644c6a31c1"),  # letters
    "d": (2340, "73022a96e9a3dd2f"),  # letters
    "e": (2371, "f86c4596ef0c3b30"),  # letters
    "f": (1838, "21ada513ae507c54"),  # letters
    "g": (1334, "5cb5d1ebf2c20485"),  # letters
    "h": (1531, "29149bf558a58a7f"),  # letters
    "i": (2929, "fa68d76e852f2126"),  # letters
    "j": (492, "607b4e2f12cad83c"),  # letters
    "k": (555, "7e60bd80d2a5e6e6"),  # letters
    "l": (1612, "ae2b3d13ad2d4e84"),  # letters
    "m": (2294, "46773d6c70ae7812"),  # letters
    "n": (1032, "6eb8ea4ec917b9fc"),  # letters
    "o": (1937, "a77f28146220b36a"),  # letters
    "p": (3162, "4c3c8534326f63f0"),  # letters
    "q": (200, "c00269a426c9c56e"),  # letters
    "r": (2794, "1ab3880bf48266d8"),  # letters
    "s": (4266, "7f24a74157151a47"),  # letters
    "t": (2126, "fb9cb8d2c42f2ca0"),  # letters
    "u": (1293, "e8dbfc16bce72bd0"),  # letters
    "v": (824, "1081b602443f2ea5"),  # letters
    "w": (1165, "5292dc6dde21bf34"),  # letters
    "x": (78, "881192a741e42cb2"),  # letters
    "y": (252, "b277c174aa655e9a"),  # letters
    "z": (142, "d0b9f61f1f0d9807"),  # letters
    "starts_with_space": (33135, "5d7760a77f3475db"),  # regex
    "starts_with_capital": (16777, "080755dd844af92b"),  # regex
    "starts_with_lower": (30143, "8c3d31b92afddd08"),  # regex
    "all_digits": (1691, "fe782fb6d49ea3cc"),  # regex
    "is_punctuation": (529, "0998c275af0af5df"),  # regex
    "contains_close_bracket": (111, "6b1c9de4a2cd6363"),  # regex
    "contains_open_bracket": (74, "452ccb5ab5bcbeda"),  # regex
    "all_caps": (2775, "61502ca9a91efea1"),  # regex
    "1 digit": (20, "c305ec5ba4db3f4a"),  # regex
    "2 digits": (200, "9374f3ba7d4ba3aa"),  # regex
    "3 digits": (1183, "e4a6b4a0cd3fce4e"),  # regex
    "4 digits": (272, "ebe4ef9db7cd43b1"),  # regex
    "length_1": (284, "9ca382af7e2911c1"),  # regex
    "length_2": (2647, "254b6090ead7a4b1"),  # regex
    "length_3": (8403, "5eae1158d26fa19e"),  # regex
    "length_4": (11604, "2905ac10aed4303b"),  # regex
    "length_5": (11741, "482ae6d9727a484c"),  # regex
    "nltk_pos_#": (2, "afb18a16025d9b62"),  # nltk_pos
    "nltk_pos_$": (2, "6db2d47a12b2ddbb"),  # nltk_pos
    "nltk_pos_''": (4, "3c9e2cf7d3379583"),  # nltk_pos
    "nltk_pos_(": (4, "bccb68400cbac2af"),  # nltk_pos
    "nltk_pos_)": (4, "331bd889153e42ca"),  # nltk_pos
    "nltk_pos_,": (2, "911498e66b719bf8"),  # nltk_pos
    "nltk_pos_.": (6, "ada54242c19291d0"),  # nltk_pos
    "nltk_pos_:": (10, "9e39015d26bf3dac"),  # nltk_pos
    "nltk_pos_CC": (33, "4d44cf2082e94a7d"),  # nltk_pos
    "nltk_pos_CD": (1734, "84d641071d9b68db"),  # nltk_pos
    "nltk_pos_DT": (77, "08025f3a660f270c"),  # nltk_pos
    "nltk_pos_EX": (3, "ccf3f9343d6ef3e6"),  # nltk_pos
    "nltk_pos_FW": (3, "a47158f1ee9f300c"),  # nltk_pos
    "nltk_pos_IN": (284, "ae8a12c79100a75d"),  # nltk_pos
    "nltk_pos_JJ": (2662, "403e6d4820542cc0"),  # nltk_pos
    "nltk_pos_JJR": (31, "7206ac05f971149c"),  # nltk_pos
    "nltk_pos_JJS": (90, "d438e46d2fbc1b8d"),  # nltk_pos
    "nltk_pos_MD": (40, "cff8119e624a90b2"),  # nltk_pos
    "nltk_pos_NN": (31654, "bdca987eb86af3d5"),  # nltk_pos
    "nltk_pos_NNP": (1456, "f403553cb696962a"),  # nltk_pos
    "nltk_pos_NNPS": (4, "cd2035ebf4989884"),  # nltk_pos
    "nltk_pos_NNS": (6269, "3ad164f765d3ff0f"),  # nltk_pos
    "nltk_pos_POS": (1, "395768522c35487e"),  # nltk_pos
    "nltk_pos_PRP": (41, "b66c25c5cb0273e2"),  # nltk_pos
    "nltk_pos_PRP$": (37, "005716f8e12f4a62"),  # nltk_pos
    "nltk_pos_RB": (1162, "7f3a2243c68ce108"),  # nltk_pos
    "nltk_pos_RBR": (13, "ab5538d1687979f4"),  # nltk_pos
    "nltk_pos_RBS": (1, "c816efddad8933db"),  # nltk_pos
    "nltk_pos_SYM": (2, "8c26c78fd29cc4fa"),  # nltk_pos
    "nltk_pos_TO": (4, "86405139c7953f57"),  # nltk_pos
    "nltk_pos_UH": (6, "62b2050638cd271e"),  # nltk_pos
    "nltk_pos_VB": (413, "9594d04cb6509a4b"),  # nltk_pos
    "nltk_pos_VBD": (216, "b5cd5df622d233fb"),  # nltk_pos
    "nltk_pos_VBG": (1873, "5fd82d428ea0f374"),  # nltk_pos
    "nltk_pos_VBN": (2007, "168293aab29febc4"),  # nltk_pos
    "nltk_pos_VBP": (7, "4fdda1ce11d1104b"),  # nltk_pos
    "nltk_pos_VBZ": (39, "6e2dd315f6749efc"),  # nltk_pos
    "nltk_pos_WDT": (10, "ed8117ce28b801b1"),  # nltk_pos
    "nltk_pos_WP": (16, "a8662abdc8ae84f6"),  # nltk_pos
    "nltk_pos_WP$": (2, "09b2481aacd382e6"),  # nltk_pos
    "nltk_pos_WRB": (29, "f629f8d3fb1d16a1"),  # nltk_pos
    "nltk_pos_``": (4, "dab1d4b838856b0c"),  # nltk_pos
    "universal_pos_.": (38, "f40fec23cba04253"),  # universal_pos
    "universal_pos_ADJ": (2783, "a476ef31191a008a"),  # universal_pos
    "universal_pos_ADP": (284, "ae8a12c79100a75d"),  # universal_pos
    "universal_pos_ADV": (1205, "128687989d54871e"),  # universal_pos
    "universal_pos_CONJ": (33, "4d44cf2082e94a7d"),  # universal_pos
    "universal_pos_DET": (90, "3adaec25ecf5036e"),  # universal_pos
    "universal_pos_NOUN": (39383, "614221681de1caf9"),  # universal_pos
    "universal_pos_NUM": (1734, "84d641071d9b68db"),  # universal_pos
    "universal_pos_PRON": (96, "546f4d952d7a0d0d"),  # universal_pos
    "universal_pos_PRT": (5, "c3cadc3d5ac475b9"),  # universal_pos
    "universal_pos_VERB": (4595, "9ad7861490e17fd9"),  # universal_pos
    "universal_pos_X": (11, "7f7e02445123faad"),  # universal_pos
    "boys_names": (923, "deccc01e943a9e2a"),  # names
    "girls_names": (409, "70d8f31ccfee8ca6"),  # names
    "capital_cities": (8, "243ef38fdfa02973"),  # word_list
    "colors": (13, "01dd4666bee6a8cb"),  # word_list
    "countries": (8, "bdd2cf8eb680226c"),  # word_list
    "1910's": (10, "e46049f69a2c75d9"),  # word_list
    "1920's": (10, "f6a9567d914340cd"),  # word_list
    "1930's": (10, "1eb2f2148bfa10cb"),  # word_list
    "1940's": (10, "bee391cb3cb829f8"),  # word_list
    "1950's": (10, "cbd12ab51384a25b"),  # word_list
    "1960's": (10, "d096472c67380caf"),  # word_list
    "1970's": (10, "25863370b991501f"),  # word_list
    "1980's": (10, "e235a770473e35f1"),  # word_list
    "1990's": (10, "abc18f399b94a1b4"),  # word_list
    "2000's": (10, "152cdec2a8c6cdde"),  # word_list
    "2010's": (10, "d3e7c29ae25a3a8c"),  # word_list
    "economics_terms": (2, "a0c939d6e8f88079"),  # word_list
    "emotions": (17, "2624aa85f4e23c33"),  # word_list
    "french_words": (16, "aa5bad78599a219b"),  # word_list
    "negative_words": (28, "379c06026b7d87e1"),  # word_list
    "neuroscience_terms": (1, "b73b315b29e17fce"),  # word_list
    "ologies": (4, "c6be42443d1039e9"),  # word_list
    "positive_words": (36, "4646083279710bdf"),  # word_list
    "spanish_words": (12, "fc3dd83f796ac91f"),  # word_list
}
# Sets that lost special tokens (now in no set) relative to PINNED.
SPECIALS_REMOVED = {"nltk_pos_NN": [50256], "universal_pos_NOUN": [50256]}
ENDOFTEXT = 50256


def ids_hash(ids) -> str:
    return hashlib.sha256(np.asarray(ids, dtype="<i8").tobytes()).hexdigest()[:16]


def test_gpt2_sets_are_the_pinned_ones(gpt2_library):
    assert gpt2_library.names() == list(PINNED)
    for token_set in gpt2_library:
        ids = np.union1d(token_set.token_ids, SPECIALS_REMOVED.get(token_set.name, []))
        assert (ids.size, ids_hash(ids)) == PINNED[token_set.name], token_set.name
        assert ENDOFTEXT not in token_set.token_ids, token_set.name


def test_gpt2_marked_forms_are_the_raw_strings(gpt2_vocab):
    assert gpt2_vocab.kind == "byte_level"
    assert gpt2_vocab.marked == gpt2_vocab.raw
    assert gpt2_vocab.decoded == gpt2_vocab.text
    assert [token_id for token_id, why in enumerate(gpt2_vocab.excluded) if why] == [ENDOFTEXT]
    assert gpt2_vocab.excluded[ENDOFTEXT] == "special"
