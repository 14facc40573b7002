"""Head-only retraining: the base model's encoder stays frozen and its final linear layer
is trained again on the features it reads (cached per run), warm-started from the base
model's weights, with AdamW on shuffled mini-batches. Seconds on a CPU."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from topex_core.data.dataset import TextDataset
from topex_core.training import classifier as clf


@dataclass(frozen=True)
class HeadSchedule:
    """How the head is trained: epochs over the rows, AdamW learning rate, batch size."""

    epochs: int
    learning_rate: float
    batch_size: int


def sample_features_of(base: clf.Classifier, samples: TextDataset) -> np.ndarray:
    """(S, hidden) float32 features of the samples the head reads (S may be 0)."""
    if not len(samples):
        return np.empty((0, clf.head_layer(base).in_features), np.float32)
    return clf.predict_features(base, samples.texts, samples.text_pairs)[0]


def fit_head(base: clf.Classifier, pool_features: np.ndarray, pool_labels: np.ndarray,
             positions: np.ndarray, samples: TextDataset, schedule: HeadSchedule, seed: int,
             progress=lambda fraction: None, *,
             sample_features: np.ndarray | None = None) -> torch.nn.Linear:
    """The base model's final layer trained again on the training rows' features
    (``pool_features[positions]``, (n, hidden) float32) plus the samples' features (computed
    here unless given)."""
    layer = clf.head_layer(base)
    if sample_features is None:
        sample_features = sample_features_of(base, samples)
    inputs = torch.as_tensor(np.vstack([pool_features[positions], sample_features]))
    targets = torch.as_tensor(np.concatenate([pool_labels[positions], samples.labels]))
    head = torch.nn.Linear(layer.in_features, layer.out_features)
    head.load_state_dict({name: value.detach().cpu() for name, value in
                          layer.state_dict().items()})
    _train_head(head, inputs, targets, schedule, seed, progress)
    return head


def _train_head(head: torch.nn.Linear, inputs: torch.Tensor, targets: torch.Tensor,
                schedule: HeadSchedule, seed: int, progress) -> None:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=schedule.learning_rate,
                                  weight_decay=0.01)
    head.train()
    for epoch in range(schedule.epochs):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(order), schedule.batch_size):
            batch = order[start:start + schedule.batch_size]
            loss = torch.nn.functional.cross_entropy(head(inputs[batch]), targets[batch])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        progress((epoch + 1) / schedule.epochs)
    head.eval()
