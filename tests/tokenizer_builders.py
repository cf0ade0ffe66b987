"""Small real tokenizers built in code, for tests that need a non-GPT-2 tokenizer offline.

* :func:`sentencepiece_style_tokenizer`: Gemma-like SentencePiece (``▁`` word starts, byte
  fallback ``<0x00>`` … ``<0xFF>``, control tokens ``<pad>`` ``<eos>`` ``<bos>`` ``<unk>``
  ``<mask>`` ``<start_of_turn>`` ``<end_of_turn>`` and unused slots ``<unused0>`` …).
* :func:`llama3_style_tokenizer`: Llama-3 / tiktoken-like byte-level BPE (``Ġ`` word starts) with
  ``<|begin_of_text|>``, ``<|end_of_text|>`` and ``<|reserved_special_token_N|>``.

Both return a ``transformers.PreTrainedTokenizerFast`` that ``save_pretrained`` writes into a model
folder and ``AutoTokenizer.from_pretrained`` loads back, so a tiny model fixture can use them.
"""

from __future__ import annotations

import string

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPACE = "\u2581"  # SentencePiece's "▁"

DEFAULT_WORDS = [
    *("the of and to in is was for on that with as by at from it his an are were be this".split()),
    *("Paris London Berlin Tokyo Rome Madrid Ottawa Canberra France Germany Japan".split()),
    *("Hello World John Mary USA NASA red blue green January February Monday neuron".split()),
    *("1914 2016 42 7 running walking thing nation".split()),
]
SUBWORDS = ["ing", "tion", "ed", "er", "s", "ly", "2016", "19"]
# Every pair of lowercase letters, so that ordinary text needs few byte-fallback tokens.
LETTER_PAIRS = [first + second for first in string.ascii_lowercase for second in string.ascii_lowercase]
PUNCTUATION = list(string.punctuation)
UNUSED_SLOTS = 6
SENTENCEPIECE_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]


def sentencepiece_style_tokenizer(
    words: list[str] | None = None, *, strip_first_space: bool = False
) -> PreTrainedTokenizerFast:
    """A Gemma-style SentencePiece tokenizer (1,100 tokens with the default words) that encodes each of ``words``
    (default :data:`DEFAULT_WORDS`) after a space as the single token ``"▁" + word``.

    Token ids: 0 ``<pad>``, 1 ``<eos>``, 2 ``<bos>``, 3 ``<unk>``, 4 ``<mask>``, 5
    ``<start_of_turn>``, 6 ``<end_of_turn>``, then ``<unused0>`` … ``<unused5>``, the 256 byte
    fallback tokens ``<0x00>`` … ``<0xFF>``, ``▁``, ASCII letters and digits, punctuation, a few
    sub-word pieces (``ing``, ``tion`` …), every pair of lowercase letters and the ``▁word``
    pieces. A newline or any other character without a piece is encoded as its UTF-8 bytes
    (``"\\n"`` -> ``<0x0A>``).

    As in Gemma, a space is normalised to ``▁`` (no dummy prefix) and the decoder turns ``▁`` back
    into a space and fuses byte tokens. ``strip_first_space`` makes the decoder strip the leading
    space of the first token, as Llama 2's does (``▁Paris`` alone then decodes to ``"Paris"``).
    """
    words = DEFAULT_WORDS if words is None else words
    unused = [f"<unused{n}>" for n in range(UNUSED_SLOTS)]
    byte_tokens = [f"<0x{byte:02X}>" for byte in range(256)]
    pieces = [SPACE, *string.ascii_letters, *string.digits, *PUNCTUATION, *SUBWORDS, *LETTER_PAIRS]
    pieces += [SPACE + word for word in words]
    pieces = list(dict.fromkeys(pieces))  # unique, in order
    # Special and byte tokens score 0 (never chosen by Viterbi: byte fallback only picks them for
    # unknown characters); every piece scores -1, so the segmentation with fewest pieces wins.
    vocab = [(token, 0.0) for token in [*SENTENCEPIECE_SPECIALS, *unused, *byte_tokens]]
    vocab += [(piece, -1.0) for piece in pieces]
    backend = Tokenizer(models.Unigram(vocab, unk_id=SENTENCEPIECE_SPECIALS.index("<unk>"), byte_fallback=True))
    backend.normalizer = normalizers.Replace(" ", SPACE)
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="never", split=True)
    steps = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    if strip_first_space:
        steps.append(decoders.Strip(content=" ", left=1, right=0))
    backend.decoder = decoders.Sequence(steps)
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SENTENCEPIECE_SPECIALS])
    backend.add_tokens([AddedToken(token, special=False, normalized=False) for token in unused])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        mask_token="<mask>",
        additional_special_tokens=["<start_of_turn>", "<end_of_turn>"],
    )


LLAMA3_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    *(f"<|reserved_special_token_{n}|>" for n in range(4)),
]


def llama3_style_tokenizer(words: list[str] | None = None) -> PreTrainedTokenizerFast:
    """A Llama-3-style byte-level BPE tokenizer: the 256 byte characters, BPE merges trained on
    ``words`` (default :data:`DEFAULT_WORDS`) so that each is one token with and without a leading
    space (``ĠParis`` and ``Paris``), and the special tokens of :data:`LLAMA3_SPECIALS` last."""
    words = DEFAULT_WORDS if words is None else words
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = byte_level
    # Training until no pair is left merges every word of the corpus into one token.
    trainer = trainers.BpeTrainer(
        vocab_size=100_000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    backend.train_from_iterator([*words, *(" " + word for word in words), *SUBWORDS], trainer)
    backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in LLAMA3_SPECIALS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        additional_special_tokens=LLAMA3_SPECIALS[2:],
    )
