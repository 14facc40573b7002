"""The six cluster scores of TopEx, ranked, with a reason for the pick.

For a cluster C inside all normalised logits Ŷ (N points, d dims):

1. density = |C| / max over dims of (max − min of C along that dim). Deviation: the
   extent is floored at ``MIN_EXTENT`` so that a cluster of identical points (or of one
   point) gets a large finite density instead of a division by zero.
2. average pairwise distance (apd) = Σ_{j∈C, k∉C} ‖C_j − Ŷ_k‖₂ / (N − |C|), the paper's
   Eq. 4 taken literally (a sum over the cluster, a mean over the outside). Computed in
   chunks: memory is O(chunk × N), never N × N. NaN when no point lies outside C.
   Deviation for large N: apd is the mean over outside points k of s_k = Σ_j ‖C_j − Ŷ_k‖₂,
   so with more than ``APD_SAMPLE`` outside points it is estimated from a seeded uniform
   sample of them, and ``apd_se`` (the standard error of that mean, with the finite-
   population correction) is stored beside it; 0 where apd is exact. Euclidean distances
   have no cheaper exact sum (squared ones would), hence the estimate.
3. geometric-median distance (gmd) = mean ‖C_j − gm(C)‖₂, gm by Weiszfeld's algorithm.
4. CTC preservation (ctc) = mean cosine similarity between the embedding of the cluster's
   name and the embeddings of its texts.
5. cosine similarity (cos) = mean pairwise cosine similarity of the cluster's text
   embeddings (pairs of distinct texts); NaN for a cluster of one text.
   Deviation for large clusters (4 and 5): ctc and cos are means over a cluster's texts
   and pairs of texts, so above ``TEXT_SAMPLE`` members they are taken over a seeded
   uniform sample of that many texts, and ``ctc_se`` and ``cos_se`` (their standard
   errors, with the finite-population correction; 0 where every text was used) are stored
   beside them. ctc's is that of a mean; cos is a U-statistic of degree 2, whose variance
   is about 4·ζ₁/n (Hoeffding), ζ₁ estimated by the variance of each text's mean
   similarity to the others. Embedding the texts was most of the explorer's time at
   100k and 1M rows; 500 texts put the standard errors near 0.005 on cosine scales
   (bench/bench_explore.py --scale-checks measures them against 2,000).
6. weighted = 0.68·cos + 0.65·apd + 0.41·density, each min-max scaled over the clusters
   being ranked (a NaN component counts as 0, the lowest; a metric equal for all clusters
   scales to 1 for all).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from topex_core.training.embeddings import Embed

MIN_EXTENT = 1e-3
APD_SAMPLE = 20_000
TEXT_SAMPLE = 500
WEIGHTS = {"cos": 0.68, "apd": 0.65, "density": 0.41}
SCORE_COLUMNS = ["density", "apd", "gmd", "ctc", "cos", "weighted"]
ERROR_COLUMNS = ["apd_se", "ctc_se", "cos_se"]  # standard errors of the sampled estimates
EXPLANATIONS = {
    "density": "points per unit of the cluster's widest extent in the explored space (the "
               "logits by default): how tightly the model's outputs for these texts agree",
    "apd": "summed distance from the cluster's points to every point outside it, per outside "
           "point: how far the cluster sits from the rest of the data",
    "gmd": "mean distance of the cluster's points to their geometric median: its spread",
    "ctc": "how well the cluster's name matches what its texts say (cosine similarity of "
           "their sentence embeddings)",
    "cos": "how alike the cluster's texts are to each other (mean pairwise cosine "
           "similarity of their sentence embeddings)",
    "weighted": "0.68·cos + 0.65·apd + 0.41·density after scaling each to [0, 1] over the "
                "clusters: the paper's three best metrics",
}
NAMES = {"density": "density", "apd": "average pairwise distance",
         "gmd": "geometric-median distance", "ctc": "CTC preservation",
         "cos": "cosine similarity", "weighted": "weighted score"}


def density(cluster_points: np.ndarray) -> float:
    """|C| over the largest per-dimension extent of ``cluster_points`` (n, d)."""
    extent = float((cluster_points.max(axis=0) - cluster_points.min(axis=0)).max())
    return len(cluster_points) / max(extent, MIN_EXTENT)


def average_pairwise_distance(all_points: np.ndarray, member_mask: np.ndarray, *,
                              sample: int | None = None, seed: int = 0,
                              chunk_elements: int = 8_000_000) -> tuple[float, float]:
    """(apd, standard error): Σ over members j and outsiders k of ‖Ŷ_j − Ŷ_k‖₂, divided by
    the number of outsiders, exactly (error 0) or, with more than ``sample`` outsiders,
    estimated from ``sample`` of them drawn uniformly with ``seed``.

    ``all_points`` (N, d); ``member_mask`` (N,) bool. Distances are taken in blocks of
    about ``chunk_elements`` (64 MB of float64 per temporary), whatever N is: a fixed
    number of rows per block took 24 GB with 1M points.
    """
    members = all_points[member_mask]
    outsiders = all_points[~member_mask]
    population = len(outsiders)
    if population == 0:
        return float("nan"), float("nan")
    if sample is not None and population > sample:
        rng = np.random.default_rng(seed)
        outsiders = outsiders[rng.choice(population, sample, replace=False)]
    per_outsider = _distance_sums(members, outsiders, chunk_elements)
    if len(outsiders) == population:
        return float(per_outsider.mean()), 0.0
    correction = (population - len(outsiders)) / (population - 1)
    error = per_outsider.std(ddof=1) / np.sqrt(len(outsiders)) * np.sqrt(correction)
    return float(per_outsider.mean()), float(error)


def _distance_sums(members: np.ndarray, outsiders: np.ndarray,
                   chunk_elements: int) -> np.ndarray:
    """(K,) Σ over the members (M, d) of their distances to each outsider (K, d)."""
    chunk_rows = max(1, chunk_elements // len(outsiders))
    outsider_norms = np.einsum("ij,ij->i", outsiders, outsiders)
    sums = np.zeros(len(outsiders))
    for start in range(0, len(members), chunk_rows):
        block = members[start:start + chunk_rows]
        squared = (np.einsum("ij,ij->i", block, block)[:, None] + outsider_norms[None, :]
                   - 2.0 * block @ outsiders.T)
        sums += np.sqrt(np.maximum(squared, 0.0)).sum(axis=0)
    return sums


def geometric_median(points: np.ndarray, *, tolerance: float = 1e-7,
                     max_iterations: int = 500) -> np.ndarray:
    """Weiszfeld's algorithm on ``points`` (n, d); returns (d,).

    A point that coincides with the current estimate is skipped in the update (the
    standard fix of the algorithm's division by zero).
    """
    estimate = points.mean(axis=0)
    for _ in range(max_iterations):
        distances = np.linalg.norm(points - estimate, axis=1)
        away = distances > 1e-12
        if not away.any():
            return estimate
        weights = 1.0 / distances[away]
        updated = (points[away] * weights[:, None]).sum(axis=0) / weights.sum()
        if np.linalg.norm(updated - estimate) < tolerance:
            return updated
        estimate = updated
    return estimate


def geometric_median_distance(cluster_points: np.ndarray) -> float:
    median = geometric_median(cluster_points)
    return float(np.linalg.norm(cluster_points - median, axis=1).mean())


def mean_pairwise_cosine(embeddings: np.ndarray, *, population: int | None = None
                         ) -> tuple[float, float]:
    """(mean cosine similarity over pairs of distinct rows of ``embeddings`` (n, e), its
    standard error as an estimate of the mean over ``population`` texts (0 when the rows
    are all of them, NaN for fewer than three rows)."""
    n = len(embeddings)
    if n < 2:
        return float("nan"), float("nan")
    unit = _unit_rows(embeddings)
    summed = unit.sum(axis=0)
    mean = float((summed @ summed - n) / (n * (n - 1)))
    population = population or n
    if population <= n:
        return mean, 0.0
    if n < 3:
        return mean, float("nan")
    each = (unit @ summed - 1.0) / (n - 1)  # each text's mean similarity to the others
    return mean, _standard_error(each, population, factor=2.0)


def name_text_similarity(name_embedding: np.ndarray, text_embeddings: np.ndarray, *,
                         population: int | None = None) -> tuple[float, float]:
    """(mean cosine similarity of one name embedding (e,) with text embeddings (n, e), its
    standard error as an estimate over ``population`` texts; 0 when they are all)."""
    similarities = _unit_rows(text_embeddings) @ _unit_rows(name_embedding[None, :])[0]
    population = population or len(similarities)
    if population <= len(similarities):
        return float(similarities.mean()), 0.0
    return float(similarities.mean()), _standard_error(similarities, population)


def _standard_error(values: np.ndarray, population: int, *, factor: float = 1.0) -> float:
    """``factor`` × the standard error of the mean of ``values``, a uniform sample without
    replacement of ``population`` values."""
    n = len(values)
    if n < 2:
        return float("nan")
    correction = (population - n) / (population - 1)
    return float(factor * values.std(ddof=1) / np.sqrt(n) * np.sqrt(correction))


def score_clusters(normalised: np.ndarray, cluster_labels: np.ndarray, clusters: Sequence[int],
                   texts: Sequence[str], names: dict[int, str], *, embed: Embed,
                   embed_rows: Callable[[np.ndarray], np.ndarray] | None = None
                   ) -> pd.DataFrame:
    """Scores of ``clusters``, ranked by the weighted score (rank 1 = augment first).

    ``normalised`` (N, d) and ``cluster_labels`` (N,) cover all points; ``texts`` are the
    N texts; ``names`` maps cluster → name; ``embed`` maps texts to (n, e) embeddings, and
    ``embed_rows`` row positions to their texts' embeddings (``embed`` of those texts when
    None; the explorer passes ``RowEmbeddings``, which keeps them per run).
    Returns columns cluster, the six scores, apd_se, ctc_se, cos_se, rank.
    """
    points = np.asarray(normalised, dtype=np.float64)
    clusters = list(clusters)
    if not clusters:
        return pd.DataFrame(columns=["cluster", *SCORE_COLUMNS, *ERROR_COLUMNS, "rank"])
    member_positions = {c: np.flatnonzero(cluster_labels == c) for c in clusters}
    text_positions = {c: _sample(positions, TEXT_SAMPLE, seed=int(c))
                      for c, positions in member_positions.items()}
    all_members = np.concatenate(list(text_positions.values()))
    member_embeddings = (embed_rows(all_members) if embed_rows is not None
                         else embed([texts[i] for i in all_members]))
    embeddings = dict(zip(all_members.tolist(), member_embeddings, strict=True))
    name_embeddings = embed([names[c] for c in clusters])
    rows = []
    for cluster, name_embedding in zip(clusters, name_embeddings, strict=True):
        positions = member_positions[cluster]
        text_embeddings = np.stack([embeddings[i] for i in text_positions[cluster].tolist()])
        apd, apd_se = average_pairwise_distance(points, cluster_labels == cluster,
                                                sample=APD_SAMPLE, seed=int(cluster))
        ctc, ctc_se = name_text_similarity(name_embedding, text_embeddings,
                                           population=len(positions))
        cos, cos_se = mean_pairwise_cosine(text_embeddings, population=len(positions))
        rows.append({
            "cluster": cluster,
            "density": density(points[positions]),
            "apd": apd,
            "gmd": geometric_median_distance(points[positions]),
            "ctc": ctc,
            "cos": cos,
            "apd_se": apd_se,
            "ctc_se": ctc_se,
            "cos_se": cos_se,
        })
    frame = pd.DataFrame(rows)
    frame["weighted"] = sum(weight * _min_max(frame[metric].to_numpy())
                            for metric, weight in WEIGHTS.items())
    frame["rank"] = frame["weighted"].rank(ascending=False, method="first").astype(int)
    return frame[["cluster", *SCORE_COLUMNS, *ERROR_COLUMNS, "rank"]].sort_values(
        "rank", ignore_index=True)


def pick_reason(scores: pd.DataFrame) -> str:
    """Why rank 1 was chosen: its weighted component furthest above the clusters' mean."""
    if scores.empty:
        return "No error cluster to choose."
    best = scores.iloc[0]
    cluster = int(best["cluster"])
    if len(scores) == 1:
        return f"Cluster {cluster} is the only error cluster."
    ratios = {}
    for metric in WEIGHTS:
        mean = float(np.nanmean(scores[metric]))
        if np.isfinite(best[metric]) and mean > 0:
            ratios[metric] = float(best[metric]) / mean
    if not ratios:
        return f"Cluster {cluster} has the highest weighted score."
    metric = max(ratios, key=ratios.get)
    return (f"Cluster {cluster} was chosen because its {NAMES[metric]} is "
            f"{ratios[metric]:.2f}× the mean of all error clusters.")


def _sample(positions: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    """``positions`` itself, or ``size`` of them drawn uniformly (sorted) when there are more."""
    if len(positions) <= size:
        return positions
    return np.sort(np.random.default_rng(seed).choice(positions, size, replace=False))


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _min_max(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros_like(values)
    low, high = values[finite].min(), values[finite].max()
    scaled = np.ones_like(values) if high == low else (values - low) / (high - low)
    return np.where(finite, scaled, 0.0)
