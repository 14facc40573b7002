"""Training a run: hold out a test split when none is given, fine-tune on a seeded subset
of the pool (or load the cached model), predict logits for every row, and write the run
directory (``topex_core.rundir`` owns its files and records).

Fitted models and logits are cached under ``cache_dir()`` by (dataset hash, backbone,
seed, config), so a second identical run copies files instead of training. A run folder
is never overwritten: training into the folder of a run with the same data and settings
returns that run as it is; with other data or settings it is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.config import TOPEX_VERSION, cache_dir
from topex_core.data.checks import repeated_test_texts
from topex_core.data.dataset import TextDataset
from topex_core.data.split import DEFAULT_TEST_SIZE, SPLIT_SEED, check_test_size, hold_out
from topex_core.errors import RunError
from topex_core.records import DatasetRecord, HeldOut, RunRecord
from topex_core.rundir import (
    MODEL_DIR,
    MODEL_WEIGHTS,
    RUN_FILE,
    new_run_id,
    read_run,
    write_features,
    write_logits,
    write_points,
    write_run,
)
from topex_core.timing import timed
from topex_core.train_config import RunConfig
from topex_core.training import classifier as clf
from topex_core.training import settings
from topex_core.training.adopt import adopt_classifier


def train_run(pool: TextDataset, config: clf.TrainConfig, out_dir: Path, *,
              test: TextDataset | None = None, test_size: float = DEFAULT_TEST_SIZE,
              cache: Path | None = None, precision: str = "auto",
              progress: clf.Progress | None = None) -> RunRecord:
    """Fine-tune on a seeded subset of ``pool`` (or, with ``config.fine_tune`` False, take
    ``config.backbone`` as it is), predict logits, write ``out_dir``.

    Without ``test``, a stratified ``test_size`` share of ``pool`` is held out as the test
    split (none when 0). ``precision`` is that of every forward pass of this run, now and
    in later rounds (:func:`load_run_classifier`); "auto" is resolved by
    ``settings.run_precision``. Returns the record in ``run.json``.
    """
    config.validate()
    config = config.resolved()
    if precision != "auto":
        settings.check_precision(precision)
    pool, test, held_out = _test_split(pool, test, test_size)
    existing = _existing_run(Path(out_dir), pool, test, held_out, config, precision)
    if existing is not None:
        return existing
    out_dir = prepare_out_dir(Path(out_dir))
    timings: dict[str, float] = {}
    report = progress or (lambda fraction, message: None)
    positions = clf.training_positions(len(pool), config.train_size, config.seed)
    training_set = pool.subset(positions)
    model_cache = (cache or cache_dir()) / "models" / _cache_key(training_set, config)
    classifier = _fitted_classifier(training_set, config, model_cache, timings, report)
    precision = settings.run_precision(precision, config, classifier.max_length)
    classifier.precision = precision
    with timed("predict_logits", timings):
        logits, features = _cached_outputs(classifier, pool, model_cache,
                                           lambda f, m: report(0.7 + 0.25 * f, m))
        test_logits, test_features = (
            _cached_outputs(classifier, test, model_cache,
                            lambda f, m: report(0.95 + 0.04 * f, m))
            if test is not None else (None, None))
    with timed("write_run", timings):
        _link_tree(model_cache, out_dir / MODEL_DIR)
        in_train = np.zeros(len(pool), dtype=bool)
        in_train[positions] = config.fine_tune
        _write_split(out_dir, pool, logits, features, in_train)
        if test is not None:
            _write_split(out_dir, test, test_logits, test_features,
                         np.zeros(len(test), bool), test=True)
    record = RunRecord(
        run_id=new_run_id(), label_names=list(pool.label_names),
        dataset=dataset_record(pool), config=_run_config(config, classifier.max_length),
        test_dataset=dataset_record(test) if test is not None else None,
        train_ids=pool.ids[positions].tolist(), logits_precision=precision,
        pool_accuracy=accuracy(logits, pool.labels),
        test_accuracy=accuracy(test_logits, test.labels) if test is not None else None,
        versions=package_versions(), device=str(classifier.device), timings_s=timings,
        topex_version=TOPEX_VERSION, held_out=held_out,
        data_warnings=data_warnings(pool, test, own_test_file=held_out is None,
                                    trained=in_train))
    write_run(out_dir, record)
    report(1.0, "done")
    return record


def _test_split(pool: TextDataset, test: TextDataset | None, test_size: float
                ) -> tuple[TextDataset, TextDataset | None, HeldOut | None]:
    """(pool, test, how it was held out): ``test`` as given, else a stratified
    ``test_size`` share of ``pool`` held out (none when 0)."""
    if test is not None or check_test_size(test_size) == 0:
        return pool, test, None
    held_out = HeldOut(share=test_size, seed=SPLIT_SEED, source_rows=len(pool),
                       source_hash=pool.content_hash)
    pool, test = hold_out(pool, test_size, SPLIT_SEED)
    return pool, test, held_out


def data_warnings(pool: TextDataset, test: TextDataset | None, *, own_test_file: bool,
                  trained: np.ndarray) -> list[str]:
    """What loading the pool (and a test file of its own) found doubtful, and test rows
    that repeat a pool row's text (``trained``: (N,) whether each pool row was trained
    on), for run.json."""
    warnings = [*pool.warnings, *(f"test file: {warning}" for warning in
                                  (test.warnings if test is not None and own_test_file
                                   else ()))]
    repeated = (repeated_test_texts(pool.row_keys(), test.row_keys(), trained)
                if test is not None else None)
    return warnings if repeated is None else [*warnings, repeated]


def _run_config(config: clf.TrainConfig, max_length: int) -> RunConfig:
    """What run.json records: the resolved config with the budget, epochs and frozen
    layers this budget gave."""
    return RunConfig(**{**asdict(config), "max_length": max_length,
                        "epochs": settings.epochs_for(config, max_length),
                        "freeze_layers": settings.frozen_layers_for(config)})


def _write_split(out_dir: Path, dataset: TextDataset, logits: np.ndarray,
                 features: np.ndarray, in_train: np.ndarray, *, test: bool = False) -> None:
    write_logits(out_dir, logits, test=test)
    write_features(out_dir, features, test=test)
    write_points(out_dir, points_frame(dataset, logits, in_train), test=test)


def _fitted_classifier(training_set: TextDataset, config: clf.TrainConfig, model_cache: Path,
                       timings: dict[str, float], report: clf.Progress) -> clf.Classifier:
    """The cached fine-tuned model of this training set and config, else a new one (the
    given classifier, its classes in the data's order, when it is used as it is)."""
    if (model_cache / MODEL_WEIGHTS).is_file():
        with timed("load_cached_model", timings):
            classifier = clf.load_classifier(model_cache)
        report(0.7, "loaded the cached fine-tuned model")
        return classifier
    if not config.fine_tune:
        with timed("load_classifier", timings):
            classifier = adopt_classifier(config.backbone, training_set.label_names,
                                          training_set.texts, training_set.text_pairs,
                                          label_map=config.label_map,
                                          max_length=config.max_length,
                                          truncation=config.truncation)
        report(0.7, "loaded the classifier as it is (not fine-tuned)")
        clf.save_classifier(classifier, model_cache)
        return classifier
    with timed("fine_tune", timings):
        classifier = clf.fine_tune(training_set, config,
                                   progress=lambda f, m: report(0.7 * f, m))
    clf.save_classifier(classifier, model_cache)
    return classifier


def points_frame(dataset: TextDataset, logits: np.ndarray, in_train: np.ndarray) -> pd.DataFrame:
    """One row per sample: the dataset's columns plus prediction, correctness, confidence."""
    frame = dataset.to_frame()
    predictions = logits.argmax(axis=1)
    probabilities = clf.softmax(logits)
    frame["label_id"] = dataset.labels
    frame["pred"] = [dataset.label_names[i] for i in predictions]
    frame["pred_id"] = predictions
    frame["correct"] = predictions == dataset.labels
    frame["max_prob"] = probabilities.max(axis=1).astype(np.float32)
    frame["in_train"] = in_train
    return frame


def load_run_classifier(run_dir: Path) -> clf.Classifier:
    """The run's fine-tuned model, set to the precision its logits were computed in."""
    classifier = clf.load_classifier(Path(run_dir) / MODEL_DIR)
    classifier.precision = read_run(run_dir).logits_precision
    return classifier


def package_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape a run's numbers."""
    import sklearn
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
            "topex": TOPEX_VERSION}


