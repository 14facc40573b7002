"""Confusion cells as regions: "true A, predicted B", where analysts start.

A cell's rows are the base model's mistakes of true A predicted B (in the pool, and in the
test split by the base model's test predictions); its reach is every row predicted B, so
its true-B rows — right before the round — are the complement a shortcut toward A breaks.
The key (``cell_key``) is made and read here alone: ``A -> B``, and ``A → B`` is read too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from topex_core.errors import RunError, SettingsError
from topex_core.explorer.regions import ConfusionCell, Region
from topex_core.region_ref import RegionRef

if TYPE_CHECKING:
    from topex_core.explorer.explored import ExploredRun

ARROWS = (" -> ", " → ")  # the first makes keys; both are read


KIND = "confusion"  # its row in ``region_kinds``


def cell_key(true_label: str, predicted: str) -> str:
    return f"{true_label}{ARROWS[0]}{predicted}"


def cell_ref(true_label: str, predicted: str) -> RegionRef:
    """The reference of the cell true ``true_label``, predicted ``predicted``."""
    return RegionRef(KIND, cell_key(true_label, predicted))


def confusion_matrix(points: pd.DataFrame, label_names: list[str]) -> pd.DataFrame:
    """(C, C) counts of rows by true label (index) and predicted label (columns), every
    label in ``label_names``' order; ``points`` with ``label`` and ``pred``."""
    matrix = pd.crosstab(pd.Categorical(points["label"].astype(str), label_names),
                         pd.Categorical(points["pred"].astype(str), label_names),
                         dropna=False)
    matrix.index, matrix.columns = list(label_names), list(label_names)
    return matrix


def confusion_cells(explored: ExploredRun) -> list[ConfusionCell]:
    """Every cell of the pool's confusion matrix off its diagonal that holds a mistake, the
    most mistakes first."""
    matrix = confusion_matrix(explored.points, explored.label_names)
    cells = [(int(matrix.loc[true, predicted]), true, predicted)
             for true in matrix.index for predicted in matrix.columns
             if true != predicted and matrix.loc[true, predicted] > 0]
    # each split's labels and predictions once, not once per cell (C² cells)
    pool = _labels_and_predictions(explored.points)
    test = (None if explored.test_points is None
            else _labels_and_predictions(explored.test_points))
    return [_cell(pool, test, true, predicted)
            for _, true, predicted in sorted(cells, key=lambda cell: -cell[0])]


def find_confusion_cell(explored: ExploredRun, key: str) -> Region:
    """The cell ``key`` names ("A -> B", "A → B"); SettingsError when it names no pair of
    the run's labels, RunError when the base model never made that mistake on the pool."""
    true_label, predicted = _labels(key)
    names = explored.label_names
    for label in (true_label, predicted):
        if label not in names:
            raise SettingsError(f"'{label}' is not a label of {explored.run_dir}; its labels: "
                                f"{', '.join(names)}")
    if true_label == predicted:
        raise SettingsError(f"'{key}': a confusion cell is a mistake, true A predicted B with "
                            "A and B different labels")
    key = cell_key(true_label, predicted)
    found = [cell for cell in explored.regions(KIND) if cell.key == key]
    if not found:
        raise RunError(f"the base model predicts no pool row of true {true_label} as "
                       f"{predicted}: no mistake to repair there")
    return found[0]


def _labels(key: str) -> tuple[str, str]:
    for arrow in ARROWS:
        true_label, found, predicted = key.partition(arrow)
        if found:
            return true_label.strip(), predicted.strip()
    raise SettingsError(f"'{key}': a confusion cell is named TRUE{ARROWS[0]}PREDICTED, "
                        f"e.g. confusion:'World{ARROWS[0]}Business'")


def _labels_and_predictions(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(n,) true labels and (n,) base-model predictions of ``points``, as text."""
    return points["label"].astype(str).to_numpy(), points["pred"].astype(str).to_numpy()


def _cell(pool: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray] | None,
          true_label: str, predicted: str) -> ConfusionCell:
    """The cell true ``true_label``, predicted ``predicted``; ``pool`` and ``test``: each
    split's (labels, predictions), None without a test split."""
    mistakes = np.flatnonzero((pool[1] == predicted) & (pool[0] == true_label))

    def reach(on_test: bool) -> np.ndarray:
        if not on_test:
            return np.flatnonzero(pool[1] == predicted)
        return np.zeros(0, np.int64) if test is None else np.flatnonzero(test[1] == predicted)

    def test_rows() -> np.ndarray:
        return (np.zeros(0, np.int64) if test is None
                else np.flatnonzero((test[1] == predicted) & (test[0] == true_label)))

    confusion = f"{true_label} → {predicted}"
    return ConfusionCell(KIND, cell_key(true_label, predicted),
                         f"true {true_label}, predicted {predicted}", (), true_label,
                         confusion, mistakes, len(mistakes), test_rows, reach,
                         predicted=predicted)
