"""Token sets a researcher defines in their own TOML or YAML file (family ``user``).

The file format is described in :mod:`ingest.token_sets.spec_file`. Two rules apply on top of it:

* ``words`` follow the word list rule: the token of ``" " + word`` when that is one token;
  ``regex`` is *searched* (``re.search``, anywhere) in the raw BPE string, where ``Ġ`` marks a
  leading space, so ``"ing$"`` means "ends with ing" and ``"^Ġ[A-Z]"`` "a capitalised word".
  (The notebook's built-in regexes use ``re.match``; they are reproduced as they were.)
* a set must have at least one member, and its name must not be a built-in set's name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets.families import regex_ids, single_token_ids
from ingest.token_sets.spec_file import SetSpec, read_set_specs
from ingest.token_sets.token_set import TokenSet

# Given a set name, a reason it is taken by a built-in set, or None when it is free.
ClashCheck = Callable[[str], "str | None"]


def user_sets(path: Path, vocab: Vocabulary, clash: ClashCheck) -> list[TokenSet]:
    """Build every set of the user's file against ``vocab``; raise ValueError on any problem."""
    path = Path(path)
    sets = []
    for spec in read_set_specs(path):
        reason = clash(spec.name)
        if reason:
            raise ValueError(
                f"{path}: token set {spec.name!r}: the name {reason}. Fix: rename the set (e.g. 'my_{spec.name}')"
            )
        sets.append(_build(spec, vocab))
    return sets


def _build(spec: SetSpec, vocab: Vocabulary) -> TokenSet:
    where = f"{spec.source}: token set {spec.name!r}"
    if spec.regex is not None:
        ids = regex_ids(spec.regex, vocab, search=True)
        if not ids:
            raise ValueError(
                f"{where}: regex {spec.regex.pattern!r} matches no token of the {vocab.model_name!r} "
                "vocabulary. Fix: loosen the pattern; it is searched in raw BPE strings, where a "
                "leading space is written 'Ġ' (e.g. '^Ġ[A-Z]')"
            )
        definition = (
            f"re.search with regex {spec.regex.pattern} on the raw BPE string ('Ġ' marks a "
            f"leading space) from user file {spec.source.name}"
        )
        return TokenSet(spec.name, "user", definition, np.asarray(ids, dtype=np.int64))
    assert spec.words is not None
    ids, dropped = single_token_ids(spec.words, vocab)
    if not ids:
        raise ValueError(
            f"{where}: none of its {len(spec.words)} words is a single token of the "
            f"{vocab.model_name!r} vocabulary as ' '+word (dropped: {list(dropped)[:10]}). Fix: use "
            "words that are one token with a leading space, or a regex"
        )
    definition = (
        f"single-token ' '+word from user file {spec.source.name}; {len(dropped)} of "
        f"{len(spec.words)} words dropped as not one token"
    )
    return TokenSet(spec.name, "user", definition, np.asarray(ids, dtype=np.int64), dropped)
