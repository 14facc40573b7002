from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import hashing_embed, make_run

from topex_core.errors import RunError
from topex_core.exploredir import read_explore, read_slices
from topex_core.explorer.clustering import ClusterConfig
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.rundir import read_points


def test_explorer_finds_names_maps_and_ranks_the_planted_cluster(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    stages = []
    result = explore_run(run, ExploreConfig(clustering=ClusterConfig(min_samples=10)),
                         embed=hashing_embed, progress=lambda f, m: stages.append(m))
    meta, clusters = read_explore(run)
    assert meta == result
    assert result.error_clusters == 1 and result.method == "optics"
    keywords, confusion = result.picked_name.split(" · ")
    assert confusion == "billing → shipping"
    assert set(keywords.replace(",", " ").split()) <= {"express", "delivery", "fee", "refund"}
    top = clusters[clusters["rank"] == 1].iloc[0]
    assert top["confusion"] == "billing → shipping" and top["error_rate"] == 1.0
    assert top["keywords"].split("; ") == keywords.split(", ") and top["name_coverage"] == 1.0
    assert list(clusters.columns[:4]) == ["cluster", "name", "keywords", "name_coverage"]
    slices, slice_rows = read_slices(run)
    assert slices.iloc[0]["confusion"] == "billing → shipping"
    assert set(slice_rows[slices.iloc[0]["slice"]]) == set(range(180, 205))
    assert result.mistakes == 25 and result.covered == 25 and result.coverage == 1.0
    assert result.in_error_clusters == 25 and result.in_slices == 25
    points = read_points(run)
    assert {"cluster", "sparse_pca_x", "sparse_pca_y", "tsne_x", "tsne_y"} <= set(points.columns)
    assert (points.loc[points["cluster"] == result.picked_cluster, "id"] >= 180).all()
    assert (run / "maps.npz").is_file() and stages[-1] == "explorer done"
    written = (run / "points.parquet").read_bytes()
    explore_run(run, embed=hashing_embed)  # a second pass replaces, not duplicates, columns
    assert read_points(run).columns.is_unique
    assert (run / "points.parquet").read_bytes() == written  # training's file is never rewritten


def test_no_errors_at_all_gives_an_empty_ranking(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    points = pd.read_parquet(run / "points.parquet")
    points["label_id"] = points["pred_id"]
    points.to_parquet(run / "points.parquet")
    result = explore_run(run, embed=hashing_embed)
    assert result.error_clusters == 0 and result.picked_cluster is None
    assert result.reason == "No error cluster to choose."


def test_not_a_run_or_not_explored(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a TopEx run directory"):
        explore_run(tmp_path, embed=hashing_embed)
    run = make_run(tmp_path / "run")
    with pytest.raises(RunError, match="not explored yet"):
        read_explore(run)
    np.save(run / "logits.npy", np.zeros((3, 3)))
    with pytest.raises(RunError, match="has 205 rows but logits.npy has 3"):
        explore_run(run, embed=hashing_embed)
