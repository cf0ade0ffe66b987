"""Token sets a researcher defines in their own TOML or YAML file (family ``user``).

The file format is described in :mod:`ingest.token_sets.spec_file`. Two rules apply on top of it:

* ``words`` follow the word list rule: the token of ``" " + word`` when that is one token;
  ``regex`` is *searched* (``re.search``, anywhere) in each token's marked form (its bytes in
  GPT-2's BPE alphabet, for every tokenizer), where ``Ġ`` marks a leading space, so ``"ing$"``
  means "ends with ing" and ``"^Ġ[A-Z]"`` "a capitalised word" (``▁Paris`` included).
  (The notebook's built-in regexes use ``re.match``; they are reproduced as they were.)
* a set must have at least one member, and its name must not be a built-in set's name.

A user regex runs under a time budget (:data:`REGEX_BUDGET_S` per set, the ``regex`` package's
``timeout``): a pattern that backtracks catastrophically, such as ``(a|aa)+$`` against a long run
of ``a``, stops the build with an error naming the file and the set instead of hanging the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets.families import single_token_ids
from ingest.token_sets.spec_file import Pattern, SetSpec, read_set_specs
from ingest.token_sets.token_set import TokenSet

# Seconds one user regex may take over the whole vocabulary; an ordinary pattern needs well under
# one second even on a 256,000-token vocabulary.
REGEX_BUDGET_S = 10.0

# Given a set name, a reason it is taken by a built-in set, or None when it is free.
ClashCheck = Callable[[str], "str | None"]


def user_sets(path: Path, vocab: Vocabulary, clash: ClashCheck, *, budget_s: float | None = None) -> list[TokenSet]:
    """Build every set of the user's file against ``vocab``; raise ValueError on any problem.

    ``budget_s`` (default :data:`REGEX_BUDGET_S`) is the time each regex set may take."""
    path = Path(path)
    sets = []
    for spec in read_set_specs(path):
        reason = clash(spec.name)
        if reason:
            raise ValueError(
                f"{path}: token set {spec.name!r}: the name {reason}. Fix: rename the set (e.g. 'my_{spec.name}')"
            )
        sets.append(_build(spec, vocab, REGEX_BUDGET_S if budget_s is None else budget_s))
    return sets


def searched_ids(pattern: Pattern[str], vocab: Vocabulary, budget_s: float) -> list[int]:
    """Ids of the tokens whose marked form ``pattern`` is found in (``search``, anywhere).

    Raises TimeoutError when the search of all tokens together takes more than ``budget_s``."""
    deadline = time.monotonic() + budget_s
    ids = []
    for token_id, marked in vocab.members():
        # regex checks the timeout inside its matching loop, so one runaway token cannot hang
        if pattern.search(marked, timeout=max(deadline - time.monotonic(), 1e-6)):
            ids.append(token_id)
    return ids


def _build(spec: SetSpec, vocab: Vocabulary, budget_s: float) -> TokenSet:
    where = f"{spec.source}: token set {spec.name!r}"
    if spec.regex is not None:
        try:
            ids = searched_ids(spec.regex, vocab, budget_s)
        except TimeoutError:
            raise ValueError(
                f"{where}: regex {spec.regex.pattern!r} took more than {budget_s:g} s on the "
                f"{len(vocab)} tokens of {vocab.model_name!r} (catastrophic backtracking, e.g. a "
                "nested repeat such as '(a|aa)+'). Fix: simplify the pattern so that no part can "
                "match the same text in many ways (e.g. 'a+' for '(a|aa)+')"
            ) from None
        if not ids:
            raise ValueError(
                f"{where}: regex {spec.regex.pattern!r} matches no token of the {vocab.model_name!r} "
                "vocabulary. Fix: loosen the pattern; it is searched in the tokens' marked forms, "
                "where a leading space is written 'Ġ' for every tokenizer (e.g. '^Ġ[A-Z]')"
            )
        definition = (
            f"re.search with regex {spec.regex.pattern} on the marked form (bytes in GPT-2's BPE "
            f"alphabet, 'Ġ' marks a leading space) from user file {spec.source.name}"
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
