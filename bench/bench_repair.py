"""Does a round repair the region it targets, beyond a label-matched control, without
breaking what lies around it? Planted rare topics and real error slices, each through
``topex experiment``'s harness (head mode unless ``--mode full``): oracle, directed (the
generator's free samples), rewrite, balanced (half rewrites of the region's rows of other
labels), random rows and the control, at several n and sample repeats, over several
seeds.

    python bench/bench_repair.py --out /tmp/repair \\
        [--cases trec-date,hans-understood,hans-preposition,trec,ag_news,hans] \\
        [--n 10,30,50] \\
        [--repeats 1,3] [--seeds 0,1,2] [--generator eda] [--mode head] \\
        [--strategies none,oracle,random_rows,directed,rewrite,balanced]

A *planted* case keeps one sub-topic out of the base model's training rows while it stays
in the pool (the unused rows the oracle draws from), the validation split and the test
split, so the model fails on it: the builder puts the sub-topic's rows at pool positions
the seed's training subset does not draw (``training_positions`` depends only on the
pool's size, the training size and the seed). A *real* case takes the dataset as it is and
targets its first error slice.

Settings are never chosen on the rows reported: a seeded ``VALIDATION_SHARE`` of the
training file is held out of the pool as a validation split, measured beside the test
split. For each case and strategy the bench picks n and the repeats on the validation
split (pooled over the seeds by row): the cheapest setting (fewest samples × repeats) the
validation split calls repaired, else the one with the largest target gain whose rest
fell no more than 0.5 points, else the largest target gain; then it reports that
setting's test split. Each repeats value is an experiment folder of its own
(``CASE/repeats_R``); they share the base runs.

Writes the experiment folders under ``--out``, ``--out/report.md`` (the chosen settings
on the test split, then every folder's report) and ``--out/chosen.json``, over every case
in ``--out`` (earlier invocations' too), and prints one JSON line per case and strategy.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.augmenter.backends import local_backend
from topex_core.data.dataset import TextDataset, load_dataset
from topex_core.experiments.folder import read_outcomes, read_results
from topex_core.experiments.harness import (
    ExperimentConfig,
    MakeBackend,
    eda_backend_factory,
    run_experiment,
)
from topex_core.experiments.pooled import pooled_table
from topex_core.experiments.report import render_report
from topex_core.training.classifier import TrainConfig, set_cpu_threads, training_positions
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.hardware import machine_line

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TRAIN_SIZE = 1000
VALIDATION_SHARE = 0.15
REST_TOLERANCE = -0.5  # points
CHOSEN = ("oracle", "directed", "rewrite", "balanced", "random_rows")


@dataclass(frozen=True)
class Case:
    """``kept_out``: which training-file rows the base model never trains on (planted);
    ``target``: the experiment's target region."""

    name: str
    dataset: str
    target: str
    kept_out: str | None = None
    pair: bool = False
    pool_rows: int | None = None  # a seeded sample of the training file, for speed

    def rows_kept_out(self, frame: pd.DataFrame) -> np.ndarray:
        if self.kept_out is None:
            return np.zeros(len(frame), bool)
        column, _, pattern = self.kept_out.partition("~")
        return frame[column].astype(str).str.contains(pattern, flags=re.IGNORECASE).to_numpy()


CASES = {case.name: case for case in (
    # dates ("When was …", "What year …") kept out: the explorer finds them as slices of
    # "year" (true numeric, or every row); a bare term names its best slice or concept
    Case("trec-date", "trec", "slice:year", kept_out="fine_label~^NUM:date$"),
    # "The author wrote the book" → "The author wrote" kept out: its verbs become slices
    # ("ate", "paid", "wrote", true entailment)
    Case("hans-understood", "hans", "slice:ate",
         kept_out="subcase~^se_understood_object$", pair=True, pool_rows=7000),
    # "The lawyer recognized the judge by the banker" → "The judge recognized the lawyer"
    # (non-entailment) kept out: its prepositions become slices ("near", true
    # non-entailment), and entailment pairs hold them too ("The artist near the student
    # recommended the bankers" → "The artist recommended the bankers"): a complement
    Case("hans-preposition", "hans", "slice:near", kept_out="subcase~^ln_preposition$",
         pair=True, pool_rows=7000),
    Case("trec", "trec", "slice"),
    Case("ag_news", "ag_news", "slice"),
    Case("hans", "hans", "slice", pair=True, pool_rows=7000),
)}


def arranged_pool(frame: pd.DataFrame, kept_out: np.ndarray, seeds: list[int]) -> pd.DataFrame:
    """``frame`` reordered so that its kept-out rows sit where no seed's training subset
    draws."""
    training = np.zeros(len(frame), bool)
    for seed in seeds:
        training[training_positions(len(frame), TRAIN_SIZE, seed)] = True
    if kept_out.sum() > (~training).sum():
        raise SystemExit("more kept-out rows than unused pool positions")
    rng = np.random.default_rng(0)
    slots = rng.choice(np.flatnonzero(~training), size=int(kept_out.sum()), replace=False)
    order = np.full(len(frame), -1)
    order[slots] = np.flatnonzero(kept_out)
    order[order < 0] = np.flatnonzero(~kept_out)
    return frame.iloc[order].reset_index(drop=True)


