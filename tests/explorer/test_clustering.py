from __future__ import annotations

import numpy as np
import pytest

from topex_core.explorer.clustering import (
    ClusterConfig,
    chosen_method,
    cluster_points,
    summarise_clusters,
)


def planted_blobs(seed: int = 0):
    """Three correct class blobs and one tight blob of class-0 points predicted as 1."""
    rng = np.random.default_rng(seed)
    centres = np.array([[4.0, -2, -2], [-2, 4, -2], [-2, -2, 4]])
    points, truth, predicted = [], [], []
    for label, centre in enumerate(centres):
        points.append(centre + rng.normal(0, 0.3, (60, 3)))
        truth += [label] * 60
        predicted += [label] * 60
    points.append(np.array([1.0, 1.5, -2]) + rng.normal(0, 0.05, (25, 3)))
    truth += [0] * 25
    predicted += [1] * 25
    return np.vstack(points), np.array(truth), np.array(predicted)


@pytest.mark.parametrize("method", ["optics", "hdbscan"])
def test_planted_error_cluster_is_found(method: str) -> None:
    points, truth, predicted = planted_blobs()
    labels = cluster_points(points, ClusterConfig(method=method, min_samples=10))
    summary = summarise_clusters(labels, truth, predicted, ["a", "b", "c"])
    errors = summary[summary["is_error_cluster"]]
    assert len(errors) == 1
    top = errors.iloc[0]
    assert top["size"] >= 20 and top["error_rate"] == 1.0
    assert (top["true_majority"], top["pred_majority"], top["confusion"]) == ("a", "b", "a → b")
    assert set(np.flatnonzero(labels == top["cluster"])) <= set(range(180, 205))


def test_auto_switches_to_hdbscan_above_threshold() -> None:
    config = ClusterConfig(auto_threshold=100)
    assert chosen_method(100, config) == "optics" and chosen_method(101, config) == "hdbscan"


def test_degenerate_inputs() -> None:
    assert cluster_points(np.zeros((3, 2))).tolist() == [0, 0, 0]
    identical = cluster_points(np.ones((50, 3)), ClusterConfig(min_samples=5))
    assert identical.tolist() == [0] * 50  # nothing to separate: one cluster
    # a few distinct points repeated many times: one cluster, at once, for either method
    repeated = np.repeat(np.eye(3)[:2], 120_000, axis=0)
    for method in ("hdbscan", "optics"):
        labels = cluster_points(repeated, ClusterConfig(method=method, min_samples=5))
        assert len(labels) == 240_000 and (labels == 0).all()
    truth = np.array([0, 1, 0, 1])
    no_errors = summarise_clusters(np.zeros(4, int), truth, truth, ["a", "b"])
    assert not no_errors["is_error_cluster"].any() and no_errors["confusion"][0] == ""
    all_wrong = summarise_clusters(np.zeros(4, int), truth, 1 - truth, ["a", "b"])
    assert all_wrong["is_error_cluster"].all() and all_wrong["error_rate"][0] == 1.0
    only_noise = summarise_clusters(np.full(4, -1), truth, truth, ["a", "b"])
    assert only_noise.empty and "confusion" in only_noise.columns


@pytest.mark.parametrize("bad", [{"method": "kmeans"}, {"min_samples": 1}, {"xi": 0},
                                 {"error_threshold": 1.0}])
def test_config_validation(bad: dict) -> None:
    with pytest.raises(ValueError):
        ClusterConfig(**bad).validate()


def test_unknown_method_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="choose one of auto, optics, hdbscan"):
        cluster_points(np.zeros((20, 2)), ClusterConfig(method="kmeans"))


def test_large_inputs_cluster_a_sample_and_assign_the_rest() -> None:
    points, truth, predicted = planted_blobs()
    config = ClusterConfig(method="hdbscan", min_samples=5, max_cluster_points=120)
    labels = cluster_points(points, config)
    assert len(labels) == len(points)
    summary = summarise_clusters(labels, truth, predicted, ["a", "b", "c"])
    planted = summary[summary["is_error_cluster"]]
    assert len(planted) == 1
    assert planted.iloc[0]["size"] >= 20 and planted.iloc[0]["error_rate"] == 1.0
    np.testing.assert_array_equal(labels, cluster_points(points, config))


def test_new_points_join_a_cluster_only_within_its_reach() -> None:
    from topex_core.explorer.clustering import assign_to_clusters

    reference = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [5.0, 5.0], [5.0, 5.3],
                          [9.0, 0.0]])
    labels = np.array([0, 0, 0, 1, 1, -1])
    new = np.array([[0.25, 0.0], [0.6, 0.0], [5.0, 5.1], [9.0, 0.01], [5.0, 6.0]])
    assert assign_to_clusters(reference, labels, new).tolist() == [0, -1, 1, -1, -1]
    assert assign_to_clusters(reference, np.full(6, -1), new).tolist() == [-1] * 5
    assert assign_to_clusters(reference, labels, np.empty((0, 2))).tolist() == []
