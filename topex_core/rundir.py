"""The run directory: every file name in it, and the only code that reads or writes them.

Stages hand each other the typed records of ``topex_core.records``; importing this module
imports no torch, so reading a run (a page, ``topex compare``, the store) stays light::

    RUN_DIR/
      run.json               RunRecord: run id, config, dataset, versions, accuracies
      model/                 safetensors weights, config, tokenizer, label names
      logits.npy             (N, C) float32 logits of the pool, row i = points row i
      points.parquet         id, text, [text_pair], label, label_id, pred, pred_id, correct,
                             max_prob, in_train (written once, by training)
      test_logits.npy        (M, C) float32, when the run has a test split
      test_points.parquet    the same columns for the test split
      explore.json           ExploreResult: the explorer's settings, picks and timings
      clusters.csv           one row per cluster: name, size, errors, confusion, scores, rank
      cluster_words.json     {cluster: [[word, weight], …]}
      slices.csv             one row per error slice or concept: term(s), scope, rows,
                             errors, lift, p, q
      slice_rows.parquet     slice, id: the rows of each slice
      map_points.parquet     id, cluster, sparse_pca_x/_y, tsne_x/_y (the explorer's view
                             of points.parquet, which it never rewrites)
      maps.npz, maps.json    the fitted 2D maps (``explorer.projection``)
      space.npz              the explorer's feature space, when not logits (``explorer.space``)
      head_features.npy, test_head_features.npy   (N, hidden) features the head reads
      text_embeddings.npy/.json                   sentence embeddings of the texts (checks)
      row_embeddings.npz     rows embedded for the scores, concepts and descriptions
      descriptions.json      a sentence per strongest region and its check (describe)
      rounds/N/              a training round: ``topex_core.rounddir`` owns its files
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.errors import RunError
from topex_core.records import ExploreResult, RunRecord
from topex_core.train_config import TrainConfig

RUN_FILE = "run.json"
MODEL_DIR = "model"
MODEL_WEIGHTS = "model.safetensors"  # in MODEL_DIR
LOGITS_FILE = "logits.npy"
POINTS_FILE = "points.parquet"
TEST_LOGITS_FILE = "test_logits.npy"
TEST_POINTS_FILE = "test_points.parquet"
EXPLORE_FILE = "explore.json"
CLUSTERS_FILE = "clusters.csv"
WORDS_FILE = "cluster_words.json"
SLICES_FILE = "slices.csv"
SLICE_ROWS_FILE = "slice_rows.parquet"
MAP_POINTS_FILE = "map_points.parquet"
MAPS_ARRAYS_FILE = "maps.npz"
MAPS_META_FILE = "maps.json"
SPACE_FILE = "space.npz"
FEATURES_FILE = "head_features.npy"
TEST_FEATURES_FILE = "test_head_features.npy"
EMBEDDINGS_FILE = "text_embeddings.npy"
EMBEDDINGS_META_FILE = "text_embeddings.json"
ROW_EMBEDDINGS_FILE = "row_embeddings.npz"
DESCRIPTIONS_FILE = "descriptions.json"
MAP_COLUMNS = ["cluster", "sparse_pca_x", "sparse_pca_y", "tsne_x", "tsne_y"]


@dataclass(frozen=True)
class RunListing:
    """A finished run found under a folder; ``modified`` is run.json's mtime (seconds)."""

    run_dir: Path
    record: RunRecord
    modified: float


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False)
        temporary = Path(handle.name)
    os.replace(temporary, path)


