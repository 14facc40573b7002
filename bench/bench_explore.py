"""The explorer (normalise → cluster → name → project → score) on real or synthetic logits.

    python bench/bench_explore.py --points trec     # TREC train logits (trains once, cached)
    python bench/bench_explore.py --points 100000   # synthetic clumped logits, C = 6
    python bench/bench_explore.py --points 100000 --scale-checks

With ``--scale-checks`` (synthetic points), the same run also measures what the large-N
path gave up or replaced: the HDBSCAN implementations on the same points (time, clusters,
adjusted Rand index against scikit-learn's), the t-SNE placement of 2,000 rows outside the
fitted sample by nearest-reference interpolation against openTSNE's ``transform``
(displacement as a share of the map's width), and the sampled average pairwise distance of
the largest error cluster against the exact one (with its standard error).

Prints one JSON object: stage timings, total, peak memory (max RSS of this process), and
for TREC the obvious alternatives measured on the same points in the same run (HDBSCAN
vs OPTICS, sklearn TSNE vs openTSNE).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data.dataset import dataset_from_frame, load_dataset
from topex_core.explorer.pipeline import explore_run
from topex_core.records import DatasetRecord, RunRecord
from topex_core.rundir import new_run_id, write_run
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.hardware import machine_line
from topex_core.training.run import points_frame, train_run


def synthetic_run(directory: Path, points: int, seed: int = 0) -> None:
    """Clumped 6-class logits: 60 blobs, a tenth of them dominated by mistakes."""
    rng = np.random.default_rng(seed)
    classes = 6
    centres = rng.normal(0, 3, (60, classes))
    blob = rng.integers(0, len(centres), points)
    logits = (centres[blob] + rng.normal(0, 0.25, (points, classes))).astype(np.float32)
    predicted = logits.argmax(1)
    truth = predicted.copy()
    wrong_blobs = np.isin(blob, np.arange(6))
    truth[wrong_blobs] = (predicted[wrong_blobs] + 1) % classes
    noise = rng.random(points) < 0.03
    truth[noise] = rng.integers(0, classes, noise.sum())
    words = np.array([f"topic{b} word{w}" for b in range(60) for w in range(5)])
    texts = [f"{words[b * 5 + rng.integers(5)]} sample {i}" for i, b in enumerate(blob)]
    names = [f"class{c}" for c in range(classes)]
    dataset = dataset_from_frame(pd.DataFrame({"text": texts, "label": [names[t] for t in truth]}),
                                 source="synthetic", label_names=names)
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "logits.npy", logits)
    points_frame(dataset, logits, np.zeros(points, bool)).to_parquet(directory / "points.parquet")
    write_run(directory, RunRecord(
        run_id=new_run_id(), label_names=names,
        dataset=DatasetRecord(source="synthetic", rows=points, text_col="text",
                              label_col="label", content_hash=f"synthetic-{points}-{seed}")))


def alternatives(run_dir: Path) -> dict:
    from openTSNE import TSNE as OpenTSNE
    from sklearn.cluster import HDBSCAN, OPTICS
    from sklearn.manifold import TSNE as SklearnTSNE

    from topex_core.explorer.normalise import normalise_logits

    points, _ = normalise_logits(np.load(run_dir / "logits.npy"))
    points = points.astype(np.float64)
    timings = {}
    for name, run in [
        ("optics_s", lambda: OPTICS(min_samples=5, metric="euclidean").fit(points)),
        ("hdbscan_s", lambda: HDBSCAN(min_cluster_size=5, min_samples=5).fit(points)),
        ("opentsne_s", lambda: OpenTSNE(n_jobs=2, random_state=0).fit(points)),
        ("sklearn_tsne_s", lambda: SklearnTSNE(random_state=0, n_jobs=2).fit_transform(points)),
    ]:
        start = time.perf_counter()
        run()
        timings[name] = round(time.perf_counter() - start, 2)
    timings["sklearn_over_opentsne"] = round(timings["sklearn_tsne_s"] / timings["opentsne_s"], 2)
    return timings


def scale_checks(run_dir: Path) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from topex_core.exploredir import read_explore
    from topex_core.explorer import projection
    from topex_core.explorer.normalise import normalise_logits
    from topex_core.explorer.scoring import APD_SAMPLE, average_pairwise_distance
    from topex_core.rundir import read_points

    points, _ = normalise_logits(np.load(run_dir / "logits.npy"))
    points = points.astype(np.float64)
    checks: dict = {"hdbscan": {}}
    labels = {}
    for name, cluster in _hdbscan_implementations().items():
        start = time.perf_counter()
        labels[name] = cluster(points)
        checks["hdbscan"][name] = {"s": round(time.perf_counter() - start, 2),
                                   "clusters": int(labels[name].max() + 1)}
    for name in labels:
        checks["hdbscan"][name]["ari_vs_sklearn"] = round(
            adjusted_rand_score(labels["sklearn"], labels[name]), 4)
    maps = projection.load_maps(run_dir)
    outside = np.setdiff1d(np.arange(len(points)), _reference_rows(points, maps.reference))
    chosen = np.random.default_rng(0).choice(outside, 2_000, replace=False)
    start = time.perf_counter()
    transformed = maps._tsne(points[chosen])
    transform_s = time.perf_counter() - start
    start = time.perf_counter()
    interpolated = projection._nearest_average(maps.reference, maps.reference_coords,
                                               points[chosen])
    interpolate_s = time.perf_counter() - start
    width = float(np.ptp(maps.reference_coords, axis=0).max())
    shift = np.linalg.norm(interpolated - transformed, axis=1) / width
    checks["tsne_placement_2000"] = {
        "transform_s": round(transform_s, 2), "interpolation_s": round(interpolate_s, 3),
        "median_shift_of_width": round(float(np.median(shift)), 4),
        "p90_shift_of_width": round(float(np.quantile(shift, 0.9)), 4)}
    _, clusters = read_explore(run_dir)
    map_points = read_points(run_dir)
    errors = clusters[clusters["is_error_cluster"]].sort_values("size", ascending=False)
    if len(errors):
        members = (map_points["cluster"] == errors.iloc[0]["cluster"]).to_numpy()
        start = time.perf_counter()
        exact, _ = average_pairwise_distance(points, members)
        exact_s = time.perf_counter() - start
        start = time.perf_counter()
        estimate, error = average_pairwise_distance(points, members, sample=APD_SAMPLE)
        checks["apd_largest_error_cluster"] = {
            "members": int(members.sum()), "exact": round(exact, 2),
            "exact_s": round(exact_s, 2), "estimate": round(estimate, 2),
            "standard_error": round(error, 2), "estimate_s": round(time.perf_counter() - start, 2),
            "relative_error": round(abs(estimate - exact) / exact, 5)}
        checks["text_scores_largest_error_cluster"] = text_score_check(
            run_dir, np.flatnonzero(members), str(errors.iloc[0]["name"]))
    return checks


def text_score_check(run_dir: Path, members: np.ndarray, name: str) -> dict:
    """ctc and cos of one cluster from ``TEXT_SAMPLE`` texts (with standard errors) against
    the same from 2,000 (the sample before this round), and the time each takes to embed."""
    from topex_core.explorer.scoring import TEXT_SAMPLE, mean_pairwise_cosine, name_text_similarity
    from topex_core.rundir import read_points

    texts = read_points(run_dir)["text"].to_numpy()
    embedder, result = SentenceEmbedder(), {"members": len(members)}
    name_embedding = embedder([name])[0]
    for size in (TEXT_SAMPLE, 2_000):
        chosen = np.random.default_rng(0).choice(members, min(size, len(members)), replace=False)
        start = time.perf_counter()
        embeddings = embedder(list(texts[chosen]))
        result[f"embed_{size}_s"] = round(time.perf_counter() - start, 2)
        for score, (value, error) in {
                "cos": mean_pairwise_cosine(embeddings, population=len(members)),
                "ctc": name_text_similarity(name_embedding, embeddings,
                                            population=len(members))}.items():
            result[f"{score}_{size}"] = [round(value, 4), round(error, 4)]
    return result


def _hdbscan_implementations() -> dict:
    import hdbscan
    from sklearn.cluster import HDBSCAN

    implementations = {
        "sklearn": lambda x: HDBSCAN(min_cluster_size=5, min_samples=5).fit_predict(x),
        "hdbscan_boruvka": lambda x: hdbscan.HDBSCAN(
            min_cluster_size=5, min_samples=5, algorithm="boruvka_kdtree",
            core_dist_n_jobs=2).fit_predict(x)}
    try:
        import fast_hdbscan  # measured where installed; not a dependency
    except ImportError:
        return implementations
    implementations["fast_hdbscan"] = lambda x: fast_hdbscan.HDBSCAN(
        min_cluster_size=5, min_samples=5).fit_predict(x)
    return implementations


def _reference_rows(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    distance, index = NearestNeighbors(n_neighbors=1).fit(points).kneighbors(reference)
    return index[:, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="trec", help="'trec' or a number of synthetic points")
    parser.add_argument("--data", default="../shared/datasets/trec/train.csv")
    parser.add_argument("--scale-checks", action="store_true",
                        help="synthetic points: also compare the large-N replacements")
    args = parser.parse_args()
    threads = set_cpu_threads()
    start = time.perf_counter()
    import bertopic  # noqa: F401  (imported here so its one-off cost is reported apart)
    import openTSNE  # noqa: F401

    import_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        if args.points == "trec":
            train_run(load_dataset(args.data), TrainConfig(max_length=64), run_dir)
        else:
            synthetic_run(run_dir, int(args.points))
        embedder = SentenceEmbedder()
        embedder(["warm-up"])
        start = time.perf_counter()
        result = explore_run(run_dir, embed=embedder)
        total = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # the explorer's
        extra = (alternatives(run_dir) if args.points == "trec"
                 else scale_checks(run_dir) if args.scale_checks else {})
        rows = len(pd.read_parquet(run_dir / "points.parquet", columns=["id"]))
    print(json.dumps({
        "benchmark": "explore", "points": rows, "source": args.points, "threads": threads,
        "machine": machine_line(), "method": result.method,
        "error_clusters": result.error_clusters, "slices": result.slices,
        "stages_s": result.timings_s,
        "explore_s": round(total, 2), "imports_s": round(import_s, 2),
        "peak_rss_gb": round(peak_gb, 2),
        "alternatives_on_same_points": extra,
    }))


if __name__ == "__main__":
    main()
