"""The region an experiment repairs, the pool rows that stand in for samples, and what
each strategy did to that region against the control.

The *target* of an experiment is one region per seed, named by ``ExperimentConfig.target``:

- a selection (``weighted``, ``apd``, …, ``random``, ``largest``): the error cluster it picks;
- a kind's name (``cluster``, ``slice``, ``confusion``): its first region — the best-ranked
  error cluster, the first error slice (the strongest evidence), the confusion cell with
  the most mistakes; ``slice:KEY``: that slice (its key in slices.csv or its term);
- ``cluster:ID``: that error cluster; ``confusion:A -> B``: the rows of true A the base
  model predicts B (any ``KIND:KEY`` of ``region_ref``);
- ``strongest``: the default target, the strongest region of any kind by evidence
  (``explorer.evidence``).

Two strategies add labelled pool rows instead of generated samples, both from the rows no
training used: *oracle* takes rows of the target region with the region's label (what
perfect samples could reach), *random rows* takes rows anywhere (how much more data alone
helps). Neither takes a pool row whose text is also a test row's: that would put a test
row into training. What each strategy did to the region is measured in
``experiments.measure``.
"""

from __future__ import annotations

import numpy as np

from topex_core.data.dataset import TextDataset
from topex_core.errors import RunError, SettingsError
from topex_core.experiments.folder import ExperimentError
from topex_core.experiments.strategies import SELECTIONS
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.region_ref import REGION_KIND_NAMES, RegionRef

STRONGEST = "strongest"


def check_target(target: str) -> str:
    """``target`` if it names a region as the module describes; ExperimentError if not."""
    if target in (*SELECTIONS, *REGION_KIND_NAMES, STRONGEST):
        return target
    try:
        RegionRef.parse(target)
    except SettingsError:
        raise ExperimentError(f"unknown target '{target}'; give a selection "
                              f"({', '.join(SELECTIONS)}), '{STRONGEST}', a kind "
                              f"({', '.join(REGION_KIND_NAMES)}), 'slice:KEY', 'cluster:ID' "
                              "or 'confusion:A -> B'") from None
    return target


def target_region(explored: ExploredRun, target: str, picked_cluster: int | None
                  ) -> Region | None:
    """The region ``target`` names in ``explored`` (``picked_cluster``: the cluster a
    selection target picked); None when the run has no such region."""
    if target == STRONGEST:
        return explored.default_target()
    if target in REGION_KIND_NAMES:
        first = explored.regions(target)[:1]
        return first[0] if first else None
    if target in SELECTIONS:
        return None if picked_cluster is None else explored.error_cluster(picked_cluster)
    try:
        return explored.region(RegionRef.parse(target))
    except RunError:
        return None


def oracle_positions(region: Region, pool: TextDataset, unused: np.ndarray, n: int,
                     seed: int) -> np.ndarray:
    """Up to n pool positions of ``region`` with its label among ``unused`` (rows no
    training used and no test row repeats), drawn at random (seeded)."""
    label = pool.label_names.index(region.label)
    candidates = np.intersect1d(region.rows, unused)
    candidates = candidates[pool.labels[candidates] == label]
    return _draw(candidates, n, seed)


def random_positions(unused: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to n of the ``unused`` pool positions, drawn at random (seeded)."""
    return _draw(unused, n, seed)


def unused_positions(pool: TextDataset, train_positions: np.ndarray,
                     test: TextDataset) -> np.ndarray:
    """Pool positions that no training used and whose text (and pair) no test row has."""
    test_texts = set(test.row_keys())
    seen = np.array([key in test_texts for key in pool.row_keys()], bool)
    return np.setdiff1d(np.flatnonzero(~seen), train_positions)


def _draw(candidates: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, n, 23])
    return np.sort(rng.choice(candidates, size=min(n, len(candidates)), replace=False))

