"""Does a round repair the region it targets? Planted rare topics and real error slices,
each through ``topex experiment``'s harness: oracle, directed (the generator's free
samples), rewrite, random rows and the control, at several n.

    python bench/bench_repair.py --out /tmp/repair [--cases trec-where,hans-swap,trec,ag_news]
        [--n 10,30,50] [--repeats 1] [--generator eda] [--mode head]

A *planted* case keeps one sub-topic out of the base model's training rows while it stays
in the pool (the unused rows the oracle draws from) and in the test split, so the model
fails on it: the builder puts the sub-topic's rows at pool positions the seed's training
subset does not draw (``training_positions`` depends only on the pool's size, the
training size and the seed). A *real* case takes the dataset as it is and targets its
first error slice. Seed 0 only; the intervals are bootstraps over the region's test rows.

Writes one experiment folder per case under ``--out`` and ``--out/report.md`` (the region
table per case), and prints one JSON line per case.
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

from topex_core.augmenter.augment import local_backend
from topex_core.data.dataset import load_dataset
from topex_core.experiments.harness import (
    ExperimentConfig,
    MakeBackend,
    eda_backend_factory,
    run_experiment,
)
from topex_core.experiments.report import write_report
from topex_core.training.classifier import TrainConfig, set_cpu_threads, training_positions
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.hardware import machine_line

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TRAIN_SIZE = 1000
SEED = 0


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
    # dates ("When was …", "What year …") kept out: the explorer's slice for them is
    # "year (true numeric)", the second slice of the run
    Case("trec-date", "trec", "slice:year | numeric", kept_out="fine_label~^NUM:date$"),
    # "The author wrote the book" → "The author wrote" kept out: its verbs become slices
    # ("ate", "paid", "wrote", all true entailment); "ate" is the first with test rows
    Case("hans-understood", "hans", "slice:ate | entailment",
         kept_out="subcase~^se_understood_object$", pair=True, pool_rows=6000),
    Case("trec", "trec", "slice"),
    Case("ag_news", "ag_news", "slice"),
    Case("hans", "hans", "slice", pair=True, pool_rows=6000),
)}


def arranged_pool(frame: pd.DataFrame, kept_out: np.ndarray) -> pd.DataFrame:
    """``frame`` reordered so that its kept-out rows sit where seed ``SEED``'s training
    subset never draws."""
    training = np.zeros(len(frame), bool)
    training[training_positions(len(frame), TRAIN_SIZE, SEED)] = True
    if kept_out.sum() > (~training).sum():
        raise SystemExit("more kept-out rows than unused pool positions")
    rng = np.random.default_rng(SEED)
    slots = rng.choice(np.flatnonzero(~training), size=int(kept_out.sum()), replace=False)
    order = np.full(len(frame), -1)
    order[slots] = np.flatnonzero(kept_out)
    order[order < 0] = np.flatnonzero(~kept_out)
    return frame.iloc[order].reset_index(drop=True)


def run_case(case: Case, args: argparse.Namespace, embed) -> dict:
    train = pd.read_csv(SHARED / case.dataset / "train.csv")
    if case.pool_rows is not None:
        train = train.sample(case.pool_rows, random_state=SEED).reset_index(drop=True)
    kept_out = case.rows_kept_out(train)
    pool_frame = arranged_pool(train, kept_out) if kept_out.any() else train
    columns = ({"text_col": "premise", "text_pair_col": "hypothesis"} if case.pair
               else {"text_col": "text"})
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{case.name}.csv"
        pool_frame.to_csv(path, index=False)
        pool = load_dataset(path, **columns, label_col="label")
    test = load_dataset(SHARED / case.dataset / "test.csv", **columns, label_col="label",
                        label_names=pool.label_names)
    config = ExperimentConfig(
        dataset_name=case.name, train=TrainConfig(train_size=TRAIN_SIZE, epochs=3),
        n_synthetic=tuple(int(n) for n in args.n.split(",")), seeds=(SEED,),
        selections=("none", "oracle", "random_rows", "directed", "rewrite"),
        generator=args.generator, retrain_mode=args.mode, target=case.target,
        sample_repeats=args.repeats)
    started = time.perf_counter()
    results = run_experiment(pool, test, config, args.out / case.name, embed=embed,
                             make_backend=backend_factory(args.generator, embed),
                             progress=lambda message: print(f"[{case.name}] {message}",
                                                            flush=True))
    row = results[results["strategy"] == "oracle"].iloc[-1]
    return {"case": case.name, "kept_out_rows": int(kept_out.sum()),
            "region": row["region_name"], "region_test_rows": row["region_test_rows"],
            "seconds": round(time.perf_counter() - started, 1)}


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
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--generator", default="eda",
                        help="eda, or transformers (the packaged SmolLM2 without --model)")
    parser.add_argument("--mode", default="head", choices=["head", "full"])
    args = parser.parse_args()
    set_cpu_threads()
    embed = SentenceEmbedder()
    print(f"# {machine_line()}", flush=True)
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    for name in names:
        print(json.dumps(run_case(CASES[name], args, embed), default=str), flush=True)
    write_report([args.out / name for name in names], args.out / "report.md",
                 command="python bench/bench_repair.py " + " ".join(
                     f"--{key.replace('_', '-')} {value}" for key, value in vars(args).items()))


if __name__ == "__main__":
    main()
