"""The token set families that need NLTK data: part-of-speech tags and first names.

Call these only after :func:`ingest.token_sets.nltk_data.unavailable_families` has confirmed the
data is there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from nltk.corpus import names as names_corpus
from nltk.tag.mapping import map_tag
from nltk.tag.perceptron import PerceptronTagger

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets.families import single_token_ids
from ingest.token_sets.token_set import TokenSet

NLTK_POS_PREFIX = "nltk_pos_"
UNIVERSAL_POS_PREFIX = "universal_pos_"
NAME_SET_FILES = {"boys_names": "male.txt", "girls_names": "female.txt"}
NO_TAG = ""  # the tag of a token that no set may hold

_TAGGED_TEXT = (
    "the marked form (bytes in GPT-2's BPE alphabet) with 'Ġ' stripped from both ends, tagged alone "
    "as a one-word sentence"
)


def penn_tags(vocab: Vocabulary) -> list[str]:
    """The Penn Treebank tag of every token, as SAELens ``generate_pos_sets`` computes it.

    Each token is tagged on its own (``nltk.pos_tag([marked.strip("Ġ")])``, the marked form being
    GPT-2's raw BPE string) with NLTK's averaged perceptron tagger, so a tag reflects the word's most
    likely use, not a context. Calling the tagger directly and once per distinct string gives the
    same tags in a few seconds. Tokens no set may hold (special, control, byte fallback) get
    :data:`NO_TAG`.
    """
    tagger = PerceptronTagger()
    cache: dict[str, str] = {}
    tags = []
    for marked, excluded in zip(vocab.marked, vocab.excluded, strict=True):
        clean = marked.strip("Ġ")
        if excluded:
            tags.append(NO_TAG)
            continue
        if clean not in cache:
            cache[clean] = tagger.tag([clean])[0][1]
        tags.append(cache[clean])
    return tags


def _group(labels: Sequence[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for token_id, label in enumerate(labels):
        if label != NO_TAG:
            groups[label].append(token_id)
    return dict(sorted(groups.items()))  # sorted by tag: the order must not depend on the vocabulary


def nltk_pos_sets(tags: Sequence[str]) -> list[TokenSet]:
    """One set ``nltk_pos_<TAG>`` per Penn tag that occurs (e.g. ``nltk_pos_NNP``, ``nltk_pos_PRP$``)."""
    return [
        TokenSet(
            name=NLTK_POS_PREFIX + tag,
            family="nltk_pos",
            definition=f"NLTK Penn Treebank tag {tag!r} of {_TAGGED_TEXT} (nltk.pos_tag)",
            token_ids=np.asarray(ids, dtype=np.int64),
        )
        for tag, ids in _group(tags).items()
    ]


def universal_pos_sets(tags: Sequence[str]) -> list[TokenSet]:
    """One set ``universal_pos_<TAG>`` per universal tag (``NOUN``, ``VERB``, ``.`` …): the Penn tag
    mapped with ``map_tag('en-ptb', 'universal', tag)``, coarser and so with larger sets."""
    mapping = {tag: map_tag("en-ptb", "universal", tag) for tag in set(tags) - {NO_TAG}}
    mapping[NO_TAG] = NO_TAG
    return [
        TokenSet(
            name=UNIVERSAL_POS_PREFIX + tag,
            family="universal_pos",
            definition=(
                f"universal tag {tag!r} (nltk map_tag('en-ptb', 'universal', penn_tag)) of the "
                f"Penn tag of {_TAGGED_TEXT}"
            ),
            token_ids=np.asarray(ids, dtype=np.int64),
        )
        for tag, ids in _group([mapping[tag] for tag in tags]).items()
    ]


def name_sets(vocab: Vocabulary) -> list[TokenSet]:
    """``boys_names`` and ``girls_names`` from the NLTK names corpus (``male.txt``, ``female.txt``).

    As SAELens ``get_baby_name_sets``: a name is a member when ``" " + name`` (capitalised as in
    the corpus) is one token. Names listed in both files (unisex, e.g. "Alex") are left out of
    both, so the two sets are disjoint and a boys-versus-girls contrast means what it says.
    """
    lists = {name: names_corpus.words(file) for name, file in NAME_SET_FILES.items()}
    boys, girls = (set(words) for words in lists.values())
    unisex = boys & girls
    sets = []
    for set_name, file in NAME_SET_FILES.items():
        words = [word for word in lists[set_name] if word not in unisex]
        ids, dropped = single_token_ids(words, vocab)
        definition = (
            f"single-token ' '+name from the NLTK names corpus {file} ({len(unisex)} names also in "
            f"the other file left out); {len(dropped)} of {len(words)} names dropped as not one token"
        )
        sets.append(TokenSet(set_name, "names", definition, np.asarray(ids, dtype=np.int64), dropped))
    return sets