def case_splits(case: Case, seeds: list[int]) -> tuple[TextDataset, TextDataset, TextDataset,
                                                        int]:
    """(pool, validation, test, kept-out rows in the pool) of a case: the validation split
    is a seeded share of the training file, held out before the pool is arranged."""
    train = pd.read_csv(SHARED / case.dataset / "train.csv")
    if case.pool_rows is not None:
        train = train.sample(case.pool_rows, random_state=0).reset_index(drop=True)
    held = np.random.default_rng(1).random(len(train)) < VALIDATION_SHARE
    validation_frame, pool_frame = train[held], train[~held].reset_index(drop=True)
    kept_out = case.rows_kept_out(pool_frame)
    if kept_out.any():
        pool_frame = arranged_pool(pool_frame, kept_out, seeds)
    columns = ({"text_col": "premise", "text_pair_col": "hypothesis"} if case.pair
               else {"text_col": "text"})
    with tempfile.TemporaryDirectory() as scratch:
        loaded = []
        for name, frame in (("pool", pool_frame), ("validation", validation_frame)):
            path = Path(scratch) / f"{case.name}-{name}.csv"
            frame.to_csv(path, index=False)
            loaded.append(load_dataset(path, **columns, label_col="label",
                                       label_names=loaded[0].label_names if loaded else None))
    test = load_dataset(SHARED / case.dataset / "test.csv", **columns, label_col="label",
                        label_names=loaded[0].label_names)
    return loaded[0], loaded[1], test, int(kept_out.sum())


def run_case(case: Case, args: argparse.Namespace, embed) -> None:
    seeds = [int(seed) for seed in args.seeds.split(",")]
    pool, validation, test, kept_out = case_splits(case, seeds)
    for repeats in (int(r) for r in args.repeats.split(",")):
        folder = args.out / case.name / f"repeats_{repeats}"
        folder.mkdir(parents=True, exist_ok=True)
        shared_runs = args.out / case.name / "runs"
        shared_runs.mkdir(exist_ok=True)
        if not (folder / "runs").exists():
            (folder / "runs").symlink_to(Path("..") / "runs")
        config = ExperimentConfig(
            dataset_name=f"{case.name}, repeats {repeats}",
            train=TrainConfig(train_size=TRAIN_SIZE, epochs=3),
            n_synthetic=tuple(int(n) for n in args.n.split(",")), seeds=tuple(seeds),
            selections=tuple(args.strategies.split(",")), generator=args.generator,
            retrain_mode=args.mode, target=case.target, sample_repeats=repeats,
            matched_control=True if args.mode == "full" else None)  # head: on by default
        started = time.perf_counter()
        run_experiment(pool, test, config, folder, embed=embed, validation=validation,
                       make_backend=backend_factory(args.generator, embed),
                       progress=lambda message, r=repeats: print(
                           f"[{case.name} ×{r}] {message}", flush=True))
        print(f"[{case.name} ×{repeats}] {time.perf_counter() - started:.0f} s", flush=True)
    (args.out / case.name / "case.json").write_text(json.dumps({"kept_out_rows": kept_out}))


def chosen_settings(folders: list[tuple[int, Path]]) -> list[dict]:
    """Per strategy: the setting the validation split picks (see the module) and its test
    split's groups, pooled over the seeds by row."""
    tables = {}
    for repeats, folder in folders:
        results, outcomes = _results(folder), read_outcomes(folder)
        for split in ("validation", "test"):
            table = pooled_table(results, outcomes, split=split)
            if not table.empty:
                tables.setdefault(split, []).append(table.assign(repeats=repeats))
    if "validation" not in tables:
        return []
    validation, test = (pd.concat(tables[split], ignore_index=True)
                        for split in ("validation", "test"))
    chosen = []
    for strategy in CHOSEN:
        options = validation[validation["strategy"] == strategy]
        if options.empty:
            continue
        pick = _pick(options)
        row = test[(test["strategy"] == strategy) & (test["n"] == pick["n"])
                   & (test["repeats"] == pick["repeats"])].iloc[0]
        chosen.append({"strategy": strategy, "n": int(pick["n"]),
                       "repeats": int(pick["repeats"]), "validation": _summary(pick),
                       "test": _summary(row)})
    return chosen


def _pick(options: pd.DataFrame) -> pd.Series:
    gain = options["target"].map(lambda outcome: outcome.vs_control or 0.0)
    rest = options["rest"].map(lambda outcome: 100 * (outcome.vs_control or 0.0))
    cost = options["n"] * options["repeats"]
    repaired = options[options["verdict"] == "repaired"]
    if not repaired.empty:
        return repaired.loc[(cost[repaired.index] * 1000 - gain[repaired.index]).idxmin()]
    safe = options[rest >= REST_TOLERANCE]
    pool = safe if not safe.empty else options
    return pool.loc[gain[pool.index].idxmax()]


