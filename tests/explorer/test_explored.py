from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import hashing_embed, make_run

from topex_core.errors import RunError, SettingsError
from topex_core.exploredir import SLICES_FILE
from topex_core.explorer.clustering import NOISE, ClusterConfig
from topex_core.explorer.explored import ConfusionCell, ErrorCluster, ErrorSlice, ExploredRun
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.explorer.region_kinds import REGION_KINDS
from topex_core.explorer.regions import Region
from topex_core.region_ref import REGION_KIND_NAMES, RegionRef
from topex_core.rundir import read_logits, read_points, write_logits, write_points


def with_test_split(run: Path, rows: list[int]) -> None:
    """A test split that repeats pool rows ``rows`` (their logits and texts)."""
    write_logits(run, read_logits(run)[rows], test=True)
    test = read_points(run).iloc[rows].drop(columns=["cluster", "sparse_pca_x", "sparse_pca_y",
                                                     "tsne_x", "tsne_y"], errors="ignore")
    write_points(run, test.assign(id=np.arange(len(rows))), test=True)


def test_clusters_then_slices_typed_with_their_rows_and_test_rows(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, ExploreConfig(clustering=ClusterConfig(min_samples=10)), embed=hashing_embed)
    with_test_split(run, [0, 1, 70, 181, 182, 183])  # two correct rows, then planted ones
    explored = ExploredRun.load(run)
    regions = explored.regions()
    assert [region.kind for region in regions] == ["cluster", "slice", "confusion"]  # no unions
    cluster, delivery, cell = regions
    assert isinstance(cluster, ErrorCluster) and isinstance(delivery, ErrorSlice)
    assert cluster.label == "billing" and cluster.name.endswith(" · billing → shipping")
    assert cluster.rank == 1 and "delivery" in " ".join(cluster.terms)
    assert list(delivery.rows) == list(cluster.rows) == list(range(180, 205))
    assert delivery.terms == ("delivery",) and delivery.q < 0.05
    # test rows join a cluster by its reach in the explored space, a slice by its term
    assert list(cluster.test_rows) == list(delivery.test_rows) == [3, 4, 5]
    assert explored.region(cluster.ref) == cluster
    assert explored.region(RegionRef("slice", "delivery")) == delivery
    # a confusion cell holds the base model's mistakes of one kind; its reach is every
    # row predicted as they were, so its complement is the rows rightly predicted so
    assert isinstance(cell, ConfusionCell) and cell.confusion == "billing → shipping"
    assert list(cell.rows) == list(range(180, 205)) and cell.errors == 25
    assert list(cell.test_rows) == [3, 4, 5] and list(cell.reach(test=True)) == [2, 3, 4, 5]
    assert cell.title == "confusion cell: true billing, predicted shipping"
    assert explored.region(RegionRef("confusion", "billing → shipping")) == cell
    # the slice holds the cluster's very mistakes: one failure, listed once (under the
    # stronger), still a target an analyst can pick; a cell is picked by hand
    assert explored.by_evidence() == [cluster] and explored.same_failure(cluster) == [delivery]
    assert explored.same_failure(delivery) == []
    assert explored.mistakes_held([cluster, delivery]) == 25 and explored.mistakes_held([]) == 0
    assert explored.choice_title(cluster) == cluster.title
    assert explored.choice_title(delivery) == (
        f"{delivery.title} (the same failure as {cluster.listing})")
    assert explored.choices() == [cluster, delivery, cell]


