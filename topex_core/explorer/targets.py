"""What an analyst repairs: an error cluster or an error slice of an explored run.

Both are a set of pool rows with a name, the confusion they carry and the label samples
should have. The augmenter, the checks, the store and the before/after view read a
``Target`` and never ask which kind it is, except to say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.errors import RunError, SettingsError
from topex_core.rundir import read_explore, read_points, read_slices


@dataclass(frozen=True)
class Target:
    """``key``: the cluster number or the slice's key in slices.csv; ``name``: what the
    prompt's issue and the pages say; ``positions``: (n,) int rows of ``read_points``;
    ``label``: the true label the target's mistakes have, the default for samples."""

    kind: str
    key: str
    name: str
    label: str
    confusion: str
    positions: np.ndarray = field(repr=False)

    @property
    def topic(self) -> str:
        """What the target's texts are about: the name without its confusion."""
        suffix = f" · {self.confusion}"
        return (self.name[: -len(suffix)] if self.confusion and self.name.endswith(suffix)
                else self.name)

    @property
    def confused_with(self) -> str | None:
        """The label the model wrongly gives the target's mistakes (None when it has none)."""
        return self.confusion.split(" → ")[1] if " → " in self.confusion else None

    @property
    def cluster(self) -> int | None:
        return int(self.key) if self.kind == "cluster" else None

    @property
    def slice(self) -> str | None:
        return self.key if self.kind == "slice" else None


def read_target(run_dir: Path, *, cluster: int | None = None, slice: str | None = None,
                points: pd.DataFrame | None = None) -> Target:
    """The error cluster ``cluster`` or the error slice ``slice`` of an explored run.

    ``points``: the run's ``read_points`` when the caller has them. RunError when the run
    is not explored or the target does not exist (the message lists what does)."""
    if (cluster is None) == (slice is None):
        raise SettingsError("choose one target: an error cluster or an error slice")
    run_dir = Path(run_dir)
    points = read_points(run_dir) if points is None else points
    if cluster is not None:
        return _cluster_target(run_dir, int(cluster), points)
    return _slice_target(run_dir, slice, points)


def list_targets(run_dir: Path) -> list[tuple[str, str, str]]:
    """(kind, key, name) of every error cluster (by rank) then every slice (by p)."""
    _, clusters = read_explore(run_dir)
    error_clusters = clusters[clusters["is_error_cluster"]].sort_values("rank")
    slices, _ = read_slices(run_dir)
    return ([("cluster", str(c), str(n)) for c, n in
             zip(error_clusters["cluster"], error_clusters["name"], strict=True)]
            + [("slice", str(s), _slice_name(row)) for s, row in
               zip(slices["slice"], slices.to_dict("records"), strict=True)])


def in_error_regions(points: pd.DataFrame, clusters: pd.DataFrame,
                     slice_rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool masks over explored ``points`` (id, cluster): in an error cluster of
    ``clusters``, and in an error slice (``slice_rows``: {slice: row ids})."""
    error_clusters = clusters.loc[clusters["is_error_cluster"].astype(bool), "cluster"]
    in_cluster = points["cluster"].isin(error_clusters).to_numpy()
    in_slice = points["id"].isin(
        np.concatenate([*slice_rows.values(), np.zeros(0, np.int64)])).to_numpy()
    return in_cluster, in_slice


def _cluster_target(run_dir: Path, cluster: int, points: pd.DataFrame) -> Target:
    _, clusters = read_explore(run_dir)
    match = clusters[clusters["cluster"] == cluster]
    if match.empty:
        known = ", ".join(str(c) for c in clusters.loc[clusters["is_error_cluster"], "cluster"])
        raise RunError(f"cluster {cluster} does not exist in {run_dir}; error clusters: "
                       f"{known or 'none'}")
    row = match.iloc[0]
    return Target("cluster", str(cluster), str(row["name"]), str(row["true_majority"]),
                  str(row["confusion"] or ""),
                  np.flatnonzero(points["cluster"].to_numpy() == cluster))


def _slice_target(run_dir: Path, key: str, points: pd.DataFrame) -> Target:
    read_explore(run_dir)  # a clear message when the run is not explored
    slices, members = read_slices(run_dir)
    match = slices[slices["slice"] == key]
    if match.empty:  # a bare term names its best-ranked slice
        match = slices[slices["term"] == key]
    if match.empty:
        best = ", ".join(f"'{s}'" for s in slices["slice"].head(5))
        raise RunError(f"'{key}' is not an error slice of {run_dir}; the first slices: "
                       f"{best or 'none (the model fails no term more than the rest)'}")
    row = match.iloc[0].to_dict()
    positions = np.flatnonzero(np.isin(points["id"].to_numpy(), members[row["slice"]]))
    label = row["true_label"] or row["confusion"].split(" → ")[0]
    return Target("slice", str(row["slice"]), _slice_name(row), label, str(row["confusion"]),
                  positions)


def _slice_name(row: dict) -> str:
    """``oil (true Business) · Business → World``: the term, its scope when it is one
    label's rows, and the confusion its mistakes carry."""
    scope = f" (true {row['true_label']})" if row["true_label"] else ""
    return f"{row['term']}{scope} · {row['confusion']}"
