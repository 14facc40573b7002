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
defaults to check it is no slower. Prints one JSON object per configuration and a
summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ARTICLES_PER_DOCUMENT = 8
# name: (documents, truncation, max_length (None: chosen from the data), train precision)
CONFIGS = {
    "today": ("uniform", "head", None, "float32"),
    "bfloat16": ("uniform", "head", None, "bfloat16"),
    "head_128": ("uniform", "head", 128, "float32"),
    "head_tail_128": ("uniform", "head_tail", 128, "float32"),
    "together": ("uniform", "head_tail", 128, "auto"),
    "together_bf16_logits": ("uniform", "head_tail", 128, "auto"),
    "head_tail_160_bf16_logits": ("uniform", "head_tail", 160, "auto"),
    "head_tail_192_bf16_logits": ("uniform", "head_tail", 192, "auto"),
    "head_tail_192_2_epochs_bf16_logits": ("uniform", "head_tail", 192, "auto"),
    "new_defaults": ("uniform", "head_tail", None, "auto"),
    "ending_new_defaults": ("ending", "head_tail", None, "auto"),
    "ending_head_256": ("ending", "head", None, "auto"),
    "ending_head_128": ("ending", "head", 128, "auto"),
    "ending_head_tail_128": ("ending", "head_tail", 128, "auto"),
    "trec_today": ("trec", "head", None, "float32"),
    "trec_together": ("trec", "head_tail", None, "auto"),
}
# the run's forward passes in bfloat16 as well (opt-in)
BFLOAT16_LOGITS = {"together_bf16_logits", "head_tail_160_bf16_logits",
                   "head_tail_192_bf16_logits", "head_tail_192_2_epochs_bf16_logits"}
EPOCHS = {"head_tail_192_2_epochs_bf16_logits": 2}  # fewer steps over the same rows
# the defaults since the second round: budget ≤ 192 from the data, epochs chosen by it
NEW_DEFAULTS = {"new_defaults", "ending_new_defaults", "trec_together"}
FIRST_MAP = {"together", "new_defaults", *BFLOAT16_LOGITS}  # explored too: time to first map


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
    from topex_core.data.dataset import dataset_from_frame, load_dataset
    from topex_core.explorer.pipeline import explore_run
    from topex_core.training.classifier import TrainConfig, set_cpu_threads
    from topex_core.training.embeddings import SentenceEmbedder
    from topex_core.training.run import train_run

    kind, truncation, max_length, precision = CONFIGS[name]
    threads = set_cpu_threads()
    if kind == "trec":
        pool = load_dataset(SHARED / "trec" / "train.csv")
        test = load_dataset(SHARED / "trec" / "test.csv", label_names=pool.label_names)
    else:
        pool = dataset_from_frame(long_documents(kind, rows, "train", 0), source=kind)
        test = dataset_from_frame(long_documents(kind, test_rows, "test", 1), source=kind,
                                  label_names=pool.label_names)
    config = TrainConfig(truncation=truncation, max_length=max_length,
                         train_precision=precision,
                         epochs=EPOCHS.get(name, None if name in NEW_DEFAULTS else 3))
    with tempfile.TemporaryDirectory() as home:
        os.environ["TOPEX_HOME"] = home
        start = time.perf_counter()
        record = train_run(pool, config, Path(home) / "run", test=test,
                           precision=("bfloat16" if name in BFLOAT16_LOGITS else
                                      "auto" if name in NEW_DEFAULTS else "float32"))
        trained = time.perf_counter() - start
        explore_s = None
        if name in FIRST_MAP:
            explore_start = time.perf_counter()
            explore_run(Path(home) / "run", embed=SentenceEmbedder())
            explore_s = time.perf_counter() - explore_start
    words = np.mean([len(text.split()) for text in pool.texts])
    return {"config": name, "documents": kind, "truncation": record.config["truncation"],
            "max_length": record.config["max_length"],
            "train_precision": record.config["train_precision"],
            "epochs": record.config["epochs"],
            "logits_precision": record.logits_precision, "rows": len(pool),
            "test_rows": len(test), "mean_words": round(float(words), 1), "threads": threads,
            "fine_tune_s": record.timings_s.get("fine_tune"),
            "logits_s": record.timings_s.get("predict_logits"),
            "train_and_logits_s": round(trained, 1),
            "explore_s": round(explore_s, 1) if explore_s is not None else None,
            "first_map_s": round(trained + explore_s, 1) if explore_s is not None else None,
            "test_accuracy": record.test_accuracy,
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def tokenisation_seconds(rows: int, test_rows: int) -> float:
    """Time to tokenise every document once, uncut: what a per-run token cache would save."""
    from transformers import AutoTokenizer

    from topex_core.training.classifier import default_backbone

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
    summary = {"benchmark": "long_texts", "machine": platform.machine(),
               "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
               "tokenise_all_once_s": tokenisation_seconds(args.rows, args.test_rows)}
    if "today" in by_name and "together" in by_name:
        today, together = by_name["today"], by_name["together"]
        summary["speed_up_train_and_logits"] = round(
            today["train_and_logits_s"] / together["train_and_logits_s"], 2)
        summary["accuracy_change_points"] = round(
            100 * (together["test_accuracy"] - today["test_accuracy"]), 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
