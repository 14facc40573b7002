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
import torch

from topex_core.augmenter.augment import (
    AugmentRequest,
    TargetContext,
    generate_parsed,
    prepare_prompt,
    target_context,
)
from topex_core.augmenter.checks import CandidateChecker, checker_for_run
from topex_core.augmenter.generation import Backend, Sampling
from topex_core.augmenter.generation.eda import EdaBackend, vocabulary_synonyms
from topex_core.augmenter.prompts import Example, build_prompt
from topex_core.config import RETRAIN_MODES
from topex_core.data.dataset import TextDataset
from topex_core.data.texts import point_texts
from topex_core.experiments.folder import (
    RESULTS_FILE,
    SAMPLES_FILE,
    ExperimentError,
    append_row,
    check_same_config,
    read_results,
    record_invocation,
)
from topex_core.experiments.strategies import BASELINES, SELECTIONS
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.retraining import retrain
from topex_core.retraining.compare import paired_summary
from topex_core.retraining.head import fit_head
from topex_core.rundir import (
    is_explored,
    read_explore,
    read_logits,
)
from topex_core.training import classifier as clf
from topex_core.training.embeddings import Embed
from topex_core.training.features import cached_features, run_datasets
from topex_core.training.run import load_run_classifier, train_run

LABELLED_BY = "the cluster's target class, assigned automatically (no human review)"
MakeBackend = Callable[[TargetContext | None, Sequence[str]], Backend]


@dataclass(frozen=True)
class ExperimentConfig:
    """``seeds`` are the base seeds (one base model each); ``selections`` may include the
    baselines; ``retrain_mode`` is ``full`` (the paper's protocol) or ``head``."""

    dataset_name: str
    train: clf.TrainConfig = field(default_factory=clf.TrainConfig)
    n_synthetic: tuple[int, ...] = (1, 3, 5, 10)
    seeds: tuple[int, ...] = (0, 1, 2)
    selections: tuple[str, ...] = ("weighted", "random", "eda_random", "none")
    generator: str = "eda"
    retrain_mode: str = "full"
    shots: int = 5
    explore: ExploreConfig = field(default_factory=ExploreConfig)

    def validate(self) -> ExperimentConfig:
        unknown = sorted(set(self.selections) - set(SELECTIONS) - set(BASELINES))
        if unknown:
            raise ExperimentError(f"unknown selection {', '.join(unknown)}; choose from "
                                  f"{', '.join(SELECTIONS + BASELINES)}")
        if not self.selections or not self.seeds:
            raise ExperimentError("give at least one selection and one seed")
        if not self.n_synthetic or not all(1 <= n <= 10 for n in self.n_synthetic):
            raise ExperimentError("n-synthetic values must be between 1 and 10 (the paper "
                                  "never adds more than 10 samples to one cluster)")
        if self.retrain_mode not in RETRAIN_MODES:
            raise ExperimentError(f"retrain mode must be one of {', '.join(RETRAIN_MODES)}")
        self.train.validate()
        return self


