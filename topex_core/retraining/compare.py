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
a region's test rows are those ``ExploredRun`` joins to it (a cluster by its reach in the
explored space, a slice by its term and label), so a region is measured on rows that no
training touched wherever it has any.
Error slices report their error rate before/after on the pool and on their test rows.
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

from topex_core.explorer.explored import MAP_NAMES, ExploredRun, Region
from topex_core.round_records import (
    PairedSummary,
    RegionOutcome,
    RoundMetrics,
    SeedComparison,
    SeedSpread,
)
from topex_core.rounddir import read_after_logits, write_after_points

BOOTSTRAP_REPS = 10_000
MIN_REGION_TEST_ROWS = 10  # fewer test rows say little about a region: not named as harmed


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
    return bootstrap_count_ci(len(before), int((after & ~before).sum()),
                              int((before & ~after).sum()), reps=reps, seed=seed)


def bootstrap_count_ci(rows: int, fixed: int, broken: int, *, reps: int = BOOTSTRAP_REPS,
                       seed: int = 0) -> tuple[float, float]:
    """The same interval from the counts alone: ``rows`` paired rows of which ``fixed``
    went wrong → right and ``broken`` right → wrong (the rest did not change)."""
    if rows == 0:
        return (float("nan"), float("nan"))
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


def compare_round(explored: ExploredRun, round_dir: Path,
                  seeds: list[int] | tuple[int, ...],
                  targets: list[Region] | tuple[Region, ...] = ()) -> RoundMetrics:
    """Metrics of a round (see the module docstring); ``targets`` are the regions its
    samples were made for. Writes ``after_points.parquet``."""
    round_dir = Path(round_dir)
    points, test_points = explored.points, explored.test_points
    labels = points["label_id"].to_numpy()
    before = points["pred_id"].to_numpy()
    per_seed = [_compare_seed(round_dir, int(seed), labels, before, test_points)
                for seed in seeds]
    first_logits = read_after_logits(round_dir, seeds[0])
    _write_after_points(explored, round_dir, first_logits)
    after = first_logits.argmax(axis=1)
    per_class = group_accuracy(np.array(explored.label_names)[labels], labels, before, after)
    test_after = _predictions(read_after_logits(round_dir, seeds[0], test=True))
    return RoundMetrics(
        picked_cluster=explored.explore.picked_cluster, seeds=per_seed,
        per_cluster=_records(_per_cluster(explored, after, test_after)),
        per_class=_records(per_class.rename(columns={"group": "label"})),
        across_seeds=_across_seeds(per_seed),
        per_slice=_records(_per_slice(explored, after, test_after, targets)),
        **_region_outcomes(explored, round_dir, seeds[0], targets))


def _region_outcomes(explored: ExploredRun, round_dir: Path, seed: int,
                     targets: list[Region] | tuple[Region, ...]) -> dict:
    """The targets, the whole test split and the worst other error region with at least
    ``MIN_REGION_TEST_ROWS`` test rows, as ``RegionOutcome``s (none without a test split)."""
    test_points = explored.test_points
    after = _predictions(read_after_logits(round_dir, seed, test=True))
    if test_points is None or after is None:
        return {}
    control = _predictions(read_after_logits(round_dir, seed, test=True, control=True))
    labels, before = test_points["label_id"].to_numpy(), test_points["pred_id"].to_numpy()

    def outcome(kind: str, key: str, name: str, rows: np.ndarray) -> RegionOutcome:
        return region_outcome(kind, key, name, labels[rows], before[rows], after[rows],
                              None if control is None else control[rows])

    targeted = {(region.kind, region.key) for region in targets}
    others = [outcome(region.kind, region.key, region.name, region.test_rows)
              for region in explored.regions() if (region.kind, region.key) not in targeted
              and len(region.test_rows) >= MIN_REGION_TEST_ROWS]
    return {"targets": [outcome(region.kind, region.key, region.name, region.test_rows)
                        for region in targets],
            "overall": outcome("overall", "", "the whole test split", np.arange(len(labels))),
            "worst_other": min(others, key=_harm, default=None)}


def region_outcome(kind: str, key: str, name: str, labels: np.ndarray, before: np.ndarray,
                   after: np.ndarray, control: np.ndarray | None) -> RegionOutcome:
    """A region's ``RegionOutcome`` from its test rows' (n,) labels and predictions."""
    if not len(labels):
        return RegionOutcome(kind, key, name, 0, None, None)
    accuracy = {"accuracy_before": _mean(before == labels),
                "accuracy_after": _mean(after == labels)}
    if control is None:
        return RegionOutcome(kind, key, name, len(labels), **accuracy)
    against = paired_summary(labels, control, after)
    return RegionOutcome(kind, key, name, len(labels), **accuracy,
                         accuracy_control=against.accuracy_before, vs_control=against.change,
                         vs_control_ci95=against.diff_ci95, mcnemar_p=against.mcnemar_p)


def _harm(outcome: RegionOutcome) -> float:
    """How much better a region did (lowest: hurt most): against the control, else the
    base model."""
    return outcome.vs_control if outcome.vs_control is not None else outcome.change


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


