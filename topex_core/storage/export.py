"""Exports: accepted samples as CSV, JSONL or Parquet, and a whole run with its candidates
and training rounds beside it."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from topex_core.storage.store import Store, StoreError

EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def export_samples(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` (e.g. ``Store.accepted``) as CSV, JSONL or Parquet; checks as the
    JSON the store keeps."""
    if fmt not in EXPORT_FORMATS:
        raise StoreError(f"unknown format '{fmt}'; choose one of {', '.join(EXPORT_FORMATS)}")
    path = Path(path)
    frame = _with_json_checks(frame)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            frame.to_csv(path, index=False)
        elif fmt == "jsonl":
            frame.to_json(path, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(path, index=False)
    except OSError as error:
        raise StoreError(f"{path}: cannot write the export ({error.strerror or error})") from None
    return path


def export_run(store: Store, run_dir: Path, out_dir: Path) -> Path:
    """Copy the run directory to ``out_dir`` (its rounds' round.json included) with
    candidates.parquet (effective state) and training_rounds.json (which candidates each
    round trained on, and its folder) beside it; refuses an existing ``out_dir``."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise StoreError(f"{out_dir}: already exists; choose a new folder")
    run_id = store.register_run(run_dir)
    try:
        shutil.copytree(run_dir, out_dir)
        _with_json_checks(store.candidates(run_id)).to_parquet(
            out_dir / "candidates.parquet", index=False)
        (out_dir / "training_rounds.json").write_text(
            json.dumps([asdict(stored) for stored in store.training_rounds(run_id)], indent=2))
    except OSError as error:
        raise StoreError(f"{out_dir}: cannot export the run ({error})") from None
    return out_dir


def _with_json_checks(frame: pd.DataFrame) -> pd.DataFrame:
    if "checks" not in frame.columns:
        return frame
    return frame.assign(checks=[json.dumps(checks.to_json(), ensure_ascii=False)
                                for checks in frame["checks"]])
