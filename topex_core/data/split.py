"""Holding out a test split from a dataset that came without one.

Every run needs a test accuracy that no training, clustering or augmentation touched. When
the user gives no test file, a stratified, seeded share of the pool is held out: each
class keeps its share in both parts (scikit-learn's ``train_test_split``). A class with a
single row cannot be split and stays in the pool.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from topex_core.data.dataset import TextDataset
from topex_core.errors import DataError

DEFAULT_TEST_SIZE = 0.2  # share of the pool held out when no test file is given
SPLIT_SEED = 0  # fixed, so that runs with different training seeds share one test split


def check_test_size(test_size: float) -> float:
    """``test_size`` as a share in [0, 1); 0 holds nothing out."""
    if not 0.0 <= test_size < 1.0:
        raise DataError(f"test size {test_size:g} must be a share in [0, 1), "
                        f"e.g. {DEFAULT_TEST_SIZE} to hold out {DEFAULT_TEST_SIZE:.0%}")
    return float(test_size)


def hold_out(dataset: TextDataset, test_size: float,
             seed: int = SPLIT_SEED) -> tuple[TextDataset, TextDataset]:
    """(pool, test): ``test_size`` of the rows, stratified by label, held out.

    Rows keep their ids (their position in the source), so a test row can be traced back
    to the file. Raises :class:`DataError` when the data is too small to hold out at least
    one row per class while keeping two classes in the pool.
    """
    test_size = check_test_size(test_size)
    counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
    splittable = np.flatnonzero(counts[dataset.labels] >= 2)
    classes = int((counts >= 2).sum())
    wanted = int(np.ceil(test_size * len(splittable)))
    if classes < 2 or wanted < classes or len(splittable) - wanted < classes:
        raise DataError(
            f"{dataset.source}: {len(dataset):,} rows in {classes} classes with two or more "
            f"rows are too few to hold out a stratified {test_size:.0%} test split; give a "
            "test file, or a test size of 0 to go without test figures")
    pool_part, test_part = train_test_split(
        splittable, test_size=wanted, random_state=seed,
        stratify=dataset.labels[splittable])
    singletons = np.flatnonzero(counts[dataset.labels] < 2)
    pool_positions = np.sort(np.concatenate([pool_part, singletons]))
    return dataset.subset(pool_positions), dataset.subset(np.sort(test_part))
