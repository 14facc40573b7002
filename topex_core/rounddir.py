"""A run's training rounds, ``RUN_DIR/rounds/N/``: every file name in them, and the only
code that reads or writes them (``topex_core.rundir`` owns the rest of the run). Imports
no torch::

    rounds/N/
      round.json                      RoundResult: config, seeds, candidates, metrics
      after_logits_S.npy              (N, C) float32 pool logits of seed S
      test_after_logits_S.npy         (M, C) float32, when the run has a test split
      control_…                       the same for the plain control (no samples)
      matched_…                       the same for the label-matched control
      head_S.safetensors / model_S/   the retrained head (head mode) or model (full mode)
      after_points.parquet            id, pred_after, correct_after, after-coordinates
      sample_points.parquet           the accepted samples placed in the maps before/after
    RUN_DIR/.retrain.lock             one round at a time per run
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.errors import RunError
from topex_core.region_ref import RegionRef
from topex_core.round_outcomes import RegionOutcome
from topex_core.round_records import RoundResult
from topex_core.rundir import read_json_file, read_parquet_file, write_json_atomic

# what a control's files start with (``round_outcomes.CONTROLS``); the round's own: nothing
CONTROL_PREFIXES = {None: "", "plain": "control_", "matched": "matched_"}
ROUNDS_DIR = "rounds"
ROUND_FILE = "round.json"
AFTER_POINTS_FILE = "after_points.parquet"
SAMPLE_POINTS_FILE = "sample_points.parquet"
LOCK_FILE = ".retrain.lock"


def after_logits_path(round_dir: Path, seed: int, *, test: bool = False,
                      control: str | None = None) -> Path:
    """Where a round keeps the logits of seed ``seed``: (N, C) float32 for the pool or
    (M, C) for the test split, of the retrained model (``control`` None) or of a control
    ("plain" or "matched")."""
    prefix = ("test_" if test else "") + CONTROL_PREFIXES[control]
    return Path(round_dir) / f"{prefix}after_logits_{seed}.npy"


def write_after_logits(round_dir: Path, seed: int, logits: np.ndarray, *, test: bool = False,
                       control: str | None = None) -> None:
    np.save(after_logits_path(round_dir, seed, test=test, control=control), logits)


def round_model_dir(round_dir: Path, seed: int, *, control: str | None = None) -> Path:
    """Where a full round saves the model of ``seed`` (``classifier.save_classifier``)."""
    return Path(round_dir) / f"{CONTROL_PREFIXES[control]}model_{seed}"


def write_head_weights(round_dir: Path, seed: int, tensors: dict, *,
                       control: str | None = None) -> Path:
    """A head round's retrained final layer (name → tensor) as safetensors; its path."""
    from safetensors.torch import save_file  # torch is loaded already: a head was trained

    path = Path(round_dir) / f"{CONTROL_PREFIXES[control]}head_{seed}.safetensors"
    save_file({name: value.contiguous() for name, value in tensors.items()}, str(path))
    return path


def read_after_logits(round_dir: Path, seed: int, *, test: bool = False,
                      control: str | None = None) -> np.ndarray | None:
    path = after_logits_path(round_dir, seed, test=test, control=control)
    return np.load(path, allow_pickle=False) if path.is_file() else None


@contextlib.contextmanager
def round_lock(run_dir: Path) -> Iterator[None]:
    """One round at a time per run, across threads and processes (an advisory ``flock``
    on ``RUN_DIR/.retrain.lock``, released by the kernel if the process dies)."""
    with (Path(run_dir) / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError("a retraining round of this run is already in progress; "
                           "wait for it to finish (or cancel it) and try again") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_round_dir(run_dir: Path) -> Path:
    """A new, empty ``rounds/N`` (N one past the highest so far), made atomically."""
    folder = Path(run_dir) / ROUNDS_DIR
    folder.mkdir(exist_ok=True)
    number = 1 + max((int(p.name) for p in folder.iterdir() if p.name.isdigit()), default=0)
    while True:
        try:
            path = folder / str(number)
            path.mkdir()
            return path
        except FileExistsError:
            number += 1


def round_dir_of(run_dir: Path, number: int) -> Path:
    """The folder of round ``number`` of the run."""
    return Path(run_dir) / ROUNDS_DIR / str(number)


def write_round(round_dir: Path, result: RoundResult) -> None:
    write_json_atomic(Path(round_dir) / ROUND_FILE, result.to_json())


def read_round(run_dir: Path, round_dir: Path | None = None) -> RoundResult:
    """A round's record: ``round_dir``, or the latest round of the run."""
    if round_dir is None:
        rounds = list_rounds(run_dir)
        if not rounds:
            raise RunError(f"{run_dir}: no training round yet; run 'topex retrain'")
        return rounds[-1]
    path = Path(round_dir) / ROUND_FILE
    if not path.is_file():
        raise RunError(f"{round_dir}: not a training round")
    return RoundResult.from_json(read_json_file(path, "round record"))


def list_rounds(run_dir: Path) -> list[RoundResult]:
    """Finished rounds of the run, oldest first."""
    folder = Path(run_dir) / ROUNDS_DIR
    if not folder.is_dir():
        return []
    paths = sorted((p for p in folder.iterdir() if (p / ROUND_FILE).is_file()),
                   key=lambda p: int(p.name) if p.name.isdigit() else 0)
    return [RoundResult.from_json(read_json_file(p / ROUND_FILE, "round record")) for p in paths]


def latest_outcome(run_dir: Path, region: RegionRef) -> tuple[str, RegionOutcome] | None:
    """(round name, what it did to the region) of the latest round that targeted
    ``region``; None when no round did."""
    for round_result in reversed(list_rounds(run_dir)):
        for target in round_result.metrics.targets:
            if (target.kind, target.key) == (region.kind, region.key):
                return round_result.name, target
    return None


def read_after_points(round_dir: Path) -> pd.DataFrame:
    """id, pred_after, correct_after and the after-coordinates in the same maps."""
    return read_parquet_file(Path(round_dir) / AFTER_POINTS_FILE)


def write_after_points(round_dir: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(Path(round_dir) / AFTER_POINTS_FILE, index=False)


def read_sample_points(round_dir: Path) -> pd.DataFrame | None:
    """candidate_id, text, label, pred_before, pred_after and, per map, the samples'
    coordinates under the base model (``{map}_x_before``…) and the retrained one
    (``{map}_x``…); None for rounds trained before samples were placed."""
    path = Path(round_dir) / SAMPLE_POINTS_FILE
    return read_parquet_file(path) if path.is_file() else None


def write_sample_points(round_dir: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(Path(round_dir) / SAMPLE_POINTS_FILE, index=False)
