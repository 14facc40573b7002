"""The [CLS]-only inference forward gives the model's own logits, and falls back when it must."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_dataset
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
)

from topex_core.data.dataset import load_dataset
from topex_core.train_config import default_backbone
from topex_core.training import classifier as clf_module
from topex_core.training.cls_forward import cls_forward_logits, supports_cls_forward


def _random_batch(vocab_size: int, lengths: list[int], type_vocab_size: int,
                  seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    input_ids = torch.randint(5, vocab_size, (len(lengths), width), generator=generator)
    attention_mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    input_ids = input_ids * attention_mask
    token_type_ids = torch.randint(0, type_vocab_size, (len(lengths), width),
                                   generator=generator) * attention_mask
    return {"input_ids": input_ids, "attention_mask": attention_mask,
            "token_type_ids": token_type_ids}


@pytest.mark.parametrize("hidden_act, layers, type_vocab_size, lengths", [
    ("gelu", 2, 2, [7, 3, 12, 5]),
    ("relu", 1, 1, [4, 4, 4]),          # no padding: no mask at all
    ("gelu_new", 3, 2, [16, 2, 9, 16, 1]),
])
def test_logits_equal_the_models_own_forward(hidden_act: str, layers: int,
                                             type_vocab_size: int, lengths: list[int]) -> None:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=24, num_hidden_layers=layers,
                        num_attention_heads=3, intermediate_size=40, hidden_act=hidden_act,
                        type_vocab_size=type_vocab_size, num_labels=4,
                        max_position_embeddings=32)
    model = BertForSequenceClassification(config).eval()
    inputs = _random_batch(50, lengths, type_vocab_size, seed=layers)
    assert supports_cls_forward(model)
    with torch.inference_mode():
        expected = model(**inputs).logits
        got = cls_forward_logits(model, **inputs)
    assert got.shape == (len(lengths), 4)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_other_architectures_and_decoders_are_not_taken() -> None:
    distil = DistilBertForSequenceClassification(DistilBertConfig(
        vocab_size=50, dim=24, n_layers=1, n_heads=3, hidden_dim=40, num_labels=3))
    decoder = BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=24, num_hidden_layers=1, num_attention_heads=3,
        intermediate_size=40, is_decoder=True))
    assert not supports_cls_forward(distil)
    assert not supports_cls_forward(decoder)


def test_predict_logits_on_minilm_match_an_unsorted_plain_forward() -> None:
    """The real backbone on real questions: sorted batches and the [CLS]-only last layer
    change nothing but float rounding, features included."""
    dataset = load_dataset(shared_dataset("trec", "test"))
    texts = dataset.texts[:96]
    classifier = clf_module.load_backbone(default_backbone(), dataset.label_names,
                                          seed=0)
    classifier.max_length = 64
    features, logits = clf_module.predict_features(classifier, texts, batch_size=32)
    encoded = classifier.tokenizer(texts, truncation=True, max_length=64,
                                   padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = classifier.model(**encoded).logits.numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    head = clf_module.head_layer(classifier)
    np.testing.assert_allclose(features @ head.weight.detach().numpy().T
                               + head.bias.detach().numpy(), logits, atol=1e-5)


def test_gradients_equal_the_models_own_backward_and_dropout_applies_in_training() -> None:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=24, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=40, num_labels=3,
                        max_position_embeddings=32)
    model = BertForSequenceClassification(config).eval()  # no dropout: comparable
    inputs = _random_batch(50, [7, 3, 12], 2, seed=5)
    labels = torch.tensor([0, 2, 1])
    gradients = []
    for forward in (lambda: model(**inputs).logits, lambda: cls_forward_logits(model, **inputs)):
        model.zero_grad()
        torch.nn.functional.cross_entropy(forward(), labels).backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters()
                          if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name, expected in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], expected, atol=1e-5, rtol=1e-4)
    model.train()  # dropout on: two passes differ, as the model's own do
    assert not torch.equal(cls_forward_logits(model, **inputs), cls_forward_logits(model, **inputs))
