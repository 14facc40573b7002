"""Before/after comparison of a training round: did the accepted samples repair the
region they were made for, what did they break, and is the change real?

Paired statistics (``paired``): rows gained and lost, McNemar's exact test and the exact
interval that inverts it; with several seeds each test row is counted once.

Where the run has a test split, the round is judged on it against its label-matched
control (the plain control when no matched one was trained): the targeted regions'
rows of the label their mistakes have, their other rows (the complement), the rest of the
split and every class (``groups``), then the verdict; against the plain control too when
both were trained (what retraining alone moves). ``targets`` measures each targeted
region, ``overall`` the whole test split and ``worst_other`` the other error region the
round hurt most (descriptive: the worst of many), against the same control over every seed.

Accuracy is also reported overall, per class and per cluster (the explorer's error
clusters, the picked one first) on the training pool, and per cluster on the test split.
A cluster's rows were chosen by the base model's mistakes, so its before → after regresses
toward the mean by construction: the comparison with the control leads. Error slices
report their error rate before/after on the pool and on their test rows. With several
seeds, each seed is compared with the base model and each control, with the mean and
standard deviation (ddof 1) of the accuracy after; the first seed's after-points are
placed into the SAME maps as before (the fitted maps' transform, never a refit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.explorer.explored import MAP_NAMES, ExploredRun, Region
from topex_core.retraining.groups import group_outcome, round_groups, target_rows, verdict
from topex_core.retraining.paired import paired_summary
from topex_core.round_outcomes import CONTROLS, RegionOutcome
from topex_core.round_records import RoundMetrics, SeedComparison, SeedSpread
from topex_core.rounddir import read_after_logits, write_after_points

MIN_REGION_TEST_ROWS = 10  # fewer test rows say little about a region: not named as harmed


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
                  seeds: Sequence[int], targets: Sequence[Region] = (),
                  controls: Sequence[str] = ()) -> RoundMetrics:
    """Metrics of a round (see the module); ``targets`` are the regions its samples were
    made for, ``controls`` the controls trained beside it ("matched", "plain"). Writes
    ``after_points.parquet``."""
    round_dir = Path(round_dir)
    points = explored.points
    labels = points["label_id"].to_numpy()
    before = points["pred_id"].to_numpy()
    # (k, M) test predictions of the round (None) and of each control, read once
    test = {control: _test_predictions(round_dir, seeds, control)
            for control in (None, *controls)}
    per_seed = [_compare_seed(round_dir, int(seed), index, labels, before,
                              explored.test_points, test)
                for index, seed in enumerate(seeds)]
    first_logits = read_after_logits(round_dir, seeds[0])
    _write_after_points(explored, round_dir, first_logits)
    after = first_logits.argmax(axis=1)
    per_class = group_accuracy(np.array(explored.label_names)[labels], labels, before, after)
    headline = next((control for control in CONTROLS if control in controls), None)
    first_test, first_control = (None if test.get(name) is None else test[name][0]
                                 for name in (None, headline))
    return RoundMetrics(
        picked_cluster=explored.explore.picked_cluster, seeds=per_seed,
        per_cluster=_records(_per_cluster(explored, after, first_test, first_control)),
        per_class=_records(per_class.rename(columns={"group": "label"})),
        across_seeds=_across_seeds(per_seed),
        per_slice=_records(_per_slice(explored, after, first_test, targets)),
        **_test_outcomes(explored, targets, test, headline))


def _test_outcomes(explored: ExploredRun, targets: Sequence[Region],
                   test: dict[str | None, np.ndarray | None], headline: str | None) -> dict:
    """The groups, the verdict, the targets, the whole test split and the worst other
    error region with at least ``MIN_REGION_TEST_ROWS`` test rows (see the module), over
    every seed, against the ``headline`` control; only the verdict without a test split.
    ``test``: the (k, M) test predictions of the round (None) and of each control."""
    test_points, after = explored.test_points, test[None]
    if test_points is None or after is None:
        return {"verdict": verdict(None, has_test=False)}
    labels, before = test_points["label_id"].to_numpy(), test_points["pred_id"].to_numpy()
    control = test.get(headline)

    def outcome(kind: str, key: str, name: str, rows: np.ndarray) -> RegionOutcome:
        return group_outcome(kind, key, name, labels[rows], before[rows], after[:, rows],
                             None if control is None else control[:, rows], headline)

    groups = plain_groups = None
    if control is not None and targets:
        groups = round_groups(targets, explored.label_names, labels, before, after, control,
                              headline)
        if headline == "matched" and test.get("plain") is not None:
            plain_groups = round_groups(targets, explored.label_names, labels, before, after,
                                        test["plain"], "plain")
    targeted = {(region.kind, region.key) for region in targets}
    others = [outcome(region.kind, region.key, region.name, region.test_rows)
              for region in explored.regions() if (region.kind, region.key) not in targeted
              and len(region.test_rows) >= MIN_REGION_TEST_ROWS]
    return {"targets": [outcome(region.kind, region.key, region.name,
                                target_rows(region, explored.label_names, labels))
                        for region in targets],
            "overall": outcome("overall", "", "the whole test split", np.arange(len(labels))),
            "worst_other": min(others, key=_harm, default=None),
            "groups": groups, "plain_groups": plain_groups,
            "verdict": verdict(groups, has_test=True)}


def _test_predictions(round_dir: Path, seeds: Sequence[int], control: str | None
                      ) -> np.ndarray | None:
    """(k, M) test predictions of every seed's model (or control); None when absent."""
    logits = [read_after_logits(round_dir, seed, test=True, control=control) for seed in seeds]
    if any(seed_logits is None for seed_logits in logits):
        return None
    return np.stack([seed_logits.argmax(axis=1) for seed_logits in logits])