def run_experiment(pool: TextDataset, test: TextDataset, config: ExperimentConfig,
                   out_dir: Path, *, embed: Embed, make_backend: MakeBackend | None = None,
                   command: str | None = None,
                   progress: Callable[[str], None] = lambda message: None) -> pd.DataFrame:
    """Run every seed × strategy × n not yet in ``out_dir/results.csv``; returns all rows.

    ``make_backend(context, texts)`` builds the generator for a cluster (None for the EDA
    baseline, with the texts it rewrites); the default is EDA with the cluster's vocabulary.
    """
    config.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = asdict(config)
    payload["train"] = asdict(config.train.resolved())
    check_same_config(out_dir, payload)
    done = read_results(out_dir)
    make_backend = make_backend or eda_backend_factory(embed)
    started = time.perf_counter()
    for seed in config.seeds:
        keys = [(strategy, n) for strategy in config.selections
                for n in ((0,) if strategy == "none" else config.n_synthetic)]
        if all((seed, strategy, n) in done for strategy, n in keys):
            continue
        seed_run = _SeedRun(pool, test, config, out_dir, seed, embed, make_backend, progress)
        for strategy, n in keys:
            if (seed, strategy, n) in done:
                continue
            row = seed_run.result(strategy, n)
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

    def __init__(self, pool: TextDataset, test: TextDataset, config: ExperimentConfig,
                 out_dir: Path, seed: int, embed: Embed, make_backend: MakeBackend,
                 progress: Callable[[str], None]) -> None:
        self.config, self.out_dir, self.seed = config, out_dir, seed
        self.make_backend = make_backend
        self.run_dir = out_dir / "runs" / f"seed_{seed}"
        progress(f"seed {seed}: base model")
        self.record = train_run(pool, replace(config.train, seed=seed), self.run_dir, test=test)
        self.pool, self.test = run_datasets(self.run_dir, self.record)
        self.train_positions = retrain.train_positions(self.pool, self.record)
        self.base_config = replace(config.train.resolved(), seed=seed,
                                   max_length=self.record.config.max_length)
        self.base_pred = read_logits(self.run_dir, test=True).argmax(axis=1)
        self.base_accuracy = float(np.mean(self.base_pred == self.test.labels))
        self.clusters = None
        if any(strategy in SELECTIONS for strategy in config.selections):
            if not is_explored(self.run_dir):
                progress(f"seed {seed}: exploring the base model's errors")
                explore_run(self.run_dir, config.explore, embed=embed)
            _, clusters = read_explore(self.run_dir)
            self.clusters = clusters[clusters["is_error_cluster"]]
        self.trained: dict[tuple[int, int], tuple[dict, str]] = {}
        self._random_backend: Backend | None = None
        self._generators: dict[int, tuple[TargetContext, Backend, CandidateChecker]] = {}
        self.embed = embed
        self._head: tuple[clf.Classifier, np.ndarray, np.ndarray] | None = None

    def result(self, strategy: str, n: int) -> dict:
        started = time.perf_counter()
        base_accuracy = self.base_accuracy
        row = {"dataset": self.config.dataset_name, "seed": self.seed, "strategy": strategy,
               "n": n, "cluster": None, "cluster_name": None, "cluster_size": None,
               "cluster_errors": None, "target_label": None, "samples": 0,
               "base_accuracy": base_accuracy, "accuracy": base_accuracy, "delta": 0.0,
               "fixed": 0, "broken": 0, "mcnemar_p": 1.0, "passed_checks": None,
               "status": "ok", "reused_from": None,
               "generator": self.config.generator, "retrain_mode": self.config.retrain_mode}
        if strategy == "none":
            samples = _empty_samples()
        elif strategy == "eda_random":
            samples = self._random_row_samples(n)
        else:
            cluster = self._pick(strategy)
            if cluster is None:
                return {**row, "status": "no error cluster", "seconds": 0.0}
            row.update(cluster=int(cluster["cluster"]), cluster_name=str(cluster["name"]),
                       cluster_size=int(cluster["size"]), cluster_errors=int(cluster["errors"]),
                       target_label=str(cluster["true_majority"]))
            if (row["cluster"], n) in self.trained:
                measured, by = self.trained[(row["cluster"], n)]
                return {**row, **measured, "reused_from": by,
                        "seconds": time.perf_counter() - started}
            samples = self._cluster_samples(row["cluster"], n)
        self._write_samples(samples, strategy, n, row["cluster"])
        if samples.empty and strategy != "none":
            return {**row, "status": "the generator returned no usable sample",
                    "seconds": time.perf_counter() - started}
        measured = {**_paired(self.test.labels, self.base_pred,
                              self._retrained_predictions(samples)), "samples": len(samples)}
        if "fired" in samples:
            measured["passed_checks"] = int((samples["fired"].str.len() == 0).sum())
        if row["cluster"] is not None:
            self.trained[(row["cluster"], n)] = (measured, strategy)
        return {**row, **measured, "seconds": time.perf_counter() - started}

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

    def _cluster_samples(self, cluster: int, n: int) -> pd.DataFrame:
        if cluster not in self._generators:  # one context and backend per cluster, every n
            context = target_context(self.run_dir, cluster=cluster)
            self._generators[cluster] = (
                context, self.make_backend(context, point_texts(context.rows)),
                checker_for_run(context.explored, context.target, embed=self.embed, predict=None))
        context, backend, checker = self._generators[cluster]
        shots = max(self.config.shots, n) if self.config.generator == "eda" else self.config.shots
        request = AugmentRequest(n=n, shots=min(shots, 10),
                                 sampling=Sampling(seed=self.seed))
        prompt = prepare_prompt(context, request)
        samples = _generate(backend, prompt, n, request.sampling)
        pairs = samples["text_pair"].tolist() if context.pair else None
        checks = checker.check(samples["text"].tolist(), pairs, samples["label"].tolist(),
                               examples=prompt.examples)
        samples["warnings"] = [check.warnings for check in checks]
        samples["fired"] = [check.fired for check in checks]
        return samples

    def _random_row_samples(self, n: int) -> pd.DataFrame:
        positions = self.train_positions
        rng = np.random.default_rng([self.seed, n, 11])
        chosen = rng.choice(positions, size=min(n, len(positions)), replace=False)
        pair = self.pool.text_pairs is not None
        rows = []
        if self._random_backend is None:
            self._random_backend = self.make_backend(None, [self.pool.texts[i]
                                                            for i in positions])
        for position in chosen:
            label = self.pool.label_names[self.pool.labels[position]]
            example = Example(self.pool.texts[position],
                              self.pool.text_pairs[position] if pair else None,
                              row_id=int(self.pool.ids[position]))
            prompt = build_prompt(task="nli" if pair else "text", label=label,
                                  issue="a random training row", examples=[example])
            rows.append(_generate(self._random_backend, prompt, 1,
                                  Sampling(seed=self.seed + int(position))))
        return pd.concat(rows, ignore_index=True) if rows else _empty_samples()

    def _retrained_predictions(self, samples: pd.DataFrame) -> np.ndarray:
        sample_set = retrain.samples_dataset(samples, self.pool.label_names,
                                             self.pool.text_pairs is not None)
        if self.config.retrain_mode == "full":
            training_set = retrain.concat(self.pool.subset(self.train_positions), sample_set)
            model = clf.fine_tune(training_set, self.base_config)
            return clf.predict_logits(model, self.test.texts, self.test.text_pairs).argmax(1)
        base, features, test_features = self._head_inputs()
        head = fit_head(base, features, self.pool.labels, self.train_positions, sample_set,
                        retrain.RetrainConfig(mode="head").head_schedule, self.seed)
        with torch.no_grad():
            return head(torch.as_tensor(test_features)).numpy().argmax(1)

    def _head_inputs(self) -> tuple[clf.Classifier, np.ndarray, np.ndarray]:
        """The base model and its encoder features for pool and test, read once per seed."""
        if self._head is None:
            base = load_run_classifier(self.run_dir)
            self._head = (base, cached_features(base, self.pool, self.run_dir),
                          cached_features(base, self.test, self.run_dir, test=True))
        return self._head

    def _write_samples(self, samples: pd.DataFrame, strategy: str, n: int,
                       cluster: int | None) -> None:
        with (self.out_dir / SAMPLES_FILE).open("a", encoding="utf-8") as handle:
            for sample in samples.to_dict("records"):
                handle.write(json.dumps({
                    "dataset": self.config.dataset_name, "seed": self.seed,
                    "strategy": strategy, "n": n, "cluster": cluster, **sample,
                    "labelled_by": LABELLED_BY if cluster is not None
                    else "the label of the rewritten training row"}, ensure_ascii=False) + "\n")


def _generate(backend: Backend, prompt, n: int, sampling: Sampling) -> pd.DataFrame:
    """Up to n parsed samples (text, text_pair, label, backend, model, generator_seed)."""
    parsed, _, _, _ = generate_parsed(backend, prompt, n, sampling)
    rows = [{"text": item.text, "text_pair": item.text_pair, "label": prompt.label,
             "backend": completion.backend, "model": completion.model,
             "generator_seed": completion.seed} for completion, item in parsed]
    return pd.DataFrame(rows[:n]) if rows else _empty_samples()


def _empty_samples() -> pd.DataFrame:
    return pd.DataFrame(columns=["text", "text_pair", "label", "backend", "model",
                                 "generator_seed"])


def _paired(labels: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict:
    """The columns of results.csv from ``compare.paired_summary`` of the test split."""
    summary = paired_summary(labels, before, after)
    return {"accuracy": summary.accuracy_after, "delta": summary.change,
            "fixed": summary.fixed, "broken": summary.broken, "mcnemar_p": summary.mcnemar_p}


