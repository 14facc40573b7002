"""Long texts: the first map (fine-tune + logits + explore) for 2,000 long documents and a
500-row test file, today's settings against each lever alone and all together.

    python bench/bench_long_texts.py [--rows 2000] [--test-rows 500] [--only NAME ...]

Documents are built offline from the shared AG News, seeded: "uniform" joins 8 articles
of one class (about 330 words, 420 tokens: the label is everywhere); "ending" puts 7
articles of random classes before one of the label's class (the label is only in the last
part, as a review's verdict). Levers: bfloat16 autocast in training, a 128-token budget,
head + tail truncation; and, opt-in, the run's forward passes in bfloat16 as well. Each
configuration runs in its own process with a fresh TOPEX_HOME (no cache), so that times
and peak memory are its own; TREC (short texts) is trained with today's and the new
defaults to check it is no slower. Prints one JSON object per configuration (with the CPU
and whether bfloat16 was fast) and a summary.

The ``float32_*`` configurations force the float32 path (TOPEX_FAST_BFLOAT16=0, what a CPU
without AMX or AVX512-BF16 takes) and measure the levers that cut FLOPs rather than
precision: the lowest encoder layers frozen during fine-tuning, a shorter budget, and
int8 dynamically quantised forward passes; ``float32_new_defaults`` is what the automatic
settings choose there.

    python bench/bench_long_texts.py --only float32_before_levers float32_freeze_3 ...

The levers' cost where it can show (the "ending" documents, whose label is only in the last
article, are not near 99%): ``float32_ending_levers_off`` against
``float32_ending_new_defaults`` on the same test documents, McNemar's exact test on the
documents only one got right (``paired``)::

    python bench/bench_long_texts.py --test-rows 1000 \
        --only float32_ending_levers_off float32_ending_new_defaults
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from topex_core.config import FAST_BFLOAT16_ENV
from topex_core.training.hardware import machine_line

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ARTICLES_PER_DOCUMENT = 8


class Setting(NamedTuple):
    """One configuration: documents, truncation, budget (None: chosen from the data), train
    precision, lowest layers frozen (None: automatic), forward-pass precision, epochs (None:
    automatic), whether it is explored too (time to the first map), and the bfloat16
    detection forced to "0"/"1" (None: this CPU's)."""

    documents: str
    truncation: str | None
    max_length: int | None
    train_precision: str
    freeze_layers: int | None = 0
    logits: str = "float32"
    epochs: int | None = 3
    first_map: bool = False
    fast_bfloat16: str | None = None


# the float32 path (a CPU without AMX or AVX512-BF16, forced so on any CPU): today's
# defaults before the float32 levers, each lever alone, and the levers together (the
# automatic settings, which is what the defaults now resolve to there)
FLOAT32 = {"fast_bfloat16": "0", "first_map": True, "epochs": None}
CONFIGS = {
    "today": Setting("uniform", "head", None, "float32"),
    "bfloat16": Setting("uniform", "head", None, "bfloat16"),
    "head_128": Setting("uniform", "head", 128, "float32"),
    "head_tail_128": Setting("uniform", "head_tail", 128, "float32"),
    "together": Setting("uniform", "head_tail", 128, "auto", first_map=True),
    "together_bf16_logits": Setting("uniform", "head_tail", 128, "auto", logits="bfloat16",
                                    first_map=True),
    "head_tail_160_bf16_logits": Setting("uniform", "head_tail", 160, "auto",
                                         logits="bfloat16", first_map=True),
    "head_tail_192_bf16_logits": Setting("uniform", "head_tail", 192, "auto",
                                         logits="bfloat16", first_map=True),
    "head_tail_192_2_epochs_bf16_logits": Setting("uniform", "head_tail", 192, "auto",
                                                  logits="bfloat16", epochs=2, first_map=True),
    "new_defaults": Setting("uniform", "head_tail", None, "auto", None, "auto", None, True),
    "ending_new_defaults": Setting("ending", "head_tail", None, "auto", None, "auto", None),
    "ending_head_256": Setting("ending", "head", None, "auto"),
    "ending_head_128": Setting("ending", "head", 128, "auto"),
    "ending_head_tail_128": Setting("ending", "head_tail", 128, "auto"),
    "trec_today": Setting("trec", "head", None, "float32"),
    "trec_together": Setting("trec", "head_tail", None, "auto", None, "auto", None),
    "float32_before_levers": Setting("uniform", "head_tail", None, "auto", 0, "float32",
                                     **FLOAT32),
    "float32_freeze_1": Setting("uniform", "head_tail", None, "auto", 1, "float32", **FLOAT32),
    "float32_freeze_2": Setting("uniform", "head_tail", None, "auto", 2, "float32", **FLOAT32),
    "float32_freeze_3": Setting("uniform", "head_tail", None, "auto", 3, "float32", **FLOAT32),
    "float32_freeze_4": Setting("uniform", "head_tail", None, "auto", 4, "float32", **FLOAT32),
    "float32_budget_128": Setting("uniform", "head_tail", 128, "auto", 0, "float32",
                                  **FLOAT32),
    "float32_int8_logits": Setting("uniform", "head_tail", None, "auto", 0, "int8",
                                   **FLOAT32),
    "float32_new_defaults": Setting("uniform", "head_tail", None, "auto", None, "auto",
                                    **FLOAT32),
    "float32_ending_new_defaults": Setting("ending", "head_tail", None, "auto", None, "auto",
                                           **{**FLOAT32, "first_map": False}),
    "float32_ending_levers_off": Setting("ending", "head_tail", None, "auto", 0, "float32",
                                         **{**FLOAT32, "first_map": False}),
    "float32_trec_new_defaults": Setting("trec", "head_tail", None, "auto", None, "auto",
                                         **{**FLOAT32, "first_map": False}),
}


def long_documents(kind: str, rows: int, split: str, seed: int) -> pd.DataFrame:
    """``rows`` documents of ARTICLES_PER_DOCUMENT AG News articles each (see the module)."""
    articles = pd.read_csv(SHARED / "ag_news" / f"{split}.csv")
    rng = np.random.default_rng(seed)
    by_label = {label: group["text"].to_numpy() for label, group in articles.groupby("label")}
    labels = rng.choice(sorted(by_label), size=rows)
    documents = []
    for label in labels:
        if kind == "uniform":
            parts = rng.choice(by_label[label], ARTICLES_PER_DOCUMENT, replace=False)
        else:
            others = rng.choice(articles["text"].to_numpy(), ARTICLES_PER_DOCUMENT - 1)
            parts = [*others, rng.choice(by_label[label])]
        documents.append(" ".join(parts))
    return pd.DataFrame({"text": documents, "label": labels})


def run_one(name: str, rows: int, test_rows: int) -> dict:
    setting = CONFIGS[name]
    if setting.fast_bfloat16 is not None:
        os.environ[FAST_BFLOAT16_ENV] = setting.fast_bfloat16
    from topex_core.data.dataset import dataset_from_frame, load_dataset
    from topex_core.explorer.pipeline import explore_run
    from topex_core.rundir import read_test_points
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder
    from topex_core.training.run import train_run

    threads = set_cpu_threads()
    if setting.documents == "trec":
        pool = load_dataset(SHARED / "trec" / "train.csv")
        test = load_dataset(SHARED / "trec" / "test.csv", label_names=pool.label_names)
    else:
        pool = dataset_from_frame(long_documents(setting.documents, rows, "train", 0),
                                  source=setting.documents)
        test = dataset_from_frame(long_documents(setting.documents, test_rows, "test", 1),
                                  source=setting.documents, label_names=pool.label_names)
    config = TrainConfig(truncation=setting.truncation, max_length=setting.max_length,
                         train_precision=setting.train_precision, epochs=setting.epochs,
                         freeze_layers=setting.freeze_layers)
    with tempfile.TemporaryDirectory() as home:
        os.environ["TOPEX_HOME"] = home
        start = time.perf_counter()
        record = train_run(pool, config, Path(home) / "run", test=test,
                           precision=setting.logits)
        trained = time.perf_counter() - start
        test_points = read_test_points(Path(home) / "run")
        test_correct = "".join("1" if correct else "0"
                               for correct in test_points.sort_values("id")["correct"])
        explore_s = None
        if setting.first_map:
            explore_start = time.perf_counter()
            explore_run(Path(home) / "run", embed=SentenceEmbedder())
            explore_s = time.perf_counter() - explore_start
    words = np.mean([len(text.split()) for text in pool.texts])
    return {"config": name, "documents": setting.documents,
            "truncation": record.config.truncation,
            "max_length": record.config.max_length,
            "train_precision": record.config.train_precision,
            "epochs": record.config.epochs,
            "freeze_layers": record.config.freeze_layers,
            "logits_precision": record.logits_precision, "rows": len(pool),
            "test_rows": len(test), "mean_words": round(float(words), 1), "threads": threads,
            "machine": machine_line(),
            "fine_tune_s": record.timings_s.get("fine_tune"),
            "logits_s": record.timings_s.get("predict_logits"),
            "train_and_logits_s": round(trained, 1),
            "explore_s": round(explore_s, 1) if explore_s is not None else None,
            "first_map_s": round(trained + explore_s, 1) if explore_s is not None else None,
            "test_accuracy": record.test_accuracy, "test_correct": test_correct,
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def tokenisation_seconds(rows: int, test_rows: int) -> float:
    """Time to tokenise every document once, uncut: what a per-run token cache would save."""
    from transformers import AutoTokenizer

    from topex_core.train_config import default_backbone

    texts = [*long_documents("uniform", rows, "train", 0)["text"],
             *long_documents("uniform", test_rows, "test", 1)["text"]]
    tokenizer = AutoTokenizer.from_pretrained(default_backbone())
    start = time.perf_counter()
    tokenizer(texts, truncation=False, verbose=False)
    return round(time.perf_counter() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=500)
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--one", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rows, args.test_rows)))
        return
    results = []
    for name in args.only:
        output = subprocess.run([sys.executable, __file__, "--one", name, "--rows",
                                 str(args.rows), "--test-rows", str(args.test_rows)],
                                check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    by_name = {result["config"]: result for result in results}
    summary = {"benchmark": "long_texts", "machine": machine_line(),
               "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
               "tokenise_all_once_s": tokenisation_seconds(args.rows, args.test_rows)}
    before, after = by_name.get("float32_before_levers"), by_name.get("float32_new_defaults")
    if before and after:
        summary["float32_first_map_speed_up"] = round(before["first_map_s"]
                                                      / after["first_map_s"], 2)
        summary["float32_accuracy_change_points"] = round(
            100 * (after["test_accuracy"] - before["test_accuracy"]), 2)
    if "today" in by_name and "together" in by_name:
        today, together = by_name["today"], by_name["together"]
        summary["speed_up_train_and_logits"] = round(
            today["train_and_logits_s"] / together["train_and_logits_s"], 2)
        summary["accuracy_change_points"] = round(
            100 * (together["test_accuracy"] - today["test_accuracy"]), 2)
    off, on = by_name.get("float32_ending_levers_off"), by_name.get("float32_ending_new_defaults")
    if off and on:
        summary["float32_ending_levers"] = paired(off, on)
    print(json.dumps(summary))


def paired(without: dict, levers: dict) -> dict:
    """The levers' cost on the same test documents: the accuracy change and McNemar's exact
    test (a binomial test on the documents only one of the two got right)."""
    from scipy import stats

    first = np.array([bit == "1" for bit in without["test_correct"]])
    second = np.array([bit == "1" for bit in levers["test_correct"]])
    lost, gained = int((first & ~second).sum()), int((~first & second).sum())
    return {"accuracy_change_points": round(100 * (second.mean() - first.mean()), 2),
            "documents_lost": lost, "documents_gained": gained,
            "mcnemar_p": (stats.binomtest(lost, lost + gained).pvalue if lost + gained
                          else 1.0),
            "first_map_or_train_s": [without["train_and_logits_s"],
                                     levers["train_and_logits_s"]]}


if __name__ == "__main__":
    main()
