"""What one result of an experiment did to a split (the test split, or the validation split
carved from the pool), as ``results.csv`` columns and one line of ``outcomes.jsonl``.

The target region's groups against the result's control (the label-matched control where
it was trained, else the plain one; ``retraining.groups``): ``target_*``, ``complement_*``
and ``rest_*``, the whole split as ``overall_*``, the shift of predictions toward the
target's label, the sentence when gains and losses split by label, and the verdict; the
target against the plain control beside it. A validation split's columns carry the
``val_`` prefix.

The line of ``outcomes.jsonl`` keeps the rows behind the counts — which split positions
were in the target and the complement, which were gained and which lost against the
control, which fixed and broken against the base model — so that the report can pool
seeds by test row (every seed predicts the same test rows) instead of adding each row once
per seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from topex_core.explorer.explored import Region
from topex_core.retraining.groups import group_outcome, group_rows, round_groups, verdict
from topex_core.round_outcomes import GROUP_KINDS, RegionOutcome

GROUPS = (*GROUP_KINDS, "overall")
FIELDS = ("test_rows", "accuracy_before", "accuracy_after", "accuracy_control", "vs_control",
          "ci_low", "ci_high", "p", "gained", "lost")
SPLIT_COLUMNS = (*(f"{group}_{name}" for group in GROUPS for name in FIELDS),
                 "plain_target_vs_control", "plain_overall_vs_control", "label_share_control",
                 "label_share_after", "gained_of_label", "lost_of_other", "shift", "verdict")
RESULT_COLUMNS = ("control", "region_kind", "region_key", "region_name", *SPLIT_COLUMNS)
VALIDATION = "val_"


def split_region(region: Region, positions: np.ndarray) -> Region:
    """``region`` on a part of the test split (``positions``, sorted): its test rows and
    reach renumbered among those positions."""
    def inside(rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(positions, np.intersect1d(rows, positions))

    return replace(region, _test_rows=lambda: inside(region.test_rows),
                   _reach=lambda test: inside(region.reach(test=True)) if test
                   else region.reach(test=False))


def split_columns(region: Region | None, label_names: Sequence[str], labels: np.ndarray,
                  before: np.ndarray, after: np.ndarray, control: np.ndarray,
                  control_name: str, plain: np.ndarray) -> tuple[dict, dict]:
    """(``SPLIT_COLUMNS``, the outcome line's rows) of one split: (M,) true label ids and
    predictions of the base model, after the round, of its control and of the plain
    control. Without a region, only the ``overall_*`` columns."""
    columns = dict.fromkeys(SPLIT_COLUMNS)
    overall = group_outcome("overall", "", "the split", labels, before, after, control)
    columns.update(_fields("overall", overall))
    columns["plain_overall_vs_control"] = group_outcome(
        "overall", "", "the split", labels, before, after, plain).vs_control
    right_after, right_control = after == labels, control == labels
    right_before = before == labels
    line = {"rows": len(labels), "gained": np.flatnonzero(right_after & ~right_control),
            "lost": np.flatnonzero(right_control & ~right_after),
            "fixed": np.flatnonzero(right_after & ~right_before),
            "broken": np.flatnonzero(right_before & ~right_after)}
    if region is None:
        return columns, {**line, "target": [], "complement": []}
    groups = round_groups([region], label_names, labels, before, after[None, :],
                          control[None, :], control_name)
    for name in GROUP_KINDS:
        columns.update(_fields(name, getattr(groups, name)))
    target_rows, complement_rows = group_rows([region], label_names, labels)
    columns["plain_target_vs_control"] = group_outcome(
        "target", region.key, region.name, labels[target_rows], before[target_rows],
        after[target_rows], plain[target_rows]).vs_control
    label = label_names.index(region.label)
    columns.update(
        label_share_control=float(np.mean(control == label)),
        label_share_after=float(np.mean(after == label)),
        gained_of_label=int((labels[line["gained"]] == label).sum()),
        lost_of_other=int((labels[line["lost"]] != label).sum()), shift=groups.shift,
        verdict=verdict(groups, has_test=True).status)
    return columns, {**line, "target": target_rows, "complement": complement_rows}


def _fields(group: str, outcome: RegionOutcome) -> dict:
    low, high = outcome.vs_control_ci95 or (None, None)
    return {f"{group}_test_rows": outcome.test_rows,
            f"{group}_accuracy_before": outcome.accuracy_before,
            f"{group}_accuracy_after": outcome.accuracy_after,
            f"{group}_accuracy_control": outcome.accuracy_control,
            f"{group}_vs_control": outcome.vs_control, f"{group}_ci_low": low,
            f"{group}_ci_high": high, f"{group}_p": outcome.mcnemar_p,
            f"{group}_gained": outcome.gained, f"{group}_lost": outcome.lost}