def _existing_run(out_dir: Path, pool: TextDataset, test: TextDataset | None,
                  held_out: HeldOut | None, config: clf.TrainConfig,
                  precision: str) -> RunRecord | None:
    """The run already in ``out_dir`` when it has this data and these settings; None when
    there is none; :class:`RunError` naming both when it is another dataset's or has other
    settings, so that no run is ever overwritten."""
    if not (out_dir / RUN_FILE).is_file():
        return None
    existing = read_run(out_dir)
    input_hash = held_out.source_hash if held_out else pool.content_hash
    if existing.input_hash != input_hash:
        raise RunError(f"{out_dir} holds a run of another dataset ({existing.dataset.source}, "
                       f"{_given_rows(existing):,} rows); refusing to train "
                       f"{pool.source} ({held_out.source_rows if held_out else len(pool):,} "
                       "rows) into it; choose a new run folder")
    # (runs written before a setting existed read its legacy value: ``RunConfig``)
    differences = [name for name, value in asdict(config).items()
                   if not (name in ("max_length", "epochs", "freeze_layers") and value is None)
                   and getattr(existing.config, name) != value]
    if precision != "auto" and existing.logits_precision != precision:
        differences.append("precision")
    existing_test = existing.test_dataset.content_hash if existing.test_dataset else None
    if existing_test != (test.content_hash if test is not None else None):
        differences.append("test split")
    if differences:
        raise RunError(f"{out_dir} holds a run of the same data with other settings "
                       f"({', '.join(differences)}); choose a new run folder to keep both")
    return existing


