"""An explored run as one object: what the explorer found, read once, and how later rows
are placed into it.

``ExploredRun.load(run_dir)`` reads run.json, explore.json, the points (with their
clusters and map coordinates), the clusters and slices tables and the test split once.
It holds the normaliser, the fitted space and the fitted maps, and offers:

- ``regions()`` / ``region(kind, key)``: the error regions as typed rows
  (``explorer.regions``) — :class:`ErrorCluster` (by rank) and :class:`ErrorSlice` (by
  p; a concept is a slice of several terms), both :class:`Region`s with their pool rows
  and their test rows; ``by_evidence()`` the same strongest first, ``default_target()``
  the first (``explorer.evidence``). A test row joins a cluster when its point in
  the explored space lies within the cluster's reach of a member
  (``clustering.assign_to_clusters``), and a slice when its text has the slice's term
  (a concept: one of its terms; and, for a slice of one label's rows, that label): a
  slice is defined by its words, so it reaches rows the model never saw.
- ``space_points(logits, features)``: rows with these logits (and base-model features)
  in the explored space, through the same normaliser and fitted space (never a refit).
- ``place(logits, features)``: the same rows in both 2D maps, through the maps' transform.
- ``assign(logits, features)``: the error cluster (or NOISE) each such row falls in.

Retraining, the augmenter, the pages and the experiment harness read the explorer
through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data.texts import point_texts
from topex_core.errors import RunError, SettingsError
from topex_core.explorer.clustering import NOISE, assign_to_clusters
from topex_core.explorer.evidence import Evidence, rank_by_evidence
from topex_core.explorer.normalise import MinMaxScaler
from topex_core.explorer.projection import MAP_NAMES, FittedMaps, load_maps
from topex_core.explorer.regions import (
    ErrorCluster,
    ErrorSlice,
    Region,
    slice_name,
    slice_terms,
)
from topex_core.explorer.space import FittedSpace, load_space, needs_features
from topex_core.explorer.terms import phrases
from topex_core.records import ExploreResult, RunRecord
from topex_core.region_ref import RegionRef
from topex_core.rundir import (
    read_explore,
    read_features,
    read_logits,
    read_points,
    read_run,
    read_slices,
    read_test_points,
)

FEW_IN_CLUSTERS = 0.2  # below this share of the mistakes, error clusters do not lead
__all__ = ["MAP_NAMES", "NOISE", "ErrorCluster", "ErrorSlice", "ExploredRun",
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
        """Every error cluster (by rank), then every error slice (by p); one kind with
        ``kind``."""
        return [region for region in self._regions if kind in (None, region.kind)]

    def by_evidence(self) -> list[Region]:
        """Every region, strongest first on one scale of evidence (``evidence``)."""
        regions = {(region.kind, region.key): region for region in self.regions()}
        return [regions[(e.kind, e.key)] for e in self.evidence()]

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
        """The evidence of every region, strongest first."""
        return list(self._evidence)

    @cached_property
    def _evidence(self) -> tuple[Evidence, ...]:
        """Weighed once per explored run: the pages ask for it on every rerun."""
        wrong = ~self.points["correct"].to_numpy(bool)
        return tuple(rank_by_evidence(
            self.clusters, self.slices,
            {region.key: region.name for region in self.regions("cluster")},
            {region.key: region.name for region in self.regions("slice")},
            rows=len(wrong), errors=int(wrong.sum())))

    def default_target(self) -> Region | None:
        """The strongest region (explore.json's pick; a run explored before regions were
        weighed on one scale: the weighted score's cluster)."""
        target = self.explore.target
        if target is None and self.explore.picked_cluster is not None:
            target = ("cluster", str(self.explore.picked_cluster))
        found = [region for region in self.regions() if (region.kind, region.key) == target]
        return found[0] if found else None

    def region(self, ref: RegionRef) -> Region:
        """The region ``ref`` names (a slice may be named by its bare term: its best-ranked
        slice, or the concept holding it); RunError listing what exists when it does
        not."""
        kind, key = ref.kind, ref.key
        found = [region for region in self.regions(kind) if region.key == key]
        if kind == "slice" and not found:
            found = self._slices_named(key)
        if found:
            return found[0]
        if kind == "cluster":
            if not key.lstrip("-").isdigit():
                raise SettingsError(f"'{key}': a cluster is named by its number")
            if int(key) in set(self.clusters["cluster"]):
                raise RunError(f"cluster {key} of {self.run_dir} is not an error cluster")
            known = ", ".join(region.key for region in self.regions("cluster"))
            raise RunError(f"cluster {key} does not exist in {self.run_dir}; error "
                           f"clusters: {known or 'none'}")
        best = ", ".join(f"'{region.key}'" for region in self.regions("slice")[:5])
        raise RunError(f"'{key}' is not an error slice of {self.run_dir}; the first slices: "
                       f"{best or 'none (the model fails no term more than the rest)'}")

    def _slices_named(self, name: str) -> list[Region]:
        """The slices a bare term names, best first: its own, else a concept holding it
        ("ate", or "ate | entailment", finds "ate + paid + wrote | entailment")."""
        term, _, true_label = name.partition(" | ")
        slices = self.regions("slice")
        return ([region for region in slices if region.term == name]
                or [region for region in slices if term in region.terms
                    and (not true_label or region.true_label == true_label)])

    def targeted(self, refs: Iterable[RegionRef]) -> list[Region]:
        """The regions samples were made for (``refs``), those that this exploration still
        has; the default target when none is named."""
        wanted = set(refs)
        if not wanted and (picked := self.default_target()) is not None:
            wanted = {picked.ref}
        return [region for region in self.regions() if region.ref in wanted]

    @cached_property
    def _regions(self) -> list[Region]:
        return [*self._error_clusters(), *self._error_slices()]

    def _error_clusters(self) -> list[ErrorCluster]:
        errors = self.clusters[self.clusters["is_error_cluster"].astype(bool)]
        cluster_of = self.points["cluster"].to_numpy()
        return [ErrorCluster(
            "cluster", str(int(row["cluster"])), str(row["name"]),
            tuple(_keywords(row.get("keywords"))), str(row["true_majority"]),
            str(row["confusion"] or ""), np.flatnonzero(cluster_of == row["cluster"]),
            int(row["errors"]), partial(self._cluster_test_rows, int(row["cluster"])),
            partial(self._cluster_reach, int(row["cluster"])), rank=int(row["rank"]),
            true_majority=str(row["true_majority"]),
            pred_majority=str(row["pred_majority"]),
            name_coverage=float(row.get("name_coverage", float("nan"))))
            for row in errors.sort_values("rank").to_dict("records")]

    def _error_slices(self) -> list[ErrorSlice]:
        ids = self.points["id"].to_numpy()
        regions = []
        for row in self.slices.to_dict("records"):
            terms, true_label = slice_terms(row), str(row["true_label"])
            regions.append(ErrorSlice(
                "slice", str(row["slice"]), slice_name(row), terms,
                true_label or row["confusion"].split(" → ")[0], str(row["confusion"]),
                np.flatnonzero(np.isin(ids, self.slice_members[row["slice"]])),
                int(row["errors"]), partial(self._slice_test_rows, terms, true_label),
                partial(self._slice_reach, terms), term=str(row["term"]), true_label=true_label,
                error_rate=float(row["error_rate"]), base_rate=float(row["base_rate"]),
                lift=float(row["lift"]), q=float(row["q"])))
        return regions

    def _cluster_test_rows(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self._test_clusters == cluster)

    def _cluster_reach(self, cluster: int, test: bool) -> np.ndarray:
        if test:
            return self._cluster_test_rows(cluster)
        return np.flatnonzero(self.points["cluster"].to_numpy() == cluster)

    @cached_property
    def _test_clusters(self) -> np.ndarray:
        """(M,) the cluster of each test row (empty without a test split or without an
        error cluster to join)."""
        test_logits = read_logits(self.run_dir, test=True)
        if test_logits is None or not self.clusters["is_error_cluster"].astype(bool).any():
            return np.zeros(0, np.int64)
        return self.assign(test_logits, test=True)

    @cached_property
    def _test_terms(self) -> list[set[str]]:
        return ([] if self.test_points is None
                else [set(phrases(text)) for text in point_texts(self.test_points)])

    @cached_property
    def _pool_terms(self) -> list[set[str]]:
        return [set(phrases(text)) for text in point_texts(self.points)]

    def _slice_test_rows(self, terms: tuple[str, ...], true_label: str) -> np.ndarray:
        inside = self._slice_reach(terms, True)
        if true_label and len(inside):
            labels = self.test_points["label"].astype(str).to_numpy()
            inside = inside[labels[inside] == true_label]
        return inside

    def _slice_reach(self, terms: tuple[str, ...], test: bool) -> np.ndarray:
        if test and self.test_points is None:
            return np.zeros(0, np.int64)
        held = self._test_terms if test else self._pool_terms
        return np.flatnonzero(np.array([not row.isdisjoint(terms) for row in held], bool))


def in_error_regions(points: pd.DataFrame, clusters: pd.DataFrame,
                     slice_rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool masks over explored ``points`` (id, cluster): in an error cluster of
    ``clusters``, and in an error slice (``slice_rows``: {slice: row ids})."""
    error_clusters = clusters.loc[clusters["is_error_cluster"].astype(bool), "cluster"]
    in_cluster = points["cluster"].isin(error_clusters).to_numpy()
    in_slice = points["id"].isin(
        np.concatenate([*slice_rows.values(), np.zeros(0, np.int64)])).to_numpy()
    return in_cluster, in_slice


def _keywords(value: object) -> list[str]:
    """clusters.csv's ``keywords`` ("; "-separated; empty or missing: none)."""
    return [word for word in str(value).split("; ") if word] if isinstance(value, str) else []
