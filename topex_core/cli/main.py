"""The ``topex`` command line: the same core functions the dashboard calls.

Every user error ends with exit status 2 and one line on stderr (``topex: error: …``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from topex_core.cli.experiment import add_experiment_commands
from topex_core.config import PRECISIONS
from topex_core.explorer.clustering import METHODS, ClusterConfig

# DataError, ModelError and RunError are ValueErrors: bad input, said in one line
USER_ERRORS = (ValueError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        if args.debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"topex: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("topex: interrupted", file=sys.stderr)
        return 130


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="topex", description="TopEx: find, name and repair "
                                     "the regions where a text classifier fails.")
    commands = parser.add_subparsers(title="commands")
    train = commands.add_parser("train", help="fine-tune a classifier and write a run directory")
    _add_data_arguments(train)
    train.add_argument("--test", help="held-out split with the same columns (test accuracy)")
    train.add_argument("--backbone", default="",
                       help="Hugging Face model id or local directory (default: packaged MiniLM)")
    train.add_argument("--train-size", type=int, default=1000)
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max-length", type=int, default=None,
                       help="tokens per sample (default: 99th percentile of the data, ≤ 256)")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=1e-4)
    train.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="of the forward passes: float32 (exact, default) or bfloat16 "
                            "(faster on CPUs with AMX and on GPUs; logits move by about 0.01)")
    train.add_argument("--out", required=True, type=Path, help="run directory to write")
    train.add_argument("--debug", action="store_true", help="show tracebacks")
    train.set_defaults(handler=_train)

    explore = commands.add_parser("explore", help="find, name, map and score error clusters")
    explore.add_argument("--run", required=True, type=Path, help="run directory (from train)")
    explore.add_argument("--data", help="train first on this dataset (or 'demo') when --run is "
                         "not a run yet")
    explore.add_argument("--text-col", default="text")
    explore.add_argument("--text-pair-col", default=None)
    explore.add_argument("--label-col", default="label")
    defaults = ClusterConfig()
    explore.add_argument("--method", default=defaults.method, choices=list(METHODS))
    explore.add_argument("--min-samples", type=int, default=defaults.min_samples)
    explore.add_argument("--xi", type=float, default=defaults.xi)
    explore.add_argument("--max-eps", type=float, default=defaults.max_eps)
    explore.add_argument("--error-threshold", type=float, default=defaults.error_threshold,
                         help="a cluster is an error cluster above this share of mistakes")
    explore.add_argument("--seed", type=int, default=0)
    explore.add_argument("--debug", action="store_true", help="show tracebacks")
    explore.set_defaults(handler=_explore)

    generate = commands.add_parser("generate", help="generate candidate samples for a cluster")
    _add_generate_arguments(generate)
    generate.set_defaults(handler=_generate)

    retrain = commands.add_parser("retrain", help="retrain with the accepted samples")
    retrain.add_argument("--run", required=True, type=Path, help="explored run directory")
    retrain.add_argument("--mode", default="head", choices=["full", "head"],
                         help="head: frozen encoder, seconds; full: fine-tune again")
    retrain.add_argument("--seeds", type=int, default=1,
                         help="number of seeds (the base run's seed, then +1, +2, …)")
    retrain.add_argument("--control", action="store_true",
                         help="also train each seed without the samples and compare with it")
    retrain.add_argument("--db", type=Path, default=None, help="store (default $TOPEX_HOME)")
    retrain.add_argument("--debug", action="store_true", help="show tracebacks")
    retrain.set_defaults(handler=_retrain)

    compare = commands.add_parser("compare", help="before/after metrics of a training round")
    compare.add_argument("--run", required=True, type=Path)
    compare.add_argument("--round", type=int, default=None, help="round number (default: latest)")
    compare.add_argument("--json", action="store_true", help="print one JSON object (default)")
    compare.add_argument("--debug", action="store_true", help="show tracebacks")
    compare.set_defaults(handler=_compare)

    decide = commands.add_parser("decide", help="accept, reject, edit or relabel a candidate")
    decide.add_argument("--run", required=True, type=Path)
    decide.add_argument("--candidate", required=True, type=int, nargs="+",
                        help="candidate id; several with --accept or --reject, all decided "
                             "in one transaction")
    action = decide.add_mutually_exclusive_group(required=True)
    action.add_argument("--accept", action="store_true")
    action.add_argument("--reject", action="store_true")
    action.add_argument("--edit", metavar="TEXT")
    action.add_argument("--relabel", metavar="LABEL")
    action.add_argument("--undo", action="store_true", help="undo the latest decision")
    decide.add_argument("--actor", default="cli")
    decide.add_argument("--db", type=Path, default=None, help="store (default $TOPEX_HOME)")
    decide.add_argument("--debug", action="store_true", help="show tracebacks")
    decide.set_defaults(handler=_decide)

    export = commands.add_parser("export", help="export candidates, or a whole run")
    export.add_argument("--run", required=True, type=Path)
    export.add_argument("--accepted", action="store_true", help="accepted samples only")
    export.add_argument("--whole", action="store_true",
                        help="copy the whole run with its candidates to the folder --out")
    export.add_argument("--format", default="csv", choices=["csv", "jsonl", "parquet"])
    export.add_argument("--out", required=True, type=Path)
    export.add_argument("--db", type=Path, default=None, help="store (default $TOPEX_HOME)")
    export.add_argument("--debug", action="store_true", help="show tracebacks")
    export.set_defaults(handler=_export)
    add_experiment_commands(commands)
    return parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True,
                        help="CSV, TSV, JSONL or Parquet file, 'demo', or hf:NAME[:SPLIT]")
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--text-pair-col", default=None,
                        help="second text column for sentence-pair tasks (e.g. hypothesis)")
    parser.add_argument("--label-col", default="label")


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    from topex_core.augmenter.generation import BACKENDS
    from topex_core.augmenter.prompts import TASK_TEMPLATES

    parser.add_argument("--run", required=True, type=Path, help="explored run directory")
    parser.add_argument("--cluster", required=True, type=int, help="error cluster number")
    parser.add_argument("--n", type=int, default=5, help="completions to ask for")
    parser.add_argument("--backend", default="eda", choices=list(BACKENDS))
    parser.add_argument("--model", default=None,
                        help="generator: model directory (transformers), model id (vllm), "
                             "served model name (openai; else $TOPEX_OPENAI_MODEL)")
    parser.add_argument("--base-url", default=None,
                        help="openai: e.g. http://127.0.0.1:8000/v1 (else $TOPEX_OPENAI_BASE_URL)")
    parser.add_argument("--timeout", type=float, default=120.0, help="openai: seconds/request")
    parser.add_argument("--concurrency", type=int, default=4, help="openai: requests at once")
    parser.add_argument("--label", default=None,
                        help="target class (default: the cluster's majority true label)")
    parser.add_argument("--task", default=None, choices=list(TASK_TEMPLATES),
                        help="prompt template (default: nli for pairs, else text)")
    parser.add_argument("--template-file", type=Path, default=None,
                        help="your own template with {label} and {issue}")
    parser.add_argument("--shots", type=int, default=5, help="few-shot examples k (0: none)")
    parser.add_argument("--mix-ratio", type=float, default=1.0,
                        help="λ: share of examples from the cluster (rest: correct target rows)")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", type=Path, default=None, help="store (default $TOPEX_HOME)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


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
    return pool, test


def _train(args: argparse.Namespace) -> int:
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.run import train_run

    pool, test = _datasets(args)
    config = TrainConfig(backbone=args.backbone, train_size=args.train_size, epochs=args.epochs,
                         seed=args.seed, max_length=args.max_length, batch_size=args.batch_size,
                         learning_rate=args.learning_rate)
    config.validate()
    set_cpu_threads()
    record = train_run(pool, config, args.out, test=test, precision=args.precision,
                       progress=_stderr_progress("train"))
    summary = {"run": str(args.out), "rows": record["dataset"]["rows"],
               "pool_accuracy": record["pool_accuracy"], "test_accuracy": record["test_accuracy"],
               "timings_s": record["timings_s"]}
    print(json.dumps(summary))
    return 0


def _explore(args: argparse.Namespace) -> int:
    from topex_core.explorer.pipeline import ExploreConfig, explore_run
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder
    from topex_core.training.run import RUN_FILE, train_run

    set_cpu_threads()
    if not (args.run / RUN_FILE).is_file() and args.data:
        pool, test = _datasets(args)
        train_run(pool, TrainConfig(seed=args.seed), args.run, test=test,
                  progress=_stderr_progress("train"))
    config = ExploreConfig(
        clustering=ClusterConfig(method=args.method, min_samples=args.min_samples, xi=args.xi,
                                 max_eps=args.max_eps, error_threshold=args.error_threshold),
        seed=args.seed)
    result = explore_run(args.run, config, embed=SentenceEmbedder(),
                         progress=_stderr_progress("explore"))
    print(json.dumps({key: result[key] for key in
                      ("method", "clusters", "error_clusters", "noise_points", "picked_cluster",
                       "picked_name", "reason", "timings_s")}, ensure_ascii=False))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from topex_core.augmenter import augment
    from topex_core.augmenter.checks import checker_for_run
    from topex_core.augmenter.generation import GenerationError, Sampling, make_backend
    from topex_core.storage.store import Store
    from topex_core.training.classifier import set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder

    set_cpu_threads()
    template = args.template_file.read_text(encoding="utf-8") if args.template_file else None
    request = augment.AugmentRequest(
        cluster=args.cluster, n=args.n, label=args.label, task=args.task, shots=args.shots,
        mix_ratio=args.mix_ratio, template=template,
        sampling=Sampling(temperature=args.temperature, top_p=args.top_p,
                          max_tokens=args.max_tokens, seed=args.seed)).validate()
    context = augment.cluster_context(args.run, args.cluster)
    prompt = augment.prepare_prompt(context, request)
    embed = SentenceEmbedder()
    if args.backend == "eda":
        backend = augment.eda_for_cluster(context, embed)
    elif args.backend == "openai":
        backend = make_backend("openai", base_url=args.base_url, model=args.model,
                               timeout_s=args.timeout, concurrency=args.concurrency)
    else:
        backend = make_backend(args.backend, model=args.model or "")
    checker = checker_for_run(args.run, args.cluster, embed=embed,
                              predict=augment.classifier_predict(args.run),
                              progress=_stderr_progress("checks"))
    with Store(args.db) as store:
        outcome = augment.generate_candidates(context, request, prompt, backend=backend,
                                              checker=checker, store=store)
    for candidate in outcome.candidates:
        print(json.dumps(candidate, ensure_ascii=False))
    if outcome.error:
        raise GenerationError(f"{outcome.error}; {len(outcome.candidates)} candidates were stored")
    if outcome.dropped:
        print(f"topex: {outcome.dropped} of {outcome.completions} completions had no usable "
              "text and were dropped", file=sys.stderr)
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from topex_core.retraining.retrain import RetrainConfig, retrain
    from topex_core.storage.store import Store
    from topex_core.training.classifier import set_cpu_threads
    from topex_core.training.run import read_run

    if not 1 <= args.seeds <= 10:
        raise ValueError(f"--seeds must be between 1 and 10, got {args.seeds}")
    set_cpu_threads()
    base_seed = int(read_run(args.run)["config"].get("seed", 0))
    config = RetrainConfig(mode=args.mode,
                           seeds=tuple(base_seed + i for i in range(args.seeds)),
                           control=args.control)
    with Store(args.db) as store:
        result = retrain(args.run, config, store=store, progress=_stderr_progress("retrain"))
    print(json.dumps(_compare_summary(result), ensure_ascii=False))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from topex_core.retraining.retrain import ROUNDS_DIR, read_round

    round_dir = args.run / ROUNDS_DIR / str(args.round) if args.round is not None else None
    print(json.dumps(_compare_summary(read_round(args.run, round_dir)), ensure_ascii=False))
    return 0


def _compare_summary(result: dict) -> dict:
    metrics = result["metrics"]
    return {"round_dir": result["round_dir"], "mode": result["mode"], "seeds": result["seeds"],
            "samples": result["samples"], **{key: metrics.get(key) for key in (
                "accuracy_before", "accuracy_after", "fixed", "broken", "mcnemar_p",
                "diff_ci95", "test", "per_cluster", "per_class", "across_seeds",
                "against_control")},
            "timings_s": result["timings_s"]}


def _decide(args: argparse.Namespace) -> int:
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


def _export(args: argparse.Namespace) -> int:
    from topex_core.storage.store import Store, export_samples

    with Store(args.db) as store:
        run_id = store.run_id(args.run)
        if args.whole:
            path = store.export_run(run_id, args.out)
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


if __name__ == "__main__":
    sys.exit(main())
