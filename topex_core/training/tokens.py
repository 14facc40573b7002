"""Tokens: the budget a dataset's texts get, and cutting a text to it.

A text longer than the budget keeps its head, or its head and its tail
(``TrainConfig.truncation``); the special tokens the tokenizer adds always stay. Texts are
tokenised once, uncut, and cut from those ids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np

from topex_core.errors import ModelError

MAX_LENGTH_CAP = 256  # the largest budget chosen from the data with head truncation
HEAD_TAIL_LENGTH_CAP = 192  # … and with head + tail, which keeps a long text's ending
LONG_TEXT_TOKENS = 128  # a budget above this makes a long-text run: one epoch fewer
HEAD_SHARE = 0.25  # of a head + tail budget: the opening; the rest is the ending
MIN_AUTO_LENGTH = 16


def choose_max_length(tokenizer: object, texts: Sequence[str], text_pairs: Sequence[str] | None,
                      *, cap: int = MAX_LENGTH_CAP) -> int:
    """The 99th percentile of token lengths, rounded up to a multiple of 8, in [16, cap]."""
    return length_budget(token_lengths(tokenizer, texts, text_pairs), cap)


def length_cap(truncation: str) -> int:
    """The largest automatic budget: a head + tail cut keeps what matters in fewer tokens."""
    return HEAD_TAIL_LENGTH_CAP if truncation == "head_tail" else MAX_LENGTH_CAP


def length_budget(lengths: np.ndarray, cap: int) -> int:
    """The 99th percentile of ``lengths`` (tokens), up to a multiple of 8, in [16, cap]."""
    wanted = int(np.percentile(lengths, 99)) if len(lengths) else MIN_AUTO_LENGTH
    return int(min(cap, max(MIN_AUTO_LENGTH, 8 * math.ceil(wanted / 8))))


def token_lengths(tokenizer: object, texts: Sequence[str], text_pairs: Sequence[str] | None,
                  ) -> np.ndarray:
    """(N,) int token counts, special tokens included, without truncation."""
    encoded = tokenizer(list(texts), list(text_pairs) if text_pairs is not None else None,
                        add_special_tokens=True, truncation=False, verbose=False)
    return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)


def encode(tokenizer: object, texts: Sequence[str], text_pairs: Sequence[str] | None, *,
           max_length: int, truncation: str, whole: dict | None = None
           ) -> dict[str, list | np.ndarray]:
    """Token ids and type ids per row, cut to ``max_length`` the ``truncation`` way, and
    their lengths (N,) int; ``whole`` is the uncut tokenisation when already made."""
    if text_pairs is not None:  # the tokenizer cuts the longer of the two texts first
        result = dict(tokenizer(
            list(texts), list(text_pairs), truncation=True, max_length=max_length,
            padding=False, return_token_type_ids=True, return_attention_mask=False,
            verbose=False))
    else:
        whole = whole or tokenize_whole(tokenizer, texts)
        before, after = _special_tokens(tokenizer)
        cut = partial(_truncated, max_length=max_length, before=before, after=after,
                      truncation=truncation)
        result = {name: [cut(ids) for ids in whole[name]]
                  for name in ("input_ids", "token_type_ids")}
    result["length"] = np.array([len(ids) for ids in result["input_ids"]], dtype=np.int64)
    return result


def tokenize_whole(tokenizer: object, texts: Sequence[str]) -> dict[str, list[list[int]]]:
    """Every text's token ids and type ids, special tokens included, not truncated."""
    return dict(tokenizer(list(texts), truncation=False, padding=False,
                          return_token_type_ids=True, return_attention_mask=False,
                          verbose=False))


def fit_texts(tokenizer: object, texts: Sequence[str], *, max_length: int,
              truncation: str) -> list[str]:
    """``texts`` with every text longer than ``max_length`` tokens (special tokens
    included) cut the ``truncation`` way and decoded back to text; the others unchanged.
    For a model that tokenizes texts itself and can only cut their heads."""
    whole = tokenize_whole(tokenizer, texts)["input_ids"]
    before, after = _special_tokens(tokenizer)
    return [text if len(ids) <= max_length else tokenizer.decode(
                _truncated(ids, max_length=max_length, before=before, after=after,
                           truncation=truncation), skip_special_tokens=True)
            for text, ids in zip(texts, whole, strict=True)]


def _special_tokens(tokenizer: object) -> tuple[int, int]:
    """How many special tokens the tokenizer puts before and after a single text."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    whole = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(whole) - len(plain) + 1):
        if whole[start:start + len(plain)] == plain:
            return start, len(whole) - start - len(plain)
    raise ModelError("the tokenizer changes a text when it adds its special tokens; "
                     "cannot truncate around them")


def _truncated(ids: list[int], *, max_length: int, before: int, after: int,
               truncation: str) -> list[int]:
    """``ids`` (special tokens included) cut to ``max_length``: the special tokens stay,
    the text keeps its head, or HEAD_SHARE of the budget from its head and the rest from
    its tail."""
    if len(ids) <= max_length:
        return ids
    budget = max(0, max_length - before - after)
    text = ids[before:len(ids) - after]
    head = budget if truncation == "head" else int(round(HEAD_SHARE * budget))
    tail = text[len(text) - (budget - head):] if budget > head else []
    return ids[:before] + text[:head] + tail + ids[len(ids) - after:]


def length_grouped_batches(lengths: np.ndarray, batch_size: int,
                           rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of positions: shuffled, sorted by length inside windows of 8 batches (so
    padding stays small without losing randomness), the batches shuffled again."""
    order = rng.permutation(len(lengths))
    window = batch_size * 8
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]
