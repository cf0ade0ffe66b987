"""Building a model's token set library, and printing it.

``build_library(vocab)`` gives every built-in family (the logit-lens notebook's sets) plus the
sets of an optional user file; ``describe_library`` prints them the way the notebook's loop did,
largest first, so a researcher can check the sets make sense before a long ingest run.
"""

from __future__ import annotations

import statistics
import string
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import families as plain_families
from ingest.token_sets import nltk_families
from ingest.token_sets.nltk_data import unavailable_families
from ingest.token_sets.token_set import TokenSet, TokenSetLibrary
from ingest.token_sets.user_file import user_sets

# Built order of the families; within a family the order is fixed by its builder.
FAMILIES = ("letters", "regex", "nltk_pos", "universal_pos", "names", "word_list", "user")


def build_library(
    vocab: Vocabulary,
    user_file: Path | None = None,
    *,
    families: Sequence[str] | None = None,
    min_size: int = 1,
) -> TokenSetLibrary:
    """Build the token sets of ``vocab``.

    ``families`` picks which of :data:`FAMILIES` to build (default: all). Sets with fewer than
    ``min_size`` members, or with every token as a member (enrichment needs non-members), are left
    out and said so in ``warnings`` (special, control and byte-fallback tokens are in no set, so
    "every token" means every other token); so are the NLTK families when their data cannot be found or
    downloaded. Errors in ``user_file`` raise ValueError naming the file and the set.
    """
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1 (an empty set has no enrichment), got {min_size}")
    selected = _select_families(families, user_file)
    skipped, nltk_warning = unavailable_families(selected)
    warnings = [nltk_warning] if nltk_warning else []
    builders = _family_builders(vocab, user_file)
    # The user file goes first so that its mistakes surface before seconds of POS tagging.
    to_build = sorted((f for f in selected if f not in skipped), key=lambda family: family != "user")
    built = {family: builders[family]() for family in to_build}
    candidates = [s for family in selected if family in built for s in built[family]]
    eligible = len(vocab.members())
    kept = [s for s in candidates if _keep(s, (eligible, len(vocab)), min_size, warnings)]
    left_out = [s for s in candidates if not any(s is k for k in kept)]
    return TokenSetLibrary(vocab.model_name, len(vocab), tuple(kept), tuple(warnings), tuple(left_out))


