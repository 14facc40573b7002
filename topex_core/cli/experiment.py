"""``topex experiment`` and ``topex experiment-report`` (see ``topex_core.experiments.harness``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from topex_core.augmenter.generation.registry import BACKEND_SPECS, BACKENDS, backend_spec
from topex_core.cli.options import add_long_text_arguments
from topex_core.data.dataset import SUPPORTED_SUFFIXES
from topex_core.errors import DataError, SettingsError
from topex_core.experiments.strategies import SELECTIONS, STRATEGIES


def add_experiment_commands(commands: argparse._SubParsersAction) -> None:
    experiment = commands.add_parser(
        "experiment", help="the TopEx protocol: augment the cluster each strategy picks, "
        "retrain, measure test accuracy over seeds")
    experiment.add_argument("--data", required=True, type=Path,
                            help="a folder with train.* and test.* (CSV/TSV/JSONL/Parquet), "
                                 "or the training file (then give --test)")
    experiment.add_argument("--test", type=Path, default=None, help="test file")
    experiment.add_argument("--name", default=None, help="dataset name (default: the folder)")
    experiment.add_argument("--text-col", default="text")
    experiment.add_argument("--text-pair-col", default=None)
    experiment.add_argument("--label-col", default="label")
    experiment.add_argument("--train-size", type=int, default=1000)
    experiment.add_argument("--epochs", type=int, default=3)
    experiment.add_argument("--backbone", default="", help="default: packaged MiniLM")
    experiment.add_argument("--max-length", type=int, default=None)
    add_long_text_arguments(experiment)
    experiment.add_argument("--n-synthetic", default="1,3,5,10", help="comma-separated, 1–50")
    experiment.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, …)")
    experiment.add_argument("--selection", default="weighted,random,eda_random,none",
                            help=f"comma-separated from {', '.join(STRATEGIES)}")
    experiment.add_argument("--target", default="weighted",
                            help="the region that directed, rewrite and oracle add samples "
                                 "for and that every result is measured on: a selection "
                                 f"({', '.join(SELECTIONS)}), 'strongest' (the default "
                                 "target: the strongest region by evidence), a kind's first "
                                 "region ('slice': the first error slice; 'confusion': the "
                                 "confusion cell with the most mistakes), 'slice:KEY', "
                                 "'cluster:ID' or 'confusion:A -> B' (true A predicted B)")
    experiment.add_argument("--sample-repeats", type=int, default=1,
                            help="add every sample this many times (1–20, as topex retrain)")
    experiment.add_argument("--generator", default="eda", choices=list(BACKENDS),
                            help="; ".join(f"{spec.name}: {spec.help}"
                                           for spec in BACKEND_SPECS.values()))
    experiment.add_argument("--model", default=None,
                            help="the generator's model (transformers/vllm: a directory or "
                                 "id; openai: the served name)")
    experiment.add_argument("--base-url", default=None, help="openai: server URL")
    experiment.add_argument("--retrain-mode", default="full", choices=["full", "head"])
    experiment.add_argument("--matched-control", action=argparse.BooleanOptionalAction,
                            default=None,
                            help="judge every result against its label-matched control (the "
                                 "samples replaced by training rows of their labels; default: "
                                 "in head mode; in full mode one more fine-tune per result)")
    experiment.add_argument("--validation", type=Path, default=None,
                            help="rows held out of the pool, measured beside the test split "
                                 "(val_ columns) so that settings can be chosen on them")
    experiment.add_argument("--out", required=True, type=Path)
    experiment.add_argument("--debug", action="store_true", help="show tracebacks")
    experiment.set_defaults(handler=_experiment)

    report = commands.add_parser("experiment-report",
                                 help="one Markdown report over experiment folders")
    report.add_argument("experiments", nargs="+", type=Path, help="folders of 'topex experiment'")
    report.add_argument("--out", required=True, type=Path, help="Markdown file to write")
    report.add_argument("--debug", action="store_true", help="show tracebacks")
    report.set_defaults(handler=_experiment_report)


def _experiment(args: argparse.Namespace) -> int:
    from topex_core.data.dataset import load_dataset
    from topex_core.experiments.harness import ExperimentConfig, run_experiment
    from topex_core.experiments.report import write_report
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder

    train_path, test_path = _split_paths(args.data, args.test)
    columns = {"text_col": args.text_col, "label_col": args.label_col,
               "text_pair_col": args.text_pair_col}
    pool = load_dataset(train_path, **columns)
    test = load_dataset(test_path, **columns, label_names=pool.label_names)
    validation = (load_dataset(args.validation, **columns, label_names=pool.label_names)
                  if args.validation is not None else None)
    config = ExperimentConfig(
        dataset_name=args.name or (args.data.name if args.data.is_dir() else args.data.stem),
        train=TrainConfig(backbone=args.backbone, train_size=args.train_size,
                          epochs=args.epochs, max_length=args.max_length,
                          truncation=args.truncation, train_precision=args.train_precision,
                          freeze_layers=args.freeze_layers),
        n_synthetic=_integers(args.n_synthetic, "--n-synthetic"),
        seeds=tuple(range(_positive(args.seeds, "--seeds"))),
        selections=tuple(s.strip() for s in args.selection.split(",") if s.strip()),
        generator=args.generator, retrain_mode=args.retrain_mode, target=args.target,
        sample_repeats=args.sample_repeats, matched_control=args.matched_control).validate()
    set_cpu_threads()
    embed = SentenceEmbedder()
    command = _command_line()
    results = run_experiment(pool, test, config, args.out, embed=embed,
                             make_backend=_backend_factory(args, embed), command=command,
                             validation=validation,
                             progress=lambda m: print(f"[experiment] {m}", file=sys.stderr,
                                                      flush=True))
    report = write_report([args.out], args.out / "report.md")
    print(json.dumps({"out": str(args.out), "rows": len(results), "report": str(report)}))
    return 0


def _experiment_report(args: argparse.Namespace) -> int:
    from topex_core.experiments.folder import RESULTS_FILE
    from topex_core.experiments.report import write_report

    missing = [str(d) for d in args.experiments if not (d / RESULTS_FILE).is_file()]
    if missing:
        raise SettingsError(f"no {RESULTS_FILE} in {', '.join(missing)}: run 'topex experiment' "
                         "there first")
    report = write_report(args.experiments, args.out, _command_line())
    print(json.dumps({"report": str(report)}))
    return 0


def _command_line() -> str | None:
    """The command as typed, when run as the ``topex`` console script."""
    if Path(sys.argv[0]).name != "topex":
        return None
    return "topex " + " ".join(shlex.quote(argument) for argument in sys.argv[1:])


def _backend_factory(args: argparse.Namespace, embed):
    """EDA for the EDA baseline (and everything when the generator rewrites with the
    target's vocabulary); the language model otherwise, built once."""
    from topex_core.augmenter.backends import local_backend
    from topex_core.experiments.harness import eda_backend_factory

    eda = eda_backend_factory(embed)
    spec = backend_spec(args.generator)
    if spec.source == "vocabulary":
        return eda
    if spec.source == "server":
        language_model = spec.build(model=args.model, base_url=args.base_url)
    else:
        language_model = local_backend(args.generator, args.model)
    return lambda context, texts: eda(context, texts) if context is None else language_model


def _split_paths(data: Path, test: Path | None) -> tuple[Path, Path]:
    if data.is_dir():
        train_path, test_path = (_find(data, "train"), test or _find(data, "test"))
    elif data.is_file():
        if test is None:
            raise DataError(f"{data} is a file: give its test split with --test, or "
                             "--data a folder with train.* and test.*")
        train_path, test_path = data, test
    else:
        raise DataError(f"{data}: no such file or folder")
    return train_path, test_path


def _find(folder: Path, stem: str) -> Path:
    for suffix in SUPPORTED_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    raise DataError(f"{folder}: no {stem}.csv, {stem}.tsv, {stem}.jsonl or {stem}.parquet")


def _integers(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"{option}: comma-separated integers expected, got '{text}'") from None
    if not values:
        raise SettingsError(f"{option}: give at least one value")
    return values


def _positive(value: int, option: str) -> int:
    if not 1 <= value <= 20:
        raise SettingsError(f"{option} must be between 1 and 20, got {value}")
    return value