def _harm(outcome: RegionOutcome) -> float:
    """How much better a region did (lowest: hurt most): against the control, else the
    base model."""
    return outcome.vs_control if outcome.vs_control is not None else outcome.change


def _compare_seed(round_dir: Path, seed: int, index: int, labels: np.ndarray,
                  before: np.ndarray, test_points: pd.DataFrame | None,
                  test: dict[str | None, np.ndarray | None]) -> SeedComparison:
    """Seed ``seed`` (the ``index``-th of ``test``'s rows) against the base model and each
    control it has, pool and test."""
    after = read_after_logits(round_dir, seed).argmax(axis=1)
    test_after = test[None][index] if test[None] is not None else None
    summaries = {}
    for control, prefix in ((None, ""), ("plain", "control_"), ("matched", "matched_")):
        if control not in test:
            continue
        pool_before = (before if control is None
                       else read_after_logits(round_dir, seed, control=control).argmax(axis=1))
        summaries[f"{prefix}pool"] = paired_summary(labels, pool_before, after)
        if test_points is None or test_after is None:
            continue
        test_before = (test_points["pred_id"].to_numpy() if control is None
                       else test[control][index])
        summaries[f"{prefix}test"] = paired_summary(test_points["label_id"].to_numpy(),
                                                    test_before, test_after)
    return SeedComparison(seed=seed, **summaries)


def _per_cluster(explored: ExploredRun, after: np.ndarray, test_after: np.ndarray | None,
                 test_control: np.ndarray | None) -> pd.DataFrame:
    """Accuracy change per error cluster, the picked cluster first, then by rank: on the
    pool, and on the test rows that fall into the cluster (``Region.test_rows``), with the
    control's accuracy on them (first seed; NaN without a control). A cluster was chosen
    for the base model's mistakes, so its "before" is low by construction."""
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
        test_labels = test_points["label_id"].to_numpy()[test_rows]
        test = group_accuracy(test_clusters, test_labels,
                              test_points["pred_id"].to_numpy()[test_rows],
                              test_after[test_rows]).set_index("group")
        if test_control is not None:
            test["accuracy_control"] = pd.Series(
                test_control[test_rows] == test_labels).groupby(test_clusters).mean()
    per_cluster["test_rows"] = test["rows"].reindex(order).fillna(0).astype(int)
    per_cluster["test_accuracy_before"] = test["accuracy_before"].reindex(order)
    per_cluster["test_accuracy_after"] = test["accuracy_after"].reindex(order)
    per_cluster["test_accuracy_control"] = (test["accuracy_control"].reindex(order)
                                            if "accuracy_control" in test else np.nan)
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
    targeted = {region.ref for region in targets}
    points, test_points = explored.points, explored.test_points
    labels, before = points["label_id"].to_numpy(), points["pred_id"].to_numpy()
    rows = []
    for region in explored.regions("slice"):
        pool = paired_summary(labels[region.rows], before[region.rows], after[region.rows])
        row = {"targeted": region.ref in targeted, "slice": region.key, "term": region.term,
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
            result[split] = SeedSpread(
                mean=float(np.mean(values)),
                std=float(np.std(values, ddof=1)) if len(values) > 1 else None,
                min=float(np.min(values)), max=float(np.max(values)))
    return result


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


