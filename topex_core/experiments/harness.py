"""The TopEx protocol as an experiment: does directed augmentation help, per cluster score?

For every seed the harness fine-tunes a base classifier on a seeded subset of the pool
(``train_run``, cached), explores it, and then, for every selection strategy and every n:

1. picks one error cluster: the highest value of one of the six scores (``density``,
   ``apd``, ``gmd``, ``ctc``, ``cos``, ``weighted``), a random error cluster (``random``,
   seeded) or the error cluster with the most rows (``largest``);
2. generates n samples for it with the chosen generator and labels them with the cluster's
   target class (its majority true label) with no human review: the lineage in
   ``samples.jsonl`` says so. The automatic checks a human would see on the Augment page
   run on every sample (``checks``; the prediction check is left out: a sample for an
   error cluster is meant to be hard for the model); their warnings and the names of the
   checks that fired go to ``samples.jsonl``, the count of samples on which none fired to
   ``passed_checks``. Every sample is added, warned or not;
3. retrains (``full``: fine-tune again with the base config and seed; ``head``: the final
   layer only, see ``retrain``) and measures test accuracy against the base model of the
   same seed (fixed / broken test rows and McNemar's exact p).

Region strategies (``strategies.REGION_STRATEGIES``) add samples for the seed's *target*
region (``ExperimentConfig.target``, see ``experiments.region``): the generator's free
samples (``directed``), rewrites of the region's misclassified rows (``rewrite``), half
of them and half rewrites of its rows of other labels keeping their labels
(``balanced``), or unused labelled pool rows of the region (``oracle``) or of anywhere
(``random_rows``). ``sample_repeats`` adds every sample that many times.

Every result is judged against its label-matched control (the samples replaced by as
many training rows of their labels, ``retraining.controls``; in head mode by default) and
against the plain control (nothing added), on the target region's groups
(``experiments.measure``): on the test split, and with a ``validation`` split (carved from
the pool by the caller) on it too, so that settings can be chosen on rows that are not
reported. ``outcomes.jsonl`` keeps the rows behind the counts.

Baselines in the same loop: ``eda_random`` (EDA rewrites of n random training rows with
their own labels, the paper's EDA baseline) and ``none``, the control: the same retraining
with no sample added (in ``full`` mode it reproduces the base model when training is
deterministic; in ``head`` mode it measures the drift of retraining the layer alone).
When two strategies pick the same cluster in one seed, their samples are identical, so the
retrained result is reused (``reused_from`` names the strategy that trained it).

Output in ``OUT_DIR``: ``results.csv`` (one row per seed × strategy × n, appended as
each finishes, so an interrupted experiment resumes where it stopped), ``samples.jsonl``,
``experiment.json`` (config, machine, timings) and ``report.md`` (``experiment_report``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.augmenter.augment import TargetContext
from topex_core.augmenter.generation import Backend
from topex_core.augmenter.generation.eda import EdaBackend, vocabulary_synonyms
from topex_core.config import MAX_SAMPLE_REPEATS, RETRAIN_MODES
from topex_core.data.dataset import TextDataset
from topex_core.experiments.folder import (
    RESULTS_FILE,
    SAMPLES_FILE,
    ExperimentError,
    append_outcomes,
    append_row,
    check_same_config,
    read_results,
    record_invocation,
)
from topex_core.experiments.measure import VALIDATION, split_columns, split_region
from topex_core.experiments.region import (
    check_target,
    oracle_positions,
    random_positions,
    target_region,
    unused_positions,
)
from topex_core.experiments.retrainer import SeedRetrainer
from topex_core.experiments.samples import (
    MakeBackend,
    SeedGenerators,
    empty_samples,
    rows_as_samples,
)
from topex_core.experiments.strategies import REGION_STRATEGIES, SELECTIONS, STRATEGIES
from topex_core.exploredir import is_explored
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.retraining import retrain
from topex_core.retraining.paired import paired_summary
from topex_core.rundir import read_logits
from topex_core.training import classifier as clf
from topex_core.training.embeddings import Embed
from topex_core.training.features import run_datasets
from topex_core.training.run import train_run

LABELLED_BY = "the region's target class, assigned automatically (no human review)"
MAX_N = 50


@dataclass(frozen=True)
class ExperimentConfig:
    """``seeds`` are the base seeds (one base model each); ``selections`` are strategies
    of any kind (``strategies.STRATEGIES``); ``retrain_mode`` is ``full`` (the paper's
    protocol) or ``head``; ``target`` names the region of the region strategies and of
    the region columns (``experiments.region``); ``sample_repeats``: how many times each
    sample is added; ``matched_control``: judge each result against its label-matched
    control (None: in head mode; in full mode it is one more fine-tune per result)."""

    dataset_name: str
    train: clf.TrainConfig = field(default_factory=clf.TrainConfig)
    n_synthetic: tuple[int, ...] = (1, 3, 5, 10)
    seeds: tuple[int, ...] = (0, 1, 2)
    selections: tuple[str, ...] = ("weighted", "random", "eda_random", "none")
    generator: str = "eda"
    retrain_mode: str = "full"
    shots: int = 5
    explore: ExploreConfig = field(default_factory=ExploreConfig)
    target: str = "weighted"
    sample_repeats: int = 1
    matched_control: bool | None = None

    def validate(self) -> ExperimentConfig:
        unknown = sorted(set(self.selections) - set(STRATEGIES))
        if unknown:
            raise ExperimentError(f"unknown selection {', '.join(unknown)}; choose from "
                                  f"{', '.join(STRATEGIES)}")
        if not self.selections or not self.seeds:
            raise ExperimentError("give at least one selection and one seed")
        if not self.n_synthetic or not all(1 <= n <= MAX_N for n in self.n_synthetic):
            raise ExperimentError(f"n-synthetic values must be between 1 and {MAX_N}")
        if not 1 <= self.sample_repeats <= MAX_SAMPLE_REPEATS:
            raise ExperimentError(f"sample repeats must be between 1 and {MAX_SAMPLE_REPEATS}"
                                  f", got {self.sample_repeats}")
        check_target(self.target)
        if self.retrain_mode not in RETRAIN_MODES:
            raise ExperimentError(f"retrain mode must be one of {', '.join(RETRAIN_MODES)}")
        self.train.validate()
        return self

    @property
    def with_matched_control(self) -> bool:
        return (self.matched_control if self.matched_control is not None
                else self.retrain_mode == "head")


def run_experiment(pool: TextDataset, test: TextDataset, config: ExperimentConfig,
                   out_dir: Path, *, embed: Embed, make_backend: MakeBackend | None = None,
                   validation: TextDataset | None = None, command: str | None = None,
                   progress: Callable[[str], None] = lambda message: None) -> pd.DataFrame:
    """Run every seed × strategy × n not yet in ``out_dir/results.csv``; returns all rows.

    ``make_backend(context, texts)`` builds the generator for a cluster (None for the EDA
    baseline, with the texts it rewrites); the default is EDA with the cluster's vocabulary.
    ``validation``: rows held out of the pool, measured beside the test split (``val_``
    columns) and never trained on.
    """
    config.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = asdict(config)
    payload["train"] = asdict(config.train.resolved())
    payload["validation"] = validation.content_hash if validation is not None else None
    check_same_config(out_dir, payload)
    done = read_results(out_dir)
    make_backend = make_backend or eda_backend_factory(embed)
    started = time.perf_counter()
    for seed in config.seeds:
        keys = [(strategy, n) for strategy in config.selections
                for n in ((0,) if strategy == "none" else config.n_synthetic)]
        if all((seed, strategy, n) in done for strategy, n in keys):
            continue
        seed_run = _SeedRun(pool, test, validation, config, out_dir, seed, embed, make_backend,
                            progress)
        for strategy, n in keys:
            if (seed, strategy, n) in done:
                continue
            row, lines = seed_run.result(strategy, n)
            append_outcomes(out_dir, lines)  # first: a row without its outcomes is redone
            append_row(out_dir / RESULTS_FILE, row)
            done[(seed, strategy, n)] = row
            progress(f"seed {seed} {strategy} n={n}: Δ {100 * row['delta']:+.2f} points "
                     f"({time.perf_counter() - started:.0f} s so far)")
    record_invocation(out_dir, command, time.perf_counter() - started)
    return pd.read_csv(out_dir / RESULTS_FILE)


def eda_backend_factory(embed: Embed) -> MakeBackend:
    """EDA with synonyms from the vocabulary of the texts it rewrites."""
    def make(context: TargetContext | None, texts: Sequence[str]) -> Backend:
        return EdaBackend(vocabulary_synonyms(texts, embed))
    return make


class _SeedRun:
    """One base model and everything measured against it."""

    def __init__(self, pool: TextDataset, test: TextDataset, validation: TextDataset | None,
                 config: ExperimentConfig, out_dir: Path, seed: int, embed: Embed,
                 make_backend: MakeBackend, progress: Callable[[str], None]) -> None:
        self.config, self.out_dir, self.seed = config, out_dir, seed
        self.run_dir = out_dir / "runs" / f"seed_{seed}"
        progress(f"seed {seed}: base model")
        # the validation rows ride along with the test split: predicted, never trained on
        measured = test if validation is None else retrain.concat(test, validation)
        self.record = train_run(pool, replace(config.train, seed=seed), self.run_dir,
                                test=measured)
        self.pool, self.test = run_datasets(self.run_dir, self.record)
        self.splits = {"": np.arange(len(test))}
        if validation is not None:
            self.splits[VALIDATION] = np.arange(len(test), len(measured))
        self.train_positions = retrain.train_positions(self.pool, self.record)
        self.unused = unused_positions(self.pool, self.train_positions, self.test)
        self.base_config = replace(config.train.resolved(), seed=seed,
                                   max_length=self.record.config.max_length)
        self.base_pred = read_logits(self.run_dir, test=True).argmax(axis=1)
        self.base_accuracy = float(np.mean(self.base_pred[self.splits[""]]
                                           == self.test.labels[self.splits[""]]))
        if not is_explored(self.run_dir):
            progress(f"seed {seed}: exploring the base model's errors")
            explore_run(self.run_dir, config.explore, embed=embed)
        self.explored = ExploredRun.load(self.run_dir)
        clusters = self.explored.clusters
        self.clusters = clusters[clusters["is_error_cluster"].astype(bool)]
        picked = self._pick(config.target) if config.target in SELECTIONS else None
        self.region = target_region(self.explored, config.target,
                                    None if picked is None else int(picked["cluster"]))
        self.trained: dict[tuple, tuple[dict, list[dict], str]] = {}
        self.generators = SeedGenerators(self.explored, self.pool, make_backend, embed,
                                         config.generator, config.shots, seed)
        self.retrainer = SeedRetrainer(self.run_dir, self.pool, self.test,
                                       self.train_positions, self.base_config,
                                       config.retrain_mode, config.sample_repeats, seed)

    def result(self, strategy: str, n: int) -> tuple[dict, list[dict]]:
        """The results.csv row of ``strategy`` at ``n`` and its outcomes.jsonl lines."""
        started = time.perf_counter()
        test = self.splits[""]
        row = {"dataset": self.config.dataset_name, "seed": self.seed, "strategy": strategy,
               "n": n, "cluster": None, "cluster_name": None, "cluster_size": None,
               "cluster_errors": None, "target_label": None, "samples": 0,
               "test_rows": len(test), "base_accuracy": self.base_accuracy,
               "accuracy": self.base_accuracy, "delta": 0.0, "fixed": 0, "broken": 0,
               "mcnemar_p": 1.0, "passed_checks": None, "status": "ok", "reused_from": None,
               "generator": self.config.generator, "retrain_mode": self.config.retrain_mode}
        region = self._region_of(strategy)
        if region is None and strategy not in ("none", "eda_random"):
            status = ("no error cluster" if strategy in SELECTIONS
                      else f"no target region '{self.config.target}' in this run")
            return {**row, "status": status, "seconds": 0.0}, []
        if region is not None:
            row.update(target_label=region.label, cluster_name=region.name,
                       cluster_size=len(region.rows), cluster_errors=region.errors,
                       cluster=region.cluster)
        key = (None if region is None
               else (region.kind, region.key, self._source(strategy), n))
        reused = self.trained.get(key) if key is not None else None
        if reused is not None:
            measured, lines, by = reused
            return ({**row, **measured, "reused_from": by,
                     "seconds": time.perf_counter() - started},
                    [{**line, "strategy": strategy} for line in lines])
        if strategy == "balanced" and not self._has_complement(region):
            return {**row, "status": "the region has no rows of another label to balance with",
                    "seconds": 0.0}, []
        samples = self._samples(strategy, region, n)
        self._write_samples(samples, strategy, n, region)
        if samples.empty and strategy != "none":
            return {**row, "status": "no usable sample (generator or pool rows)",
                    "seconds": time.perf_counter() - started}, []
        after = self.retrainer.predictions(samples)
        measured, lines = self._measured(samples, after)
        measured["samples"] = len(samples)
        lines = [{"seed": self.seed, "strategy": strategy, "n": n, **line} for line in lines]
        if "fired" in samples:
            measured["passed_checks"] = int((samples["fired"].str.len() == 0).sum())
        if key is not None:
            self.trained[key] = (measured, lines, strategy)
        return {**row, **measured, "seconds": time.perf_counter() - started}, lines

    def _measured(self, samples: pd.DataFrame, after: np.ndarray) -> tuple[dict, list[dict]]:
        """The columns of a result against the base model (test split) and against its
        controls, per split, and the outcome lines (``experiments.measure``)."""
        plain = self.retrainer.plain()
        excluded = self.region.rows if self.region is not None else np.zeros(0, np.int64)
        matched = (self.retrainer.matched(samples, excluded)
                   if self.config.with_matched_control and not samples.empty else plain)
        control_name = "matched" if self.config.with_matched_control else "plain"
        labels, test = self.test.labels, self.splits[""]
        columns = {**_paired(labels[test], self.base_pred[test], after[test]),
                   "control": control_name}
        region = self.region
        if region is not None:
            columns.update(region_kind=region.kind, region_key=region.key,
                           region_name=region.name)
        lines = []
        for prefix, rows in self.splits.items():
            split, line = split_columns(
                None if region is None else split_region(region, rows),
                self.pool.label_names, labels[rows], self.base_pred[rows], after[rows],
                matched[rows], control_name, plain[rows])
            columns.update({f"{prefix}{name}": value for name, value in split.items()})
            lines.append({"split": "validation" if prefix else "test",
                          **{name: np.asarray(value).tolist() if name != "rows" else value
                             for name, value in line.items()}})
        return columns, lines

    def _region_of(self, strategy: str) -> Region | None:
        """The region a strategy adds samples for: the cluster a selection picks, the
        target for region strategies, none for the baselines."""
        if strategy in SELECTIONS:
            picked = self._pick(strategy)
            return (None if picked is None
                    else self.explored.error_cluster(int(picked["cluster"])))
        return self.region if strategy in REGION_STRATEGIES else None

    def _source(self, strategy: str) -> str:
        """Strategies with the same source and region make the same samples."""
        return "directed" if strategy in SELECTIONS else strategy

    def _samples(self, strategy: str, region: Region | None, n: int) -> pd.DataFrame:
        if strategy == "none":
            return empty_samples()
        if strategy == "eda_random":
            return self.generators.random_rows(self.train_positions, n)
        if strategy == "oracle":
            return rows_as_samples(self.pool, oracle_positions(region, self.pool, self.unused,
                                                               n, self.seed))
        if strategy == "random_rows":
            return rows_as_samples(self.pool, random_positions(self.unused, n, self.seed))
        if strategy == "balanced":  # as many samples in all: half each side of the boundary
            return pd.concat([self.generators.for_region(region, n - n // 2, "rewrite"),
                              self.generators.for_region(region, n // 2, "complement")],
                             ignore_index=True)
        return self.generators.for_region(region, n, "rewrite" if strategy == "rewrite"
                                          else "free")

    def _has_complement(self, region: Region) -> bool:
        reach = region.reach(test=False)
        return bool((self.pool.labels[reach] != self.pool.label_names.index(region.label)).any())

    def _pick(self, strategy: str) -> pd.Series | None:
        clusters = self.clusters
        if clusters is None or clusters.empty:
            return None
        if strategy == "random":
            rng = np.random.default_rng([self.seed, 7])
            return clusters.iloc[int(rng.integers(len(clusters)))]
        column = "size" if strategy == "largest" else strategy
        ordered = clusters.sort_values([column, "cluster"], ascending=[False, True],
                                       na_position="last")
        return ordered.iloc[0]

    def _write_samples(self, samples: pd.DataFrame, strategy: str, n: int,
                       region: Region | None) -> None:
        labelled_by = (LABELLED_BY if strategy not in ("oracle", "random_rows", "eda_random")
                       else "the row's own label in the dataset")
        with (self.out_dir / SAMPLES_FILE).open("a", encoding="utf-8") as handle:
            for sample in samples.to_dict("records"):
                handle.write(json.dumps({
                    "dataset": self.config.dataset_name, "seed": self.seed,
                    "strategy": strategy, "n": n,
                    "cluster": None if region is None else region.cluster,
                    "region": None if region is None else str(region.ref), **sample,
                    "labelled_by": labelled_by}, ensure_ascii=False, default=str) + "\n")


def _paired(labels: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict:
    """The columns of results.csv from ``compare.paired_summary`` of the test split."""
    summary = paired_summary(labels, before, after)
    return {"accuracy": summary.accuracy_after, "delta": summary.change,
            "fixed": summary.fixed, "broken": summary.broken, "mcnemar_p": summary.mcnemar_p}


