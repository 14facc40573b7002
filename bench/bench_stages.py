"""Every explorer stage on its own, median of repeated runs, beside the obvious reference.

    python bench/bench_stages.py [--repeats 3] [--sizes 5000,100000,1000000]

Prints one JSON object per (stage, size): median and all times in seconds, and where a
reference implementation exists, its median from the same run and the ratio
reference / ours (above 1: ours is faster). Synthetic points are clumped 6-class logits
(the generator of bench_explore.py); texts and labels are TREC's where a stage reads text.
Stages benchmarked elsewhere: forward pass (bench_logits), fine-tuning (bench_fine_tune),
candidate checks (bench_generation), retraining (bench_retrain), store (bench_store).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data.dataset import load_dataset
from topex_core.explorer.clustering import ClusterConfig, cluster_points
from topex_core.explorer.naming import name_clusters
from topex_core.explorer.normalise import normalise_logits
from topex_core.explorer.projection import _fit_tsne
from topex_core.explorer.scoring import average_pairwise_distance, score_clusters
from topex_core.train_config import default_backbone
from topex_core.training.classifier import set_cpu_threads
from topex_core.training.hardware import machine_line

TREC = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "trec" / "train.csv"


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def report(stage: str, size: int, ours: list[float], reference: list[float] | None = None,
           reference_name: str | None = None, **extra: object) -> None:
    record = {"bench": "stages", "stage": stage, "points": size,
              "median_s": round(statistics.median(ours), 4), "runs_s": [round(t, 4) for t in ours],
              "machine": machine_line(), **extra}
    if reference is not None:
        record.update(reference=reference_name,
                      reference_median_s=round(statistics.median(reference), 4),
                      ratio=round(statistics.median(reference) / statistics.median(ours), 2))
    print(json.dumps(record), flush=True)


def clumped_logits(points: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (60, 6))
    blob = rng.integers(0, len(centres), points)
    return (centres[blob] + rng.normal(0, 0.25, (points, 6))).astype(np.float32)


def bench_text_stages(repeats: int) -> None:
    from transformers import AutoTokenizer

    report("load_csv", 5452, timed(lambda: load_dataset(TREC), repeats),
           timed(lambda: pd.read_csv(TREC), repeats), "pandas.read_csv (no checks)")
    texts = load_dataset(TREC).texts
    tokenizer = AutoTokenizer.from_pretrained(default_backbone())
    report("tokenise", len(texts),
           timed(lambda: tokenizer(texts, truncation=True, max_length=64), repeats),
           timed(lambda: [tokenizer(t, truncation=True, max_length=64) for t in texts],
                 repeats), "one tokenizer call per text")
    labels = cluster_points(normalise_logits(clumped_logits(len(texts)))[0])
    report("bertopic_naming", len(texts), timed(lambda: name_clusters(texts, labels), repeats),
           clusters=int(labels.max() + 1))


def bench_normalise(size: int, repeats: int) -> None:
    from sklearn.preprocessing import MinMaxScaler

    logits = clumped_logits(size)
    report("normalise", size, timed(lambda: normalise_logits(logits), repeats),
           timed(lambda: MinMaxScaler((-1, 1)).fit_transform(logits), repeats),
           "sklearn MinMaxScaler")


def bench_point_stages(size: int, repeats: int) -> None:
    normalised = normalise_logits(clumped_logits(size))[0]
    hdbscan = timed(lambda: cluster_points(normalised, ClusterConfig(method="hdbscan")),
                    repeats)
    if size <= 5_000:
        optics = timed(lambda: cluster_points(normalised, ClusterConfig(method="optics")),
                       repeats)
        report("optics", size, optics)
        report("hdbscan", size, hdbscan, optics, "OPTICS on the same points")
    else:
        extra = {"note": "above 100k points a sample is clustered and every other point "
                         "joins its nearest sampled neighbour's cluster"} if size > 100_000 else {}
        report("hdbscan", size, hdbscan, **extra)
    if size > 100_000:
        return  # Eq. 4 is |C|·N distances per cluster: see the README's 1M explorer figure
    labels = cluster_points(normalised)
    members = labels == np.bincount(labels[labels >= 0]).argmax()
    naive = size <= 5_000
    report("apd_score", size,
           timed(lambda: average_pairwise_distance(normalised, members)[0], repeats),
           timed(lambda: _naive_apd(normalised, members), repeats) if naive else None,
           "scipy cdist, full matrix" if naive else None, cluster_points=int(members.sum()))
    clusters = sorted(set(labels[labels >= 0].tolist()))[:20]
    texts = [f"text {i % 500}" for i in range(size)]
    report("score_20_clusters", size, timed(lambda: score_clusters(
        normalised, labels, clusters, texts, {c: f"name {c}" for c in clusters},
        embed=_hashing_embed), repeats))


def bench_projection(repeats: int) -> None:
    from sklearn.decomposition import PCA, SparsePCA
    from sklearn.manifold import TSNE

    normalised = normalise_logits(clumped_logits(5_000))[0].astype(np.float64)
    report("sparse_pca", 5_000,
           timed(lambda: SparsePCA(n_components=2, random_state=0).fit_transform(normalised),
                 repeats),
           timed(lambda: PCA(n_components=2).fit_transform(normalised), repeats), "PCA")
    report("tsne", 5_000, timed(lambda: _fit_tsne(normalised, 30.0, 0), repeats),
           timed(lambda: TSNE(perplexity=30.0, init="pca", random_state=0)
                 .fit_transform(normalised), repeats), "sklearn TSNE")


def _naive_apd(points: np.ndarray, members: np.ndarray) -> float:
    from scipy.spatial.distance import cdist

    return float(cdist(points[members], points[~members]).sum() / (~members).sum())


def _hashing_embed(texts) -> np.ndarray:
    vectors = np.zeros((len(texts), 64), np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            vectors[row, hash(word) % 64] += 1.0
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="5000,100000,1000000")
    parser.add_argument("--groups", default="text,projection,normalise,points",
                        help="which groups of stages to run")
    args = parser.parse_args()
    groups = set(args.groups.split(","))
    set_cpu_threads()
    if "text" in groups:
        bench_text_stages(args.repeats)
    if "projection" in groups:
        bench_projection(args.repeats)
    for size in (int(s) for s in args.sizes.split(",")):
        repeats = args.repeats if size < 1_000_000 else 1
        if "normalise" in groups:
            bench_normalise(size, args.repeats)
        if "points" in groups:
            bench_point_stages(size, repeats)


if __name__ == "__main__":
    main()