def test_a_scoped_slice_says_its_scope_and_a_bare_term_names_it(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    slices = pd.read_csv(run / SLICES_FILE, keep_default_na=False)
    slices.loc[0, ["slice", "true_label"]] = ["delivery | billing", "billing"]
    slices.to_csv(run / SLICES_FILE, index=False)
    pd.DataFrame({"slice": ["delivery | billing"] * 25,
                  "id": range(180, 205)}).to_parquet(run / "slice_rows.parquet")
    scoped = ExploredRun.load(run).region(RegionRef("slice", "delivery"))
    assert scoped.key == "delivery | billing" and scoped.true_label == "billing"
    assert scoped.name == "delivery (true billing) · billing → shipping"
    assert len(scoped.test_rows) == 0  # no test split


def test_unknown_regions_and_unexplored_runs_are_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with pytest.raises(RunError, match="not explored"):
        ExploredRun.load(run)
    explore_run(run, embed=hashing_embed)
    explored = ExploredRun.load(run)
    with pytest.raises(RunError, match="'nonesuch' is not an error slice.*'delivery'"):
        explored.region(RegionRef("slice", "nonesuch"))
    with pytest.raises(RunError, match="cluster 99 does not exist"):
        explored.region(RegionRef("cluster", "99"))
    with pytest.raises(SettingsError, match="unknown region kind 'topic'"):
        RegionRef("topic", "1")
    with pytest.raises(SettingsError, match="'refunds' is not a label.*billing, shipping"):
        explored.region(RegionRef("confusion", "refunds -> billing"))
    with pytest.raises(SettingsError, match="TRUE -> PREDICTED"):
        explored.region(RegionRef("confusion", "billing"))
    with pytest.raises(SettingsError, match="A and B different labels"):
        explored.region(RegionRef("confusion", "tech -> tech"))
    with pytest.raises(RunError, match="no pool row of true tech as billing"):
        explored.region(RegionRef("confusion", "tech -> billing"))


def test_rows_are_placed_and_assigned_as_the_pool_was(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    explored = ExploredRun.load(run)
    logits = read_logits(run)
    placed = explored.place(logits[180:190])
    points = explored.points.iloc[180:190]
    np.testing.assert_allclose(placed["tsne"], points[["tsne_x", "tsne_y"]], atol=1e-5)
    np.testing.assert_allclose(placed["sparse_pca"], points[["sparse_pca_x", "sparse_pca_y"]],
                               atol=1e-4)
    assert (explored.assign(logits[180:190]) == points["cluster"]).all()
    far = np.full((1, 3), 50.0, np.float32)  # far outside every cluster's reach
    assert explored.assign(far)[0] == NOISE


def test_a_concept_reaches_test_rows_with_any_of_its_terms(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    slices = pd.read_csv(run / SLICES_FILE, keep_default_na=False)
    terms = ["delivery", "courier", "parcel", "tracking", "express", "fee", "refund"]
    slices.loc[0, ["slice", "term", "terms"]] = [" + ".join(terms), " · ".join(terms),
                                                 "; ".join(terms)]
    slices.to_csv(run / SLICES_FILE, index=False)
    pd.DataFrame({"slice": [" + ".join(terms)] * 25,
                  "id": range(180, 205)}).to_parquet(run / "slice_rows.parquet")
    with_test_split(run, [0, 70, 181])  # a billing row, a "parcel courier" row, a planted one
    concept = ExploredRun.load(run).regions("slice")[0]
    assert concept.is_concept and concept.terms == tuple(terms)
    assert list(concept.test_rows) == [1, 2]
    assert concept.name == ("delivery · courier · parcel · tracking · express +2 more · "
                            "billing → shipping")
    assert concept.title.startswith("concept: delivery · courier")
    explored = ExploredRun.load(run)
    assert explored.region(RegionRef("slice", "parcel")) == concept  # a word of it names it
    with pytest.raises(RunError, match="not an error slice"):
        explored.region(RegionRef("slice", "parcel | tech"))
    assert concept.topic == "delivery · courier · parcel · tracking · express"


def test_a_run_explored_before_concepts_and_evidence_still_reads(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    pd.read_csv(run / SLICES_FILE).drop(columns=["terms"]).to_csv(run / SLICES_FILE,
                                                                  index=False)
    explore = json.loads((run / "explore.json").read_text())
    for key in ("target_kind", "target_key", "target_name", "target_reason"):
        explore.pop(key)
    (run / "explore.json").write_text(json.dumps(explore))
    explored = ExploredRun.load(run)
    assert explored.regions("slice")[0].terms == ("delivery",)
    # the default target falls back to the weighted score's cluster
    assert explored.default_target().key == str(explored.explore.picked_cluster)
    assert explored.by_evidence()[0].kind in ("cluster", "slice")


def test_slices_lead_when_error_clusters_hold_few_mistakes(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    explored = ExploredRun.load(run)
    assert not explored.slices_lead  # the planted cluster holds every mistake
    few = replace(explored, explore=replace(explored.explore, in_error_clusters=2))
    assert few.slices_lead


def test_the_kinds_table_and_the_reference_name_the_same_kinds(tmp_path: Path) -> None:
    """region_ref stays torch-free, so it lists the kinds itself; the table is the truth,
    and the explorer writes each kind's files through it."""
    assert tuple(kind.name for kind in REGION_KINDS) == REGION_KIND_NAMES
    assert all(issubclass(kind.row_class, Region) for kind in REGION_KINDS)
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    for kind in REGION_KINDS:
        assert all((run / name).is_file() for name in kind.files), kind.name
        assert (kind.write is None) == (not kind.files)


def test_regions_merged_by_hand_are_one_target_named_by_its_parts(tmp_path: Path) -> None:
    """A union of a slice and a cluster: their rows, test rows and reach together, the
    confusion of most of its mistakes, one key whatever the order the parts were picked,
    found again from its key (the store's, the command line's)."""
    from topex_core.explorer.region_unions import union_ref
    from topex_core.explorer.regions import RegionUnion

    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    with_test_split(run, [0, 1, 70, 181, 182, 183])
    explored = ExploredRun.load(run)
    delivery = explored.region(RegionRef("slice", "delivery"))
    cluster = explored.regions("cluster")[0]
    cell = explored.region(RegionRef("confusion", "billing -> shipping"))
    ref = union_ref([delivery.ref, cluster.ref])
    assert ref == union_ref([cluster.ref, delivery.ref, cluster.ref])
    union = explored.region(ref)
    assert isinstance(union, RegionUnion) and union.kind == "union"
    assert list(union.rows) == sorted(set(delivery.rows) | set(cluster.rows))
    assert union.errors == 25 and union.label == "billing"
    assert union.confusion == "billing → shipping"
    # its parts in the key's order, whatever order they were picked in
    assert union.name == f"{cluster.topic} + delivery · billing → shipping"
    assert union.title.startswith(f"union of 2 regions: {cluster.topic} + delivery")
    assert list(union.test_rows) == [3, 4, 5]
    assert set(union.reach(test=False)) == set(delivery.reach(test=False)) | set(
        cluster.reach(test=False))
    assert union.defining_terms == ()  # a cluster is not defined by terms
    with_cell = explored.region(union_ref([delivery.ref, cell.ref]))
    assert list(with_cell.reach(test=True)) == [2, 3, 4, 5]  # the cell's reach joins
    # a prompt asks for the parts' subjects; a cell's rows share none, so it adds none
    assert union.subject == f"{cluster.topic} + delivery" and with_cell.subject == "delivery"
    assert with_cell.forms == ()
    # listed by no kind, but found where a round names its targets
    assert union not in explored.regions() and explored.targeted([ref]) == [union]
    assert explored.targeted([union_ref([delivery.ref, RegionRef("cluster", "77")])]) == []
    with pytest.raises(SettingsError, match="two to 8 different regions, not 1"):
        union_ref([delivery.ref, delivery.ref])
    with pytest.raises(SettingsError, match="not 9"):
        union_ref([RegionRef("cluster", str(number)) for number in range(9)])
    with pytest.raises(SettingsError, match="not other unions"):
        union_ref([ref, delivery.ref])
    with pytest.raises(RunError, match="cluster 77 does not exist"):
        explored.region(RegionRef("union", "slice:delivery ; cluster:77"))
    with pytest.raises(SettingsError, match="two to 8"):
        explored.region(RegionRef("union", "slice:delivery"))


def test_the_pick_at_explore_time_counts_the_test_split(tmp_path: Path) -> None:
    """explore.json's default target is weighed with each region's test rows: with 15 test
    rows the planted slice can be repaired and measured; with 3 the reason says that no
    region can (weighed without the test split, it would not know)."""
    measured = make_run(tmp_path / "measured")
    with_test_split(measured, list(range(180, 195)))
    explore_run(measured, embed=hashing_embed)
    explored = ExploredRun.load(measured)
    target = explored.default_target()
    assert (target.kind, target.key) == ("slice", "delivery") and len(target.test_rows) == 15
    assert "with enough rows to repair and measure" in explored.explore.target_reason
    few = make_run(tmp_path / "few")
    with_test_split(few, [0, 1, 70, 181, 182, 183])
    explore_run(few, embed=hashing_embed)
    assert "No region has 10 mistakes and 10 test rows" in (
        ExploredRun.load(few).explore.target_reason)


def test_a_table_lists_a_slice_by_its_scope_before_its_words(tmp_path: Path) -> None:
    """Two slices of one long term differ only by their scope; a table cuts long names at
    its edge, so the scope comes first."""
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    slices = pd.read_csv(run / SLICES_FILE, keep_default_na=False)
    slices.loc[0, ["slice", "term", "terms", "true_label"]] = [
        "parcel courier | billing", "parcel courier", "parcel courier", "billing"]
    slices.to_csv(run / SLICES_FILE, index=False)
    pd.DataFrame({"slice": ["parcel courier | billing"] * 25,
                  "id": range(180, 205)}).to_parquet(run / "slice_rows.parquet")
    scoped = ExploredRun.load(run).regions("slice")[0]
    assert scoped.listing == "slice (true billing): parcel courier"
    assert scoped.title.startswith("slice: parcel courier (true billing)")
    cluster = ExploredRun.load(run).regions("cluster")[0]
    assert cluster.listing == f"{cluster.heading}: {cluster.topic}"
