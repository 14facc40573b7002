"""Clustering of normalised logits and the error clusters among them (TopEx §2.2).

OPTICS is the paper's default (with an unbounded radius, ``optics``'s walk: scikit-learn's
labels without its per-point queries); above ``auto_threshold`` points the ``auto`` method
uses HDBSCAN (the ``hdbscan`` package's Borůvka implementation), because OPTICS grows
roughly quadratically (20k points took 34 s on 2 cores with scikit-learn's).
An error cluster is a cluster whose share of misclassified points exceeds a threshold.

Very large inputs (more than ``max_cluster_points``, default 100,000): the clustering runs
on a seeded random sample of that size and every other point takes the label of its
nearest sampled point (noise included). This is the 1M-point path: sklearn's HDBSCAN did
not finish 1M points in 30 minutes on 2 cores and took 45 s on 100k; the Borůvka
implementation takes 4.4 s on 100k and 150 s on all of 1M, so the sample keeps the 1M
path to seconds.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from topex_core.errors import SettingsError
from topex_core.explorer.optics import optics_labels

METHODS = ("auto", "optics", "hdbscan")
NOISE = -1


@dataclass(frozen=True)
class ClusterConfig:
    """``min_samples``, ``xi`` and ``max_eps`` are OPTICS's; HDBSCAN uses ``min_samples``
    for both its ``min_samples`` and ``min_cluster_size``."""

    method: str = "auto"
    min_samples: int = 5
    xi: float = 0.05
    max_eps: float = np.inf
    auto_threshold: int = 10_000
    error_threshold: float = 0.5
    max_cluster_points: int = 100_000
    seed: int = 0

    def validate(self) -> None:
        if self.method not in METHODS:
            raise SettingsError(f"unknown clustering method '{self.method}'; "
                             f"choose one of {', '.join(METHODS)}")
        if self.min_samples < 2:
            raise SettingsError(f"min_samples must be at least 2, got {self.min_samples}")
        if not 0 < self.xi < 1:
            raise SettingsError(f"xi must be in (0, 1), got {self.xi}")
        if not 0 <= self.error_threshold < 1:
            raise SettingsError(f"error_threshold must be in [0, 1), got {self.error_threshold}")
        if self.max_cluster_points < self.min_samples:
            raise SettingsError(f"max_cluster_points must be at least min_samples, "
                             f"got {self.max_cluster_points}")


def chosen_method(n_points: int, config: ClusterConfig) -> str:
    """The method ``auto`` resolves to for ``n_points``."""
    if config.method != "auto":
        return config.method
    return "hdbscan" if n_points > config.auto_threshold else "optics"


def cluster_points(normalised: np.ndarray, config: ClusterConfig = ClusterConfig()) -> np.ndarray:
    """Cluster labels (N,) int64 for ``normalised`` (N, C); -1 is noise.

    With fewer points, or fewer distinct points, than ``min_samples`` every point forms one
    cluster (0): there is nothing to separate (one point repeated 1M times kept HDBSCAN's
    tree busy for 508 s and came back as noise).
    """
    config.validate()
    points = np.asarray(normalised, dtype=np.float64)
    if len(points) < config.min_samples or _fewer_distinct(points, config.min_samples):
        return np.zeros(len(points), dtype=np.int64)
    if len(points) > config.max_cluster_points:
        return _cluster_sample_and_assign(points, config)
    return _cluster_all(points, config)


def _fewer_distinct(points: np.ndarray, count: int) -> bool:
    """True when ``points`` (N, d) hold fewer than ``count`` distinct rows."""
    # a prefix with enough distinct rows settles the common case without sorting N rows
    if len(np.unique(points[: 50 * count], axis=0)) >= count:
        return False
    return len(np.unique(points, axis=0)) < count


def _cluster_sample_and_assign(points: np.ndarray, config: ClusterConfig) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(len(points), config.max_cluster_points, replace=False))
    sample_labels = _cluster_all(points[sample], config)
    nearest = NearestNeighbors(n_neighbors=1).fit(points[sample])
    labels = sample_labels[nearest.kneighbors(points, return_distance=False)[:, 0]]
    labels[sample] = sample_labels
    return labels


def _cluster_all(points: np.ndarray, config: ClusterConfig) -> np.ndarray:
    method = chosen_method(len(points), config)
    if method == "optics" and np.isinf(config.max_eps):
        # scikit-learn's walk without its per-point queries: the same labels, 6–11× faster
        return optics_labels(points, min_samples=config.min_samples, xi=config.xi)
    if method == "optics":
        from sklearn.cluster import OPTICS

        # n_jobs stays 1: OPTICS queries neighbours one point at a time, and a joblib pool
        # per query made 5,452 TREC points take 72 s instead of 4 s on 2 cores
        model = OPTICS(min_samples=config.min_samples, xi=config.xi, max_eps=config.max_eps,
                       metric="euclidean")
    else:
        import hdbscan

        # the hdbscan package's Borůvka KD-tree: the same clusters as scikit-learn's HDBSCAN
        # (adjusted Rand 1.0 on 100k planted points) in 4.4 s instead of 45 s (README)
        model = hdbscan.HDBSCAN(min_cluster_size=config.min_samples,
                                min_samples=config.min_samples, algorithm="boruvka_kdtree",
                                core_dist_n_jobs=os.cpu_count() or 1)
    return model.fit_predict(points).astype(np.int64)


def assign_to_clusters(reference: np.ndarray, cluster_labels: np.ndarray,
                       new_points: np.ndarray) -> np.ndarray:
    """Cluster labels (M,) for ``new_points`` (M, C) from the clustered ``reference``
    (N, C) with ``cluster_labels`` (N,): a new point joins the cluster of its nearest
    reference point when it is no farther from it than that cluster's members are from
    their own nearest fellow member (the largest such distance); otherwise it is noise.
    Used to find held-out test rows in the pool's clusters without reclustering."""
    from sklearn.neighbors import NearestNeighbors

    labels = np.full(len(new_points), NOISE, dtype=np.int64)
    if not len(new_points) or not (cluster_labels != NOISE).any():
        return labels
    reach = {}
    for cluster in np.unique(cluster_labels[cluster_labels != NOISE]):
        members = reference[cluster_labels == cluster]
        if len(members) < 2:
            reach[cluster] = 0.0
            continue
        distances, _ = NearestNeighbors(n_neighbors=2).fit(members).kneighbors(members)
        reach[cluster] = float(distances[:, 1].max())
    distance, index = NearestNeighbors(n_neighbors=1).fit(reference).kneighbors(new_points)
    nearest = cluster_labels[index[:, 0]]
    limits = np.array([reach.get(cluster, -1.0) for cluster in nearest])
    inside = (nearest != NOISE) & (distance[:, 0] <= limits + 1e-9)
    labels[inside] = nearest[inside]
    return labels


