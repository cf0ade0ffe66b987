"""Reading token set definitions from a TOML or YAML file.

Both the user's own file and the packaged word lists (``data/*.toml``) use one format::

    [sets.my_months]
    words = ["January", "February"]

    [sets.ends_with_ing]
    regex = "ing$"

Each set has exactly one of ``words`` (a list of strings) or ``regex`` (a Python regular
expression), and optionally ``family = "user"``. Anything else is an error that names the file,
the set, what is wrong and how to fix it, because a typo silently ignored would give a catalog
without the set the user asked for.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex
import yaml
from regex import Pattern  # a compiled user regex (the regex package: its searches take a timeout)

ALLOWED_KEYS = ("words", "regex", "family")
EXAMPLE = '[sets.my_months]\nwords = ["January", "February"]\n\n[sets.ends_with_ing]\nregex = "ing$"'


@dataclass(frozen=True)
class SetSpec:
    """One validated set definition: a name and either a word list or a compiled regex."""

    name: str
    source: Path
    words: tuple[str, ...] | None = None
    regex: Pattern[str] | None = None


def read_set_specs(path: Path) -> list[SetSpec]:
    """Parse and validate every set of a ``.toml`` / ``.yaml`` / ``.yml`` file, in file order."""
    path = Path(path)
    document = _load_document(path)
    if not isinstance(document, dict) or not isinstance(document.get("sets"), dict):
        raise ValueError(f"{path}: no 'sets' table found. Fix: define each set under 'sets', for example\n{EXAMPLE}")
    extra = sorted(str(key) for key in document if key != "sets")
    if extra:
        raise ValueError(
            f"{path}: unknown top-level key(s) {extra}. Fix: put every set under the 'sets' "
            f"table (e.g. [sets.{extra[0]}]) and remove other keys"
        )
    return [_parse_set(path, name, body) for name, body in document["sets"].items()]


def _load_document(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ValueError(f"{path}: unsupported token set file type {suffix!r}. Fix: use a .toml, .yaml or .yml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path}: cannot read the token set file ({error}). Fix: check the path and that it "
            "is a readable UTF-8 text file"
        ) from error
    try:
        return tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, RecursionError) as error:
        kind = "TOML" if suffix == ".toml" else "YAML"
        reason = "it nests too deeply" if isinstance(error, RecursionError) else error
        raise ValueError(
            f"{path}: cannot parse the file as {kind}: {reason}. Fix: correct the syntax; "
            f"the expected layout is\n{EXAMPLE}"
        ) from error


def _parse_set(path: Path, name: Any, body: Any) -> SetSpec:
    where = f"{path}: token set {name!r}"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: the set name must be a non-empty string. Fix: rename the set")
    _check_text(where, "the set name", name)
    if not isinstance(body, dict):
        raise ValueError(
            f"{where}: expected a table with 'words' or 'regex', got {type(body).__name__}. "
            f'Fix: write it as [sets.{name}] followed by words = [...] or regex = "..."'
        )
    unknown = sorted(str(key) for key in body if key not in ALLOWED_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}. Fix: use only {list(ALLOWED_KEYS)}")
    if body.get("family", "user") != "user":
        raise ValueError(
            f"{where}: family must be 'user', got {body['family']!r}. Fix: remove the 'family' "
            "key (user-defined sets are always in the 'user' family)"
        )
    if ("words" in body) == ("regex" in body):
        raise ValueError(
            f"{where}: needs exactly one of 'words' or 'regex'. Fix: keep one of them (make two sets to combine both)"
        )
    if "words" in body:
        return SetSpec(name=name, source=path, words=_parse_words(where, body["words"]))
    return SetSpec(name=name, source=path, regex=_parse_regex(where, body["regex"]))


def _parse_words(where: str, words: Any) -> tuple[str, ...]:
    if not isinstance(words, list):
        raise ValueError(
            f"{where}: 'words' must be a list of strings, got {type(words).__name__}. "
            'Fix: write words = ["first", "second"]'
        )
    for word in words:
        # YAML reads 1910 as an int and no as False: say so instead of tokenizing "False".
        if not isinstance(word, str):
            raise ValueError(
                f'{where}: word {word!r} is a {type(word).__name__}, not a string. Fix: quote it ("{word}")'
            )
        _check_text(where, "a word", word)
    return tuple(words)


def _parse_regex(where: str, pattern: Any) -> Pattern[str]:
    if not isinstance(pattern, str):
        raise ValueError(f"{where}: 'regex' must be a string, got {type(pattern).__name__}. Fix: quote the pattern")
    _check_text(where, "the regex", pattern)
    # The syntax is Python's re (checked with re itself: the regex package accepts more, such as a
    # group name used twice); the search runs in the regex package, whose searches take a timeout.
    try:
        re.compile(pattern)
        return regex.compile(pattern)
    except (re.error, regex.error, OverflowError, RecursionError) as error:  # a{99999999999}, deep nesting
        raise ValueError(
            f"{where}: invalid regex {pattern!r}: {error}. Fix: correct the pattern "
            "(Python 're' syntax; escape literal characters such as '(' as '\\(')"
        ) from error


def _check_text(where: str, what: str, text: str) -> None:
    """YAML's "\\ud800" escapes give lone surrogates, which no UTF-8 text (nor the catalog) can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{where}: {what} {text!r} is not valid Unicode ({error.reason} at position {error.start}). "
            "Fix: remove the \\u escape of a lone surrogate"
        ) from None
