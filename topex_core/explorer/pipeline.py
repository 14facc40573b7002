"""The explorer: normalise → cluster → name → slice → project → score, into a run directory.

Clusters, maps and scores live in the space ``ExploreConfig.space`` names
(``explorer.space``: the normalised logits by default, or the model's own features, or
both). Adds explore.json, clusters.csv, cluster_words.json, slices.csv, slice_rows.parquet,
map_points.parquet, the fitted maps and the fitted space to RUN_DIR (``topex_core.rundir``
says what each holds); points.parquet, written by training, is never rewritten.
clusters.csv has the columns cluster, name (keywords · confusion), keywords (``; ``-separated,
empty when the texts share no wording), name_coverage, size, errors, error_rate,
true_majority, pred_majority, confusion, is_error_cluster, density, apd, gmd, ctc, cos,
weighted, rank.
slices.csv has ``slices.SLICE_COLUMNS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data.texts import point_texts
from topex_core.errors import RunError
from topex_core.exploredir import write_explore, write_map_points
from topex_core.explorer import clustering, naming, projection, scoring, slices
from topex_core.explorer.explored import ExploredRun, in_error_regions
from topex_core.explorer.normalise import MinMaxScaler, normalise_logits
from topex_core.explorer.region_kinds import REGION_KINDS, BuiltRegions
from topex_core.explorer.row_embeddings import RowEmbeddings
from topex_core.explorer.space import FittedSpace, check_space, fit_space, needs_features
from topex_core.records import ExploreResult
from topex_core.rundir import (
    has_classifier,
    read_logits,
    read_points,
    read_run,
    read_test_points,
)
from topex_core.timing import Progress, timed
from topex_core.training.embeddings import Embed


@dataclass(frozen=True)
class ExploreConfig:
    clustering: clustering.ClusterConfig = field(default_factory=clustering.ClusterConfig)
    slices: slices.SliceConfig = field(default_factory=slices.SliceConfig)
    seed: int = 0
    space: str = "logits"
    tsne_max_fit: int = 5_000
    top_words: int = naming.TOP_WORDS


def explore_run(run_dir: Path, config: ExploreConfig = ExploreConfig(), *,
                embed: Embed, progress: Progress | None = None) -> ExploreResult:
    """Run the explorer on a finished run and write its results; returns explore.json."""
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    config.clustering.validate()
    config.slices.validate()
    space = check_space(config.space, has_features=has_classifier(run_dir))
    report = progress or (lambda fraction, message: None)
    points, logits = _load_points_and_logits(run_dir)
    texts = point_texts(points)
    timings: dict[str, float] = {}
    normalised, scaler, fitted_space, space_points = _space(run_dir, space, logits, timings,
                                                            report)
    method = clustering.chosen_method(len(points), config.clustering)
    report(0.05, f"clustering {len(points):,} points in the {space} space ({method})")
    with timed("cluster", timings):
        cluster_labels, summary = _clusters(points, space_points, record.label_names,
                                            config.clustering)
    points = points.assign(cluster=cluster_labels)
    error_clusters = summary.loc[summary["is_error_cluster"], "cluster"].tolist()
    report(0.25, "naming clusters with BERTopic")
    with timed("name", timings):
        names = naming.name_clusters(texts, cluster_labels, top_n_words=config.top_words,
                                     embed=embed, rerank=error_clusters)
    report(0.35, "testing terms for error slices and grouping them into concepts")
    embed_rows = RowEmbeddings(run_dir, texts, embed)
    with timed("slices", timings):
        error_slices = _error_slices(points, texts, record.label_names, config.slices,
                                     embed, embed_rows)
    report(0.4, "projecting to 2D")
    with timed("project", timings):
        coords, maps = projection.fit_maps(
            space_points, seed=config.seed, tsne_max_fit=config.tsne_max_fit,
            progress=lambda f, m: report(0.4 + 0.45 * f, m))
    report(0.85, "scoring error clusters")
    with timed("score", timings):
        scores = scoring.score_clusters(space_points, cluster_labels, error_clusters, texts,
                                        {c: names[c].name for c in error_clusters}, embed=embed,
                                        embed_rows=embed_rows)
    with timed("write", timings):
        _write_maps(run_dir, points["id"], cluster_labels, coords, maps)
        fitted_space.save(run_dir)
    slice_rows = {name: points["id"].to_numpy()[positions]
                  for name, positions in error_slices.members.items()}
    clusters_table = _clusters_table(summary, names, scores)
    result = ExploreResult(
        config=asdict(config), method=method, clusters=int(len(summary)),
        error_clusters=len(error_clusters),
        noise_points=int((cluster_labels == clustering.NOISE).sum()),
        **_pick(scores, names, summary), normaliser_minimums=scaler.minimums.tolist(),
        normaliser_maximums=scaler.maximums.tolist(), timings_s=dict(timings),
        space=space, slices=len(error_slices.table), **_coverage(points, summary, slice_rows))
    explored = ExploredRun(run_dir, record, result, points, clusters_table, error_slices.table,
                           slice_rows, read_test_points(run_dir))
    result = replace(result, **_target(explored))
    words = {str(cluster): name.words for cluster, name in names.items()}
    _write(run_dir, result, BuiltRegions(clusters_table, words, error_slices.table, slice_rows))
    report(1.0, "explorer done")
    return result


def _write(run_dir: Path, result: ExploreResult, built: BuiltRegions) -> None:
    """Each region kind's files through the kinds table, then explore.json last."""
    for kind in REGION_KINDS:
        if kind.write is not None:
            kind.write(run_dir, built)
    write_explore(run_dir, result)


