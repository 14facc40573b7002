"""The experiment's target region: naming it, the pool rows the oracle and random rows
take, the region columns against the control, and the report's region table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import hashing_embed, make_run

from topex_core.data.dataset import dataset_from_frame
from topex_core.experiments.folder import ExperimentError
from topex_core.experiments.region import (
    REGION_COLUMNS,
    check_target,
    oracle_positions,
    random_positions,
    region_columns,
    target_region,
)
from topex_core.experiments.report import region_table
from topex_core.experiments.samples import POOL_BACKEND, rows_as_samples
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.explorer.pipeline import explore_run


def region(rows, label="b", test_rows=()) -> Region:
    return Region("slice", "late | b", "late (true b) · b → a", ("late",), label, "b → a",
                  np.asarray(rows), 3, lambda: np.asarray(test_rows, np.int64))


def pool():
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(12)],
                          "label": ["a", "b"] * 6})
    return dataset_from_frame(frame, source="pool")


@pytest.mark.parametrize("target", ["weighted", "largest", "strongest", "slice",
                                    "slice:late | b", "slice:late", "cluster:3"])
def test_targets_that_name_a_region(target: str) -> None:
    assert check_target(target) == target


@pytest.mark.parametrize("target", ["best", "slice:", "cluster:x", "cluster"])
def test_targets_that_do_not(target: str) -> None:
    with pytest.raises(ExperimentError):
        check_target(target)


def test_the_strongest_target_is_the_explored_runs_default(tmp_path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    explored = ExploredRun.load(run)
    assert target_region(explored, "strongest", None) == explored.default_target()
    assert target_region(explored, "slice", None) == explored.regions("slice")[0]


def test_the_oracle_takes_unused_rows_of_the_region_with_its_label() -> None:
    data = pool()
    training = np.array([1, 3, 4])
    chosen = oracle_positions(region([1, 2, 3, 5, 7, 8, 9]), data, training, 10, seed=0)
    assert set(chosen) == {5, 7, 9}  # unused, labelled b (odd positions)
    assert len(oracle_positions(region([1, 2, 3, 5, 7, 8, 9]), data, training, 2, 0)) == 2
    anywhere = random_positions(data, training, 5, seed=1)
    assert len(anywhere) == 5 and not set(anywhere) & set(training)
    assert np.array_equal(anywhere, random_positions(data, training, 5, seed=1))
    samples = rows_as_samples(data, chosen)
    assert samples["label"].tolist() == ["b"] * 3 and (samples["backend"] == POOL_BACKEND).all()
    assert samples["source_id"].tolist() == data.ids[chosen].tolist()


def test_region_columns_compare_after_with_the_control_on_the_regions_test_rows() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    before = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    control = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 0])
    after = np.array([0, 0, 1, 0, 1, 1, 1, 1, 1, 1])
    columns = region_columns(region([0], test_rows=[0, 1, 2, 3]), labels, before, after,
                             control)
    assert set(columns) == set(REGION_COLUMNS)
    assert columns["region_test_rows"] == 4
    assert columns["region_accuracy_before"] == 0.0
    assert columns["region_accuracy_control"] == 0.25
    assert columns["region_accuracy_after"] == 0.75
    assert columns["region_vs_control"] == pytest.approx(0.5)
    assert (columns["region_gained"], columns["region_lost"]) == (2, 0)
    assert (columns["overall_gained"], columns["overall_lost"]) == (3, 0)
    assert columns["region_ci_low"] <= 0.5 <= columns["region_ci_high"]
    assert columns["overall_vs_control"] == pytest.approx(0.3)
    no_region = region_columns(None, labels, before, after, control)
    assert no_region["region_test_rows"] is None and no_region["overall_p"] is not None


def test_the_region_table_pools_seeds() -> None:
    rows = [{"dataset": "d", "strategy": "oracle", "n": 30, "seed": seed, "status": "ok",
             "region_name": "late (true b) · b → a", "region_test_rows": 20,
             "region_accuracy_control": 0.2, "region_gained": gained, "region_lost": lost,
             "region_vs_control": (gained - lost) / 20, "overall_vs_control": overall,
             "test_rows": 500, "overall_gained": 12, "overall_lost": 13}
            for seed, gained, lost, overall in ((0, 10, 0, -0.002), (1, 6, 2, 0.0))]
    table = region_table(pd.DataFrame(rows))
    row = table.iloc[0]
    assert row["test_rows"] == 40 and row["vs_control"] == pytest.approx(35.0)
    assert row["control"] == pytest.approx(20.0) and row["after"] == pytest.approx(55.0)
    assert row["low"] > 15 and row["p"] < 0.01 and row["overall"] == pytest.approx(-0.1)
    assert row["overall_low"] < -0.1 < row["overall_high"]  # 24 gained, 26 lost of 1,000
    older = region_table(pd.DataFrame(rows).drop(columns=["test_rows"]))
    assert np.isnan(older.iloc[0]["overall_low"])
    assert region_table(pd.DataFrame([{"dataset": "d", "status": "ok"}])).empty