def _per_cluster(explored: ExploredRun, after: np.ndarray,
                 test_after: np.ndarray | None) -> pd.DataFrame:
    """Accuracy change per error cluster, the picked cluster first, then by rank: on the
    pool, and on the test rows that fall into the cluster (``Region.test_rows``)."""
    points, test_points = explored.points, explored.test_points
    picked = explored.explore.picked_cluster
    labels, before = points["label_id"].to_numpy(), points["pred_id"].to_numpy()
    regions = sorted(explored.regions("cluster"), key=lambda region: region.cluster != picked)
    order = [region.cluster for region in regions]
    in_error_cluster = points["cluster"].isin(order).to_numpy()
    per_cluster = group_accuracy(points["cluster"].to_numpy()[in_error_cluster],
                                 labels[in_error_cluster], before[in_error_cluster],
                                 after[in_error_cluster])
    per_cluster = per_cluster.set_index("group").reindex(order)
    test = pd.DataFrame(columns=["rows", "accuracy_before", "accuracy_after"])
    if test_points is not None and test_after is not None and order:
        test_rows = np.concatenate([region.test_rows for region in regions])
        test_clusters = np.concatenate([[region.cluster] * len(region.test_rows)
                                        for region in regions]).astype(np.int64)
        test = group_accuracy(test_clusters, test_points["label_id"].to_numpy()[test_rows],
                              test_points["pred_id"].to_numpy()[test_rows],
                              test_after[test_rows]).set_index("group")
    per_cluster["test_rows"] = test["rows"].reindex(order).fillna(0).astype(int)
    per_cluster["test_accuracy_before"] = test["accuracy_before"].reindex(order)
    per_cluster["test_accuracy_after"] = test["accuracy_after"].reindex(order)
    per_cluster = per_cluster.reset_index().rename(columns={"group": "cluster"})
    per_cluster.insert(1, "name", [region.name for region in regions])
    return per_cluster


def _per_slice(explored: ExploredRun, after: np.ndarray, test_after: np.ndarray | None,
               targets: list[Region] | tuple[Region, ...] = ()) -> pd.DataFrame:
    """Per error slice, those the samples were made for (``targeted``) first, then best
    first: rows and error rate before/after on the pool, and on its test rows
    (``Region.test_rows``: the term, and the label) when there are any."""
    columns = ["targeted", "slice", "term", "true_label", "rows", "error_before",
               "error_after", "fixed", "broken", "test_rows", "test_error_before",
               "test_error_after"]
    targeted = {region.key for region in targets if region.kind == "slice"}
    points, test_points = explored.points, explored.test_points
    labels, before = points["label_id"].to_numpy(), points["pred_id"].to_numpy()
    rows = []
    for region in explored.regions("slice"):
        pool = paired_summary(labels[region.rows], before[region.rows], after[region.rows])
        row = {"targeted": region.key in targeted, "slice": region.key, "term": region.term,
               "true_label": region.true_label,
               "rows": pool.rows, "error_before": 1 - pool.accuracy_before,
               "error_after": 1 - pool.accuracy_after, "fixed": pool.fixed,
               "broken": pool.broken, "test_rows": 0, "test_error_before": None,
               "test_error_after": None}
        if test_points is not None and test_after is not None and len(region.test_rows):
            inside = region.test_rows
            test = paired_summary(test_points["label_id"].to_numpy()[inside],
                                  test_points["pred_id"].to_numpy()[inside], test_after[inside])
            row.update(test_rows=test.rows, test_error_before=1 - test.accuracy_before,
                       test_error_after=1 - test.accuracy_after)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns).sort_values("targeted", ascending=False,
                                                          kind="stable")


def sample_points(explored: ExploredRun, samples: pd.DataFrame, before_logits: np.ndarray,
                  after_logits: np.ndarray, features: np.ndarray | None = None
                  ) -> pd.DataFrame:
    """The accepted samples (candidate ``id``, text, label) placed in the maps with the
    base model's (n, C) logits and the retrained model's (see ``read_sample_points``);
    ``features`` (n, H) are the base model's, needed where the run was explored in a
    feature space."""
    label_names = np.array(explored.label_names)
    frame = pd.DataFrame({"candidate_id": samples["id"].astype(int).to_numpy(),
                          "text": samples["text"].astype(str).to_numpy(),
                          "label": samples["label"].astype(str).to_numpy(),
                          "pred_before": label_names[before_logits.argmax(1)],
                          "pred_after": label_names[after_logits.argmax(1)]})
    # one transform for both: the maps are loaded (and t-SNE's reference prepared) once
    placed = explored.place(np.vstack([before_logits, after_logits]),
                            None if features is None else np.vstack([features] * 2))
    rows = len(frame)
    for map_name, xy in placed.items():
        for suffix, part in (("_before", xy[:rows]), ("", xy[rows:])):
            frame[f"{map_name}_x{suffix}"] = part[:, 0]
            frame[f"{map_name}_y{suffix}"] = part[:, 1]
    return frame


def _write_after_points(explored: ExploredRun, round_dir: Path,
                        after_logits: np.ndarray) -> None:
    coordinates = explored.place(after_logits)
    after = after_logits.argmax(axis=1)
    points = explored.points
    frame = pd.DataFrame({"id": points["id"], "pred_after": after,
                          "correct_after": after == points["label_id"].to_numpy()})
    for map_name in MAP_NAMES:
        frame[f"{map_name}_x"] = coordinates[map_name][:, 0]
        frame[f"{map_name}_y"] = coordinates[map_name][:, 1]
    write_after_points(round_dir, frame)


def _across_seeds(per_seed: list[SeedComparison]) -> dict[str, SeedSpread]:
    result = {}
    for split in ("pool", "test"):
        values = [getattr(entry, split).accuracy_after for entry in per_seed
                  if getattr(entry, split) is not None]
        if values:
            result[split] = SeedSpread(mean=float(np.mean(values)), std=float(np.std(values)),
                                       min=float(np.min(values)), max=float(np.max(values)))
    return result


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _predictions(logits: np.ndarray | None) -> np.ndarray | None:
    return logits.argmax(axis=1) if logits is not None else None


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
