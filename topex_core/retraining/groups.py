"""What a round did, in three groups of the test split without overlap, and the verdict.

A round adds samples of one label L (the label the targeted region's mistakes have). Such
a round can repair the region, or only move the decision boundary toward L around where
the samples lie: then rows of L gain everywhere near them and rows of other labels lose.
The three groups tell the two apart:

- **target**: the targeted regions' test rows whose true label is L;
- **complement**: the regions' other test rows — those holding a slice's terms, or within
  a cluster's reach, with another true label: what a shortcut toward L breaks first;
- **rest**: every other test row.

Every group and every true label (``per_class``) is measured against one control, over
every seed, each test row counted once (``retraining.paired``). When the gains and losses
split by label — a label gains significantly while another loses significantly — a
sentence says so (``shift``).

The **verdict** (``verdict``) is "repaired" only when the target is at least
``REPAIR_POINTS`` beyond the label-matched control with p < 0.05, the rest is no more than
``REST_TOLERANCE`` below it, and the complement is not significantly worse; "at a cost"
when the target gained so but the rest or the complement paid; "not repaired" when the
target did not gain so; "cannot tell" without a test split, without a label-matched
control, or with fewer than ``MIN_GROUP_ROWS`` target or complement test rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from topex_core.explorer.explored import Region
from topex_core.retraining.paired import paired_summary
from topex_core.round_outcomes import (
    SIGNIFICANCE,
    ClassOutcome,
    RegionOutcome,
    RoundGroups,
    Verdict,
)

MIN_GROUP_ROWS = 10
REPAIR_POINTS = 0.10
REST_TOLERANCE = 0.005


def group_outcome(kind: str, key: str, name: str, labels: np.ndarray, before: np.ndarray,
                  after: np.ndarray, control: np.ndarray | None,
                  control_name: str | None = None) -> RegionOutcome:
    """A group's ``RegionOutcome`` from its rows' (n,) labels, (n,) base predictions and
    (k, n) predictions after the round and of the control (None: no control;
    ``control_name``: which), k seeds."""
    after = np.atleast_2d(after)
    if not len(labels):
        return RegionOutcome(kind, key, name, 0, None, None, seeds=len(after))
    accuracy = {"accuracy_before": float(np.mean(before == labels)),
                "accuracy_after": float(np.mean(after == labels))}
    if control is None:
        return RegionOutcome(kind, key, name, len(labels), **accuracy, seeds=len(after))
    against = paired_summary(labels, control, after)
    return RegionOutcome(kind, key, name, len(labels), **accuracy,
                         accuracy_control=against.accuracy_before, vs_control=against.change,
                         vs_control_ci95=against.diff_ci95, mcnemar_p=against.mcnemar_p,
                         gained=against.fixed, lost=against.broken, seeds=len(after),
                         control=control_name)


def round_groups(targets: Sequence[Region], label_names: Sequence[str], labels: np.ndarray,
                 before: np.ndarray, after: np.ndarray, control: np.ndarray,
                 control_name: str) -> RoundGroups:
    """The three groups and every class (see the module) of a test split with (M,) true
    label ids and base predictions, and (k, M) predictions after the round and of the
    control; ``targets``: the regions the samples were made for."""
    target, complement = group_rows(targets, label_names, labels)
    rest = np.setdiff1d(np.arange(len(labels)), np.union1d(target, complement))
    label = target_label(targets)

    def outcome(kind: str, rows: np.ndarray, name: str) -> RegionOutcome:
        return group_outcome(kind, "; ".join(region.key for region in targets), name,
                             labels[rows], before[rows], after[:, rows], control[:, rows],
                             control_name)

    per_class = class_outcomes(label_names, labels, after, control)
    return RoundGroups(
        control=control_name, label=label,
        target=outcome("target", target, f"the region's rows of true label {label}"),
        complement=outcome("complement", complement,
                           f"the region's rows of another true label than {label}"),
        rest=outcome("rest", rest, "every other test row"), per_class=per_class,
        shift=shift_sentence(per_class))


def group_rows(targets: Sequence[Region], label_names: Sequence[str], labels: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(target, complement) test row positions of ``targets`` (see the module) given the
    split's (M,) true label ids; a row that is a target of one region and in another's
    complement is a target."""
    target, reach = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for region in targets:
        target = np.union1d(target, target_rows(region, label_names, labels))
        reach = np.union1d(reach, region.reach(test=True))
    return target, np.setdiff1d(reach, target)


def target_rows(region: Region, label_names: Sequence[str], labels: np.ndarray
                ) -> np.ndarray:
    """The region's test rows (its reach) whose true label is the one its mistakes have,
    given the split's (M,) true label ids."""
    rows = region.reach(test=True)
    return rows[labels[rows] == label_names.index(region.label)]


