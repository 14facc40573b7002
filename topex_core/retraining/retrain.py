"""Retraining on the base run's training subset plus the accepted samples.

Two modes:

- ``full``: fine-tune again from the same starting checkpoint with the base run's config
  (seed, schedule, max length); with the base seed, the added samples are the only change.
- ``head``: the base model's encoder stays frozen; the features its final linear layer
  reads (cached per run in ``head_features.npy``) train that layer again (``head``).
  Seconds on a CPU, for quick iteration.

Beside the round, per seed, its controls (``config.RetrainConfig``): the label-matched
control (the samples replaced by training rows of their labels, ``controls``) and the
plain control (no samples).

A round writes ``RUN_DIR/rounds/N/``::

    round.json              config, accepted candidate ids, timings, metrics (compare.py)
    after_logits_S.npy      (N, C) float32 pool logits of seed S
    test_after_logits_S.npy (M, C) float32, when the run has a test split
    matched_after_logits_S.npy, test_matched_after_logits_S.npy
                            the same for the label-matched control (optional)
    control_after_logits_S.npy, test_control_after_logits_S.npy
                            the same for the plain control (optional)
    after_points.parquet    id, pred_after, correct_after and after-coordinates in the
                            SAME maps as before (first seed)
    sample_points.parquet   the accepted samples placed in the same maps, by the base model
                            and by the first seed's retrained model
    head_S.safetensors      head weights (head mode), or model_S/ (full mode)

and the round (samples, config, metrics, model path) is recorded in the store.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from topex_core.data.dataset import TextDataset
from topex_core.exploredir import is_explored
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.records import RunRecord
from topex_core.retraining.compare import compare_round, sample_points
from topex_core.retraining.config import RetrainConfig, RetrainError
from topex_core.retraining.controls import matched_positions
from topex_core.retraining.head import fit_head, sample_features_of
from topex_core.round_records import RoundResult
from topex_core.rounddir import (
    new_round_dir,
    round_lock,
    round_model_dir,
    write_after_logits,
    write_head_weights,
    write_round,
    write_sample_points,
)
from topex_core.rundir import MODEL_DIR, has_classifier, read_run
from topex_core.storage.candidates import candidate_targets
from topex_core.storage.store import Store
from topex_core.timing import timed
from topex_core.training import classifier as clf
from topex_core.training.features import cached_features, datasets_from_points
from topex_core.training.run import load_run_classifier


class _Round(NamedTuple):
    """What a round trains on beyond the base run's training subset: the pool and test
    split, the accepted samples (and the store's frame of them), the regions they were
    made for and the base run."""

    explored: ExploredRun
    pool: TextDataset
    test: TextDataset | None
    samples: TextDataset
    accepted: pd.DataFrame
    targets: list[Region]
    record: RunRecord


class _Added(NamedTuple):
    """Rows one variant adds to the training subset, and where they sit in the pool (the
    label-matched control's copies of training rows; None: the samples, or nothing)."""

    rows: TextDataset
    pool_positions: np.ndarray | None


def retrain(run_dir: Path, config: RetrainConfig, *, store: Store,
            progress: clf.Progress | None = None) -> RoundResult:
    """Train a round on the training subset plus the run's accepted samples, with its
    controls; returns the round record (also in ``round.json`` and the store)."""
    config = replace(config.validate(), control=config.with_control,
                     matched_control=config.with_matched_control)
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    config = _for_base(config, has_classifier(run_dir), run_dir)
    report = progress or (lambda fraction, message: None)
    run_id = store.register_run(run_dir)
    accepted = store.accepted(run_id)
    if accepted.empty:
        raise RetrainError("no accepted samples yet: accept at least one candidate on the "
                           "Augment page (or with 'topex decide') before retraining")
    if not is_explored(run_dir):
        raise RetrainError(f"{run_dir}: explore the run first (the maps are needed)")
    explored = ExploredRun.load(run_dir)
    pool, test = datasets_from_points(explored.points, explored.test_points, record)
    inputs = _Round(explored, pool, test,
                    samples_dataset(accepted, record.label_names, pool.text_pairs is not None),
                    accepted, explored.targeted(candidate_targets(accepted)), record)
    base_config = _base_config(record, run_dir, config.backbone)
    seeds = config.seeds or (base_config.seed,)
    with round_lock(run_dir):
        round_dir = new_round_dir(run_dir)
        try:
            return _train_round(inputs, round_dir, run_id, base_config, config, seeds, store,
                                report)
        except BaseException:  # an error, Ctrl-C or the dashboard's Cancel
            shutil.rmtree(round_dir, ignore_errors=True)  # no half-written round is left
            raise


def _train_round(inputs: _Round, round_dir: Path, run_id: int, base_config: clf.TrainConfig,
                 config: RetrainConfig, seeds: tuple[int, ...], store: Store,
                 report: clf.Progress) -> RoundResult:
    explored, samples, accepted = inputs.explored, inputs.samples, inputs.accepted
    run_dir = explored.run_dir
    timings: dict[str, float] = {}
    model_paths = []
    sample_logits = control_sample_logits = None  # of the first seed's models
    variants: tuple[str | None, ...] = (None, *config.controls)
    steps = len(seeds) * len(variants)
    for index, (seed, control) in enumerate(
            (seed, control) for seed in seeds for control in variants):
        def step_progress(fraction: float, message: str, index: int = index, seed: int = seed,
                          label: str = f"{control} control: " if control else "") -> None:
            report(0.9 * (index + fraction) / steps, f"seed {seed}: {label}{message}")

        added = _added(inputs, control, seed, config.sample_repeats)
        with timed(f"{control or 'round'}_seed_{seed}", timings):
            if config.mode == "full":
                output = _full(round_dir, inputs, added, replace(base_config, seed=seed),
                               step_progress, control)
            else:
                output = _head(run_dir, round_dir, inputs, added, config, seed, step_progress,
                               control)
        write_after_logits(round_dir, seed, output.logits, control=control)
        if output.test_logits is not None:
            write_after_logits(round_dir, seed, output.test_logits, test=True, control=control)
        if control is None:
            model_paths.append(str(output.model_path))
            if sample_logits is None:
                sample_logits = output.sample_logits
        elif control_sample_logits is None:
            control_sample_logits = output.sample_logits
    report(0.92, "placing the new points and the samples into the same maps")
    with timed("compare", timings):
        metrics = compare_round(explored, round_dir, seeds, inputs.targets, config.controls)
        # without a base classifier, the samples are placed "before" as a control reads them
        base_sample_features, base_sample_logits = (
            clf.predict_features(load_run_classifier(run_dir), samples.texts,
                                 samples.text_pairs)
            if has_classifier(run_dir) else (None, control_sample_logits))
        write_sample_points(round_dir, sample_points(explored, accepted, base_sample_logits,
                                                     sample_logits, base_sample_features))
    candidate_ids = accepted["id"].astype(int).tolist()
    store_round = store.add_training_round(run_id, candidate_ids, str(round_dir),
                                           model_paths[0])
    result = RoundResult(round_dir=str(round_dir), mode=config.mode, seeds=list(seeds),
                         config=asdict(config), base_config=asdict(base_config),
                         candidate_ids=candidate_ids, samples=len(samples),
                         model_paths=model_paths, timings_s=timings, metrics=metrics,
                         created_at=time.time(), store_round=store_round)
    write_round(round_dir, result)
    report(1.0, "round done")
    return result


def _added(inputs: _Round, control: str | None, seed: int, repeats: int) -> _Added:
    """What the round (``control`` None) or one of its controls adds for ``seed``."""
    pool, samples = inputs.pool, inputs.samples
    if control == "plain":
        return _Added(samples.subset(np.array([], np.int64)), None)
    if control is None:
        return _Added(repeated(samples, repeats), None)
    excluded = np.concatenate([np.zeros(0, np.int64),
                               *(region.rows for region in inputs.targets)])
    positions = matched_positions(pool.labels, train_positions(pool, inputs.record),
                                  samples.labels, excluded, seed, pool.label_names)
    positions = np.repeat(positions, repeats)
    return _Added(pool.subset(positions), positions)


class _SeedOutput(NamedTuple):
    """One seed's retrained model: logits (N, C) of the pool, (M, C) of the test split,
    (S, C) of the accepted samples (also when it was trained without them), all float32,
    and where the model was saved."""

    logits: np.ndarray
    test_logits: np.ndarray | None
    sample_logits: np.ndarray
    model_path: Path


def _full(round_dir: Path, inputs: _Round, added: _Added, config: clf.TrainConfig,
          progress: clf.Progress, control: str | None) -> _SeedOutput:
    pool, test, samples = inputs.pool, inputs.test, inputs.samples
    training_set = concat(pool.subset(train_positions(pool, inputs.record)), added.rows)
    model = clf.fine_tune(training_set, config, progress=lambda f, m: progress(0.8 * f, m))
    model.precision = inputs.record.logits_precision  # as the logits before
    logits = clf.predict_logits(model, pool.texts, pool.text_pairs,
                                progress=lambda f, m: progress(0.8 + 0.15 * f, m))
    test_logits = (clf.predict_logits(model, test.texts, test.text_pairs)
                   if test is not None else None)
    sample_logits = clf.predict_logits(model, samples.texts, samples.text_pairs)
    model_path = round_model_dir(round_dir, config.seed, control=control)
    clf.save_classifier(model, model_path)
    return _SeedOutput(logits, test_logits, sample_logits, model_path)


def _head(run_dir: Path, round_dir: Path, inputs: _Round, added: _Added,
          config: RetrainConfig, seed: int, progress: clf.Progress,
          control: str | None) -> _SeedOutput:
    pool, test, samples = inputs.pool, inputs.test, inputs.samples
    base = load_run_classifier(run_dir)
    features = cached_features(base, pool, run_dir,
                               progress=lambda f, m: progress(0.6 * f,
                                                              f"features for the head: {m}"))
    test_features = (cached_features(base, test, run_dir, test=True)
                     if test is not None else None)
    sample_features = sample_features_of(base, samples)
    added_features = (features[added.pool_positions] if added.pool_positions is not None
                      else sample_features[np.repeat(np.arange(len(samples)),
                                                     len(added.rows) // max(len(samples), 1))])
    head = fit_head(base, features, pool.labels, train_positions(pool, inputs.record),
                    added.rows, config.head_schedule, seed,
                    lambda f: progress(0.6 + 0.35 * f, "training the head"),
                    sample_features=added_features)
    model_path = write_head_weights(round_dir, seed, head.state_dict(), control=control)
    with torch.no_grad():
        logits, test_logits, sample_logits = (
            None if rows is None else head(torch.as_tensor(rows)).numpy().astype(np.float32)
            for rows in (features, test_features, sample_features))
    return _SeedOutput(logits, test_logits, sample_logits, model_path)


def samples_dataset(accepted: pd.DataFrame, label_names: list[str], pair: bool) -> TextDataset:
    """Samples (columns text, text_pair, label) as a dataset with negative ids."""
    if pair and accepted["text_pair"].isna().any():
        raise RetrainError("this is a sentence-pair dataset and some accepted samples have no "
                           "hypothesis; reject or edit them first")
    labels = np.array([label_names.index(label) for label in accepted["label"]], np.int64)
    return TextDataset(source="accepted samples", text_col="text", label_col="label",
                       text_pair_col="text_pair" if pair else None,
                       ids=-1 - np.arange(len(accepted), dtype=np.int64),
                       texts=accepted["text"].astype(str).tolist(),
                       text_pairs=accepted["text_pair"].astype(str).tolist() if pair else None,
                       labels=labels, label_names=label_names)


def repeated(samples: TextDataset, times: int) -> TextDataset:
    """Every row of ``samples`` ``times`` times in a row (a sample weighs as much as
    ``times`` rows)."""
    if times < 1:
        raise RetrainError(f"samples are added at least once, got {times} repeats")
    return samples if times == 1 else samples.subset(np.repeat(np.arange(len(samples)), times))


def concat(first: TextDataset, second: TextDataset) -> TextDataset:
    """``first``'s rows followed by ``second``'s."""
    pairs = (first.text_pairs + second.text_pairs) if first.text_pairs is not None else None
    return replace(first, ids=np.concatenate([first.ids, second.ids]),
                   texts=first.texts + second.texts, text_pairs=pairs,
                   labels=np.concatenate([first.labels, second.labels]))


def train_positions(pool: TextDataset, record: RunRecord) -> np.ndarray:
    """Positions in ``pool`` of the base run's training subset."""
    if record.train_ids is not None:
        return np.flatnonzero(np.isin(pool.ids, np.asarray(record.train_ids)))
    return clf.training_positions(len(pool), record.config.train_size, record.seed)


def _for_base(config: RetrainConfig, has_base_classifier: bool, run_dir: Path) -> RetrainConfig:
    """``config`` checked against what the run has: a classifier to retrain, or imported
    predictions only (full mode, always with the control)."""
    if has_base_classifier:
        if config.backbone:
            raise RetrainError("a backbone is for runs of imported predictions; this run's "
                               "own classifier is retrained (leave the backbone out)")
        return config
    if config.mode != "full":
        raise RetrainError(f"{run_dir} has imported predictions and no classifier, so there "
                           "is no head to retrain; use full mode, which fine-tunes a backbone "
                           "on the run's data with and without the samples")
    return replace(config, control=True)


def _base_config(record: RunRecord, run_dir: Path, backbone: str | None = None
                 ) -> clf.TrainConfig:
    """The base run's training config; for a classifier used as it is, fine-tuning starts
    from the run's copy of it (its classes already in the data's order); for imported
    predictions, from ``backbone`` (None: the packaged default)."""
    config = record.config.train_config()
    if record.config.imported:
        return replace(config, backbone=backbone or "", fine_tune=True).resolved()
    if not config.fine_tune:
        config = replace(config, backbone=str(Path(run_dir) / MODEL_DIR), fine_tune=True,
                         label_map=None)
    return config