def _given_rows(record: RunRecord) -> int:
    return record.held_out.source_rows if record.held_out else record.dataset.rows


def prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise RunError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / RUN_FILE).is_file():
        raise RunError(f"{out_dir}: directory is not empty and is not a TopEx run; "
                       "choose a new --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RunError(f"{out_dir}: cannot write there ({error.strerror or error})") from None
    return out_dir


def _cache_key(training_set: TextDataset, config: clf.TrainConfig) -> str:
    payload = {"data": training_set.content_hash, "config": asdict(config),
               "backbone": _backbone_identity(config.backbone), "version": TOPEX_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _backbone_identity(backbone: str) -> str:
    """A local directory is identified by its config and weight files' sizes, not its path."""
    directory = Path(backbone)
    if not directory.is_dir():
        return backbone
    digest = hashlib.sha256()
    for name in sorted(p.name for p in directory.iterdir() if p.is_file()):
        if name.endswith((".json", ".safetensors", ".txt")):
            digest.update(f"{name}:{(directory / name).stat().st_size}".encode())
    digest.update((directory / "config.json").read_bytes()
                  if (directory / "config.json").is_file() else b"")
    return digest.hexdigest()


def _cached_outputs(classifier: clf.Classifier, dataset: TextDataset, model_cache: Path,
                    progress: clf.Progress) -> tuple[np.ndarray, np.ndarray]:
    """(logits (N, C), features (N, hidden)) of ``dataset``, both from one forward pass
    and cached with the model: the features are what a head round trains on, so the first
    round costs what later ones do."""
    suffix = "" if classifier.precision == "float32" else f"-{classifier.precision}"
    stem = f"{dataset.content_hash[:24]}{suffix}.npy"
    logits_path, features_path = model_cache / f"logits-{stem}", model_cache / f"features-{stem}"
    if logits_path.is_file() and features_path.is_file():
        logits = np.load(logits_path, allow_pickle=False)
        features = np.load(features_path, allow_pickle=False)
        if logits.shape == (len(dataset), len(classifier.label_names)) and len(features) == len(
                dataset):
            return logits, features
    features, logits = clf.predict_features(classifier, dataset.texts, dataset.text_pairs,
                                            progress=progress)
    np.save(logits_path, logits)
    np.save(features_path, features)
    return logits, features


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link (or copy, across file systems) the cached model into the run."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.is_file() and not item.name.startswith(("logits-", "features-")):
            try:
                os.link(item, target / item.name)
            except OSError:
                shutil.copy2(item, target / item.name)


def dataset_record(dataset: TextDataset) -> DatasetRecord:
    return DatasetRecord(source=dataset.source, rows=len(dataset), text_col=dataset.text_col,
                         text_pair_col=dataset.text_pair_col, label_col=dataset.label_col,
                         content_hash=dataset.content_hash)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return round(float((logits.argmax(axis=1) == labels).mean()), 4)
