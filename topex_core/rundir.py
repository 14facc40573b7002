"""The run directory: every file name of the run itself, the only code that reads or
writes them, and the helpers its neighbours use (``exploredir`` owns the explorer's
files, ``rounddir`` the training rounds').

Stages hand each other the typed records of ``topex_core.records``; importing this module
imports no torch, so reading a run (a page, ``topex compare``, the store) stays light::

    RUN_DIR/
      run.json               RunRecord: run id, config, dataset, versions, accuracies
      model/                 safetensors weights, config, tokenizer, label names
      logits.npy             (N, C) float32 logits of the pool, row i = points row i
      points.parquet         id, text, [text_pair], label, label_id, pred, pred_id, correct,
                             max_prob, in_train (written once, by training); read with the
                             explorer's map_points.parquet joined once explored
      test_logits.npy        (M, C) float32, when the run has a test split
      test_points.parquet    the same columns for the test split
      head_features.npy, test_head_features.npy   (N, hidden) features the head reads
      explore.json, clusters.csv, slices.csv, maps, …   the explorer's: ``exploredir``
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
from topex_core.records import RunRecord
from topex_core.train_config import TrainConfig

RUN_FILE = "run.json"
MODEL_DIR = "model"
MODEL_WEIGHTS = "model.safetensors"  # in MODEL_DIR
LOGITS_FILE = "logits.npy"
POINTS_FILE = "points.parquet"
TEST_LOGITS_FILE = "test_logits.npy"
TEST_POINTS_FILE = "test_points.parquet"
MAP_POINTS_FILE = "map_points.parquet"
FEATURES_FILE = "head_features.npy"
TEST_FEATURES_FILE = "test_head_features.npy"
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


# arrays the stages cache or fit ----------------------------------------------------------

def read_features(run_dir: Path, *, test: bool = False) -> np.ndarray | None:
    """(N, hidden) float32 base-model features of the pool (or test) rows; None until
    computed."""
    path = Path(run_dir) / (TEST_FEATURES_FILE if test else FEATURES_FILE)
    return _load_array(path) if path.is_file() else None


def write_features(run_dir: Path, features: np.ndarray, *, test: bool = False) -> None:
    np.save(Path(run_dir) / (TEST_FEATURES_FILE if test else FEATURES_FILE), features)


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: missing or corrupt ({error})") from None
