"""The OPTICS walk against scikit-learn's: the same ordering, reachability and labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import OPTICS

from topex_core.explorer.optics import _optics_graph, optics_labels


def _clumped(seed: int, n_points: int, dims: int) -> np.ndarray:
    """Normalised-logit-like points: clumps in [-1, 1]^dims, with exact duplicates (real
    logits repeat) and a spread of loose points."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (8, dims))
    points = centres[rng.integers(0, 8, n_points)] + rng.normal(0, 0.03, (n_points, dims))
    points[: n_points // 10] = points[n_points // 10: n_points // 5]  # duplicates
    points[-n_points // 20:] = rng.uniform(-1, 1, (n_points // 20, dims))
    return np.clip(points, -1, 1)


@pytest.mark.parametrize(("seed", "dims", "min_samples", "xi"),
                         [(0, 2, 5, 0.05), (1, 4, 5, 0.05), (2, 6, 8, 0.1)])
def test_the_walk_is_scikit_learns(seed: int, dims: int, min_samples: int, xi: float) -> None:
    points = _clumped(seed, 1_200, dims)
    reference = OPTICS(min_samples=min_samples, xi=xi, metric="euclidean").fit(points)
    ordering, reachability, predecessor = _optics_graph(points, min_samples)
    assert np.array_equal(ordering, reference.ordering_)
    assert np.array_equal(reachability, reference.reachability_)
    assert np.array_equal(predecessor, reference.predecessor_)
    labels = optics_labels(points, min_samples=min_samples, xi=xi)
    assert np.array_equal(labels, reference.labels_)
    assert len(set(labels.tolist()) - {-1}) >= 3  # the clumps are found, not one blob


def test_identical_points_and_a_line() -> None:
    """Ties everywhere (every distance equal) and one-dimensional points, as two-class
    logits are: the first unprocessed point wins each tie, as in scikit-learn."""
    same = np.zeros((30, 2))
    line = np.linspace(-1, 1, 300)[:, None].repeat(2, axis=1)
    for points in (same, line):
        reference = OPTICS(min_samples=5, xi=0.05, metric="euclidean").fit(points)
        assert np.array_equal(optics_labels(points, min_samples=5, xi=0.05), reference.labels_)
        assert np.array_equal(_optics_graph(points, 5)[0], reference.ordering_)