def _clusters(points: pd.DataFrame, space_points: np.ndarray, label_names: list[str],
              config: clustering.ClusterConfig) -> tuple[np.ndarray, pd.DataFrame]:
    """(N,) the cluster of each point (NOISE: none), and the clusters' summary."""
    cluster_labels = clustering.cluster_points(space_points, config)
    return cluster_labels, clustering.summarise_clusters(
        cluster_labels, points["label_id"].to_numpy(), points["pred_id"].to_numpy(),
        label_names, error_threshold=config.error_threshold)


def _error_slices(points: pd.DataFrame, texts: list[str], label_names: list[str],
                  config: slices.SliceConfig, embed: Embed,
                  embed_rows: RowEmbeddings) -> slices.ErrorSlices:
    """The error slices and concepts of the pool's rows (``slices``)."""
    return slices.find_error_slices(
        texts, points["label_id"].to_numpy(), points["pred_id"].to_numpy(), label_names,
        points["id"].to_numpy(), config, embed=embed, embed_rows=embed_rows)


def _space(run_dir: Path, space: str, logits: np.ndarray, timings: dict[str, float],
           report: Progress) -> tuple[np.ndarray, MinMaxScaler, FittedSpace, np.ndarray]:
    """(normalised logits (N, C), their normaliser, the fitted space, the (N, D) points)."""
    with timed("normalise", timings):
        normalised, scaler = normalise_logits(logits)
    fitted_space, space_points = _fitted_space(run_dir, space, normalised, timings, report)
    return normalised, scaler, fitted_space, space_points


def _fitted_space(run_dir: Path, space: str, normalised: np.ndarray,
                  timings: dict[str, float], report: Progress
                  ) -> tuple[FittedSpace, np.ndarray]:
    """The space fitted on the pool, and the pool's (N, D) points in it."""
    features = None
    if needs_features(space):
        # imported here: the model features need torch, which a logits-only explorer skips
        from topex_core.training.features import run_features

        with timed("features", timings):
            features = run_features(run_dir, progress=lambda f, m: report(0.04 * f,
                                                                          f"features: {m}"))
    fitted = fit_space(space, normalised, features)
    return fitted, fitted.points(normalised, features)


def _write_maps(run_dir: Path, ids: pd.Series, cluster_labels: np.ndarray,
               coords: dict[str, np.ndarray], maps: projection.FittedMaps) -> None:
    map_points = pd.DataFrame({"id": ids.to_numpy(), "cluster": cluster_labels})
    for map_name in projection.MAP_NAMES:
        map_points[f"{map_name}_x"] = coords[map_name][:, 0]
        map_points[f"{map_name}_y"] = coords[map_name][:, 1]
    projection.save_maps(maps, run_dir)
    write_map_points(run_dir, map_points)


def _pick(scores: pd.DataFrame, names: dict[int, naming.ClusterName],
          summary: pd.DataFrame) -> dict:
    """The error cluster ranked first (None without one), its name and why."""
    picked = int(scores.iloc[0]["cluster"]) if len(scores) else None
    return {"picked_cluster": picked, "reason": scoring.pick_reason(scores),
            "picked_name": (names[picked].label(_confusion(summary, picked))
                            if picked is not None else None)}


def _target(explored: ExploredRun) -> dict:
    """The strongest region by evidence (``evidence``) of the regions just built, its name
    and why; ``explored`` holds the test split, whose rows count (a target needs test rows
    to measure a round on)."""
    ranked = explored.evidence()
    if not ranked:
        return {"target_reason": "No error cluster or slice to choose."}
    return {"target_kind": ranked[0].kind, "target_key": ranked[0].key,
            "target_name": ranked[0].name,
            "target_reason": ranked[0].reason(ranked[1] if len(ranked) > 1 else None)}


def _coverage(points: pd.DataFrame, summary: pd.DataFrame,
              slice_rows: dict[str, np.ndarray]) -> dict[str, int]:
    """How many of the model's mistakes lie in an error cluster, a slice, or either."""
    wrong = ~points["correct"].to_numpy(bool)
    in_cluster, in_slice = in_error_regions(points, summary, slice_rows)
    return {"mistakes": int(wrong.sum()), "in_error_clusters": int((wrong & in_cluster).sum()),
            "in_slices": int((wrong & in_slice).sum()),
            "covered": int((wrong & (in_cluster | in_slice)).sum())}


def _clusters_table(summary: pd.DataFrame, names: dict[int, naming.ClusterName],
                    scores: pd.DataFrame) -> pd.DataFrame:
    """clusters.csv: the summary with names and scores, ``cluster`` and ``name`` first."""
    clusters = summary.assign(
        name=[names[c].label(confusion) for c, confusion in
              zip(summary["cluster"], summary["confusion"], strict=True)],
        keywords=summary["cluster"].map(lambda c: "; ".join(names[c].keywords)),
        name_coverage=summary["cluster"].map(lambda c: round(names[c].coverage, 4)))
    clusters = clusters.merge(scores, on="cluster", how="left")
    first = ["cluster", "name", "keywords", "name_coverage"]
    return clusters[[*first, *[c for c in clusters.columns if c not in first]]]


def _confusion(summary: pd.DataFrame, cluster: int) -> str:
    return str(summary.loc[summary["cluster"] == cluster, "confusion"].iloc[0])


def _load_points_and_logits(run_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    points, logits = read_points(run_dir), read_logits(run_dir)
    if len(points) != len(logits):
        raise RunError(f"{run_dir}: points.parquet has {len(points)} rows but logits.npy "
                       f"has {len(logits)}")
    return points, logits
