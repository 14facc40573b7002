"""Default fine-tune on TREC (1,000 rows × 3 epochs, max length 64) and its test accuracy.

    python bench/bench_fine_tune.py [--data ../shared/datasets/trec] [--max-length 64]

Prints one JSON object; the cache is bypassed (a fresh TOPEX_HOME) so the fine-tune is real.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from topex_core.data.dataset import load_dataset
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.hardware import machine_line
from topex_core.training.run import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/trec", type=Path)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--text-pair-col", default=None)
    parser.add_argument("--text-col", default="text")
    args = parser.parse_args()
    threads = set_cpu_threads()
    columns = {"text_col": args.text_col, "text_pair_col": args.text_pair_col}
    pool = load_dataset(args.data / "train.csv", **columns)
    test = load_dataset(args.data / "test.csv", **columns, label_names=pool.label_names)
    with tempfile.TemporaryDirectory() as home:
        os.environ["TOPEX_HOME"] = home
        start = time.perf_counter()
        record = train_run(pool, TrainConfig(max_length=args.max_length), Path(home) / "run",
                           test=test)
        total = time.perf_counter() - start
    print(json.dumps({
        "benchmark": "fine_tune", "dataset": str(args.data), "train_size": 1000, "epochs": 3,
        "max_length": args.max_length, "threads": threads, "machine": machine_line(),
        "fine_tune_s": record.timings_s["fine_tune"],
        "predict_pool_and_test_s": record.timings_s["predict_logits"],
        "total_s": round(total, 2), "pool_rows": len(pool),
        "test_accuracy": record.test_accuracy, "pool_accuracy": record.pool_accuracy,
    }))


if __name__ == "__main__":
    main()
