"""Before/after comparison of a training round: did the accepted samples fix the cluster,
and is the gain real?

For paired predictions on the same rows, with b = rows fixed (wrong → right) and c = rows
broken (right → wrong):

- McNemar's exact test: p = min(1, 2 · P(X ≤ min(b, c))), X ~ Binomial(b + c, ½); p = 1
  when b + c = 0.
- Bootstrap 95% interval of the accuracy difference (after − before): rows resampled
  with replacement ``BOOTSTRAP_REPS`` times. Each row's difference is +1, 0 or −1, so a
  resample's counts are Multinomial(N, (b/N, c/N, rest)); drawing those counts is the
  same bootstrap without materialising N indices per resample.

Accuracy is reported overall, per class and per cluster (the explorer's error clusters,
the picked one first) on the training pool, and overall and per cluster on the test split:
a test row belongs to a cluster when its point in the explorer's space (``space_points``)
lies within the cluster's reach of a member (``clustering.assign_to_clusters``), so a
cluster is measured on rows that no training touched wherever it has any.
Error slices report their error rate before/after on the pool and, where the test split
has rows with the slice's term (and label), on those test rows too: a slice is defined by
its words, so it reaches rows the model never saw.
With several seeds, each seed is compared with the base run and the mean and standard
deviation of the after-accuracy are reported; the first seed's after-points are placed
into the SAME maps as before (the fitted maps' transform, never a refit). When the round
trained a control without the samples, ``against_control`` repeats the paired summary
with the control as "before": what the samples changed beyond retraining itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from topex_core.explorer.clustering import assign_to_clusters
from topex_core.explorer.normalise import MinMaxScaler
from topex_core.explorer.pipeline import point_texts
from topex_core.explorer.projection import MAP_NAMES, load_maps
from topex_core.explorer.space import load_space, needs_features
from topex_core.explorer.terms import phrases
from topex_core.records import ExploreResult, PairedSummary, RoundMetrics, SeedComparison
from topex_core.rundir import (
    read_after_logits,
    read_explore,
    read_logits,
    read_points,
    read_run,
    read_slices,
    read_test_points,
    write_after_points,
)

BOOTSTRAP_REPS = 10_000


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value for ``fixed`` and ``broken`` discordant pairs."""
    if fixed < 0 or broken < 0:
        raise ValueError("counts must be non-negative")
    discordant = fixed + broken
    if discordant == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(fixed, broken), discordant, 0.5)))


