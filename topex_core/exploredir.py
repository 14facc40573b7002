"""The explorer's files of a run directory, and the only code that reads or writes them
(``rundir`` owns the run's own files and the helpers both use; no torch)::

    RUN_DIR/
      explore.json           ExploreResult: the explorer's settings, picks and timings
      clusters.csv           one row per cluster: name, size, errors, confusion, scores, rank
      cluster_words.json     {cluster: [[word, weight], …]}
      slices.csv             one row per error slice or concept: term(s), scope, rows,
                             errors, lift, p, q
      slice_rows.parquet     slice, id: the rows of each slice
      map_points.parquet     id, cluster, sparse_pca_x/_y, tsne_x/_y (the explorer's view
                             of points.parquet, which it never rewrites; ``rundir.read_points``
                             joins it)
      maps.npz, maps.json    the fitted 2D maps (``explorer.projection``)
      space.npz              the explorer's feature space, when not logits (``explorer.space``)
      row_embeddings.npz     rows embedded for the scores, concepts and descriptions
      descriptions.json      a sentence per strongest region and its check (describe)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.errors import RunError
from topex_core.records import ExploreResult
from topex_core.rundir import (
    MAP_COLUMNS,
    MAP_POINTS_FILE,
    read_json_file,
    read_parquet_file,
    write_json_atomic,
)

EXPLORE_FILE = "explore.json"
CLUSTERS_FILE = "clusters.csv"
WORDS_FILE = "cluster_words.json"
SLICES_FILE = "slices.csv"
SLICE_ROWS_FILE = "slice_rows.parquet"
MAPS_ARRAYS_FILE = "maps.npz"
MAPS_META_FILE = "maps.json"
SPACE_FILE = "space.npz"
ROW_EMBEDDINGS_FILE = "row_embeddings.npz"
DESCRIPTIONS_FILE = "descriptions.json"


def write_map_points(run_dir: Path, map_points: pd.DataFrame) -> None:
    """The explorer's columns (id and ``MAP_COLUMNS``), row for row with points.parquet."""
    map_points[["id", *MAP_COLUMNS]].to_parquet(Path(run_dir) / MAP_POINTS_FILE, index=False)


def is_explored(run_dir: Path) -> bool:
    return (Path(run_dir) / EXPLORE_FILE).is_file()


def explored_at(run_dir: Path) -> float:
    """explore.json's mtime (seconds): keys caches of anything built on the exploration."""
    return (Path(run_dir) / EXPLORE_FILE).stat().st_mtime


