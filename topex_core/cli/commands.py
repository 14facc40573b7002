"""What each ``topex`` command does: read its arguments, call the core, print JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from topex_core.config import runs_dir
from topex_core.errors import SettingsError
from topex_core.round_outcomes import RoundGroups
from topex_core.round_records import RoundResult
from topex_core.rundir import run_folder_name


def _read_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"--template-file {path}: cannot read it ({error})") from None


def _datasets(args: argparse.Namespace):
    """(pool, test or None) from --data, the column options and --test where it exists."""
    from topex_core.data import demo
    from topex_core.data.dataset import load_dataset

    if args.data == "demo":
        return demo.load_demo()
    columns = {"text_col": args.text_col, "label_col": args.label_col,
               "text_pair_col": args.text_pair_col}
    pool = load_dataset(args.data, **columns)
    test_path = getattr(args, "test", None)
    test = load_dataset(test_path, **columns, label_names=pool.label_names) if test_path else None
    for dataset in (pool, test):
        for warning in dataset.warnings if dataset is not None else ():
            print(f"topex: warning: {dataset.source}: {warning}", file=sys.stderr)
    return pool, test


def train(args: argparse.Namespace) -> int:
    from topex_core.training.adopt import parse_label_map
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.run import train_run

    config = TrainConfig(backbone=args.backbone, train_size=args.train_size, epochs=args.epochs,
                         seed=args.seed, max_length=args.max_length, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, fine_tune=args.fine_tune,
                         truncation=args.truncation, train_precision=args.train_precision,
                         freeze_layers=args.freeze_layers,
                         label_map=parse_label_map(args.label_map) if args.label_map else None)
    config.validate()
    pool, test = _datasets(args)
    set_cpu_threads()
    out = args.out or runs_dir() / run_folder_name(
        Path(str(args.data)).stem, pool.content_hash, config, test_size=args.test_size,
        precision=args.precision, test_hash=test.content_hash if test is not None else None)
    record = train_run(pool, config, out, test=test, test_size=args.test_size,
                       precision=args.precision, progress=_stderr_progress("train"))
    summary = {"run": str(out), "run_id": record.run_id, "rows": record.dataset.rows,
               "test_rows": record.test_dataset.rows if record.test_dataset else 0,
               "held_out": record.held_out.share if record.held_out else None,
               "pool_accuracy": record.pool_accuracy, "test_accuracy": record.test_accuracy,
               "timings_s": record.timings_s}
    print(json.dumps(summary))
    return 0


def import_predictions(args: argparse.Namespace) -> int:
    from topex_core.training.imported import import_predictions, load_scored

    columns = {"text_col": args.text_col, "label_col": args.label_col,
               "text_pair_col": args.text_pair_col}
    pool = load_scored(args.data, **columns)
    test = (load_scored(args.test, **columns, label_names=pool.dataset.label_names)
            if args.test else None)
    record = import_predictions(pool, args.out, test=test, test_size=args.test_size)
    print(json.dumps({"run": str(args.out), "run_id": record.run_id,
                      "scores": record.config.imported, "rows": record.dataset.rows,
                      "test_rows": record.test_dataset.rows if record.test_dataset else 0,
                      "pool_accuracy": record.pool_accuracy,
                      "test_accuracy": record.test_accuracy}))
    return 0


def logits(args: argparse.Namespace) -> int:
    from topex_core.training.batch_logits import LogitsJob, score_file
    from topex_core.training.classifier import set_cpu_threads

    set_cpu_threads()
    job = LogitsJob(run_dir=args.run, data=args.data, out=args.out, text_col=args.text_col,
                    text_pair_col=args.text_pair_col, engine=args.engine,
                    batch_size=args.batch_size, actors=args.actors,
                    cpus_per_actor=args.cpus_per_actor, gpus_per_actor=args.gpus_per_actor)
    start = time.perf_counter()
    scored = score_file(job, progress=_stderr_progress("logits"))
    seconds = time.perf_counter() - start
    print(json.dumps({"out": str(args.out), "rows": len(scored), "engine": args.engine,
                      "seconds": round(seconds, 2),
                      "rows_per_second": round(len(scored) / max(seconds, 1e-9), 1)}))
    return 0


def explore(args: argparse.Namespace) -> int:
    from topex_core.explorer.clustering import ClusterConfig
    from topex_core.explorer.pipeline import ExploreConfig, explore_run
    from topex_core.rundir import is_run
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder
    from topex_core.training.run import train_run

    set_cpu_threads()
    if not is_run(args.run) and args.data:
        pool, test = _datasets(args)
        train_run(pool, TrainConfig(seed=args.seed), args.run, test=test,
                  test_size=args.test_size, progress=_stderr_progress("train"))
    config = ExploreConfig(
        clustering=ClusterConfig(method=args.method, min_samples=args.min_samples, xi=args.xi,
                                 max_eps=args.max_eps, error_threshold=args.error_threshold),
        space=args.space, seed=args.seed)
    result = explore_run(args.run, config, embed=SentenceEmbedder(),
                         progress=_stderr_progress("explore"))
    summary = {key: getattr(result, key) for key in
               ("method", "space", "clusters", "error_clusters", "slices", "noise_points",
                "picked_cluster", "picked_name", "reason", "target_kind", "target_key",
                "target_name", "target_reason", "mistakes", "in_error_clusters",
                "in_slices", "covered", "timings_s")}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def describe(args: argparse.Namespace) -> int:
    from topex_core.augmenter.describe import describe_backend, describe_regions
    from topex_core.explorer.explored import ExploredRun
    from topex_core.training.classifier import set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder

    set_cpu_threads()
    explored = ExploredRun.load(args.run)
    backend = describe_backend(args.backend, model=args.model, base_url=args.base_url,
                               timeout_s=args.timeout)
    descriptions = describe_regions(explored, backend, embed=SentenceEmbedder(), top=args.top,
                                    progress=_stderr_progress("describe"))
    for description in descriptions:
        print(json.dumps({**description.to_json(), "verdict": str(description.check)},
                         ensure_ascii=False))
    return 0


def generate(args: argparse.Namespace) -> int:
    from topex_core.augmenter import augment, backends
    from topex_core.augmenter.checks import checker_for_run
    from topex_core.augmenter.generation import GenerationError, Sampling
    from topex_core.storage.store import Store
    from topex_core.training.classifier import set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder

    set_cpu_threads()
    template = _read_template(args.template_file) if args.template_file else None
    context = augment.target_context(args.run, args.target)
    if args.target is None:
        print(f"topex: no --target given: the default target, {context.target.ref} "
              f"({context.target.title})", file=sys.stderr)
    mode = args.mode or context.default_mode()
    n = args.n if args.n is not None else context.default_size(mode)
    if args.mode is None or args.n is None:
        print(f"topex: {mode} mode, {n} candidates", file=sys.stderr)
    request = augment.AugmentRequest(
        n=n, label=args.label, task=args.task, shots=args.shots,
        mix_ratio=args.mix_ratio, template=template, mode=mode,
        sampling=Sampling(temperature=args.temperature, top_p=args.top_p,
                          max_tokens=args.max_tokens, seed=args.seed)).validate()
    prompts = augment.prepare_prompts(context, request)
    embed = SentenceEmbedder()
    backend = backends.target_backend(args.backend, context, embed=embed, model=args.model,
                                      base_url=args.base_url, timeout_s=args.timeout,
                                      concurrency=args.concurrency)
    checker = checker_for_run(context.explored, context.target, embed=embed,
                              predict=backends.classifier_predict(args.run),
                              progress=_stderr_progress("checks"))
    with Store(args.db) as store:
        outcome = augment.generate_candidates(context, request, prompts, backend=backend,
                                              checker=checker, store=store)
    for candidate in outcome.candidates:
        print(json.dumps(candidate.to_json(), ensure_ascii=False))
    if outcome.error:
        raise GenerationError(f"{outcome.error}; {len(outcome.candidates)} candidates were stored")
    if outcome.dropped:
        print(f"topex: {outcome.dropped} of {outcome.completions} completions had no usable "
              "text and were dropped", file=sys.stderr)
    return 0


def retrain(args: argparse.Namespace) -> int:
    from topex_core.retraining.config import RetrainConfig, consecutive_seeds
    from topex_core.retraining.retrain import retrain
    from topex_core.rundir import read_run
    from topex_core.storage.store import Store
    from topex_core.training.classifier import set_cpu_threads

    seeds = consecutive_seeds(read_run(args.run).seed, args.seeds)
    set_cpu_threads()
    config = RetrainConfig(mode=args.mode, seeds=seeds, control=args.control,
                           matched_control=args.matched_control, backbone=args.backbone,
                           sample_repeats=args.sample_repeats)
    with Store(args.db) as store:
        result = retrain(args.run, config, store=store, progress=_stderr_progress("retrain"))
    print(json.dumps(_compare_summary(result), ensure_ascii=False))
    return 0


def compare(args: argparse.Namespace) -> int:
    from topex_core.rounddir import read_round, round_dir_of

    round_dir = round_dir_of(args.run, args.round) if args.round is not None else None
    print(json.dumps(_compare_summary(read_round(args.run, round_dir)), ensure_ascii=False))
    return 0


def _compare_summary(result: RoundResult) -> dict:
    """The round's summary: the ``verdict`` and the ``control`` it is against, the three
    groups (``target``, ``complement``, ``rest``) and every class against that control
    (``per_class_vs_control``, with the ``shift`` sentence), the same against the plain
    control (``against_plain_control``) when both were trained; then each targeted region
    (``targets``), the whole test split (``overall``), the other region hurt most
    (``worst_other``, descriptive) and the figures earlier versions printed. A round
    without groups (no test split or no control, or written before them) has ``target``:
    its first targeted region."""
    metrics = result.metrics
    payload = metrics.to_json()
    groups = metrics.groups
    targets = payload["targets"]
    return {"round_dir": result.round_dir, "mode": result.mode, "seeds": result.seeds,
            "samples": result.samples, "control": metrics.control,
            "verdict": payload["verdict"],
            **(_groups_summary(groups) if groups is not None else {
                "target": targets[0] if targets else None, "complement": None, "rest": None,
                "per_class_vs_control": [], "shift": None}),
            "against_plain_control": (_groups_summary(metrics.plain_groups)
                                      if metrics.plain_groups is not None else None),
            "targets": targets, "overall": payload["overall"],
            "worst_other": payload["worst_other"], **{key: payload[key] for key in (
                "accuracy_before", "accuracy_after", "fixed", "broken", "mcnemar_p",
                "diff_ci95", "test", "regions", "per_class", "across_seeds",
                "against_control", "against_matched_control")},
            "timings_s": result.timings_s}


def _groups_summary(groups: RoundGroups) -> dict:
    return {"target": groups.target.to_json(), "complement": groups.complement.to_json(),
            "rest": groups.rest.to_json(),
            "per_class_vs_control": [c.to_json() for c in groups.per_class],
            "shift": groups.shift}


def decide(args: argparse.Namespace) -> int:
    from topex_core.storage.store import BULK_ACTIONS, Store, StoreError

    # The group is required and exclusive, so exactly one is set; "" counts as a (bad) edit.
    action = next(name for name in ("accept", "reject", "edit", "relabel", "undo")
                  if getattr(args, name) not in (None, False))
    if len(args.candidate) > 1 and action not in BULK_ACTIONS:
        raise StoreError(f"--{action} takes one --candidate; only --accept and --reject "
                         "take several")
    with Store(args.db) as store:
        store.run_id(args.run)
        if len(args.candidate) > 1:
            decisions = store.decide_many(args.candidate, action, actor=args.actor)
            print(json.dumps({"candidates": args.candidate, "decisions": decisions,
                              "action": action}))
            return 0
        candidate = args.candidate[0]
        if action == "undo":
            print(json.dumps({"candidate": candidate, "undone_decision": store.undo(candidate)}))
            return 0
        decision = store.decide(candidate, action, text=args.edit, label=args.relabel,
                                actor=args.actor)
    print(json.dumps({"candidate": candidate, "decision": decision, "action": action}))
    return 0


def export(args: argparse.Namespace) -> int:
    from topex_core.storage.export import export_run, export_samples
    from topex_core.storage.store import Store

    with Store(args.db) as store:
        run_id = store.run_id(args.run)
        if args.whole:
            path = export_run(store, args.run, args.out)
        else:
            frame = store.accepted(run_id) if args.accepted else store.candidates(run_id)
            path = export_samples(frame, args.out, args.format)
            print(json.dumps({"out": str(path), "rows": len(frame)}))
            return 0
    print(json.dumps({"out": str(path)}))
    return 0


def _stderr_progress(stage: str) -> Callable[[float, str], None]:
    """Print a progress line at most every two seconds, and always the last one."""
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0 or fraction >= 1.0:
            last[0] = now
            print(f"[{stage}] {100 * fraction:5.1f}% {message}", file=sys.stderr, flush=True)

    return report
