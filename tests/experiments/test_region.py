"""The experiment's target region: naming it, the pool rows the oracle and random rows
take (never a test row's text), its groups against the control per split, and seeds
pooled by test row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import hashing_embed, make_run

from topex_core.data.dataset import dataset_from_frame
from topex_core.errors import SettingsError
from topex_core.experiments.folder import ExperimentError
from topex_core.experiments.measure import SPLIT_COLUMNS, split_columns, split_region
from topex_core.experiments.pooled import pooled_counts, pooled_table
from topex_core.experiments.region import (
    check_target,
    oracle_positions,
    random_positions,
    target_region,
    unused_positions,
)
from topex_core.experiments.samples import POOL_BACKEND, rows_as_samples
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.explorer.pipeline import explore_run


def region(rows, label="b", test_rows=(), reach=None) -> Region:
    test_rows = np.asarray(test_rows, np.int64)
    reach = test_rows if reach is None else np.asarray(reach, np.int64)
    return Region("slice", "late | b", "late (true b) · b → a", ("late",), label, "b → a",
                  np.asarray(rows), 3, lambda: test_rows,
                  lambda test: reach if test else np.asarray(rows))


def pool():
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(12)],
                          "label": ["a", "b"] * 6})
    return dataset_from_frame(frame, source="pool")


@pytest.mark.parametrize("target", ["weighted", "largest", "strongest", "slice", "confusion",
                                    "slice:late | b", "slice:late", "cluster:3",
                                    "confusion:a -> b"])
def test_targets_that_name_a_region(target: str) -> None:
    assert check_target(target) == target


@pytest.mark.parametrize("target", ["best", "slice:", "cell:a -> b", "cells"])
def test_targets_that_do_not(target: str) -> None:
    with pytest.raises(ExperimentError):
        check_target(target)


def test_the_strongest_target_is_the_explored_runs_default(tmp_path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    explored = ExploredRun.load(run)
    assert target_region(explored, "strongest", None) == explored.default_target()
    assert target_region(explored, "slice", None) == explored.regions("slice")[0]
    cell = target_region(explored, "confusion:billing -> shipping", None)
    assert cell is not None and cell.confusion == "billing → shipping"
    assert target_region(explored, "confusion", None) == cell  # the most mistakes
    assert target_region(explored, "cluster", None) == explored.regions("cluster")[0]
    assert target_region(explored, "confusion:tech -> billing", None) is None  # no mistake
    with pytest.raises(SettingsError, match="a cluster is named by its number"):
        target_region(explored, "cluster:x", None)


def test_the_oracle_takes_unused_rows_of_the_region_with_its_label() -> None:
    data = pool()
    unused = np.setdiff1d(np.arange(12), [1, 3, 4])
    chosen = oracle_positions(region([1, 2, 3, 5, 7, 8, 9]), data, unused, 10, seed=0)
    assert set(chosen) == {5, 7, 9}  # unused, labelled b (odd positions)
    assert len(oracle_positions(region([1, 2, 3, 5, 7, 8, 9]), data, unused, 2, 0)) == 2
    anywhere = random_positions(unused, 5, seed=1)
    assert len(anywhere) == 5 and set(anywhere) <= set(unused)
    assert np.array_equal(anywhere, random_positions(unused, 5, seed=1))
    samples = rows_as_samples(data, chosen)
    assert samples["label"].tolist() == ["b"] * 3 and (samples["backend"] == POOL_BACKEND).all()
    assert samples["source_id"].tolist() == data.ids[chosen].tolist()


def test_a_pool_row_that_repeats_a_test_text_is_never_an_oracle_sample() -> None:
    data = pool()
    test = dataset_from_frame(pd.DataFrame({"text": ["text 5", "text 9", "elsewhere"],
                                            "label": ["b", "b", "a"]}), source="test")
    unused = unused_positions(data, np.array([1, 3, 4]), test)
    assert set(unused) == {0, 2, 6, 7, 8, 10, 11}
    assert set(oracle_positions(region([1, 2, 3, 5, 7, 8, 9]), data, unused, 10, 0)) == {7}


def test_a_split_is_judged_on_its_groups_against_the_control() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0, 1, 1, 1, 1])
    before = np.zeros(10, np.int64)
    control = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1, 0])
    after = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 1])
    plain = np.zeros(10, np.int64)
    # reach: rows 0–5; label b (1) rows 0–3 are the target, 4–5 its complement
    columns, line = split_columns(region([0], reach=range(6)), ["a", "b"], labels, before,
                                  after, control, "matched", plain)
    assert set(columns) == set(SPLIT_COLUMNS)
    assert (columns["target_test_rows"], columns["complement_test_rows"]) == (4, 2)
    assert columns["rest_test_rows"] == 4
    assert columns["target_accuracy_control"] == 0.25 and columns["target_accuracy_after"] == 0.75
    assert (columns["target_gained"], columns["target_lost"]) == (2, 0)
    assert (columns["complement_gained"], columns["complement_lost"]) == (0, 2)
    assert (columns["overall_gained"], columns["overall_lost"]) == (3, 2)
    assert columns["target_ci_low"] < 0 < columns["target_ci_high"]  # 2 of 4: p = 0.5
    assert columns["plain_target_vs_control"] == pytest.approx(0.75)
    assert (columns["label_share_control"], columns["label_share_after"]) == (0.4, 0.9)
    assert (columns["gained_of_label"], columns["lost_of_other"]) == (3, 2)
    assert columns["verdict"] == "cannot_tell"  # 4 target rows
    assert line["target"].tolist() == [0, 1, 2, 3] and line["complement"].tolist() == [4, 5]
    assert line["gained"].tolist() == [0, 1, 9] and line["lost"].tolist() == [4, 5]
    alone, _ = split_columns(None, ["a", "b"], labels, before, after, control, "matched",
                             plain)
    assert alone["target_test_rows"] is None and alone["overall_p"] is not None


def test_a_region_on_part_of_the_split_is_renumbered() -> None:
    whole = region([0], test_rows=[1, 4, 7], reach=[1, 2, 4, 7, 8])
    part = split_region(whole, np.array([4, 5, 6, 7, 8]))
    assert part.test_rows.tolist() == [0, 3] and part.reach(test=True).tolist() == [0, 3, 4]
    assert part.reach(test=False).tolist() == [0]


def test_seeds_are_pooled_by_test_row() -> None:
    """Two seeds share the test split: a row gained in both counts once."""
    lines = [{"seed": seed, "strategy": "rewrite", "n": 30, "split": "test", "rows": 100,
              "target": list(range(20)), "complement": list(range(20, 30)),
              "gained": gained, "lost": lost, "fixed": gained, "broken": lost}
             for seed, gained, lost in ((0, list(range(10)), [25]),
                                        (1, [0, 1, 3, 4, 5, 40], [2, 25, 26]))]
    assert pooled_counts(lines, "target") == (20, 9, 0)  # row 2: +1 − 1 = 0
    assert pooled_counts(lines, "complement") == (10, 0, 2)
    assert pooled_counts(lines, "rest") == (70, 1, 0)
    rows = [{"dataset": "d", "strategy": "rewrite", "n": 30, "seed": seed, "status": "ok",
             "samples": 30, "control": "matched", "region_name": "late (true b) · b → a",
             "plain_target_vs_control": 0.3, "label_share_control": 0.5,
             "label_share_after": 0.52,
             **{f"{group}_{field}": value for group, rows_, control, after in (
                 ("target", 20, 0.2, 0.65), ("complement", 10, 0.8, 0.75),
                 ("rest", 70, 0.9, 0.9), ("overall", 100, 0.8, 0.83))
                for field, value in (("test_rows", rows_), ("accuracy_control", control),
                                     ("accuracy_after", after), ("accuracy_before", 0.1))}}
            for seed in (0, 1)]
    table = pooled_table(pd.DataFrame(rows), lines)
    row = table.iloc[0]
    target = row["target"]
    assert (target.test_rows, target.gained, target.lost) == (20, 9, 0)  # not 40 rows
    assert target.vs_control == pytest.approx(0.45) and target.mcnemar_p < 0.01
    assert row["verdict"] == "repaired" and row["seeds"] == 2
    assert pooled_table(pd.DataFrame(rows), []).empty