def read_explore(run_dir: Path) -> tuple[ExploreResult, pd.DataFrame]:
    """(explore.json, clusters table) of an explored run; RunError if not explored."""
    run_dir = Path(run_dir)
    if not is_explored(run_dir):
        raise RunError(f"{run_dir}: not explored yet; run 'topex explore --run {run_dir}'")
    result = ExploreResult.from_json(read_json_file(run_dir / EXPLORE_FILE, "explorer result"))
    try:
        clusters = pd.read_csv(run_dir / CLUSTERS_FILE, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as error:
        raise RunError(f"{run_dir / CLUSTERS_FILE}: missing or corrupt ({error})") from None
    return result, clusters


def write_clusters(run_dir: Path, clusters: pd.DataFrame, words: dict[str, list]) -> None:
    """clusters.csv and cluster_words.json."""
    clusters.to_csv(Path(run_dir) / CLUSTERS_FILE, index=False)
    (Path(run_dir) / WORDS_FILE).write_text(json.dumps(words, ensure_ascii=False),
                                            encoding="utf-8")


def write_slices(run_dir: Path, slices: pd.DataFrame,
                 slice_rows: dict[str, np.ndarray]) -> None:
    """slices.csv and slice_rows.parquet ({slice: row ids})."""
    slices.to_csv(Path(run_dir) / SLICES_FILE, index=False)
    pd.DataFrame({"slice": [name for name, ids in slice_rows.items() for _ in ids],
                  "id": np.concatenate([*slice_rows.values(), np.zeros(0, np.int64)])
                  .astype(np.int64)}).to_parquet(Path(run_dir) / SLICE_ROWS_FILE, index=False)


def write_explore(run_dir: Path, result: ExploreResult) -> None:
    """explore.json, written last: a run counts as explored only once everything the
    explorer writes is there (the region kinds' files first). The descriptions go: they
    described the old regions."""
    (Path(run_dir) / DESCRIPTIONS_FILE).unlink(missing_ok=True)
    write_json_atomic(Path(run_dir) / EXPLORE_FILE, result.to_json())


def read_slices(run_dir: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(slices.csv, {slice: row ids}) of an explored run; empty for a run explored by a
    version that found no slices."""
    run_dir = Path(run_dir)
    if not (run_dir / SLICES_FILE).is_file():
        return pd.DataFrame(columns=["slice"]), {}
    try:
        table = pd.read_csv(run_dir / SLICES_FILE, keep_default_na=False, na_values=[""],
                            dtype={"slice": str, "term": str, "terms": str,
                                   "true_label": str})
    except (OSError, ValueError) as error:
        raise RunError(f"{run_dir / SLICES_FILE}: missing or corrupt ({error})") from None
    table["true_label"] = table["true_label"].fillna("")
    rows = read_parquet_file(run_dir / SLICE_ROWS_FILE)
    return table, {name: group["id"].to_numpy(np.int64)
                   for name, group in rows.groupby("slice", sort=False)}


def write_descriptions(run_dir: Path, descriptions: list[dict]) -> None:
    """descriptions.json: the regions' sentences and their checks (``augmenter.describe``)."""
    write_json_atomic(Path(run_dir) / DESCRIPTIONS_FILE, {"descriptions": descriptions})


def read_descriptions(run_dir: Path) -> list[dict]:
    """The descriptions of an explored run ([] before any)."""
    path = Path(run_dir) / DESCRIPTIONS_FILE
    if not path.is_file():
        return []
    return list(read_json_file(path, "region descriptions").get("descriptions", []))


def read_words(run_dir: Path) -> dict[str, list]:
    """{cluster (as text): [[word, weight], …]} of an explored run."""
    return read_json_file(Path(run_dir) / WORDS_FILE, "cluster words")


def read_row_embeddings(run_dir: Path) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(identity, (n,) int64 row positions, (n, e) float32 vectors) the explorer's scores
    cached, or None."""
    path = Path(run_dir) / ROW_EMBEDDINGS_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as arrays:
        return str(arrays["identity"]), arrays["positions"], arrays["vectors"]


def write_row_embeddings(run_dir: Path, identity: str, positions: np.ndarray,
                         vectors: np.ndarray) -> None:
    """Through a temporary file and a rename: an interrupted write leaves the old cache."""
    path = Path(run_dir) / ROW_EMBEDDINGS_FILE
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, identity=np.array(identity), positions=positions, vectors=vectors)
    temporary.replace(path)


def read_maps(run_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, settings) of the fitted 2D maps (``explorer.projection``); RunError when
    missing or corrupt."""
    run_dir = Path(run_dir)
    try:
        with np.load(run_dir / MAPS_ARRAYS_FILE, allow_pickle=False) as arrays:
            loaded = {name: arrays[name] for name in arrays.files}
        return loaded, json.loads((run_dir / MAPS_META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunError(f"{run_dir}: fitted maps missing or corrupt ({error}); "
                       "run 'topex explore' again") from None


def write_maps(run_dir: Path, arrays: dict[str, np.ndarray], settings: dict) -> None:
    np.savez(Path(run_dir) / MAPS_ARRAYS_FILE, **arrays)
    (Path(run_dir) / MAPS_META_FILE).write_text(json.dumps(settings), encoding="utf-8")


def read_space(run_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of the explorer's fitted feature space; RunError when missing."""
    path = Path(run_dir) / SPACE_FILE
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError) as error:
        raise RunError(f"{run_dir}: the explorer's space is missing or corrupt ({error}); "
                       "run 'topex explore' again") from None


def write_space(run_dir: Path, arrays: dict[str, np.ndarray] | None) -> None:
    """``space.npz``; None removes one left by an earlier exploration in another space."""
    path = Path(run_dir) / SPACE_FILE
    if arrays is None:
        path.unlink(missing_ok=True)
    else:
        np.savez(path, **arrays)
