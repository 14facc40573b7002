from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import hashing_embed, make_run

from topex_core.errors import RunError, SettingsError
from topex_core.explorer.clustering import ClusterConfig
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.explorer.targets import list_targets, read_target
from topex_core.rundir import SLICES_FILE


def test_clusters_then_slices_and_the_scope_in_a_slice_name(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, ExploreConfig(clustering=ClusterConfig(min_samples=10)), embed=hashing_embed)
    targets = list_targets(run)
    assert [kind for kind, _, _ in targets] == ["cluster", "slice"]
    cluster = read_target(run, cluster=int(targets[0][1]))
    assert cluster.kind == "cluster" and cluster.label == "billing"
    assert cluster.name.endswith(" · billing → shipping")
    delivery = read_target(run, slice="delivery")
    assert list(delivery.positions) == list(cluster.positions) == list(range(180, 205))
    # a one-label slice says its scope; a bare term names its best-ranked slice
    slices = pd.read_csv(run / SLICES_FILE, keep_default_na=False)
    slices.loc[0, ["slice", "true_label"]] = ["delivery | billing", "billing"]
    slices.to_csv(run / SLICES_FILE, index=False)
    (run / "slice_rows.parquet").unlink()
    pd.DataFrame({"slice": ["delivery | billing"] * 25,
                  "id": range(180, 205)}).to_parquet(run / "slice_rows.parquet")
    scoped = read_target(run, slice="delivery")
    assert scoped.key == "delivery | billing"
    assert scoped.name == "delivery (true billing) · billing → shipping"


def test_unknown_or_ambiguous_targets_are_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    with pytest.raises(RunError, match="'nonesuch' is not an error slice.*'delivery'"):
        read_target(run, slice="nonesuch")
    with pytest.raises(SettingsError, match="choose one target"):
        read_target(run)
