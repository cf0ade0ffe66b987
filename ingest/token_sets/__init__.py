"""Token sets: named groups of vocabulary tokens that enrichment scores SAE features against.

Build a model's library with :func:`build_library` (the logit-lens notebook's families plus an
optional user TOML/YAML file) and check it with :func:`describe_library`.

The names are imported on first use (PEP 562): importing the package must not import its
``nltk_data`` module, which setup runs as ``python -m ingest.token_sets.nltk_data`` (runpy warns
when the module it runs was already imported by its package).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.token_sets.library import FAMILIES, build_library, builtin_clash, describe_library, family_summary
    from ingest.token_sets.token_set import TokenSet, TokenSetLibrary

_HOMES = {
    "FAMILIES": "ingest.token_sets.library",
    "build_library": "ingest.token_sets.library",
    "builtin_clash": "ingest.token_sets.library",
    "describe_library": "ingest.token_sets.library",
    "family_summary": "ingest.token_sets.library",
    "TokenSet": "ingest.token_sets.token_set",
    "TokenSetLibrary": "ingest.token_sets.token_set",
}

__all__ = [
    "FAMILIES",
    "TokenSet",
    "TokenSetLibrary",
    "build_library",
    "builtin_clash",
    "describe_library",
    "family_summary",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # later look-ups (and tests' monkeypatching) see a plain attribute
    return value