def bootstrap_diff_ci(before_correct: np.ndarray, after_correct: np.ndarray, *,
                      reps: int = BOOTSTRAP_REPS, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(after_correct) − mean(before_correct), (N,) bools."""
    before = np.asarray(before_correct, dtype=bool)
    after = np.asarray(after_correct, dtype=bool)
    rows = len(before)
    if rows == 0:
        return (float("nan"), float("nan"))
    fixed = int((after & ~before).sum())
    broken = int((before & ~after).sum())
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(rows, [fixed / rows, broken / rows,
                                    1 - (fixed + broken) / rows], size=reps)
    differences = (counts[:, 0] - counts[:, 1]) / rows
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def paired_summary(labels: np.ndarray, before_pred: np.ndarray,
                   after_pred: np.ndarray) -> PairedSummary:
    """Accuracy before/after, fixed/broken counts, McNemar p and the bootstrap interval of
    (N,) true labels and two (N,) predictions of the same rows."""
    before_correct = before_pred == labels
    after_correct = after_pred == labels
    fixed = int((after_correct & ~before_correct).sum())
    broken = int((before_correct & ~after_correct).sum())
    return PairedSummary(rows=int(len(labels)), accuracy_before=_mean(before_correct),
                         accuracy_after=_mean(after_correct), fixed=fixed, broken=broken,
                         mcnemar_p=mcnemar_exact(fixed, broken),
                         diff_ci95=bootstrap_diff_ci(before_correct, after_correct))


def group_accuracy(groups: np.ndarray, labels: np.ndarray, before_pred: np.ndarray,
                   after_pred: np.ndarray) -> pd.DataFrame:
    """Per group: rows, accuracy before and after, change, fixed, broken."""
    frame = pd.DataFrame({"group": groups, "before": before_pred == labels,
                          "after": after_pred == labels})
    frame["fixed"] = frame["after"] & ~frame["before"]
    frame["broken"] = frame["before"] & ~frame["after"]
    table = frame.groupby("group", sort=False).agg(
        rows=("before", "size"), accuracy_before=("before", "mean"),
        accuracy_after=("after", "mean"), fixed=("fixed", "sum"), broken=("broken", "sum"))
    table["change"] = table["accuracy_after"] - table["accuracy_before"]
    return table.reset_index()


def compare_round(run_dir: Path, round_dir: Path,
                  seeds: list[int] | tuple[int, ...]) -> RoundMetrics:
    """Metrics of a round (see the module docstring); writes ``after_points.parquet``."""
    run_dir, round_dir = Path(run_dir), Path(round_dir)
    points = read_points(run_dir)
    explore, clusters = read_explore(run_dir)
    labels = points["label_id"].to_numpy()
    before = points["pred_id"].to_numpy()
    test_points = read_test_points(run_dir)
    per_seed = [_compare_seed(round_dir, int(seed), labels, before, test_points)
                for seed in seeds]
    first_logits = read_after_logits(round_dir, seeds[0])
    _write_after_points(run_dir, round_dir, points, first_logits, explore)
    after = first_logits.argmax(axis=1)
    label_names = read_run(run_dir).label_names
    per_class = group_accuracy(np.array(label_names)[labels], labels, before, after)
    test_after = _predictions(read_after_logits(round_dir, seeds[0], test=True))
    return RoundMetrics(
        picked_cluster=explore.picked_cluster, seeds=per_seed,
        per_cluster=_records(_per_cluster(run_dir, points, clusters, explore, after,
                                          test_points, test_after)),
        per_class=_records(per_class.rename(columns={"group": "label"})),
        across_seeds=_across_seeds(per_seed),
        per_slice=_records(_per_slice(run_dir, points, after, test_points, test_after)))


def _compare_seed(round_dir: Path, seed: int, labels: np.ndarray, before: np.ndarray,
                  test_points: pd.DataFrame | None) -> SeedComparison:
    after = read_after_logits(round_dir, seed).argmax(axis=1)
    test_after = _predictions(read_after_logits(round_dir, seed, test=True))
    control = _predictions(read_after_logits(round_dir, seed, control=True))
    test_control = _predictions(read_after_logits(round_dir, seed, test=True, control=True))
    test = control_test = None
    if test_points is not None and test_after is not None:
        test_labels = test_points["label_id"].to_numpy()
        test = paired_summary(test_labels, test_points["pred_id"].to_numpy(), test_after)
        if test_control is not None:
            control_test = paired_summary(test_labels, test_control, test_after)
    return SeedComparison(
        seed=seed, pool=paired_summary(labels, before, after), test=test,
        control_pool=paired_summary(labels, control, after) if control is not None else None,
        control_test=control_test if control is not None else None)


def _per_cluster(run_dir: Path, points: pd.DataFrame, clusters: pd.DataFrame,
                 explore: ExploreResult, after: np.ndarray, test_points: pd.DataFrame | None,
                 test_after: np.ndarray | None) -> pd.DataFrame:
    """Accuracy change per error cluster, the picked cluster first, then by rank: on the
    pool, and on the test rows that fall into the cluster (``assign_to_clusters``)."""
    picked = explore.picked_cluster
    labels, before = points["label_id"].to_numpy(), points["pred_id"].to_numpy()
    error_clusters = clusters[clusters["is_error_cluster"]].sort_values("rank")["cluster"]
    order = ([picked] if picked is not None else []) + [c for c in error_clusters
                                                          if c != picked]
    in_error_cluster = points["cluster"].isin(order).to_numpy()
    per_cluster = group_accuracy(points["cluster"].to_numpy()[in_error_cluster],
                                 labels[in_error_cluster], before[in_error_cluster],
                                 after[in_error_cluster])
    per_cluster = per_cluster.set_index("group").reindex(order)
    test = pd.DataFrame(columns=["rows", "accuracy_before", "accuracy_after"])
    if test_points is not None and test_after is not None and order:
        test_clusters = _test_clusters(run_dir, points, explore)
        inside = np.isin(test_clusters, order)
        test = group_accuracy(test_clusters[inside], test_points["label_id"].to_numpy()[inside],
                              test_points["pred_id"].to_numpy()[inside], test_after[inside]
                              ).set_index("group")
    per_cluster["test_rows"] = test["rows"].reindex(order).fillna(0).astype(int)
    per_cluster["test_accuracy_before"] = test["accuracy_before"].reindex(order)
    per_cluster["test_accuracy_after"] = test["accuracy_after"].reindex(order)
    per_cluster = per_cluster.reset_index().rename(columns={"group": "cluster"})
    names = dict(zip(clusters["cluster"], clusters["name"], strict=True))
    per_cluster.insert(1, "name", per_cluster["cluster"].map(names))
    return per_cluster


def _test_clusters(run_dir: Path, points: pd.DataFrame, explore: ExploreResult) -> np.ndarray:
    """(M,) cluster of each test row in the pool's clustering, in the explorer's space."""
    return assign_to_clusters(space_points(run_dir, read_logits(run_dir), explore),
                              points["cluster"].to_numpy(),
                              space_points(run_dir, read_logits(run_dir, test=True), explore,
                                           test=True))


def _per_slice(run_dir: Path, points: pd.DataFrame, after: np.ndarray,
               test_points: pd.DataFrame | None, test_after: np.ndarray | None
               ) -> pd.DataFrame:
    """Per error slice (best first): rows and error rate before/after on the pool, and on
    the test rows that contain its term (and have its label) when there are any."""
    slices, members = read_slices(run_dir)
    columns = ["slice", "term", "true_label", "rows", "error_before", "error_after", "fixed",
               "broken", "test_rows", "test_error_before", "test_error_after"]
    if slices.empty:
        return pd.DataFrame(columns=columns)
    labels, before = points["label_id"].to_numpy(), points["pred_id"].to_numpy()
    test_terms = (None if test_points is None or test_after is None else
                  [set(phrases(text)) for text in point_texts(test_points)])
    rows = []
    for entry in slices.itertuples(index=False):
        inside = np.isin(points["id"].to_numpy(), members[entry.slice])
        pool = paired_summary(labels[inside], before[inside], after[inside])
        row = {"slice": entry.slice, "term": entry.term, "true_label": entry.true_label,
               "rows": pool.rows, "error_before": 1 - pool.accuracy_before,
               "error_after": 1 - pool.accuracy_after, "fixed": pool.fixed,
               "broken": pool.broken, "test_rows": 0, "test_error_before": None,
               "test_error_after": None}
        if test_terms is not None:
            in_test = np.array([entry.term in terms for terms in test_terms], bool)
            if entry.true_label:
                in_test &= (test_points["label"].astype(str) == entry.true_label).to_numpy()
            if in_test.any():
                test = paired_summary(test_points["label_id"].to_numpy()[in_test],
                                      test_points["pred_id"].to_numpy()[in_test],
                                      test_after[in_test])
                row.update(test_rows=test.rows, test_error_before=1 - test.accuracy_before,
                           test_error_after=1 - test.accuracy_after)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def map_coordinates(run_dir: Path, logits: np.ndarray, explore: ExploreResult | None = None,
                    features: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Where rows with these (n, C) logits (and, in a feature space, the base model's (n, H)
    features; the pool's when None) lie in the run's fitted maps: {map: (n, 2)}, through
    the same normaliser, space and the maps' transform (never a refit)."""
    explore = explore or read_explore(run_dir)[0]
    return load_maps(run_dir).transform(space_points(run_dir, logits, explore,
                                                     features=features))


def space_points(run_dir: Path, logits: np.ndarray, explore: ExploreResult, *,
                 test: bool = False, features: np.ndarray | None = None) -> np.ndarray:
    """(n, D) points of rows with these (n, C) logits in the space the run was explored in.
    In a feature space the rows' base-model features are ``features``, or else the pool's
    (the test split's with ``test``), read from the run's cache."""
    normalised = _scaler(explore).transform(logits)
    if needs_features(explore.space) and features is None:
        # imported here: only a feature space needs the model (and torch)
        from topex_core.training.features import run_features

        features = run_features(run_dir, test=test)
    return load_space(run_dir, explore.space).points(normalised, features)


def _scaler(explore: ExploreResult) -> MinMaxScaler:
    """The explorer's normaliser, which maps later logits into the same [-1, 1] space."""
    return MinMaxScaler(np.asarray(explore.normaliser_minimums),
                        np.asarray(explore.normaliser_maximums))


def sample_points(run_dir: Path, samples: pd.DataFrame, label_names: list[str],
                  before_logits: np.ndarray, after_logits: np.ndarray,
                  features: np.ndarray | None = None) -> pd.DataFrame:
    """The accepted samples (candidate ``id``, text, label) placed in the maps with the
    base model's (n, C) logits and the retrained model's (see ``read_sample_points``);
    ``features`` (n, H) are the base model's, needed where the run was explored in a
    feature space."""
    frame = pd.DataFrame({"candidate_id": samples["id"].astype(int).to_numpy(),
                          "text": samples["text"].astype(str).to_numpy(),
                          "label": samples["label"].astype(str).to_numpy(),
                          "pred_before": np.array(label_names)[before_logits.argmax(1)],
                          "pred_after": np.array(label_names)[after_logits.argmax(1)]})
    # one transform for both: the maps are loaded (and t-SNE's reference prepared) once
    placed = map_coordinates(run_dir, np.vstack([before_logits, after_logits]),
                             features=None if features is None else np.vstack([features] * 2))
    rows = len(frame)
    for map_name, xy in placed.items():
        for suffix, part in (("_before", xy[:rows]), ("", xy[rows:])):
            frame[f"{map_name}_x{suffix}"] = part[:, 0]
            frame[f"{map_name}_y{suffix}"] = part[:, 1]
    return frame


def _write_after_points(run_dir: Path, round_dir: Path, points: pd.DataFrame,
                        after_logits: np.ndarray, explore: ExploreResult) -> None:
    coordinates = map_coordinates(run_dir, after_logits, explore)
    after = after_logits.argmax(axis=1)
    frame = pd.DataFrame({"id": points["id"], "pred_after": after,
                          "correct_after": after == points["label_id"].to_numpy()})
    for map_name in MAP_NAMES:
        frame[f"{map_name}_x"] = coordinates[map_name][:, 0]
        frame[f"{map_name}_y"] = coordinates[map_name][:, 1]
    write_after_points(round_dir, frame)


def _across_seeds(per_seed: list[SeedComparison]) -> dict[str, dict[str, float]]:
    result = {}
    for split in ("pool", "test"):
        values = [getattr(entry, split).accuracy_after for entry in per_seed
                  if getattr(entry, split) is not None]
        if values:
            result[split] = {"mean": float(np.mean(values)), "std": float(np.std(values)),
                             "min": float(np.min(values)), "max": float(np.max(values))}
    return result


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _predictions(logits: np.ndarray | None) -> np.ndarray | None:
    return logits.argmax(axis=1) if logits is not None else None


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
