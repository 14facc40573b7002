"""The run's own model features: the vector its final linear layer reads, per row.

Head retraining trains that layer again on them, and the explorer can cluster and map in
them (``explorer.space``). They are the *base* model's: ``train_run`` writes them with the
logits, from the same forward pass (``head_features.npy``, ``test_head_features.npy``);
a run trained before that computes them here on first use and caches them the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data.dataset import TextDataset
from topex_core.errors import RunError
from topex_core.records import RunRecord
from topex_core.rundir import (
    has_classifier,
    read_features,
    read_points,
    read_run,
    read_test_points,
    write_features,
)
from topex_core.training import classifier as clf
from topex_core.training.run import load_run_classifier


def cached_features(model: clf.Classifier, dataset: TextDataset, run_dir: Path, *,
                    test: bool = False, progress: clf.Progress | None = None) -> np.ndarray:
    """The encoder features the head reads, (N, hidden) float32, of the run's pool rows
    (``dataset``; its test rows with ``test``), cached in the run."""
    features = read_features(run_dir, test=test)
    if features is not None and len(features) == len(dataset):
        return features
    features, _ = clf.predict_features(model, dataset.texts, dataset.text_pairs,
                                       progress=progress)
    write_features(run_dir, features, test=test)
    return features


def run_features(run_dir: Path, *, test: bool = False,
                 progress: clf.Progress | None = None) -> np.ndarray:
    """(N, hidden) float32 features of the run's pool rows (or test rows), in their order."""
    run_dir = Path(run_dir)
    if not has_classifier(run_dir):
        raise RunError(f"{run_dir} has no model of its own (its predictions were imported), "
                       "so it has no model features; use the logits")
    record = read_run(run_dir)
    pool, test_set = run_datasets(run_dir, record)
    dataset = test_set if test else pool
    if dataset is None:
        raise RunError(f"{run_dir} has no test split")
    return cached_features(load_run_classifier(run_dir), dataset, run_dir, test=test,
                           progress=progress)


def run_datasets(run_dir: Path, record: RunRecord) -> tuple[TextDataset, TextDataset | None]:
    """(pool, test or None) read back from the run's points files."""
    return datasets_from_points(read_points(run_dir), read_test_points(run_dir), record)


def datasets_from_points(points: pd.DataFrame, test_points: pd.DataFrame | None,
                         record: RunRecord) -> tuple[TextDataset, TextDataset | None]:
    """(pool, test or None) from points already read (``ExploredRun`` holds them)."""
    pool = _dataset_from_points(points, record)
    test = _dataset_from_points(test_points, record) if test_points is not None else None
    return pool, test


def _dataset_from_points(points: pd.DataFrame, record: RunRecord) -> TextDataset:
    pairs = points["text_pair"].astype(str).tolist() if "text_pair" in points.columns else None
    return TextDataset(source=record.dataset.source, text_col="text", label_col="label",
                       text_pair_col="text_pair" if pairs is not None else None,
                       ids=points["id"].to_numpy(np.int64), texts=points["text"].tolist(),
                       text_pairs=pairs, labels=points["label_id"].to_numpy(np.int64),
                       label_names=list(record.label_names))
