"""Statistics of the before/after comparison against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from topex_core.retraining.compare import (
    bootstrap_diff_ci,
    group_accuracy,
    mcnemar_exact,
    paired_summary,
)


@pytest.mark.parametrize("fixed, broken, expected", [
    (10, 2, 2 * (1 + 12 + 66) / 4096),   # 2·P(X ≤ 2), X ~ Bin(12, ½)
    (2, 10, 2 * (1 + 12 + 66) / 4096),
    (6, 0, 2 / 64),
    (1, 0, 1.0),
    (5, 5, 1.0),
    (0, 0, 1.0),
    (13, 0, 2 / 8192),
])
def test_mcnemar_exact_matches_hand_computed_values(fixed: int, broken: int,
                                                    expected: float) -> None:
    assert mcnemar_exact(fixed, broken) == pytest.approx(expected)


def test_mcnemar_refuses_negative_counts() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_bootstrap_interval_brackets_the_observed_difference() -> None:
    before = np.zeros(100, bool)
    after = np.zeros(100, bool)
    after[:10] = True
    low, high = bootstrap_diff_ci(before, after, seed=1)
    assert 0 < low < 0.1 < high < 0.2
    assert bootstrap_diff_ci(before, before) == (0.0, 0.0)
    assert bootstrap_diff_ci(before, after, seed=1) == (low, high)
    assert all(np.isnan(bootstrap_diff_ci(np.array([], bool), np.array([], bool))))


def test_bootstrap_agrees_with_resampling_rows() -> None:
    rng = np.random.default_rng(0)
    before = rng.random(400) < 0.7
    after = before.copy()
    after[rng.choice(400, 30, replace=False)] ^= True
    low, high = bootstrap_diff_ci(before, after, reps=20_000)
    indices = rng.integers(0, 400, (20_000, 400))
    direct = (after[indices].mean(axis=1) - before[indices].mean(axis=1))
    assert low == pytest.approx(np.percentile(direct, 2.5), abs=0.004)
    assert high == pytest.approx(np.percentile(direct, 97.5), abs=0.004)


def test_paired_summary_and_groups() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.array([0, 1, 1, 0, 2, 2])
    after = np.array([0, 0, 0, 1, 2, 2])
    summary = paired_summary(labels, before, after)
    assert summary.fixed == 2 and summary.broken == 1
    assert summary.accuracy_before == pytest.approx(4 / 6)
    assert summary.accuracy_after == pytest.approx(5 / 6)
    assert summary.mcnemar_p == 1.0
    table = group_accuracy(np.array(["a", "a", "b", "b", "c", "c"]), labels, before, after)
    row = table.set_index("group").loc["b"]
    assert row["fixed"] == 1 and row["broken"] == 1 and row["change"] == 0.0
    assert table.set_index("group").loc["a", "change"] == pytest.approx(0.5)
