"""The explorer: normalise → cluster → name → project → score, written into a run directory.

Adds to RUN_DIR (see ``topex_core.training.run``)::

    clusters.csv      cluster, name, size, errors, error_rate, true_majority, pred_majority,
                      confusion, is_error_cluster, density, apd, gmd, ctc, cos, weighted, rank
    cluster_words.json  {cluster: [[word, c-TF-IDF weight], …]}
    explore.json      config, timings, the pick and its reason, normaliser bounds
    maps.npz, maps.json fitted maps (see ``topex_core.explorer.projection``)
    points.parquet    gains columns cluster, sparse_pca_x/_y, tsne_x/_y
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.explorer import clustering, naming, projection, scoring
from topex_core.explorer.normalise import normalise_logits
from topex_core.timing import timed
from topex_core.training.classifier import Progress
from topex_core.training.run import RunError, read_run, write_json_atomic

EXPLORE_FILE = "explore.json"
CLUSTERS_FILE = "clusters.csv"
WORDS_FILE = "cluster_words.json"
MAP_COLUMNS = ["cluster", "sparse_pca_x", "sparse_pca_y", "tsne_x", "tsne_y"]


@dataclass(frozen=True)
class ExploreConfig:
    clustering: clustering.ClusterConfig = field(default_factory=clustering.ClusterConfig)
    seed: int = 0
    tsne_max_fit: int = 5_000
    top_words: int = naming.TOP_WORDS


def joined_text(text: str, text_pair: str | None) -> str:
    """One text for a row, a sentence pair joined by a separator (as the explorer reads it)."""
    return text if not isinstance(text_pair, str) else f"{text} || {text_pair}"


def point_texts(points: pd.DataFrame) -> list[str]:
    """The text of each point as the explorer reads it (see ``joined_text``)."""
    if "text_pair" in points.columns:
        return [joined_text(a, b) for a, b in zip(points["text"], points["text_pair"],
                                                   strict=True)]
    return points["text"].tolist()


def explore_run(run_dir: Path, config: ExploreConfig = ExploreConfig(), *,
                embed: scoring.Embed, progress: Progress | None = None) -> dict:
    """Run the explorer on a finished run and write its results; returns explore.json."""
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    config.clustering.validate()
    report = progress or (lambda fraction, message: None)
    points, logits = _load_points_and_logits(run_dir)
    label_names = record["label_names"]
    texts = point_texts(points)
    timings: dict[str, float] = {}

    with timed("normalise", timings):
        normalised, scaler = normalise_logits(logits)
    report(0.05, f"clustering {len(points):,} points "
                 f"({clustering.chosen_method(len(points), config.clustering)})")
    with timed("cluster", timings):
        cluster_labels = clustering.cluster_points(normalised, config.clustering)
        summary = clustering.summarise_clusters(
            cluster_labels, points["label_id"].to_numpy(), points["pred_id"].to_numpy(),
            label_names, error_threshold=config.clustering.error_threshold)
    report(0.3, "naming clusters with BERTopic")
    with timed("name", timings):
        names = naming.name_clusters(texts, cluster_labels, top_n_words=config.top_words)
    report(0.4, "projecting to 2D")
    with timed("project", timings):
        coords, maps = projection.fit_maps(
            normalised, seed=config.seed, tsne_max_fit=config.tsne_max_fit,
            progress=lambda f, m: report(0.4 + 0.45 * f, m))
    report(0.85, "scoring error clusters")
    error_clusters = summary.loc[summary["is_error_cluster"], "cluster"].tolist()
    with timed("score", timings):
        scores = scoring.score_clusters(normalised, cluster_labels, error_clusters, texts,
                                        {c: names[c].name for c in error_clusters}, embed=embed)
    clusters = summary.assign(name=summary["cluster"].map(lambda c: names[c].name))
    clusters = clusters.merge(scores, on="cluster", how="left")
    clusters = clusters[["cluster", "name", *[c for c in clusters.columns
                                                 if c not in ("cluster", "name")]]]
    with timed("write", timings):
        clusters.to_csv(run_dir / CLUSTERS_FILE, index=False)
        (run_dir / WORDS_FILE).write_text(json.dumps(
            {str(c): n.words for c, n in names.items()}, ensure_ascii=False))
        projection.save_maps(maps, run_dir)
        points = points.drop(columns=[c for c in MAP_COLUMNS if c in points.columns])
        points["cluster"] = cluster_labels
        for map_name in projection.MAP_NAMES:
            points[f"{map_name}_x"] = coords[map_name][:, 0]
            points[f"{map_name}_y"] = coords[map_name][:, 1]
        points.to_parquet(run_dir / "points.parquet", index=False)
    picked = int(scores.iloc[0]["cluster"]) if len(scores) else None
    result = {
        "config": asdict(config),
        "method": clustering.chosen_method(len(points), config.clustering),
        "clusters": int(len(summary)), "error_clusters": len(error_clusters),
        "noise_points": int((cluster_labels == clustering.NOISE).sum()),
        "picked_cluster": picked,
        "picked_name": names[picked].name if picked is not None else None,
        "reason": scoring.pick_reason(scores),
        "normaliser": {"minimums": scaler.minimums.tolist(),
                       "maximums": scaler.maximums.tolist()},
        "timings_s": timings,
    }
    write_json_atomic(run_dir / EXPLORE_FILE, result)
    report(1.0, "explorer done")
    return result


def read_explore(run_dir: Path) -> tuple[dict, pd.DataFrame]:
    """(explore.json, clusters table) of an explored run; RunError if not explored."""
    path = Path(run_dir) / EXPLORE_FILE
    if not path.is_file():
        raise RunError(f"{run_dir}: not explored yet; run 'topex explore --run {run_dir}'")
    return (json.loads(path.read_text(encoding="utf-8")),
            pd.read_csv(Path(run_dir) / CLUSTERS_FILE, keep_default_na=False,
                        na_values=[""]))


def _load_points_and_logits(run_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        points = pd.read_parquet(run_dir / "points.parquet")
        logits = np.load(run_dir / "logits.npy", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise RunError(f"{run_dir}: points.parquet or logits.npy missing or corrupt "
                       f"({error})") from None
    if len(points) != len(logits):
        raise RunError(f"{run_dir}: points.parquet has {len(points)} rows but logits.npy "
                       f"has {len(logits)}")
    return points, logits
