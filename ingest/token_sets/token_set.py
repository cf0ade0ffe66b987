"""The two data types of this package: a token set, and the library of them one model uses.

A token set is a named group of vocabulary token ids ("tokens starting with a capital", "colour
words", "tokens NLTK tags as NNP"). Enrichment scores each SAE feature against each set, so the
library is built once per model and written to the ``token_sets`` / ``token_set_members`` tables.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class TokenSet:
    """One named set of token ids and the rule that made it.

    ``token_ids`` is normalised to a sorted, unique, read-only int64 array, so two sets with the
    same members compare equal however they were built. ``dropped`` lists the words of a word list
    that were not a single token (and so are not members).
    """

    name: str
    family: str
    definition: str
    token_ids: np.ndarray
    dropped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ids = np.unique(np.asarray(self.token_ids, dtype=np.int64))
        ids.setflags(write=False)  # frozen means frozen: nobody edits a set in place
        object.__setattr__(self, "token_ids", ids)
        object.__setattr__(self, "dropped", tuple(self.dropped))

    @property
    def size(self) -> int:
        """Number of member tokens."""
        return int(self.token_ids.size)

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        # The generated dataclass __eq__ would compare arrays with ==, whose truth is ambiguous.
        if not isinstance(other, TokenSet):
            return NotImplemented
        return (self.name, self.family, self.definition, self.dropped) == (
            other.name,
            other.family,
            other.definition,
            other.dropped,
        ) and np.array_equal(self.token_ids, other.token_ids)

    def __hash__(self) -> int:
        return hash((self.name, self.family, self.definition, self.token_ids.tobytes()))


@dataclass(frozen=True)
class TokenSetLibrary:
    """All token sets of one model, in a fixed order with unique names.

    ``warnings`` says what was left out and why (too small, the whole vocabulary, NLTK data
    missing), so that a run can report it instead of silently cataloguing fewer sets;
    ``left_out`` holds the sets that were built but left out (so a report can count empty ones).
    """

    model_name: str
    vocab_size: int
    sets: tuple[TokenSet, ...]
    warnings: tuple[str, ...] = ()
    left_out: tuple[TokenSet, ...] = ()
    _by_name: dict[str, TokenSet] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sets", tuple(self.sets))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "left_out", tuple(self.left_out))
        by_name: dict[str, TokenSet] = {}
        for token_set in self.sets:
            if token_set.name in by_name:
                raise ValueError(
                    f"token set library of {self.model_name!r}: two sets named {token_set.name!r} "
                    f"({by_name[token_set.name].family} and {token_set.family}); names must be unique"
                )
            by_name[token_set.name] = token_set
        object.__setattr__(self, "_by_name", by_name)

    def names(self) -> list[str]:
        """Set names in library order."""
        return [token_set.name for token_set in self.sets]

    def __len__(self) -> int:
        return len(self.sets)

    def __iter__(self) -> Iterator[TokenSet]:
        return iter(self.sets)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> TokenSet:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(_unknown_name_message(name, self.names(), self.model_name)) from None


def _unknown_name_message(name: str, valid: Iterable[str], model_name: str) -> str:
    valid = list(valid)
    close = difflib.get_close_matches(str(name), valid, n=5, cutoff=0.6)
    hint = f"close matches: {close}" if close else f"valid names: {valid}"
    return f"no token set named {name!r} in the library of {model_name!r}; {hint}"
