"""An explored run as one object: what the explorer found, read once, and how later rows
are placed into it.

``ExploredRun.load(run_dir)`` reads run.json, explore.json, the points (with their
clusters and map coordinates), the clusters and slices tables and the test split once.
It holds the normaliser, the fitted space and the fitted maps, and offers:

- ``regions()`` / ``region(ref)``: the regions as typed rows, one list per kind of
  ``region_kinds.REGION_KINDS`` — :class:`ErrorCluster` (by rank), :class:`ErrorSlice`
  (by p; a concept is a slice of several terms) and :class:`ConfusionCell` (true A,
  predicted B) — each with its pool rows and its test rows (how test rows join a region is
  its kind's: see ``region_kinds``); ``by_evidence()`` the ranked kinds strongest first,
  one region per failure (``same_failure(region)``: those folded into it),
  ``default_target()`` the first (``explorer.evidence``), ``choices()`` those and the
  regions an analyst picks by hand.
- ``space_points(logits, features)``: rows with these logits (and base-model features)
  in the explored space, through the same normaliser and fitted space (never a refit).
- ``place(logits, features)``: the same rows in both 2D maps, through the maps' transform.
- ``assign(logits, features)``: the error cluster (or NOISE) each such row falls in.

Retraining, the augmenter, the pages and the experiment harness read the explorer
through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data.texts import point_texts
from topex_core.errors import RunError
from topex_core.exploredir import read_explore, read_slices
from topex_core.explorer.clustering import NOISE, assign_to_clusters
from topex_core.explorer.concepts import fisher_p
from topex_core.explorer.evidence import Evidence, rank_by_evidence, same_failures
from topex_core.explorer.naming import NO_SHARED_WORDING
from topex_core.explorer.normalise import MinMaxScaler
from topex_core.explorer.projection import MAP_NAMES, FittedMaps, load_maps
from topex_core.explorer.region_kinds import REGION_KINDS, region_kind
from topex_core.explorer.regions import (
    ConfusionCell,
    ErrorCluster,
    ErrorSlice,
    Region,
    slice_name,
    slice_terms,
)
from topex_core.explorer.row_embeddings import RowEmbeddings
from topex_core.explorer.space import FittedSpace, load_space, needs_features
from topex_core.explorer.terms import row_terms
from topex_core.records import ExploreResult, RunRecord
from topex_core.region_ref import RegionRef
from topex_core.rundir import read_features, read_logits, read_points, read_run, read_test_points

FEW_IN_CLUSTERS = 0.2  # below this share of the mistakes, error clusters do not lead
# what the augmenter needs of the explorer besides the run itself, so that it reads the
# explorer through this module alone
__all__ = ["MAP_NAMES", "NOISE", "NO_SHARED_WORDING", "ConfusionCell", "ErrorCluster",
           "ErrorSlice", "ExploredRun", "RowEmbeddings", "fisher_p", "row_terms",
           "Region", "in_error_regions", "slice_name", "slice_terms"]


@dataclass(frozen=True)
class ExploredRun:
    """A run after ``explore_run`` (see the module). ``points`` are ``rundir.read_points``
    (with cluster and map columns); ``test_points`` None without a test split."""

    run_dir: Path
    record: RunRecord
    explore: ExploreResult
    points: pd.DataFrame = field(repr=False)
    clusters: pd.DataFrame = field(repr=False)
    slices: pd.DataFrame = field(repr=False)
    slice_members: dict[str, np.ndarray] = field(repr=False)
    test_points: pd.DataFrame | None = field(repr=False)

    @classmethod
    def load(cls, run_dir: Path) -> ExploredRun:
        """RunError when ``run_dir`` is not a run or not explored yet."""
        run_dir = Path(run_dir)
        record = read_run(run_dir)
        explore, clusters = read_explore(run_dir)
        slices, members = read_slices(run_dir)
        return cls(run_dir, record, explore, read_points(run_dir), clusters, slices, members,
                   read_test_points(run_dir))

    @property
    def label_names(self) -> list[str]:
        return list(self.record.label_names)

    @property
    def pair(self) -> bool:
        """Whether rows are sentence pairs."""
        return "text_pair" in self.points.columns

    # placing rows ---------------------------------------------------------------------

    @cached_property
    def normaliser(self) -> MinMaxScaler:
        """The explorer's normaliser: later logits land in the same [-1, 1] space."""
        return MinMaxScaler(np.asarray(self.explore.normaliser_minimums),
                            np.asarray(self.explore.normaliser_maximums))

    @cached_property
    def space(self) -> FittedSpace:
        return load_space(self.run_dir, self.explore.space)

    @cached_property
    def maps(self) -> FittedMaps:
        return load_maps(self.run_dir)

    def space_points(self, logits: np.ndarray, features: np.ndarray | None = None, *,
                     test: bool = False) -> np.ndarray:
        """(n, D) points of rows with these (n, C) logits in the explored space. In a
        feature space the rows' base-model features are ``features``, or else the pool's
        (the test split's with ``test``), computed once per run."""
        normalised = self.normaliser.transform(logits)
        if needs_features(self.explore.space) and features is None:
            features = self._cached_features(test=test)
        return self.space.points(normalised, features)

    def place(self, logits: np.ndarray, features: np.ndarray | None = None
              ) -> dict[str, np.ndarray]:
        """{map: (n, 2)} where rows with these logits (and features) lie in the run's
        fitted maps (the maps' transform, never a refit)."""
        return self.maps.transform(self.space_points(logits, features))

    def assign(self, logits: np.ndarray, features: np.ndarray | None = None, *,
               test: bool = False) -> np.ndarray:
        """(n,) the cluster each row with these logits falls in, NOISE outside every
        cluster's reach."""
        return assign_to_clusters(self._pool_space_points, self.points["cluster"].to_numpy(),
                                  self.space_points(logits, features, test=test))

    @cached_property
    def _pool_space_points(self) -> np.ndarray:
        return self.space_points(read_logits(self.run_dir))

    def _cached_features(self, *, test: bool) -> np.ndarray:
        features = read_features(self.run_dir, test=test)
        if features is not None:
            return features
        # only a feature space needs the model (and torch), and only once per run
        from topex_core.training.features import run_features

        return run_features(self.run_dir, test=test)

    # regions --------------------------------------------------------------------------

    def regions(self, kind: str | None = None) -> list[Region]:
        """Every region, kind by kind in ``REGION_KINDS``' order (error clusters by rank,
        error slices by p, confusion cells by their mistakes); one kind with ``kind``."""
        return [region for region in self._regions if kind in (None, region.kind)]

    def by_evidence(self) -> list[Region]:
        """Every ranked region, strongest first on one scale of evidence (``evidence``),
        without those that are a stronger one's failure found again (``same_failure``)."""
        return [self._region_of(e) for e in self.evidence()]

    def same_failure(self, region: Region) -> list[Region]:
        """The regions folded into ``region``: the same failure found again
        (``evidence.same_failures``), strongest first; none for most regions."""
        return [self._region_of(folded) for folded, into in self._weighed[1].items()
                if into == region.ref]

    def choice_title(self, region: Region) -> str:
        """How a picker lists ``region``: its title, and for a region folded into another
        (``same_failure``) the region that holds it."""
        into = self._weighed[1].get(region.ref)
        return (region.title if into is None
                else f"{region.title} (the same failure as {self._by_ref[into].listing})")

    def choices(self) -> list[Region]:
        """What an analyst picks a target from: the ranked regions strongest first, then
        those folded into them, then those of the kinds an analyst picks by hand
        (confusion cells)."""
        return [*self.by_evidence(),
                *(self._region_of(folded) for folded in self._weighed[1]),
                *(region for kind in REGION_KINDS if kind.evidence is None
                  for region in self.regions(kind.name))]

    def _region_of(self, evidence_or_ref: Evidence | RegionRef) -> Region:
        return self._by_ref[RegionRef(evidence_or_ref.kind, evidence_or_ref.key)]

    @cached_property
    def _by_ref(self) -> dict[RegionRef, Region]:
        return {region.ref: region for region in self.regions()}

    @property
    def slices_lead(self) -> bool:
        """Whether the error slices hold the mistakes the error clusters miss: the clusters
        hold under ``FEW_IN_CLUSTERS`` of them and the slices more (typical of two classes,
        whose logits are one-dimensional)."""
        explore = self.explore
        return (explore.mistakes > 0
                and explore.in_error_clusters < FEW_IN_CLUSTERS * explore.mistakes
                and explore.in_slices > explore.in_error_clusters)

    def evidence(self) -> list[Evidence]:
        """The evidence of every ranked region, strongest first (those folded into a
        stronger one left out: ``by_evidence``)."""
        return list(self._weighed[0])

    @cached_property
    def _weighed(self) -> tuple[tuple[Evidence, ...], dict[RegionRef, RegionRef]]:
        """(the ranked evidence of the regions that stand, {folded region: the region it is
        folded into}), weighed once per explored run: the pages ask on every rerun. With a
        test split each region's test rows count (``Evidence.actionable``)."""
        ranked = rank_by_evidence(
            replace(evidence, test_rows=None if self.test_points is None
                    else len(self._region_of(evidence).test_rows))
            for kind in REGION_KINDS if kind.evidence is not None
            for evidence in kind.evidence(self))
        regions = [self._region_of(evidence) for evidence in ranked]
        wrong = ~self.points["correct"].to_numpy(bool)
        folded = same_failures(ranked, [region.confusion for region in regions],
                               [np.unique(region.rows[wrong[region.rows]])
                                for region in regions])
        return (tuple(evidence for position, evidence in enumerate(ranked)
                      if position not in folded),
                {regions[position].ref: regions[into].ref
                 for position, into in folded.items()})

    def default_target(self) -> Region | None:
        """The strongest region (explore.json's pick; a run explored before regions were
        weighed on one scale: the weighted score's cluster)."""
        target = self.explore.target
        if target is None and self.explore.picked_cluster is not None:
            target = ("cluster", str(self.explore.picked_cluster))
        found = [region for region in self.regions() if (region.kind, region.key) == target]
        return found[0] if found else None

    def region(self, ref: RegionRef) -> Region:
        """The region ``ref`` names (its kind may find one by another name: a slice by its
        bare term); RunError saying what exists when it names none."""
        found = [region for region in self.regions(ref.kind) if region.key == ref.key]
        return found[0] if found else region_kind(ref.kind).find(self, ref.key)

    def targeted(self, refs: Iterable[RegionRef]) -> list[Region]:
        """The regions samples were made for (``refs``), those that this exploration still
        has; the default target when none is named."""
        wanted = set(refs)
        if not wanted and (picked := self.default_target()) is not None:
            wanted = {picked.ref}
        listed = [region for region in self.regions() if region.ref in wanted]
        # a region no kind lists (a union) is built from its key, while its parts exist
        return listed + [built for ref in sorted(wanted - {region.ref for region in listed},
                                                 key=str)
                         if (built := self._found(ref)) is not None]

    def _found(self, ref: RegionRef) -> Region | None:
        try:
            return self.region(ref)
        except RunError:  # a part of it this exploration no longer has
            return None

    def error_cluster(self, number: int) -> ErrorCluster | None:
        """The error cluster numbered ``number`` (a point's ``cluster``); None when that
        cluster is noise or not an error cluster."""
        return next((region for region in self.regions("cluster") if region.cluster == number),
                    None)

    def mistakes_held(self, regions: Iterable[Region]) -> int:
        """How many of the pool's mistakes lie in at least one of ``regions``."""
        wrong = ~self.points["correct"].to_numpy(bool)
        inside = np.zeros(len(wrong), bool)
        for region in regions:
            inside[region.rows] = True
        return int((inside & wrong).sum())

    def mistakes_outside(self) -> np.ndarray:
        """(N,) bool over the points: the mistakes no error cluster and no slice holds."""
        in_cluster, in_slice = in_error_regions(self.points, self.clusters, self.slice_members)
        return ~self.points["correct"].to_numpy(bool) & ~in_cluster & ~in_slice

    @cached_property
    def _regions(self) -> list[Region]:
        return [region for kind in REGION_KINDS for region in kind.regions(self)]

    # where rows fall, computed once per run for the kinds' test rows and reach -----------

    @cached_property
    def test_clusters(self) -> np.ndarray:
        """(M,) the cluster of each test row (empty without a test split or without an
        error cluster to join)."""
        test_logits = read_logits(self.run_dir, test=True)
        if test_logits is None or not self.clusters["is_error_cluster"].astype(bool).any():
            return np.zeros(0, np.int64)
        return self.assign(test_logits, test=True)

    def row_terms(self, *, test: bool) -> list[set[str]]:
        """The terms (``explorer.terms.row_terms``) of each test row with ``test``, else of
        each pool row; empty without a test split."""
        return self._test_terms if test else self._pool_terms

    @cached_property
    def _test_terms(self) -> list[set[str]]:
        return ([] if self.test_points is None
                else [set(row_terms(text)) for text in point_texts(self.test_points)])

    @cached_property
    def _pool_terms(self) -> list[set[str]]:
        return [set(row_terms(text)) for text in point_texts(self.points)]


def in_error_regions(points: pd.DataFrame, clusters: pd.DataFrame,
                     slice_rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool masks over explored ``points`` (id, cluster): in an error cluster of
    ``clusters``, and in an error slice (``slice_rows``: {slice: row ids})."""
    error_clusters = clusters.loc[clusters["is_error_cluster"].astype(bool), "cluster"]
    in_cluster = points["cluster"].isin(error_clusters).to_numpy()
    in_slice = points["id"].isin(
        np.concatenate([*slice_rows.values(), np.zeros(0, np.int64)])).to_numpy()
    return in_cluster, in_slice
