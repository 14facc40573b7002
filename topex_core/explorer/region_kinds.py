"""The kinds of region, one row each, as ``generation/registry.py`` lists the backends: a
new kind is one module of builders and one row of ``REGION_KINDS``.

A row says what a region of the kind is (its typed class in ``regions``), which files of
the run directory hold it (``rundir``), how its regions are built from an explored run —
which pool rows it holds, how test rows join it, and its reach — how it enters the
evidence ranking (``evidence``; None: an analyst picks it by hand) and how a key that
names none of its regions is answered. ``ExploredRun`` iterates the table; nothing outside
the explorer branches on a kind's name.

- cluster: an error cluster of the explored space (clusters.csv); a test row joins it when
  its point lies within the cluster's reach of a member (``clustering.assign_to_clusters``).
- slice: the rows holding a term, or one of a concept's terms, of one label when scoped
  (slices.csv, slice_rows.parquet); a test row joins it by its text, so a slice reaches
  rows the model never saw.
- confusion: true A, predicted B (``confusion_cells``; from the points, no file of its own);
  a test row joins it when the base model made that mistake on it.
- union: several regions an analyst merged into one target (``region_unions``; none
  listed, each built when it is named); its rows, test rows and reach are its parts'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from topex_core.errors import RunError, SettingsError
from topex_core.exploredir import (
    CLUSTERS_FILE,
    SLICE_ROWS_FILE,
    SLICES_FILE,
    WORDS_FILE,
    write_clusters,
    write_slices,
)
from topex_core.explorer import confusion_cells, region_unions
from topex_core.explorer.evidence import Evidence, cluster_evidence, slice_evidence
from topex_core.explorer.regions import (
    ConfusionCell,
    ErrorCluster,
    ErrorSlice,
    Region,
    RegionUnion,
    slice_name,
    slice_terms,
)
from topex_core.explorer.scoring import SCORE_COLUMNS
from topex_core.explorer.slices import term_and_scope

if TYPE_CHECKING:
    from topex_core.explorer.explored import ExploredRun


@dataclass(frozen=True)
class BuiltRegions:
    """What one exploration found, as the kinds' files hold it: clusters.csv's table and
    each cluster's words, slices.csv's table and each slice's row ids."""

    clusters: pd.DataFrame
    words: dict[str, list]
    slices: pd.DataFrame
    slice_rows: dict[str, np.ndarray]


@dataclass(frozen=True)
class RegionKind:
    """One kind of region (see the module). ``regions(explored)``: every region of the kind,
    in the kind's order; ``evidence(explored)``: its regions' evidence, None when the kind
    is not ranked; ``find(explored, key)``: the region a key names that is not one of
    ``regions`` (a slice's bare term), else RunError saying what exists; ``write(run_dir,
    built)``: writes its ``files`` (``exploredir``), None for a kind made from the points
    alone."""

    name: str
    row_class: type[Region]
    files: tuple[str, ...]
    regions: Callable[[ExploredRun], list[Region]]
    evidence: Callable[[ExploredRun], list[Evidence]] | None
    find: Callable[[ExploredRun, str], Region]
    write: Callable[[Path, BuiltRegions], None] | None


def error_clusters(explored: ExploredRun) -> list[ErrorCluster]:
    """The error clusters of clusters.csv, by rank."""
    errors = explored.clusters[explored.clusters["is_error_cluster"].astype(bool)]
    cluster_of = explored.points["cluster"].to_numpy()

    def reach(cluster: int, test: bool) -> np.ndarray:
        return np.flatnonzero((explored.test_clusters if test else cluster_of) == cluster)

    return [ErrorCluster(
        "cluster", str(int(row["cluster"])), str(row["name"]),
        tuple(_keywords(row.get("keywords"))), str(row["true_majority"]),
        str(row["confusion"] or ""), np.flatnonzero(cluster_of == row["cluster"]),
        int(row["errors"]), partial(reach, int(row["cluster"]), True),
        partial(reach, int(row["cluster"])), rank=int(row["rank"]),
        true_majority=str(row["true_majority"]), pred_majority=str(row["pred_majority"]),
        name_coverage=float(row.get("name_coverage", float("nan"))),
        scores={name: float(row[name]) for name in SCORE_COLUMNS if name in row})
        for row in errors.sort_values("rank").to_dict("records")]


