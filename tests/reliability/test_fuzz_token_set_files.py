"""User token set files, fuzzed (issue #6, item 3).

Hypothesis writes TOML and YAML files with random set names, keys, value types, word lists and
regexes (valid, invalid, absurd), sometimes truncated or with a stray character, under the right
or a wrong suffix. `build_library(vocab, file, families=["user"])` must raise ValueError naming the
file, or return sets that follow the file's rules exactly and that the catalog can store.
"""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.token_sets import build_library

EDGE_NAMES = [
    "my_set",
    "months",
    "a",
    "z",
    "nltk_pos_NN",
    "upos_NOUN",
    "colors",
    "boys",
    "",
    " ",
    "\ud800",
    "a\x00b",
    "x" * 200,
    "1",
    "sets",
]
EDGE_WORDS = ["January", "the", "Paris", "1910s", "red", "", " ", "\ud800", "a\x00b", "hello world", "naïve", "ing"]
EDGE_REGEXES = [
    "ing$",
    "^Ġ[A-Z]",
    "^Ġ",
    "(",
    "[",
    "a{99999999999}",
    "(?P<x>a)(?P<x>b)",
    ".",
    "",
    "zzzzqqq",
    "^$",
    "\\",
    "x*",
    "[z-a]",
    "(?i)^Ġthe$",
    "\ud800",
    "^[0-9]+$",
]
# Random patterns without groups or repeats of repeats, so that none backtracks catastrophically.
safe_regexes = st.text(alphabet="abcdeĠAZ019^$.[]-?|\\", max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**40), st.floats(allow_nan=True), st.text(max_size=6))


def word_lists():
    return st.one_of(
        st.lists(st.one_of(st.sampled_from(EDGE_WORDS), st.text(max_size=8)), max_size=6),
        st.lists(scalars, max_size=3),
        scalars,
    )


def bodies():
    """A set's table: mostly one of words/regex, sometimes both, neither, odd keys or not a table at all."""
    entries = st.fixed_dictionaries(
        {},
        optional={
            "words": word_lists(),
            "regex": st.one_of(st.sampled_from(EDGE_REGEXES), safe_regexes, scalars),
            "family": st.one_of(st.just("user"), st.just("letters"), scalars),
            "colour": scalars,
        },
    )
    return st.one_of(entries, entries, entries, scalars, st.lists(scalars, max_size=2))


GOOD_WORDS = ["January", "the", "Paris", "red", "hello", "water", "France", "happy", "1910s", "zzzqqq"]
GOOD_REGEXES = ["ing$", "^Ġ[A-Z]", "^[0-9]+$", "^Ġthe$", "ment$", "^Ġ[a-z]+ly$", "."]
good_names = st.from_regex(r"[a-z][a-z_0-9]{2,10}", fullmatch=True)
good_bodies = st.one_of(
    st.fixed_dictionaries(
        {"words": st.lists(st.one_of(st.sampled_from(GOOD_WORDS), st.text(max_size=6)), min_size=1, max_size=6)},
        optional={"family": st.just("user")},
    ),
    st.fixed_dictionaries({"regex": st.one_of(st.sampled_from(GOOD_REGEXES), safe_regexes)}),
)
good_documents = st.fixed_dictionaries({"sets": st.dictionaries(good_names, good_bodies, min_size=1, max_size=3)})
DOCUMENTS = {
    "good": good_documents,
    "edgy": st.fixed_dictionaries(
        {
            "sets": st.dictionaries(
                st.one_of(st.sampled_from(EDGE_NAMES), good_names, st.text(max_size=10)),
                st.one_of(good_bodies, bodies()),
                max_size=3,
            )
        }
    ),
    "edge-values": st.fixed_dictionaries(
        {
            "sets": st.dictionaries(
                st.one_of(st.sampled_from(EDGE_NAMES), good_names),
                st.one_of(
                    st.fixed_dictionaries(
                        {"words": st.lists(st.sampled_from(EDGE_WORDS + GOOD_WORDS), min_size=1, max_size=4)}
                    ),
                    st.fixed_dictionaries({"regex": st.sampled_from(EDGE_REGEXES)}),
                ),
                min_size=1,
                max_size=2,
            )
        }
    ),
    "odd-bodies": st.fixed_dictionaries(
        {"sets": st.dictionaries(st.text(max_size=5), bodies(), max_size=2)}, optional={"extra": scalars}
    ),
    "no-sets": st.one_of(st.dictionaries(st.text(max_size=5), scalars, max_size=2), scalars),
}