def read_json_file(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: corrupt {what} ({error})") from None


# run.json -------------------------------------------------------------------------------

def is_run(run_dir: Path) -> bool:
    return (Path(run_dir) / RUN_FILE).is_file()


def has_classifier(run_dir: Path) -> bool:
    """Whether the run has a classifier to predict new texts (imported predictions have
    none)."""
    return (Path(run_dir) / MODEL_DIR / MODEL_WEIGHTS).is_file()


def read_run(run_dir: Path) -> RunRecord:
    """The run record of ``run_dir``; :class:`RunError` when it is not a finished run."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise RunError(f"{run_dir}: not a TopEx run directory (no {RUN_FILE}); "
                       "create one with 'topex train'")
    payload = read_json_file(path, "run record")
    try:
        return RunRecord.from_json(payload)
    except (KeyError, TypeError, ValueError) as error:
        raise RunError(f"{path}: incomplete run record (missing {error})") from None


def write_run(run_dir: Path, record: RunRecord) -> None:
    write_json_atomic(Path(run_dir) / RUN_FILE, record.to_json())


def new_run_id() -> str:
    return uuid.uuid4().hex


def ensure_run_id(run_dir: Path) -> str:
    """The run's id, written into run.json first if the run predates ids."""
    record = read_run(run_dir)
    if record.run_id:
        return record.run_id
    payload = read_json_file(Path(run_dir) / RUN_FILE, "run record")
    payload["run_id"] = new_run_id()
    write_json_atomic(Path(run_dir) / RUN_FILE, payload)
    return payload["run_id"]


def run_folder_name(label: str, pool_hash: str, config: TrainConfig, *,
                    test_hash: str | None, test_size: float, precision: str) -> str:
    """The folder a run of this data and these settings gets under ``config.runs_dir()``
    (the dashboard's, and ``topex train`` without ``--out``): the file's stem, a short hash
    of its content (two files called train.csv get two runs), and the settings, so that a
    folder is never reused for other work."""
    split = f"t{test_hash[:6]}" if test_hash is not None else f"h{round(100 * test_size)}"
    suffix = "" if precision == "float32" else f"-{precision}"
    if not config.fine_tune:
        model = hashlib.sha256(f"{config.backbone}{config.label_map}".encode()).hexdigest()
        return f"{_stem(label)}-{pool_hash[:8]}-asis{model[:8]}-{split}{suffix}"
    long_texts = ("" if (config.truncation, config.train_precision) == ("head", "float32")
                  else f"-{(config.truncation or 'auto').replace('_', '')}"
                       f"-{config.train_precision}")
    frozen = "" if config.freeze_layers is None else f"-f{config.freeze_layers}"
    return (f"{_stem(label)}-{pool_hash[:8]}-n{config.train_size}-e{config.epochs or 'auto'}"
            f"-s{config.seed}-{split}{suffix}{long_texts}{frozen}")


def import_folder_name(label: str, pool_hash: str, scores_hash: str, *,
                       test_scores_hash: str | None, test_size: float) -> str:
    """The folder of imported predictions (``training.imported.scores_hash`` of each split)."""
    split = (f"t{test_scores_hash[:6]}" if test_scores_hash is not None
             else f"h{round(100 * test_size)}")
    return f"{_stem(label)}-{pool_hash[:8]}-imported{scores_hash[:8]}-{split}"


def _stem(label: str) -> str:
    """A file's stem as a folder-name part: letters, digits, - and _, at most 40."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")[:40] or "run"


def list_runs(root: Path) -> list[RunListing]:
    """Finished runs under ``root``, newest first."""
    if not Path(root).is_dir():
        return []
    runs = []
    for run_file in Path(root).glob(f"*/{RUN_FILE}"):
        try:
            record = read_run(run_file.parent)
        except RunError:
            continue
        runs.append(RunListing(run_file.parent, record, run_file.stat().st_mtime))
    return sorted(runs, key=lambda listing: listing.modified, reverse=True)


# points and logits ---------------------------------------------------------------------

def read_points(run_dir: Path) -> pd.DataFrame:
    """The pool's points, with the explorer's cluster and map columns once explored."""
    run_dir = Path(run_dir)
    points = read_parquet_file(run_dir / POINTS_FILE)
    map_path = run_dir / MAP_POINTS_FILE
    if not map_path.is_file():
        return points
    maps = read_parquet_file(map_path)
    if len(maps) != len(points) or not np.array_equal(maps["id"], points["id"]):
        raise RunError(f"{map_path}: does not match {POINTS_FILE}; explore the run again")
    points = points.drop(columns=[c for c in MAP_COLUMNS if c in points.columns])
    return pd.concat([points, maps[MAP_COLUMNS].set_index(points.index)], axis=1)


def read_test_points(run_dir: Path) -> pd.DataFrame | None:
    path = Path(run_dir) / TEST_POINTS_FILE
    return read_parquet_file(path) if path.is_file() else None


def write_points(run_dir: Path, points: pd.DataFrame, *, test: bool = False) -> None:
    points.to_parquet(Path(run_dir) / (TEST_POINTS_FILE if test else POINTS_FILE), index=False)


def write_map_points(run_dir: Path, map_points: pd.DataFrame) -> None:
    """The explorer's columns (id and ``MAP_COLUMNS``), row for row with points.parquet."""
    map_points[["id", *MAP_COLUMNS]].to_parquet(Path(run_dir) / MAP_POINTS_FILE, index=False)


def read_logits(run_dir: Path, *, test: bool = False) -> np.ndarray | None:
    """(N, C) float32 logits of the pool (or the test split; None when there is none)."""
    path = Path(run_dir) / (TEST_LOGITS_FILE if test else LOGITS_FILE)
    if test and not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: missing or corrupt ({error})") from None


def write_logits(run_dir: Path, logits: np.ndarray, *, test: bool = False) -> None:
    np.save(Path(run_dir) / (TEST_LOGITS_FILE if test else LOGITS_FILE), logits)


def read_parquet_file(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: missing or corrupt ({error})") from None


# the explorer's results ----------------------------------------------------------------

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


def write_explore(run_dir: Path, result: ExploreResult, clusters: pd.DataFrame,
                  words: dict[str, list], slices: pd.DataFrame,
                  slice_rows: dict[str, np.ndarray]) -> None:
    """clusters.csv, cluster_words.json, slices.csv and slice_rows.parquet ({slice: row
    ids}), then explore.json last: a run counts as explored only once everything the
    explorer writes is there."""
    run_dir = Path(run_dir)
    clusters.to_csv(run_dir / CLUSTERS_FILE, index=False)
    (run_dir / WORDS_FILE).write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    slices.to_csv(run_dir / SLICES_FILE, index=False)
    (run_dir / DESCRIPTIONS_FILE).unlink(missing_ok=True)  # they describe the old regions
    pd.DataFrame({"slice": [name for name, ids in slice_rows.items() for _ in ids],
                  "id": np.concatenate([*slice_rows.values(), np.zeros(0, np.int64)])
                  .astype(np.int64)}).to_parquet(run_dir / SLICE_ROWS_FILE, index=False)
    write_json_atomic(run_dir / EXPLORE_FILE, result.to_json())


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


# arrays the stages cache or fit ----------------------------------------------------------

def read_features(run_dir: Path, *, test: bool = False) -> np.ndarray | None:
    """(N, hidden) float32 base-model features of the pool (or test) rows; None until
    computed."""
    path = Path(run_dir) / (TEST_FEATURES_FILE if test else FEATURES_FILE)
    return _load_array(path) if path.is_file() else None


def write_features(run_dir: Path, features: np.ndarray, *, test: bool = False) -> None:
    np.save(Path(run_dir) / (TEST_FEATURES_FILE if test else FEATURES_FILE), features)


def read_text_embeddings(run_dir: Path) -> tuple[dict, np.ndarray] | None:
    """(identity, (R, e) float32 embeddings) the checks cached, or None: no cache, or a
    cache half written or unreadable (then it is made again)."""
    run_dir = Path(run_dir)
    meta_path, array_path = run_dir / EMBEDDINGS_META_FILE, run_dir / EMBEDDINGS_FILE
    if not (meta_path.is_file() and array_path.is_file()):
        return None
    try:
        return (json.loads(meta_path.read_text(encoding="utf-8")),
                np.load(array_path, allow_pickle=False))
    except (OSError, ValueError):
        return None


def write_text_embeddings(run_dir: Path, embeddings: np.ndarray, identity: dict) -> None:
    np.save(Path(run_dir) / EMBEDDINGS_FILE, embeddings)
    (Path(run_dir) / EMBEDDINGS_META_FILE).write_text(json.dumps(identity), encoding="utf-8")


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


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: missing or corrupt ({error})") from None
