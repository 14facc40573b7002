"""Token budgets and truncation: head, head + tail, special tokens kept."""

from __future__ import annotations

import pytest

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


def test_fit_texts_cuts_long_texts_to_their_opening_and_ending(tiny_backbone) -> None:
    classifier = clf.load_backbone(tiny_backbone, ["a", "b"], seed=0)
    long_text = " ".join(["card"] * 4 + ["parcel"] * 30 + ["screen"] * 12)
    fitted = tokens.fit_texts(classifier.tokenizer, [long_text, "my card"], max_length=18,
                              truncation="head_tail")
    assert fitted == [" ".join(["card"] * 4 + ["screen"] * 12), "my card"]
    assert len(classifier.tokenizer(fitted[0])["input_ids"]) == 18  # within the budget again


def test_the_sentence_embedder_reads_a_long_text_as_its_opening_and_ending() -> None:
    """The packaged MiniLM embeds what a 128-token head + tail cut keeps: a long text and
    its cut get the same vector, and the cut keeps the ending a head-only cut would lose."""
    import numpy as np

    from topex_core.training.embeddings import EMBED_TOKENS, SentenceEmbedder

    embed = SentenceEmbedder(precision="float32")
    opening = "the market rallied as investors cheered strong earnings from the banks . "
    ending = "in baseball the red sox beat the yankees at fenway park in boston ."
    long_text = opening * 40 + ending
    vectors = embed([long_text, opening * 40, ending])
    assert embed.identity.endswith(f"@{EMBED_TOKENS}:head_tail")
    assert float(vectors[0] @ vectors[2]) > float(vectors[1] @ vectors[2]) + 0.1
    cut = tokens.fit_texts(embed._model.tokenizer, [long_text], max_length=EMBED_TOKENS,
                           truncation="head_tail")
    np.testing.assert_allclose(embed(cut)[0], vectors[0], atol=1e-5)


def test_the_sentence_embedder_gives_the_same_vectors_in_small_and_large_batches() -> None:
    """The CPU's small batches (less padding, activations in cache) change the speed, not
    the vectors: texts of very different lengths embed alike one by one and 64 at a time."""
    import numpy as np

    from topex_core.training.embeddings import CPU_BATCH, SentenceEmbedder

    sentence = "the bank raised its rates while the team won the cup final at home"
    texts = [" ".join(sentence.split()[: 2 + i % 14] * (1 + i % 5)) for i in range(40)]
    default = SentenceEmbedder(precision="float32")
    assert default.batch_size is None
    small = default(texts)
    large = SentenceEmbedder(batch_size=64, precision="float32")(texts)
    single = SentenceEmbedder(batch_size=1, precision="float32")(texts[:CPU_BATCH])
    np.testing.assert_allclose(small, large, atol=1e-5)
    np.testing.assert_allclose(single, large[:CPU_BATCH], atol=1e-5)


@pytest.mark.parametrize("fast", ["0", "1"])
def test_the_sentence_embedder_runs_bfloat16_where_it_is_fast(monkeypatch, fast: str) -> None:
    """Its precision follows the hardware's answer (forced either way here), is part of
    the cache's key, and bfloat16's vectors point where float32's do."""
    import numpy as np

    from topex_core.config import FAST_BFLOAT16_ENV
    from topex_core.errors import SettingsError
    from topex_core.training.embeddings import SentenceEmbedder

    monkeypatch.setenv(FAST_BFLOAT16_ENV, fast)
    embed = SentenceEmbedder()
    assert embed.precision == ("bfloat16" if fast == "1" else "float32")
    assert embed.identity.endswith(":bfloat16") == (fast == "1")
    texts = ["the bank raised its rates", "the team won the cup final at home",
             "a new chip makes phones faster"]
    exact = SentenceEmbedder(precision="float32")(texts)
    assert np.min(np.sum(embed(texts) * exact, axis=1)) > 0.999
    with pytest.raises(SettingsError, match="float32 or bfloat16"):
        SentenceEmbedder(precision="int8")
