"""The label-matched control's rows: copies of training rows that stand in for the samples.

A round adds S samples (each ``repeats`` times). Its label-matched control adds, for each
sample, a row of the base run's training subset with the sample's label, drawn at random
(seeded per seed, without replacement within a label while rows last), outside the targeted
regions' own rows — each as many times. The control then trains the same number of rows in
the same number of steps and batches with the same label balance as the round; only the
samples' content differs. (Measured on a held-out set: in head mode such copies moved
almost nothing, so what the round does beyond them is the samples' doing.)
"""

from __future__ import annotations

import numpy as np

from topex_core.retraining.config import RetrainError


def matched_positions(labels: np.ndarray, train_positions: np.ndarray,
                      sample_labels: np.ndarray, excluded: np.ndarray, seed: int,
                      label_names: list[str]) -> np.ndarray:
    """(S,) pool positions of training rows, the i-th with ``sample_labels[i]`` (see the
    module); ``labels``: (N,) the pool's label ids; ``excluded``: pool positions never
    drawn (the targeted regions' rows) while others of the label remain. RetrainError when
    no training row has a sample's label."""
    rng = np.random.default_rng([seed, 29])
    chosen = np.empty(len(sample_labels), np.int64)
    allowed = np.setdiff1d(train_positions, excluded)
    for label in np.unique(sample_labels):
        wanted = np.flatnonzero(sample_labels == label)
        candidates = allowed[labels[allowed] == label]
        if not len(candidates):  # only the regions' own rows have it: better than none
            candidates = train_positions[labels[train_positions] == label]
        if not len(candidates):
            raise RetrainError(
                f"no training row is labelled '{label_names[label]}', so the label-matched "
                "control has nothing to stand in for those samples; retrain without it "
                "(--no-matched-control, or untick it on the page)")
        chosen[wanted] = rng.choice(candidates, size=len(wanted),
                                    replace=len(wanted) > len(candidates))
    return chosen
