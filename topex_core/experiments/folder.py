"""An experiment's folder: ``experiment.json`` (configuration, commands, machine, wall
time), ``results.csv`` (one row per seed × strategy × n, appended as each finishes, so that
an interrupted experiment resumes), ``samples.jsonl`` and ``outcomes.jsonl`` (per result
and split, the rows behind its counts: ``experiments.measure``)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from topex_core.errors import TopexError
from topex_core.rundir import write_json_atomic
from topex_core.train_config import LEGACY_SETTINGS
from topex_core.training import classifier as clf
from topex_core.training.hardware import machine_record

RESULTS_FILE = "results.csv"
SAMPLES_FILE = "samples.jsonl"
OUTCOMES_FILE = "outcomes.jsonl"
EXPERIMENT_FILE = "experiment.json"


class ExperimentError(TopexError):
    """The experiment cannot run as configured."""


def check_same_config(out_dir: Path, payload: dict) -> None:
    """Results of another configuration are never mixed in: resuming needs the same one.
    ``payload`` is the experiment's configuration as JSON, its training config resolved."""
    path = out_dir / EXPERIMENT_FILE
    comparable = {key: value for key, value in payload.items() if key not in ("seeds",
                                                                              "selections",
                                                                              "n_synthetic")}
    if path.is_file():
        previous = dict(json.loads(path.read_text(encoding="utf-8")).get("comparable", {}))
        # experiments started before a training setting existed ran with its legacy value
        previous["train"] = {**asdict(clf.TrainConfig()), **LEGACY_SETTINGS,
                             **previous.get("train", {})}
        current = json.loads(json.dumps(comparable))
        differences = sorted(
            [f"train.{key}" for key, value in current["train"].items()
             if previous["train"].get(key) != value]
            + [key for key, value in current.items()
               if key != "train" and previous.get(key) != value])
        if differences:
            raise ExperimentError(f"{out_dir} holds an experiment with another configuration "
                                  f"({', '.join(differences)}); choose a new --out")
        return
    if (out_dir / RESULTS_FILE).exists():
        raise ExperimentError(f"{out_dir}: not an experiment directory; choose a new --out")
    write_json_atomic(path, {"config": payload, "comparable": comparable,
                             "machine": machine_record(), "started_at": time.time()})


def record_invocation(out_dir: Path, command: str | None, seconds: float) -> None:
    path = out_dir / EXPERIMENT_FILE
    meta = json.loads(path.read_text(encoding="utf-8"))
    if command:
        meta["commands"] = [*meta.get("commands", []), command]
    meta.update(seconds=seconds, machine=machine_record(), finished_at=time.time())
    write_json_atomic(path, meta)


def read_results(out_dir: Path) -> dict[tuple, dict]:
    path = out_dir / RESULTS_FILE
    if not path.is_file():
        return {}
    frame = pd.read_csv(path)
    return {(int(r["seed"]), str(r["strategy"]), int(r["n"])): r for r in frame.to_dict("records")}


def append_row(path: Path, row: dict) -> None:
    frame = pd.DataFrame([row])
    frame.to_csv(path, mode="a", header=not path.is_file(), index=False)


def append_outcomes(out_dir: Path, lines: list[dict]) -> None:
    with (Path(out_dir) / OUTCOMES_FILE).open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")


def read_outcomes(out_dir: Path) -> list[dict]:
    """The outcome lines of ``out_dir`` (a result redone after an interruption: its last
    lines), each with its folder's dataset name; none for experiments before them."""
    path = Path(out_dir) / OUTCOMES_FILE
    if not path.is_file():
        return []
    lines = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        line = json.loads(text)
        lines[(line["seed"], line["strategy"], line["n"], line["split"])] = line
    return list(lines.values())
