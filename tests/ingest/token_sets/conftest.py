"""Shared fixtures: the real GPT-2 vocabulary and its full token set library, built once per session.

NLTK finds its data through NLTK_DATA; when it is unset we point it at the project's shared copy
before nltk is imported (nltk reads the variable once, at import).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
os.environ.setdefault("NLTK_DATA", str(REPO.parent / "shared" / "nltk_data"))
if "nltk.data" in sys.modules:  # imported earlier by someone else: add the folder by hand
    sys.modules["nltk.data"].path.insert(0, os.environ["NLTK_DATA"])
if importlib.util.find_spec("ingest") is None:  # plain `pytest` without the repo on sys.path
    sys.path.insert(0, str(REPO))

from ingest.sources.vocabulary import Vocabulary, gpt2_vocabulary  # noqa: E402
from ingest.token_sets import TokenSetLibrary, build_library  # noqa: E402


@pytest.fixture(scope="session")
def gpt2_vocab() -> Vocabulary:
    return gpt2_vocabulary()


@pytest.fixture(scope="session")
def gpt2_library(gpt2_vocab: Vocabulary) -> TokenSetLibrary:
    return build_library(gpt2_vocab)


@pytest.fixture(scope="session")
def token_id(gpt2_vocab: Vocabulary):
    """Id of the token whose raw BPE string is given (``token_id("ĠHello") == 18435``)."""
    ids = {raw: index for index, raw in enumerate(gpt2_vocab.raw)}
    return ids.__getitem__
