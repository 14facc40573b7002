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

Every region of the explored run (``regions``, the targeted first) is measured on its pool
rows against the base model and on its test rows against the control over every seed; per
class on the pool too. A region's rows were chosen by the base model's mistakes, so its
before → after regresses toward the mean by construction: the comparison with the control
leads. With several
seeds, each seed is compared with the base model and each control, with the mean and
standard deviation (ddof 1) of the accuracy after; the first seed's after-points are
placed into the SAME maps as before (the fitted maps' transform, never a refit).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.explorer.explored import MAP_NAMES, ExploredRun, Region
from topex_core.region_ref import RegionRef
from topex_core.retraining.groups import group_outcome, round_groups, target_rows, verdict
from topex_core.retraining.paired import paired_summary
from topex_core.round_outcomes import CONTROLS, RegionOutcome
from topex_core.round_records import (
    ClassChange,
    RegionChange,
    RoundMetrics,
    SeedComparison,
    SeedSpread,
)
from topex_core.rounddir import read_after_logits, write_after_points

MIN_REGION_TEST_ROWS = 10  # fewer test rows say little about a region: not named as harmed


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
    headline = next((control for control in CONTROLS if control in controls), None)
    outcomes = _test_outcomes(explored, targets, test, headline)
    return RoundMetrics(
        picked_cluster=explored.explore.picked_cluster, seeds=per_seed,
        regions=_region_changes(explored, after, targets, outcomes.pop("region_tests", {})),
        per_class=[ClassChange(name, paired_summary(labels[rows], before[rows], after[rows]))
                   for name, rows in _rows_by_label(labels, explored.label_names)],
        across_seeds=_across_seeds(per_seed), **outcomes)


def _rows_by_label(labels: np.ndarray, label_names: Sequence[str]
                   ) -> list[tuple[str, np.ndarray]]:
    """(label, its rows) for every label that has rows."""
    return [(name, rows) for index, name in enumerate(label_names)
            if len(rows := np.flatnonzero(labels == index))]


def _region_changes(explored: ExploredRun, after: np.ndarray, targets: Sequence[Region],
                    tests: dict[RegionRef, RegionOutcome]) -> list[RegionChange]:
    """Every region of the explored run, the targeted first: its pool rows against the base
    model (first seed, ``after``: (N,) its predictions) and its test outcome (``tests``)."""
    points = explored.points
    labels, before = points["label_id"].to_numpy(), points["pred_id"].to_numpy()
    targeted = {region.ref for region in targets}
    return [RegionChange(region.kind, region.key, region.name, region.ref in targeted,
                         paired_summary(labels[region.rows], before[region.rows],
                                        after[region.rows]), tests.get(region.ref))
            for region in _targets_first(explored, targets)]


def _targets_first(explored: ExploredRun, targets: Sequence[Region]) -> list[Region]:
    """The targets, then every other region of the explored run; a target need not be
    among the listed regions (a confusion cell, a union): it leads anyway."""
    targeted = {region.ref for region in targets}
    return [*targets, *(region for region in explored.regions()
                        if region.ref not in targeted)]


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
    targeted = {region.ref for region in targets}
    region_tests = {region.ref: outcome(region.kind, region.key, region.name, region.test_rows)
                    for region in _targets_first(explored, targets) if len(region.test_rows)}
    others = [tested for ref, tested in region_tests.items()
              if ref not in targeted and tested.test_rows >= MIN_REGION_TEST_ROWS]
    return {"region_tests": region_tests, "targets": [outcome(region.kind, region.key, region.name,
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