def _summary(row: pd.Series) -> dict:
    groups = {}
    for name in ("target", "complement", "rest", "overall"):
        outcome = row[name]
        groups[name] = {"rows": outcome.test_rows, "control": outcome.accuracy_control,
                        "after": outcome.accuracy_after, "vs_control": outcome.vs_control,
                        "interval": outcome.vs_control_ci95, "p": outcome.mcnemar_p,
                        "gained": outcome.gained, "lost": outcome.lost}
    return {"verdict": row["verdict"], "seeds": int(row["seeds"]),
            "plain_target": row["plain_target"],
            "label_share": [row["label_share_control"], row["label_share_after"]], **groups}


def _results(folder: Path) -> pd.DataFrame:
    return pd.DataFrame(list(read_results(folder).values()))


def render_chosen(lines: list[dict], commands: list[str]) -> str:
    """The Markdown table of the chosen settings on the test split, with the ``commands``
    that made its folders."""
    parts = ["# Repairs against the label-matched control", "",
             f"Made on {machine_line()} by:", "",
             *(f"- `{command}`" for command in commands), "",
             "Per case and strategy: n and the sample repeats chosen on the validation "
             "split (carved from the pool, never reported), then the test split, pooled "
             "over the seeds by row. Points beyond the label-matched control; gained/lost "
             "test rows; McNemar's exact p.", "",
             "| case | strategy | n × repeats | verdict (validation) | verdict | target "
             "(rows) | gained/lost, p | complement (rows) | rest | share of L | plain |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for line in lines:
        test, target = line["test"], line["test"]["target"]
        complement, rest = test["complement"], test["rest"]
        parts.append(
            f"| {line['case']} | {line['strategy']} | {line['n']} × {line['repeats']} | "
            f"{line['validation']['verdict'].replace('_', ' ')} | "
            f"{test['verdict'].replace('_', ' ')} | {_points(target)} ({target['rows']}) | "
            f"{target['gained']}/{target['lost']}, {_p(target)} | {_complement(complement)} | "
            f"{_points(rest, 2)} | "
            f"{test['label_share'][0]:.1%} → {test['label_share'][1]:.1%} | "
            f"{test['plain_target']:+.1f} |")
    return "\n".join(parts) + "\n"


def _points(group: dict, digits: int = 1) -> str:
    return "—" if group["vs_control"] is None else f"{100 * group['vs_control']:+.{digits}f}"


def _complement(group: dict) -> str:
    if not group["rows"]:
        return "no rows"
    return (f"{_points(group)} ({group['rows']}, {group['gained']}/{group['lost']}, "
            f"p {_p(group)})")


def _p(group: dict) -> str:
    return "—" if group["p"] is None else f"{group['p']:.2g}"


def backend_factory(generator: str, embed) -> MakeBackend | None:
    """EDA by default; a language model (loaded once) for the directed and rewrite
    samples, EDA still for the EDA baseline."""
    if generator == "eda":
        return None
    language_model = local_backend(generator, None)
    eda = eda_backend_factory(embed)
    return lambda context, texts: eda(context, texts) if context is None else language_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--n", default="10,30,50")
    parser.add_argument("--repeats", default="1,3")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--strategies", default="none,oracle,random_rows,directed,rewrite,"
                                                "balanced")
    parser.add_argument("--generator", default="eda",
                        help="eda, or transformers (the packaged SmolLM2 without --model)")
    parser.add_argument("--mode", default="head", choices=["head", "full"],
                        help="full: every result and its label-matched control fine-tune "
                             "again (minutes each)")
    args = parser.parse_args()
    set_cpu_threads()
    embed = SentenceEmbedder()
    print(f"# {machine_line()}", flush=True)
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    commands = args.out / "commands.txt"  # every invocation that ran cases, for the report
    if names:
        args.out.mkdir(parents=True, exist_ok=True)
        with commands.open("a", encoding="utf-8") as handle:
            handle.write("python bench/bench_repair.py " + " ".join(
                f"--{key.replace('_', '-')} {value}" for key, value in vars(args).items())
                + "\n")
    for name in names:
        run_case(CASES[name], args, embed)
    lines = []  # every case in --out, those of earlier invocations too
    for case in (name for name in CASES if (args.out / name / "case.json").is_file()):
        folders = [(int(folder.name.split("_")[1]), folder)
                   for folder in sorted((args.out / case).glob("repeats_*"))]
        kept_out = json.loads((args.out / case / "case.json").read_text())["kept_out_rows"]
        for choice in chosen_settings(folders):
            lines.append({"case": case, "kept_out_rows": kept_out, **choice})
            print(json.dumps(lines[-1], default=str), flush=True)
    folders = sorted(args.out.glob("*/repeats_*"))
    (args.out / "chosen.json").write_text(json.dumps(lines, default=str, indent=1))
    made_by = commands.read_text(encoding="utf-8").splitlines() if commands.is_file() else []
    (args.out / "report.md").write_text(render_chosen(lines, made_by) + "\n"
                                        + render_report(folders, command="; ".join(made_by)))


if __name__ == "__main__":
    main()
