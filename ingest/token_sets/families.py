"""The token set families that need nothing but the vocabulary: letters, regexes, word lists.

They reproduce the logit-lens notebook (SAELens ``sae_lens.analysis.tsea``) so that catalog results
can be compared with it; where the catalog's rule differs, the set's ``definition`` says so.

The notebook's rules read GPT-2's raw BPE strings (``Ġ`` = a leading space). They run here on each
token's *marked form* (:attr:`ingest.sources.vocabulary.Vocabulary.marked`): its bytes in the same
alphabet, whatever the tokenizer, so ``▁Paris`` (SentencePiece) is matched as ``ĠParis`` and GPT-2
keeps its exact sets. Special, control and byte-fallback tokens are in no set.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets.spec_file import read_set_specs
from ingest.token_sets.token_set import TokenSet

DATA_DIR = Path(__file__).parent / "data"

# The notebook's regex_dict, verbatim and in its order.
REGEX_DICT: dict[str, str] = {
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


def letter_sets(vocab: Vocabulary) -> list[TokenSet]:
    """Sets ``a`` … ``z``: alphabetic tokens by their first letter, either case.

    As SAELens ``get_letter_gene_sets``: take the marked form (GPT-2's raw BPE string), strip
    ``Ġ`` from both ends (``str.strip``), keep it if ``str.isalpha()`` (Unicode letters), and file
    it under its first character lowercased when that is an ASCII letter. So ``ĠHello`` and
    ``▁Hello`` are in ``h``, ``Ġ3D`` in none.
    """
    members: dict[str, list[int]] = {letter: [] for letter in string.ascii_lowercase}
    for token_id, marked in vocab.members():
        clean = marked.strip("Ġ")
        if clean.isalpha() and clean[0].lower() in members:
            members[clean[0].lower()].append(token_id)
    return [
        TokenSet(
            name=letter,
            family="letters",
            definition=(
                f"first letter {letter!r} (either case) of alphabetic tokens: marked form (bytes "
                "in GPT-2's BPE alphabet) with 'Ġ' stripped from both ends, str.isalpha() true"
            ),
            token_ids=np.asarray(ids, dtype=np.int64),
        )
        for letter, ids in members.items()
    ]


def regex_ids(pattern: re.Pattern[str], vocab: Vocabulary) -> list[int]:
    """Ids of tokens whose marked form matches with ``re.match`` (anchored at the start only)."""
    return [token_id for token_id, marked in vocab.members() if pattern.match(marked)]


def regex_sets(vocab: Vocabulary) -> list[TokenSet]:
    """One set per entry of the notebook's ``regex_dict``, matched as SAELens
    ``get_gene_set_from_regex`` does: ``re.match`` on the marked form (``Ġ`` = leading space)."""
    return [
        TokenSet(
            name=name,
            family="regex",
            definition=(
                f"re.match with regex {pattern} on the marked form (bytes in GPT-2's BPE alphabet, "
                "'Ġ' marks a leading space; anchored at the start only, as in the notebook)"
            ),
            token_ids=np.asarray(regex_ids(re.compile(pattern), vocab), dtype=np.int64),
        )
        for name, pattern in REGEX_DICT.items()
    ]


def single_token_ids(words: Iterable[str], vocab: Vocabulary) -> tuple[list[int], tuple[str, ...]]:
    """Token ids of ``" " + word`` for the words that are exactly one token, and the words that
    are not (dropped, in order, without repeats).

    A word is a member when one token of the model's vocabulary decodes, in context, to ``" " +
    word`` (``Ġword`` in byte-level BPE, ``▁word`` in SentencePiece), and no other token does.

    SAELens instead encodes ``" " + word`` and keeps *every* token of multi-token words, which
    puts pieces like ``","`` or ``" D"`` into "capital cities"; the catalog keeps whole words only.
    """
    lookup = vocab.decoded_to_id
    ids: list[int] = []
    dropped: dict[str, None] = {}
    for word in words:
        token_id = lookup.get(" " + word)
        if token_id is None:
            dropped[word] = None
        else:
            ids.append(token_id)
    return ids, tuple(dropped)


def word_list_files() -> list[Path]:
    """The packaged word list files, in name order (adding a file adds its sets)."""
    return sorted(DATA_DIR.glob("*.toml"))


def word_list_names() -> list[str]:
    """Names of all packaged word list sets, without building them."""
    return [spec.name for path in word_list_files() for spec in read_set_specs(path)]


def word_list_sets(vocab: Vocabulary) -> list[TokenSet]:
    """The notebook's hand-made lists (decades, colours, sentiment, places, languages, terms)."""
    sets = []
    for path in word_list_files():
        for spec in read_set_specs(path):
            assert spec.words is not None, f"{path}: packaged word lists hold words only"
            ids, dropped = single_token_ids(spec.words, vocab)
            definition = (
                f"single-token ' '+word from data file {path.name} (the token whose decoded text "
                f"in context is ' '+word); {len(dropped)} of {len(spec.words)} words dropped as not one token"
            )
            sets.append(TokenSet(spec.name, "word_list", definition, np.asarray(ids, dtype=np.int64), dropped))
    return sets
