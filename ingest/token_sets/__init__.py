"""Token sets: named groups of vocabulary tokens that enrichment scores SAE features against.

Build a model's library with :func:`build_library` (the logit-lens notebook's families plus an
optional user TOML/YAML file) and check it with :func:`describe_library`.
"""

from ingest.token_sets.library import FAMILIES, build_library, builtin_clash, describe_library
from ingest.token_sets.token_set import TokenSet, TokenSetLibrary

__all__ = ["FAMILIES", "TokenSet", "TokenSetLibrary", "build_library", "builtin_clash", "describe_library"]
