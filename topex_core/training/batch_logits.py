"""Logits of a run's classifier for a whole file, here or spread over a Ray cluster.

``topex logits --run RUN --data FILE --out FILE.parquet [--engine local|ray]`` writes the
file's columns plus one ``logit_<label>`` column per class (the table ``topex
import-predictions`` reads), rows in the file's order.

- ``local``: this process, :func:`classifier.predict_logits` (length-sorted batches).
- ``ray``: a Ray Data job. The file is read with Ray's CSV or Parquet reader, and
  ``map_batches`` sends batches to a pool of actors, each holding the classifier once
  (``cpus_per_actor`` threads, or one GPU each with ``gpus_per_actor``). With
  ``RAY_ADDRESS`` set it joins that cluster, else it starts a local Ray. Every worker
  loads the model from the run directory, so on a cluster that directory must be on
  storage every node reads (a shared file system), as the data file must be.

Ray is an optional dependency (``requirements-dev.txt``), imported only here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.config import LOGITS_ENGINES
from topex_core.data.dataset import read_table
from topex_core.errors import DataError, TopexError
from topex_core.rundir import MODEL_DIR, has_classifier, read_run
from topex_core.timing import Progress
from topex_core.training import classifier as clf
from topex_core.training.imported import SCORE_PREFIXES
from topex_core.training.run import load_run_classifier

RAY_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


class EngineError(TopexError):
    """The distributed engine cannot run (Ray missing, no cluster, a failed job)."""


@dataclass(frozen=True)
class LogitsJob:
    """One file to score: ``text_col`` (and ``text_pair_col`` for sentence pairs) are read;
    ``batch_size`` rows go to an actor at a time; ``actors`` is the size of the Ray actor
    pool (default: one per ``cpus_per_actor`` CPUs of the cluster)."""

    run_dir: Path
    data: Path
    out: Path
    text_col: str = "text"
    text_pair_col: str | None = None
    engine: str = "local"
    batch_size: int = 256
    actors: int | None = None
    cpus_per_actor: int = 1
    gpus_per_actor: float = 0.0


def score_file(job: LogitsJob, progress: Progress | None = None) -> pd.DataFrame:
    """Run ``job`` and write ``job.out``; returns the written table."""
    if job.engine not in LOGITS_ENGINES:
        raise EngineError(f"unknown engine '{job.engine}'; choose one of "
                          f"{', '.join(LOGITS_ENGINES)}")
    if not has_classifier(job.run_dir):
        raise EngineError(f"{job.run_dir} has no classifier of its own to compute logits with")
    if job.batch_size < 1 or job.cpus_per_actor < 1 or (job.actors is not None
                                                         and job.actors < 1):
        raise EngineError("batch size, actors and CPUs per actor must be positive")
    label_names = read_run(job.run_dir).label_names
    scored = (_score_with_ray(job, label_names) if job.engine == "ray"
              else _score_here(job, label_names, progress))
    job.out.parent.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(job.out, index=False)
    return scored


def logit_columns(label_names: list[str]) -> list[str]:
    """The column of each class's logit, as ``topex import-predictions`` reads them."""
    return [f"{SCORE_PREFIXES['logit']}{name}" for name in label_names]


def _with_logits(frame: pd.DataFrame, logits: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``frame`` with one column per class of ``logits`` (n, C)."""
    return frame.assign(**dict(zip(columns, logits.T, strict=True)))


def _score_here(job: LogitsJob, label_names: list[str], progress: Progress | None
                ) -> pd.DataFrame:
    frame = read_table(job.data)
    texts, pairs = _texts(frame, job)
    logits = clf.predict_logits(load_run_classifier(job.run_dir), texts, pairs,
                                progress=progress)
    return _with_logits(frame, logits, logit_columns(label_names))


def _texts(frame: pd.DataFrame, job: LogitsJob) -> tuple[list[str], list[str] | None]:
    for column in (job.text_col, job.text_pair_col):
        if column is not None and column not in frame.columns:
            raise DataError(f"{job.data}: no column '{column}' (columns: "
                            f"{', '.join(map(str, frame.columns))})")
    texts = frame[job.text_col].fillna("").astype(str).tolist()
    pairs = (frame[job.text_pair_col].fillna("").astype(str).tolist()
             if job.text_pair_col else None)
    return texts, pairs


class _LogitsActor:
    """A Ray actor: the run's classifier loaded once, logits for each batch it is sent."""

    def __init__(self, run_dir: str, job: LogitsJob, label_names: list[str],
                 threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.classifier = load_run_classifier(Path(run_dir))
        self.job, self.columns = job, logit_columns(label_names)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        texts, pairs = _texts(batch, self.job)
        logits = clf.predict_logits(self.classifier, texts, pairs,
                                    batch_size=min(64, self.job.batch_size))
        return _with_logits(batch, logits, self.columns)


def _score_with_ray(job: LogitsJob, label_names: list[str]) -> pd.DataFrame:
    ray = _import_ray()
    reader = RAY_READERS.get(job.data.suffix.lower())
    if reader is None:
        raise DataError(f"{job.data}: the ray engine reads {', '.join(RAY_READERS)} files")
    if not job.data.is_file():
        raise DataError(f"{job.data}: no such file")
    if not (job.run_dir / MODEL_DIR).is_dir():
        raise EngineError(f"{job.run_dir}: no model directory")
    started = not ray.is_initialized()
    if started:
        # RAY_ADDRESS set: join that cluster; else a local Ray on this machine's CPUs
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        # read to the end before the actors start: an actor pool holding every CPU left
        # the read tasks none, and the job waited forever on a 2-CPU machine
        dataset = getattr(ray.data, reader)(str(job.data.resolve())).materialize()
        actors = job.actors or max(1, int(ray.cluster_resources().get("CPU", 1))
                                   // job.cpus_per_actor)
        scored = dataset.map_batches(
            _LogitsActor, batch_size=job.batch_size, batch_format="pandas",
            fn_constructor_kwargs={"run_dir": str(job.run_dir.resolve()), "job": job,
                                   "label_names": label_names,
                                   "threads": job.cpus_per_actor},
            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=job.cpus_per_actor,
            num_gpus=job.gpus_per_actor or None)
        # Ray's blocks come back as objects in some versions: the logits are float32
        return scored.to_pandas().astype(dict.fromkeys(logit_columns(label_names), "float32"))
    except ray.exceptions.RayError as error:
        raise EngineError(f"the Ray job failed: {str(error).splitlines()[0]}") from None
    finally:
        if started:
            ray.shutdown()


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is a separate import)
    except ImportError:
        raise EngineError("the ray engine needs Ray: pip install 'ray[data]' (see "
                          "requirements-dev.txt)") from None
    return ray