def toml_text(document) -> str:
    """TOML written the simple way: each set a [sets."name"] table of JSON-spelled values (which are
    TOML for strings, integers, booleans and arrays of them, and invalid TOML for the rest)."""
    if not isinstance(document, dict):
        return json.dumps(document)
    lines = [f"{json.dumps(key)} = {json.dumps(value)}" for key, value in document.items() if key != "sets"]
    for name, body in (document.get("sets") or {}).items() if isinstance(document.get("sets"), dict) else []:
        lines.append(f"[sets.{json.dumps(name)}]")
        if isinstance(body, dict):
            lines += [f"{json.dumps(key)} = {json.dumps(value)}" for key, value in body.items()]
        else:
            lines.append(f"value = {json.dumps(body)}")
    return "\n".join(lines) + "\n"


@st.composite
def files(draw) -> tuple[str, str]:
    """(file name, text)."""
    document = draw(
        DOCUMENTS[draw(st.sampled_from(["good"] * 4 + ["edge-values"] * 3 + ["edgy"] * 2 + ["odd-bodies", "no-sets"]))]
    )
    suffix = draw(st.sampled_from([".toml"] * 4 + [".yaml"] * 3 + [".yml", ".txt", ""]))
    text = (
        toml_text(document)
        if suffix == ".toml" or (suffix not in (".yaml", ".yml") and draw(st.booleans()))
        else yaml.safe_dump(document, allow_unicode=True)
    )
    mutation = draw(st.sampled_from(["none"] * 6 + ["truncate", "insert"]))
    position = draw(st.integers(0, max(len(text), 1)))
    if mutation == "truncate":
        text = text[:position]
    elif mutation == "insert":
        text = (
            text[:position]
            + draw(st.sampled_from(["[", '"', ":", "\n", "{", "&a", "*a", "\t", "\\"]))
            + text[position:]
        )
    return f"sets{suffix}", text


def check_library(library, vocab, path: Path) -> None:
    """Every set follows the file's rules and can be stored."""
    specs = tomllib.loads(path.read_text()) if path.suffix == ".toml" else yaml.safe_load(path.read_text())
    names = [token_set.name for token_set in library.sets]
    assert len(names) == len(set(names))
    for token_set in library.sets:
        assert token_set.family == "user"
        for text in (token_set.name, token_set.definition, *token_set.dropped):
            text.encode("utf-8")  # the catalog stores these
        ids = token_set.token_ids
        assert 0 < ids.size < len(vocab) and ids.min() >= 0 and ids.max() < len(vocab)
        spec = specs["sets"][token_set.name]
        if "regex" in spec:
            pattern = re.compile(spec["regex"])
            expected = [i for i, marked in vocab.members() if pattern.search(marked)]
        else:
            lookup = vocab.decoded_to_id
            expected = sorted({lookup[" " + w] for w in spec["words"] if " " + w in lookup})
        assert ids.tolist() == expected, token_set.name


outcomes = {"error": 0, "library": 0}


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=files())
def test_any_token_set_file_builds_correct_sets_or_fails_with_a_clear_error(file, gpt2_vocab):
    name, text = file
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            library = build_library(gpt2_vocab, path, families=["user"])
        except ValueError as error:
            assert str(path) in str(error), f"the message does not name the file: {error}"
            outcomes["error"] += 1
            return
        check_library(library, gpt2_vocab, path)
        outcomes["library"] += 1


def test_the_fuzzing_reached_both_outcomes(report):
    if sum(outcomes.values()) == 0:
        pytest.skip("runs after the fuzz test in the same session")
    report(f"test_fuzz_token_set_files outcomes: {outcomes}")
    assert outcomes["error"] > 20 and outcomes["library"] > 5, outcomes


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("deep.toml", "a = " + "[" * 5000 + "]" * 5000, "cannot parse the file as TOML: it nests too deeply"),
        ("deep.yaml", "[" * 5000 + "]" * 5000, "cannot parse the file as YAML: it nests too deeply"),
        (
            "huge-repeat.yaml",
            'sets: {x: {regex: "a{99999999999}"}}',
            "invalid regex 'a{99999999999}': the repetition number is too large",
        ),
        ("nested-groups.toml", f'[sets.x]\nregex = "{"(" * 3000}{")" * 3000}"', "invalid regex"),
        ("surrogate-name.yaml", 'sets: {"\\ud800": {words: [red]}}', "the set name '\\ud800' is not valid Unicode"),
        ("surrogate-word.yaml", 'sets: {x: {words: [red, "\\udfff"]}}', "a word '\\udfff' is not valid Unicode"),
        ("python-tag.yaml", "sets: !!python/object:os.system {}", "cannot parse the file as YAML"),
        ("a-folder.toml", None, "cannot read the token set file"),
    ],
)
def test_odd_token_set_files(name, text, message, gpt2_vocab, tmp_path):
    path = tmp_path / name
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        build_library(gpt2_vocab, path, families=["user"])
    assert str(path) in str(raised.value)