def target_label(targets: Sequence[Region]) -> str:
    """The label the targets' mistakes have ("several" when they differ)."""
    labels = {region.label for region in targets}
    return labels.pop() if len(labels) == 1 else "several"


def class_outcomes(label_names: Sequence[str], labels: np.ndarray, after: np.ndarray,
                   control: np.ndarray) -> list[ClassOutcome]:
    """Every true label's test rows against the control, with the share of all rows each
    model predicts as that label; (M,) labels, (k, M) predictions."""
    outcomes = []
    for index, name in enumerate(label_names):
        rows = labels == index
        if not rows.any():
            continue
        against = paired_summary(labels[rows], control[:, rows], after[:, rows])
        outcomes.append(ClassOutcome(
            label=name, test_rows=int(rows.sum()), accuracy_control=against.accuracy_before,
            accuracy_after=against.accuracy_after, gained=against.fixed, lost=against.broken,
            mcnemar_p=against.mcnemar_p, vs_control_ci95=against.diff_ci95,
            predicted_control=float(np.mean(control == index)),
            predicted_after=float(np.mean(after == index))))
    return outcomes


def shift_sentence(per_class: Sequence[ClassOutcome]) -> str | None:
    """"All 32 test rows gained are negative and all 13 lost are positive: the round moved
    the model toward negative." — when some label gains and another loses, each
    significantly (McNemar p < 0.05); None otherwise."""
    up = [c for c in per_class if c.gained > c.lost and c.mcnemar_p < SIGNIFICANCE]
    down = [c for c in per_class if c.lost > c.gained and c.mcnemar_p < SIGNIFICANCE]
    if not up or not down:
        return None
    gained, lost = sum(c.gained for c in per_class), sum(c.lost for c in per_class)
    gained_up, lost_down = sum(c.gained for c in up), sum(c.lost for c in down)
    toward = " and ".join(c.label for c in up)
    return (f"{_count(gained_up, gained).capitalize()} test rows gained are {toward} and "
            f"{_count(lost_down, lost)} lost are {' and '.join(c.label for c in down)}: the "
            f"round moved the model toward {toward}, predicting it for "
            f"{_predicted(up, 'control')} of the test rows before and "
            f"{_predicted(up, 'after')} after.")


def verdict(groups: RoundGroups | None, *, has_test: bool) -> Verdict:
    """Whether the round repaired its target (see the module)."""
    if not has_test:
        return Verdict("cannot_tell", None, "the run has no test split: no row the round "
                       "never trained on can say whether it repaired anything.")
    if groups is None or groups.control != "matched":
        return Verdict("cannot_tell", None if groups is None else groups.control,
                       "no label-matched control was trained, so the round cannot be told "
                       "apart from adding as many rows of the samples' labels; retrain with "
                       "it to get a verdict.")
    target, complement, rest = groups.target, groups.complement, groups.rest
    few = [f"{group.kind} has {group.test_rows} test row{'s' if group.test_rows != 1 else ''}"
           for group in (target, complement) if group.test_rows < MIN_GROUP_ROWS]
    if few:
        return Verdict("cannot_tell", "matched", f"too few rows to tell: the "
                       f"{' and the '.join(few)} (at least {MIN_GROUP_ROWS} each are needed).")
    gained = (target.vs_control >= REPAIR_POINTS and target.mcnemar_p < SIGNIFICANCE
              and target.gained > target.lost)
    # every test row may lie in the target or its complement (a confusion cell of two labels)
    rest_points = rest.vs_control if rest.test_rows else None
    figures = (f"target {100 * target.vs_control:+.1f} points beyond the label-matched "
               f"control (p = {target.mcnemar_p:.2g}), complement "
               f"{100 * complement.vs_control:+.1f} (p = {complement.mcnemar_p:.2g}), rest "
               + ("no rows" if rest_points is None else f"{100 * rest_points:+.2f}"))
    if not gained:
        return Verdict("not_repaired", "matched", f"{figures}; a repair needs the target ≥ "
                       f"{100 * REPAIR_POINTS:.0f} points beyond the control at p < "
                       f"{SIGNIFICANCE}.")
    costs = ([f"the rest fell {100 * -rest_points:.2f} points (more than "
              f"{100 * REST_TOLERANCE:.1f})"]
             if rest_points is not None and rest_points < -REST_TOLERANCE else [])
    if complement.worse:
        costs.append("the complement is significantly worse")
    if costs:
        return Verdict("at_a_cost", "matched", f"{' and '.join(costs)}; {figures}.")
    return Verdict("repaired", "matched", f"{figures}.")


def _count(part: int, whole: int) -> str:
    return f"all {whole}" if part == whole else f"{part} of the {whole}"


def _predicted(classes: Sequence[ClassOutcome], model: str) -> str:
    return f"{sum(getattr(c, f'predicted_{model}') for c in classes):.1%}"
