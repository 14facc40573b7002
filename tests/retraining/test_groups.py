"""The three groups of a round's test split, the per-class split against the control, the
sentence when a round only moved the boundary, and the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from topex_core.explorer.regions import Region
from topex_core.retraining.groups import (
    REPAIR_POINTS,
    group_rows,
    round_groups,
    shift_sentence,
    verdict,
)
from topex_core.retraining.paired import mcnemar_exact

NAMES = ["negative", "positive"]


def region(reach: np.ndarray, label: str = "negative") -> Region:
    reach = np.asarray(reach, np.int64)
    return Region("slice", "comedy | negative", "comedy", ("comedy",), label,
                  "negative → positive", np.arange(3), 2, lambda: reach,
                  lambda test: reach if test else np.arange(3))


def split(rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(labels, base predictions) of a two-class test split: labels alternate, a fifth of
    the rows are wrong, and so are the first 20 negative rows (a failing region)."""
    labels = np.arange(rows) % 2
    before = labels.copy()
    before[np.random.default_rng(seed).choice(rows, rows // 5, replace=False)] ^= 1
    before[0:40:2] = 1
    return labels, before


def test_the_three_groups_do_not_overlap_and_cover_the_split() -> None:
    labels, _ = split(40)
    target, complement = group_rows([region(np.arange(10)), region([8, 9, 11, 20])], NAMES,
                                    labels)
    assert target.tolist() == [0, 2, 4, 6, 8, 20]  # negative rows of either reach
    assert complement.tolist() == [1, 3, 5, 7, 9, 11]
    assert not set(target) & set(complement)


def shifted_round(labels: np.ndarray, before: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A control equal to the base model, and a round that fixes 32 negative rows outside
    and inside the region and breaks 13 positive ones: a move toward negative."""
    control = before[None, :].copy()
    after = control.copy()
    negative_wrong = np.flatnonzero((labels == 0) & (before != 0))
    positive_right = np.flatnonzero((labels == 1) & (before == 1))
    after[0, negative_wrong[:32]] = 0
    after[0, positive_right[-13:]] = 0
    return after, control


def test_a_round_that_moves_the_boundary_is_named_for_it() -> None:
    labels, before = split()
    after, control = shifted_round(labels, before)
    groups = round_groups([region(np.arange(60))], NAMES, labels, before, after, control,
                          "matched")
    negative, positive = groups.per_class
    assert (negative.gained, negative.lost, positive.gained, positive.lost) == (32, 0, 0, 13)
    assert negative.mcnemar_p == pytest.approx(mcnemar_exact(32, 0))
    assert positive.predicted_after < positive.predicted_control
    assert groups.shift.startswith("All 32 test rows gained are negative and all 13 lost "
                                   "are positive: the round moved the model toward negative")
    assert groups.target.gained + groups.rest.gained == 32
    assert groups.complement.test_rows == 30 and groups.target.test_rows == 30
    assert groups.rest.test_rows == 340
    assert shift_sentence(round_groups([region(np.arange(60))], NAMES, labels, before,
                                       control, control, "matched").per_class) is None


def repaired_round(labels: np.ndarray, before: np.ndarray, *, rest_lost: int = 0,
                   complement_lost: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every wrong negative row of the region (0–59) fixed; some rest or complement rows
    broken."""
    control = before[None, :].copy()
    after = control.copy()
    inside = np.arange(60)
    after[0, inside[(labels[inside] == 0) & (before[inside] != 0)]] = 0
    outside = np.flatnonzero((np.arange(len(labels)) >= 60) & (before == labels))
    after[0, outside[:rest_lost]] = 1 - labels[outside[:rest_lost]]
    complement = inside[(labels[inside] == 1) & (before[inside] == 1)]
    after[0, complement[:complement_lost]] = 0
    return after, control


def test_the_verdict_needs_the_target_the_rest_and_the_complement() -> None:
    labels, before = split()
    target = [region(np.arange(60))]

    def judged(**broken):
        after, control = repaired_round(labels, before, **broken)
        return verdict(round_groups(target, NAMES, labels, before, after, control,
                                    "matched"), has_test=True)

    repaired = judged()
    assert repaired.status == "repaired" and repaired.control == "matched"
    assert repaired.text.startswith("Repaired: target +")
    costly = judged(rest_lost=5)  # 5 of 340 rest rows: −1.5 points
    assert costly.status == "at_a_cost" and "the rest fell 1.47 points" in costly.sentence
    assert judged(rest_lost=1).status == "repaired"  # −0.29 points: within the tolerance
    assert judged(complement_lost=8).status == "at_a_cost"  # 8 lost, 0 gained: p = 0.008
    assert "complement is significantly worse" in judged(complement_lost=8).sentence
    after, control = repaired_round(labels, before)  # a region reaching every test row
    whole = verdict(round_groups([region(np.arange(len(labels)))], NAMES, labels, before,
                                 after, control, "matched"), has_test=True)
    assert whole.status == "repaired" and whole.sentence.endswith("rest no rows.")
    labels_control = before[None, :]
    unchanged = verdict(round_groups(target, NAMES, labels, before, labels_control,
                                     labels_control, "matched"), has_test=True)
    assert unchanged.status == "not_repaired" and f"≥ {100 * REPAIR_POINTS:.0f}" in \
        unchanged.sentence


def test_the_verdict_cannot_tell_without_rows_or_a_matched_control() -> None:
    labels, before = split()
    after, control = repaired_round(labels, before)
    few = verdict(round_groups([region(np.arange(12))], NAMES, labels, before, after, control,
                               "matched"), has_test=True)
    assert few.status == "cannot_tell" and "target has 6 test rows" in few.sentence
    plain = verdict(round_groups([region(np.arange(60))], NAMES, labels, before, after,
                                 control, "plain"), has_test=True)
    assert plain.status == "cannot_tell" and "label-matched" in plain.sentence
    assert verdict(None, has_test=False).status == "cannot_tell"
