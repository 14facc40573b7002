"""The region an experiment repairs, the pool rows that stand in for samples, and what
each strategy did to that region against the control.

The *target* of an experiment is one region per seed, named by ``ExperimentConfig.target``:

- a selection (``weighted``, ``apd``, …, ``random``, ``largest``): the error cluster it picks;
- ``slice``: the first error slice (the strongest evidence), ``slice:KEY``: that slice
  (its key in slices.csv or its term);
- ``cluster:ID``: that error cluster;
- ``strongest``: the default target, the strongest region of any kind by evidence
  (``explorer.evidence``).

Two strategies add labelled pool rows instead of generated samples, both from the rows no
training used: *oracle* takes rows of the target region with the region's label (what
perfect samples could reach), *random rows* takes rows anywhere (how much more data alone
helps). Every result row gets the region's figures against the control (the same
retraining with nothing added): ``region_*`` columns for the region's test rows and
``overall_*`` for the whole test split.
"""

from __future__ import annotations

import numpy as np

from topex_core.data.dataset import TextDataset
from topex_core.errors import RunError
from topex_core.experiments.folder import ExperimentError
from topex_core.experiments.strategies import SELECTIONS
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.retraining.compare import region_outcome

STRONGEST = "strongest"
REGION_COLUMNS = ("region_kind", "region_key", "region_name", "region_test_rows",
                  "region_accuracy_before", "region_accuracy_after",
                  "region_accuracy_control", "region_vs_control", "region_ci_low",
                  "region_ci_high", "region_p", "region_gained", "region_lost",
                  "overall_vs_control", "overall_ci_low", "overall_ci_high", "overall_p",
                  "overall_gained", "overall_lost")


def check_target(target: str) -> str:
    """``target`` if it names a region as the module describes; ExperimentError if not."""
    kind, _, key = target.partition(":")
    if (target in (*SELECTIONS, "slice", STRONGEST)
            or (kind in ("slice", "cluster") and key)):
        if kind == "cluster" and key and not key.lstrip("-").isdigit():
            raise ExperimentError(f"'{target}': a cluster is named by its number")
        return target
    raise ExperimentError(f"unknown target '{target}'; give a selection "
                          f"({', '.join(SELECTIONS)}), '{STRONGEST}', 'slice', 'slice:KEY' or "
                          "'cluster:ID'")


def target_region(explored: ExploredRun, target: str, picked_cluster: int | None
                  ) -> Region | None:
    """The region ``target`` names in ``explored`` (``picked_cluster``: the cluster a
    selection target picked); None when the run has no such region."""
    kind, _, key = target.partition(":")
    if target == STRONGEST:
        return explored.default_target()
    try:
        if kind == "slice":
            slices = explored.regions("slice")
            return explored.region("slice", key) if key else (slices[0] if slices else None)
        if kind == "cluster":
            return explored.region("cluster", int(key))
    except RunError:
        return None
    return None if picked_cluster is None else explored.region("cluster", picked_cluster)


def oracle_positions(region: Region, pool: TextDataset, train_positions: np.ndarray,
                     n: int, seed: int) -> np.ndarray:
    """Up to n pool positions of ``region`` with its label that no training used, drawn
    at random (seeded)."""
    label = pool.label_names.index(region.label)
    candidates = np.setdiff1d(region.rows, train_positions)
    candidates = candidates[pool.labels[candidates] == label]
    return _draw(candidates, n, seed)


def random_positions(pool: TextDataset, train_positions: np.ndarray, n: int,
                     seed: int) -> np.ndarray:
    """Up to n pool positions that no training used, drawn at random (seeded)."""
    return _draw(np.setdiff1d(np.arange(len(pool)), train_positions), n, seed)


def region_columns(region: Region | None, labels: np.ndarray, before: np.ndarray,
                   after: np.ndarray, control: np.ndarray) -> dict:
    """The ``REGION_COLUMNS`` of one result: the region's test rows and the whole test
    split, after against the control; (n,) labels and predictions of the test split.
    ``*_gained``/``*_lost``: test rows right after and wrong in the control, and the
    reverse (the report pools them over seeds)."""
    overall = region_outcome("test", "all", "all test rows", labels, before, after, control)
    columns = dict.fromkeys(REGION_COLUMNS)
    columns.update(overall_vs_control=overall.vs_control,
                   overall_ci_low=_bound(overall.vs_control_ci95, 0),
                   overall_ci_high=_bound(overall.vs_control_ci95, 1),
                   overall_p=overall.mcnemar_p, **_changed("overall", labels, after, control))
    if region is None:
        return columns
    rows = region.test_rows
    outcome = region_outcome(region.kind, region.key, region.name, labels[rows],
                             before[rows], after[rows], control[rows])
    columns.update(region_kind=region.kind, region_key=region.key, region_name=region.name,
                   region_test_rows=outcome.test_rows,
                   region_accuracy_before=outcome.accuracy_before,
                   region_accuracy_after=outcome.accuracy_after,
                   region_accuracy_control=outcome.accuracy_control,
                   region_vs_control=outcome.vs_control,
                   region_ci_low=_bound(outcome.vs_control_ci95, 0),
                   region_ci_high=_bound(outcome.vs_control_ci95, 1),
                   region_p=outcome.mcnemar_p,
                   **_changed("region", labels[rows], after[rows], control[rows]))
    return columns


def _changed(prefix: str, labels: np.ndarray, after: np.ndarray, control: np.ndarray
             ) -> dict[str, int]:
    return {f"{prefix}_gained": int(np.sum((after == labels) & (control != labels))),
            f"{prefix}_lost": int(np.sum((after != labels) & (control == labels)))}


def _draw(candidates: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, n, 23])
    return np.sort(rng.choice(candidates, size=min(n, len(candidates)), replace=False))


def _bound(interval: tuple[float, float] | None, side: int) -> float | None:
    return None if interval is None else float(interval[side])
