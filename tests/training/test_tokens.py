"""Token budgets and truncation: head, head + tail, special tokens kept."""

from __future__ import annotations

from topex_core.training import classifier as clf
from topex_core.training import tokens


def test_max_length_from_token_lengths(tiny_backbone) -> None:
    classifier = clf.load_backbone(tiny_backbone, ["a", "b"], seed=0)
    short = tokens.choose_max_length(classifier.tokenizer, ["my card"] * 50, None)
    long_texts = [" ".join(["card"] * 300)] * 50
    assert short == tokens.MIN_AUTO_LENGTH
    assert tokens.choose_max_length(classifier.tokenizer, long_texts, None) == tokens.MAX_LENGTH_CAP
    medium = tokens.choose_max_length(classifier.tokenizer, [" ".join(["card"] * 38)] * 5, None)
    assert medium == 40 and medium % 8 == 0


def test_head_tail_truncation_keeps_the_opening_and_the_ending(tiny_backbone) -> None:
    # 18 tokens = [CLS] + 16 words + [SEP]: 4 words from the head, 12 from the tail
    classifier = clf.load_backbone(tiny_backbone, ["a", "b"], seed=0)
    words = ["card"] * 4 + ["parcel"] * 30 + ["screen"] * 12
    vocabulary = classifier.tokenizer.convert_ids_to_tokens
    for truncation, kept in (("head_tail", ["card"] * 4 + ["screen"] * 12),
                             ("head", ["card"] * 4 + ["parcel"] * 12)):
        ids = tokens.encode(classifier.tokenizer, [" ".join(words), "my card"], None,
                            max_length=18, truncation=truncation)["input_ids"]
        assert vocabulary(ids[0]) == ["[CLS]", *kept, "[SEP]"]
        assert vocabulary(ids[1]) == ["[CLS]", "my", "card", "[SEP]"]  # short texts stay whole
    # head truncation is exactly the tokenizer's own, as before head_tail existed
    own = classifier.tokenizer([" ".join(words)], truncation=True, max_length=18)["input_ids"]
    assert tokens.encode(classifier.tokenizer, [" ".join(words)], None, max_length=18,
                         truncation="head")["input_ids"] == own
