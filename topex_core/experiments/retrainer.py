"""One seed's retraining in an experiment: the base model retrained with rows added, and
its two controls (nothing added; the samples replaced by training rows of their labels,
``retraining.controls``). Predictions of the test split (and the validation rows that ride
with it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from topex_core.data.dataset import TextDataset
from topex_core.experiments.samples import empty_samples, rows_as_samples
from topex_core.retraining import retrain
from topex_core.retraining.config import RetrainConfig
from topex_core.retraining.controls import matched_positions
from topex_core.retraining.head import fit_head
from topex_core.training import classifier as clf
from topex_core.training.features import cached_features
from topex_core.training.run import load_run_classifier


@dataclass
class SeedRetrainer:
    """Retrains the base run in ``run_dir`` (``mode``: "head" or "full" with
    ``base_config``) on its ``train_positions`` of ``pool`` plus added rows, each added
    ``repeats`` times; ``seed`` seeds the head's training and the matched draw."""

    run_dir: Path
    pool: TextDataset
    test: TextDataset
    train_positions: np.ndarray
    base_config: clf.TrainConfig
    mode: str
    repeats: int
    seed: int
    _plain: np.ndarray | None = field(default=None, repr=False)
    _head: tuple[clf.Classifier, np.ndarray, np.ndarray] | None = field(default=None,
                                                                         repr=False)

    def plain(self) -> np.ndarray:
        """(M,) test predictions retrained with nothing added (computed once)."""
        if self._plain is None:
            self._plain = self.predictions(empty_samples())
        return self._plain

    def matched(self, samples: pd.DataFrame, excluded: np.ndarray) -> np.ndarray:
        """(M,) test predictions retrained with ``samples`` replaced by training rows of
        their labels, outside the pool positions ``excluded`` (the target region's)."""
        labels = np.array([self.pool.label_names.index(label) for label in samples["label"]])
        positions = matched_positions(self.pool.labels, self.train_positions, labels,
                                      excluded, self.seed, self.pool.label_names)
        return self.predictions(rows_as_samples(self.pool, positions))

    def predictions(self, samples: pd.DataFrame) -> np.ndarray:
        """(M,) test predictions retrained with ``samples`` added (each repeated)."""
        sample_set = retrain.repeated(
            retrain.samples_dataset(samples, self.pool.label_names,
                                    self.pool.text_pairs is not None), self.repeats)
        if self.mode == "full":
            training_set = retrain.concat(self.pool.subset(self.train_positions), sample_set)
            model = clf.fine_tune(training_set, self.base_config)
            return clf.predict_logits(model, self.test.texts, self.test.text_pairs).argmax(1)
        base, features, test_features = self._head_inputs()
        head = fit_head(base, features, self.pool.labels, self.train_positions, sample_set,
                        RetrainConfig(mode="head").head_schedule, self.seed)
        with torch.no_grad():
            return head(torch.as_tensor(test_features)).numpy().argmax(1)

    def _head_inputs(self) -> tuple[clf.Classifier, np.ndarray, np.ndarray]:
        """The base model and its encoder features for pool and test, read once."""
        if self._head is None:
            base = load_run_classifier(self.run_dir)
            self._head = (base, cached_features(base, self.pool, self.run_dir),
                          cached_features(base, self.test, self.run_dir, test=True))
        return self._head