def summarise_clusters(cluster_labels: np.ndarray, true_labels: np.ndarray,
                       predicted_labels: np.ndarray, label_names: list[str], *,
                       error_threshold: float = 0.5) -> pd.DataFrame:
    """One row per cluster (noise excluded), largest error rate first.

    Columns: cluster, size, errors, error_rate, true_majority, pred_majority, confusion
    (e.g. ``"shipping → billing"``, the most common wrong pair), is_error_cluster.
    """
    rows = []
    for cluster in np.unique(cluster_labels):
        if cluster == NOISE:
            continue
        members = cluster_labels == cluster
        truth, predicted = true_labels[members], predicted_labels[members]
        wrong = truth != predicted
        error_rate = float(wrong.mean())
        mistakes = Counter(zip(truth[wrong].tolist(), predicted[wrong].tolist(), strict=True))
        confusion = ""
        if mistakes:
            (true_id, pred_id), _ = mistakes.most_common(1)[0]
            confusion = f"{label_names[true_id]} → {label_names[pred_id]}"
        rows.append({
            "cluster": int(cluster), "size": int(members.sum()), "errors": int(wrong.sum()),
            "error_rate": round(error_rate, 4),
            "true_majority": label_names[Counter(truth.tolist()).most_common(1)[0][0]],
            "pred_majority": label_names[Counter(predicted.tolist()).most_common(1)[0][0]],
            "confusion": confusion, "is_error_cluster": error_rate > error_threshold,
        })
    columns = ["cluster", "size", "errors", "error_rate", "true_majority", "pred_majority",
               "confusion", "is_error_cluster"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["error_rate", "size"], ascending=False, ignore_index=True)