def _select_families(families: Sequence[str] | None, user_file: Path | None) -> list[str]:
    if families is None:
        return list(FAMILIES)
    unknown = [family for family in families if family not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown token set famil(ies) {unknown}; valid: {list(FAMILIES)}")
    if user_file is not None and "user" not in families:
        raise ValueError(
            f"a user file ({user_file}) was given but 'user' is not in families {list(families)}; "
            "add 'user' or drop the file"
        )
    return [family for family in FAMILIES if family in families]  # canonical order, no repeats


def _family_builders(vocab: Vocabulary, user_file: Path | None) -> dict[str, Callable[[], list[TokenSet]]]:
    tags: list[list[str]] = []  # both POS families share one tagging pass

    def penn_tags() -> list[str]:
        if not tags:
            tags.append(nltk_families.penn_tags(vocab))
        return tags[0]

    return {
        "letters": lambda: plain_families.letter_sets(vocab),
        "regex": lambda: plain_families.regex_sets(vocab),
        "nltk_pos": lambda: nltk_families.nltk_pos_sets(penn_tags()),
        "universal_pos": lambda: nltk_families.universal_pos_sets(penn_tags()),
        "names": lambda: nltk_families.name_sets(vocab),
        "word_list": lambda: plain_families.word_list_sets(vocab),
        "user": lambda: user_sets(user_file, vocab, builtin_clash) if user_file is not None else [],
    }


def _keep(token_set: TokenSet, sizes: tuple[int, int], min_size: int, warnings: list[str]) -> bool:
    """Whether to keep the set; ``sizes`` = (tokens a set may hold, all tokens)."""
    eligible, vocab_size = sizes
    where = f"token set {token_set.name!r} ({token_set.family})"
    if token_set.size < min_size:
        # An empty word list is usually all multi-token words: say so, it is the likely surprise.
        why = f"; {len(token_set.dropped)} words were not a single token" if token_set.dropped else ""
        warnings.append(f"{where} left out: {token_set.size} members, fewer than min_size={min_size}{why}")
        return False
    if token_set.size == eligible:
        others = f" a set may hold (the other {vocab_size - eligible} are special)" if eligible < vocab_size else ""
        warnings.append(
            f"{where} left out: it holds all {eligible} tokens{others}, so enrichment (members "
            "versus non-members) is undefined for it"
        )
        return False
    return True


def builtin_clash(name: str) -> str | None:
    """Why ``name`` is taken by a built-in set (of any family, built or not), or None if it is free."""
    reserved = {
        nltk_families.NLTK_POS_PREFIX: "nltk_pos",
        nltk_families.UNIVERSAL_POS_PREFIX: "universal_pos",
    }
    for prefix, family in reserved.items():
        if name.startswith(prefix):
            return f"starts with {prefix!r}, which is reserved for the built-in {family!r} family"
    fixed = {
        **{letter: "letters" for letter in string.ascii_lowercase},
        **{regex_name: "regex" for regex_name in plain_families.REGEX_DICT},
        **{set_name: "names" for set_name in nltk_families.NAME_SET_FILES},
        **{set_name: "word_list" for set_name in plain_families.word_list_names()},
    }
    if name in fixed:
        return f"is already used by the built-in {fixed[name]!r} set {name!r}"
    return None


def describe_library(library: TokenSetLibrary, vocab: Vocabulary, samples: int = 10) -> str:
    """A text table of the sets, largest first: name, family, size, dropped words, and the decoded
    text in context (repr'd, so spaces and newlines show: ``' Paris'`` for ``▁Paris`` even where a
    SentencePiece decoder strips the space of a lone token) of the first ``samples`` members."""
    rows = sorted(library.sets, key=lambda token_set: -token_set.size)  # stable: ties keep library order
    width = max([len("name"), *(len(token_set.name) for token_set in rows)])
    lines = [
        f"{len(rows)} token sets of {library.model_name!r} ({library.vocab_size} tokens)",
        f"{'name':<{width}}  {'family':<13}  {'size':>6}  {'dropped':>7}  first tokens",
    ]
    for token_set in rows:
        tokens = [vocab.decoded[token_id] for token_id in token_set.token_ids[:samples]]
        lines.append(
            f"{token_set.name:<{width}}  {token_set.family:<13}  {token_set.size:>6}  "
            f"{len(token_set.dropped):>7}  {tokens!r}"
        )
    lines += [f"warning: {warning}" for warning in library.warnings]
    return "\n".join(lines)


def family_summary(library: TokenSetLibrary) -> str:
    """A text table with one row per family: sets kept, their min / median / max size, and how
    many of its sets came out empty for this vocabulary (and were left out)."""
    lines = [
        f"family sizes for {library.model_name!r} (kept sets: min / median / max members; empty: sets left "
        "out with no member)",
        f"{'family':<13}  {'sets':>5}  {'min':>7}  {'median':>7}  {'max':>7}  {'empty':>5}",
    ]
    for family in FAMILIES:
        sizes = [token_set.size for token_set in library.sets if token_set.family == family]
        empty = sum(1 for token_set in library.left_out if token_set.family == family and token_set.size == 0)
        if not sizes and not empty:
            continue
        spread = (
            f"{min(sizes):>7}  {statistics.median(sizes):>7g}  {max(sizes):>7}"
            if sizes
            else "  ".join([f"{'-':>7}"] * 3)
        )
        lines.append(f"{family:<13}  {len(sizes):>5}  {spread}  {empty:>5}")
    return "\n".join(lines)