def find_cluster(explored: ExploredRun, key: str) -> Region:
    if not key.lstrip("-").isdigit():
        raise SettingsError(f"'{key}': a cluster is named by its number")
    if int(key) in set(explored.clusters["cluster"]):
        raise RunError(f"cluster {key} of {explored.run_dir} is not an error cluster")
    known = ", ".join(region.key for region in explored.regions("cluster"))
    raise RunError(f"cluster {key} does not exist in {explored.run_dir}; error clusters: "
                   f"{known or 'none'}")


def error_slices(explored: ExploredRun) -> list[ErrorSlice]:
    """The error slices of slices.csv, by p."""
    ids = explored.points["id"].to_numpy()

    def reach(terms: tuple[str, ...], test: bool) -> np.ndarray:
        held = explored.row_terms(test=test)
        return np.flatnonzero(np.array([not row.isdisjoint(terms) for row in held], bool))

    def test_rows(terms: tuple[str, ...], true_label: str) -> np.ndarray:
        inside = reach(terms, True)
        if true_label and len(inside):
            labels = explored.test_points["label"].astype(str).to_numpy()
            inside = inside[labels[inside] == true_label]
        return inside

    regions = []
    for row in explored.slices.to_dict("records"):
        terms, true_label = slice_terms(row), str(row["true_label"])
        regions.append(ErrorSlice(
            "slice", str(row["slice"]), slice_name(row), terms,
            true_label or row["confusion"].split(" → ")[0], str(row["confusion"]),
            np.flatnonzero(np.isin(ids, explored.slice_members[row["slice"]])),
            int(row["errors"]), partial(test_rows, terms, true_label), partial(reach, terms),
            term=str(row["term"]), true_label=true_label, error_rate=float(row["error_rate"]),
            base_rate=float(row["base_rate"]), lift=float(row["lift"]), q=float(row["q"]),
            example_ids=tuple(int(i) for i in str(row.get("example_ids") or "").split("; ")
                              if i.strip().lstrip("-").isdigit())))
    return regions


def find_slice(explored: ExploredRun, name: str) -> Region:
    """The slice a bare term names, best first: its own, else a concept holding it ("ate",
    or "ate | entailment", finds "ate + paid + wrote | entailment")."""
    term, true_label = term_and_scope(name)
    slices = explored.regions("slice")
    found = ([region for region in slices if region.term == name]
             or [region for region in slices if term in region.terms
                 and (not true_label or region.true_label == true_label)])
    if found:
        return found[0]
    best = ", ".join(f"'{region.key}'" for region in slices[:5])
    raise RunError(f"'{name}' is not an error slice of {explored.run_dir}; the first slices: "
                   f"{best or 'none (the model fails no term more than the rest)'}")


def _cluster_evidence(explored: ExploredRun) -> list[Evidence]:
    wrong = ~explored.points["correct"].to_numpy(bool)
    return cluster_evidence(explored.clusters,
                            {region.key: region.name for region in explored.regions("cluster")},
                            rows=len(wrong), errors=int(wrong.sum()))


def _slice_evidence(explored: ExploredRun) -> list[Evidence]:
    return slice_evidence(explored.slices,
                          {region.key: region.name for region in explored.regions("slice")})


def _keywords(value: object) -> list[str]:
    """clusters.csv's ``keywords`` ("; "-separated; empty or missing: none)."""
    return [word for word in str(value).split("; ") if word] if isinstance(value, str) else []


REGION_KINDS: tuple[RegionKind, ...] = (
    RegionKind("cluster", ErrorCluster, (CLUSTERS_FILE, WORDS_FILE), error_clusters,
               _cluster_evidence, find_cluster,
               lambda run_dir, built: write_clusters(run_dir, built.clusters, built.words)),
    RegionKind("slice", ErrorSlice, (SLICES_FILE, SLICE_ROWS_FILE), error_slices,
               _slice_evidence, find_slice,
               lambda run_dir, built: write_slices(run_dir, built.slices, built.slice_rows)),
    RegionKind(confusion_cells.KIND, ConfusionCell, (), confusion_cells.confusion_cells, None,
               confusion_cells.find_confusion_cell, None),
    RegionKind(region_unions.KIND, RegionUnion, (), region_unions.no_unions, None,
               region_unions.find_union, None),
)


def region_kind(name: str) -> RegionKind:
    """The row of ``name`` (a ``RegionRef`` has checked it is one)."""
    return next(kind for kind in REGION_KINDS if kind.name == name)
