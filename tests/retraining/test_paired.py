"""Paired statistics of a round against hand-computed values and an independent exact
interval; several seeds count each test row once."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from topex_core.retraining.paired import mcnemar_exact, mcnemar_interval, paired_summary


@pytest.mark.parametrize("fixed, broken, expected", [
    (10, 2, 2 * (1 + 12 + 66) / 4096),   # 2·P(X ≤ 2), X ~ Bin(12, ½)
    (2, 10, 2 * (1 + 12 + 66) / 4096),
    (6, 0, 2 / 64),
    (4, 0, 2 / 16),
    (1, 0, 1.0),
    (5, 5, 1.0),
    (0, 0, 1.0),
    (13, 0, 2 / 8192),
])
def test_mcnemar_exact_matches_hand_computed_values(fixed: int, broken: int,
                                                    expected: float) -> None:
    assert mcnemar_exact(fixed, broken) == pytest.approx(expected)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)
    with pytest.raises(ValueError):
        mcnemar_interval(5, 4, 3)


@pytest.mark.parametrize("rows", [50, 60, 1000])
def test_the_interval_excludes_zero_exactly_when_mcnemar_rejects(rows: int) -> None:
    """Every count of gained and lost rows up to 50 changed rows."""
    for gained in range(51):
        for lost in range(51 - gained):
            if gained + lost == 0 or gained + lost > rows:
                continue
            low, high = mcnemar_interval(rows, gained, lost)
            excludes_zero = low > 0 or high < 0
            assert excludes_zero == (mcnemar_exact(gained, lost) < 0.05), (gained, lost)
            assert low <= (gained - lost) / rows <= high


def test_the_interval_is_clopper_pearson_scaled() -> None:
    for gained, lost, rows in ((7, 2, 40), (0, 3, 11), (30, 13, 500), (4, 0, 11)):
        exact = binomtest(gained, gained + lost).proportion_ci(method="exact")
        scale = (gained + lost) / rows
        assert mcnemar_interval(rows, gained, lost) == pytest.approx(
            (scale * (2 * exact.low - 1), scale * (2 * exact.high - 1)))


def test_four_of_eleven_gained_is_not_called_certain() -> None:
    """The bootstrap interval excluded 0 here while McNemar gives p = 0.125."""
    low, high = mcnemar_interval(11, 4, 0)
    assert low < 0 < high and mcnemar_exact(4, 0) == pytest.approx(0.125)
    assert mcnemar_interval(11, 0, 0) is None and mcnemar_interval(0, 0, 0) is None


def test_paired_summary_and_groups() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.array([0, 1, 1, 0, 2, 2])
    after = np.array([0, 0, 0, 1, 2, 2])
    summary = paired_summary(labels, before, after)
    assert summary.fixed == 2 and summary.broken == 1
    assert summary.accuracy_before == pytest.approx(4 / 6)
    assert summary.accuracy_after == pytest.approx(5 / 6)
    assert summary.mcnemar_p == 1.0
    assert summary.diff_ci95 == pytest.approx(mcnemar_interval(6, 2, 1))
    unchanged = paired_summary(labels, before, before)
    assert unchanged.diff_ci95 is None and unchanged.mcnemar_p == 1.0


def test_several_seeds_count_each_test_row_once() -> None:
    labels = np.zeros(20, np.int64)
    control = np.ones((3, 20), np.int64)
    after = control.copy()
    after[:, :6] = 0  # six rows right in every seed
    after[0, 6] = 0   # one more right in one seed only
    after[1, 7] = 0
    control[2, 8] = 0  # and one the control got right in one seed
    summary = paired_summary(labels, control, after)
    assert (summary.fixed, summary.broken, summary.rows) == (8, 1, 20)  # not 3 × 20 rows
    assert summary.mcnemar_p == pytest.approx(mcnemar_exact(8, 1))
    assert summary.change == pytest.approx((18 + 2 - 1) / 60)  # mean over the seeds
    one_seed = paired_summary(labels, control[:1], after[:1])
    assert (one_seed.fixed, one_seed.broken) == (7, 0)
    # identical seeds say no more than one seed
    same = paired_summary(labels, np.repeat(control[:1], 3, 0), np.repeat(after[:1], 3, 0))
    assert (same.fixed, same.broken, same.mcnemar_p) == (7, 0, one_seed.mcnemar_p)
