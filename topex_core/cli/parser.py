"""The ``topex`` argument parser: one function per command. Choices come from the core's
own constants, so the CLI offers exactly what the core accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from topex_core.cli import commands
from topex_core.cli.experiment import add_experiment_commands
from topex_core.cli.options import add_long_text_arguments
from topex_core.config import (
    LOGITS_ENGINES,
    MAX_SAMPLE_REPEATS,
    MAX_SEEDS,
    RETRAIN_MODES,
    RUN_PRECISIONS,
    SAMPLE_REPEATS,
)
from topex_core.data.dataset import HF_PREFIX, SUPPORTED_SUFFIXES
from topex_core.data.split import DEFAULT_TEST_SIZE
from topex_core.errors import SettingsError
from topex_core.explorer.clustering import METHODS, ClusterConfig
from topex_core.explorer.space import SPACES
from topex_core.region_ref import REGION_KIND_NAMES, RegionRef
from topex_core.storage.export import EXPORT_FORMATS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="topex", description="TopEx: find, name and repair "
                                     "the regions where a text classifier fails.")
    subcommands = parser.add_subparsers(title="commands")
    _add_train(subcommands)
    _add_import_predictions(subcommands)
    _add_logits(subcommands)
    _add_explore(subcommands)
    _add_describe(subcommands)
    _add_generate(subcommands)
    _add_retrain(subcommands)
    _add_compare(subcommands)
    _add_decide(subcommands)
    _add_export(subcommands)
    add_experiment_commands(subcommands)
    return parser


def command_parsers(parser: argparse.ArgumentParser | None = None
                    ) -> dict[str, argparse.ArgumentParser]:
    """Each ``topex`` command's own parser by its name, in the order ``--help`` lists them
    (the manual's CLI reference and the test of the commands the docs quote read it)."""
    return dict(_subcommands(parser or build_parser()).choices)


def command_helps(parser: argparse.ArgumentParser | None = None) -> dict[str, str]:
    """Each ``topex`` command's one line of help, as ``topex --help`` shows it."""
    return {action.dest: action.help or ""
            for action in _subcommands(parser or build_parser())._choices_actions}


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(action for action in parser._actions
                if isinstance(action, argparse._SubParsersAction))


def _add_train(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser("train",
                                     help="fine-tune a classifier and write a run directory")
    _add_data_arguments(command)
    split = command.add_mutually_exclusive_group()
    split.add_argument("--test", help="test split with the same columns (test accuracy)")
    _add_test_size(split)
    command.add_argument("--backbone", default="",
                       help="Hugging Face model id or local directory (default: packaged MiniLM)")
    command.add_argument("--no-fine-tune", dest="fine_tune", action="store_false",
                         help="use --backbone, a fine-tuned sequence classifier, as it is")
    command.add_argument("--label-map", default=None,
                         help="with --no-fine-tune: data=MODEL label pairs for names that "
                              "differ, e.g. neg=NEGATIVE,pos=POSITIVE")
    command.add_argument("--train-size", type=int, default=1000)
    command.add_argument("--epochs", type=int, default=None,
                         help="default: 3, or 2 when the texts get more than 128 tokens")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--max-length", type=int, default=None,
                       help="tokens per sample (default: 99th percentile of the data, ≤ 192 "
                            "with head + tail truncation, ≤ 256 with head)")
    command.add_argument("--batch-size", type=int, default=16)
    command.add_argument("--learning-rate", type=float, default=1e-4)
    add_long_text_arguments(command)
    command.add_argument("--precision", choices=RUN_PRECISIONS, default="auto",
                       help="of the forward passes: float32 (exact), bfloat16 (faster on "
                            "CPUs with AMX and on GPUs; logits move by about 0.01) or int8 "
                            "(CPU; dynamically quantised linear layers); auto (default): for "
                            "long texts (> 128 tokens) bfloat16 where fine-tuned in bfloat16, "
                            "else float32")
    command.add_argument("--out", type=Path, default=None,
                         help="run directory to write (default: a folder under "
                              "$TOPEX_HOME/runs named as the dashboard names it, from the "
                              "file, its content and the settings)")
    _finish(command, commands.train)


def _add_import_predictions(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser(
        "import-predictions", help="write a run directory from predictions made elsewhere "
                                   "(logit_<label> or prob_<label> columns), with no model")
    _add_data_arguments(command)
    split = command.add_mutually_exclusive_group()
    split.add_argument("--test", help="test split with the same columns, scores included")
    _add_test_size(split)
    command.add_argument("--out", required=True, type=Path, help="run directory to write")
    _finish(command, commands.import_predictions)


def _add_logits(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser(
        "logits", help="a run's classifier on a whole file, here or as a Ray Data job")
    command.add_argument("--run", required=True, type=Path, help="run with its own model")
    command.add_argument("--data", required=True, type=Path, help="CSV or Parquet to score")
    command.add_argument("--text-col", default="text")
    command.add_argument("--text-pair-col", default=None)
    command.add_argument("--engine", default="local", choices=LOGITS_ENGINES,
                         help="local: this process; ray: a Ray Data job on RAY_ADDRESS's "
                              "cluster, or a local Ray when it is not set")
    command.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch")
    command.add_argument("--actors", type=int, default=None,
                         help="Ray actors (default: the cluster's CPUs / --cpus-per-actor)")
    command.add_argument("--cpus-per-actor", type=int, default=1)
    command.add_argument("--gpus-per-actor", type=float, default=0.0)
    command.add_argument("--out", required=True, type=Path,
                         help="Parquet file: the input's columns plus logit_<label> columns")
    _finish(command, commands.logits)


def _add_explore(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser("explore", help="find, name, map and score error clusters")
    command.add_argument("--run", required=True, type=Path, help="run directory (from train)")
    command.add_argument("--data", help="train first on this dataset (or 'demo') when --run is "
                         "not a run yet")
    command.add_argument("--text-col", default="text")
    command.add_argument("--text-pair-col", default=None)
    command.add_argument("--label-col", default="label")
    _add_test_size(command)
    defaults = ClusterConfig()
    command.add_argument("--method", default=defaults.method, choices=list(METHODS))
    command.add_argument("--min-samples", type=int, default=defaults.min_samples)
    command.add_argument("--xi", type=float, default=defaults.xi)
    command.add_argument("--max-eps", type=float, default=defaults.max_eps)
    command.add_argument("--error-threshold", type=float, default=defaults.error_threshold,
                         help="a cluster is an error cluster above this share of mistakes")
    command.add_argument("--space", default="logits", choices=SPACES,
                         help="what to cluster, map and score: the normalised logits "
                         "(default), the model's own sentence features, or both side by side")
    command.add_argument("--seed", type=int, default=0)
    _finish(command, commands.explore)


def _add_describe(subcommands: argparse._SubParsersAction) -> None:
    from topex_core.augmenter.generation import BACKENDS

    command = subcommands.add_parser(
        "describe", help="a sentence per strongest error region, kept when the rows it "
                         "retrieves fail more than the rest")
    command.add_argument("--run", required=True, type=Path, help="explored run directory")
    command.add_argument("--top", type=int, default=5,
                         help="how many of the strongest regions to describe")
    command.add_argument("--backend", default="transformers",
                         choices=[name for name in BACKENDS if name != "eda"])
    _add_generator_arguments(command)
    _finish(command, commands.describe)


def _add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a language model comes from: its model, and a server's URL and timeout."""
    parser.add_argument("--model", default=None,
                        help="generator: model directory (transformers; empty: the packaged "
                             "SmolLM2), model id (vllm), served model name (openai; else "
                             "$TOPEX_OPENAI_MODEL)")
    parser.add_argument("--base-url", default=None,
                        help="openai: e.g. http://127.0.0.1:8000/v1 (else $TOPEX_OPENAI_BASE_URL)")
    parser.add_argument("--timeout", type=float, default=120.0, help="openai: seconds/request")


def _add_generate(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser(
        "generate", help="generate candidate samples for an error cluster or slice")
    _add_generate_arguments(command)
    _finish(command, commands.generate, store=True)


def _add_retrain(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser("retrain", help="retrain with the accepted samples")
    command.add_argument("--run", required=True, type=Path, help="explored run directory")
    command.add_argument("--mode", default=RETRAIN_MODES[0], choices=RETRAIN_MODES,
                         help="head: frozen encoder, seconds; full: fine-tune again")
    command.add_argument("--seeds", type=int, default=1,
                         help=f"number of seeds, 1 to {MAX_SEEDS} (the base run's seed, "
                              "then +1, +2, …)")
    command.add_argument("--backbone", default=None,
                         help="for a run of imported predictions (no classifier): the model "
                              "to fine-tune on its data (default: packaged MiniLM)")
    command.add_argument("--matched-control", action=argparse.BooleanOptionalAction,
                         default=None,
                         help="also train each seed with the samples replaced by as many "
                              "training rows of their labels, and judge the round against it "
                              "(the verdict needs it; default: on in head mode, off in full "
                              "mode, where it is one more fine-tune per seed)")
    command.add_argument("--control", action=argparse.BooleanOptionalAction, default=None,
                         help="also train each seed without the samples: what retraining "
                              "alone moves (default: on in head mode, off in full mode, where "
                              "it is one more fine-tune per seed)")
    command.add_argument("--sample-repeats", type=int, default=SAMPLE_REPEATS,
                         help=f"add each accepted sample this many times, 1 to "
                              f"{MAX_SAMPLE_REPEATS} (default {SAMPLE_REPEATS}: measured, "
                              "see the README)")
    command.add_argument("--json", action="store_true",
                         help="print the round's summary as one JSON object (default): the "
                              "verdict, the target, its complement and the rest of the test "
                              "split and every class against the label-matched control, then "
                              "the earlier figures")
    _finish(command, commands.retrain, store=True)


def _add_compare(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser("compare", help="before/after metrics of a training round")
    command.add_argument("--run", required=True, type=Path)
    command.add_argument("--round", type=int, default=None, help="round number (default: latest)")
    command.add_argument("--json", action="store_true", help="print one JSON object (default)")
    _finish(command, commands.compare)


def _add_decide(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser("decide", help="accept, reject, edit or relabel a candidate")
    command.add_argument("--run", required=True, type=Path)
    command.add_argument("--candidate", required=True, type=int, nargs="+",
                        help="candidate id; several with --accept or --reject, all decided "
                             "in one transaction")
    action = command.add_mutually_exclusive_group(required=True)
    action.add_argument("--accept", action="store_true")
    action.add_argument("--reject", action="store_true")
    action.add_argument("--edit", metavar="TEXT")
    action.add_argument("--relabel", metavar="LABEL")
    action.add_argument("--undo", action="store_true", help="undo the latest decision")
    command.add_argument("--actor", default="cli")
    _finish(command, commands.decide, store=True)


def _add_export(subcommands: argparse._SubParsersAction) -> None:
    command = subcommands.add_parser("export", help="export candidates, or a whole run")
    command.add_argument("--run", required=True, type=Path)
    command.add_argument("--accepted", action="store_true", help="accepted samples only")
    command.add_argument("--whole", action="store_true",
                        help="copy the whole run with its candidates to the folder --out")
    command.add_argument("--format", default=EXPORT_FORMATS[0], choices=EXPORT_FORMATS)
    command.add_argument("--out", required=True, type=Path)
    _finish(command, commands.export, store=True)


def _finish(command: argparse.ArgumentParser, handler, *, store: bool = False) -> None:
    """The options every command shares (``--db`` where it uses the store), and its handler."""
    if store:
        command.add_argument("--db", type=Path, default=None, help="store (default $TOPEX_HOME)")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    command.set_defaults(handler=handler)


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True,
                        help=f"a {', '.join(SUPPORTED_SUFFIXES)} file, 'demo', or "
                             f"{HF_PREFIX}NAME[:SPLIT]")
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--text-pair-col", default=None,
                        help="second text column for sentence-pair tasks (e.g. hypothesis)")
    parser.add_argument("--label-col", default="label")


def _add_test_size(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--test-size", type=float, default=DEFAULT_TEST_SIZE,
                        help="without --test, hold out this stratified share of --data as the "
                             f"test split (default {DEFAULT_TEST_SIZE}; 0: no test split)")


def region_ref(text: str) -> RegionRef:
    """An argparse type: ``KIND:KEY`` as a ``RegionRef`` (a bad one is a usage error)."""
    try:
        return RegionRef.parse(text)
    except SettingsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    from topex_core.augmenter.generation import BACKENDS
    from topex_core.augmenter.prompts import TASK_TEMPLATES

    parser.add_argument("--run", required=True, type=Path, help="explored run directory")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target", type=region_ref,
                        help="the region (default: the run's default target, the strongest "
                             "region by evidence, as the pages pick it): KIND:KEY, the kind "
                             "one of "
                             f"{', '.join(REGION_KIND_NAMES)} ('cluster:3', 'slice:oil | "
                             "Business' — a slice may be named by a bare term — or "
                             "'confusion:World -> Business': true World predicted Business)")
    target.add_argument("--cluster", type=lambda key: region_ref(f"cluster:{key}"),
                        dest="target", help="shorthand for --target cluster:N (clusters.csv)")
    target.add_argument("--slice", type=lambda key: region_ref(f"slice:{key}"),
                        dest="target", help="shorthand for --target slice:KEY: its key in "
                                            "slices.csv ('oil | Business') or a term, which "
                                            "names its best-ranked slice")
    parser.add_argument("--n", type=int, default=None,
                        help="completions to ask for (default: rewrite one misclassified row "
                             "each, up to 30; complement 30; free 5)")
    parser.add_argument("--mode", default=None, choices=["free", "rewrite", "complement"],
                        help="default: rewrite when the target has misclassified rows, else "
                             "free. free: new texts about the target from few-shot examples; "
                             "rewrite: each a new text of the same label from one "
                             "misclassified row of the target (its source, in the lineage); "
                             "complement: each a new text of its own label from one of the "
                             "region's rows of another label, for a balanced round")
    parser.add_argument("--backend", default="eda", choices=list(BACKENDS))
    _add_generator_arguments(parser)
    parser.add_argument("--concurrency", type=int, default=4, help="openai: requests at once")
    parser.add_argument("--label", default=None,
                        help="target class (default: the true label of the target's mistakes)")
    parser.add_argument("--task", default=None, choices=list(TASK_TEMPLATES),
                        help="prompt template (default: nli for pairs, else text)")
    parser.add_argument("--template-file", type=Path, default=None,
                        help="your own template with {label} and {issue}")
    parser.add_argument("--shots", type=int, default=5, help="few-shot examples k (0: none)")
    parser.add_argument("--mix-ratio", type=float, default=1.0,
                        help="λ: share of examples from the target (rest: correct rows of the "
                             "label)")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="tokens per completion (default: twice the longest example)")
    parser.add_argument("--seed", type=int, default=0)
