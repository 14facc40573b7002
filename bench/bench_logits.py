"""Forward pass over TREC train: TopEx `predict_logits` vs a plain transformers pipeline.

Same model, same rows, same batch size, same max length, same threads, in one process;
`predict_logits` in float32 (the default, exact) and in opt-in bfloat16.
Prints one JSON object; `make bench` collects it.

    python bench/bench_logits.py [--data ../shared/datasets/trec/train.csv] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from topex_core.data.dataset import load_dataset
from topex_core.training import classifier as clf_module
from topex_core.training.hardware import machine_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/trec/train.csv")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    threads = clf_module.set_cpu_threads()
    dataset = load_dataset(args.data)
    classifier = clf_module.load_backbone(clf_module.default_backbone(), dataset.label_names,
                                          seed=0)
    classifier.max_length = args.max_length
    classifier.model.eval()

    from transformers import pipeline

    reference = pipeline("text-classification", model=classifier.model,
                         tokenizer=classifier.tokenizer, device=classifier.device,
                         truncation=True, max_length=args.max_length, top_k=None,
                         function_to_apply="none")

    def run_topex() -> np.ndarray:
        return clf_module.predict_logits(classifier, dataset.texts, batch_size=args.batch_size)

    def run_topex_bfloat16() -> np.ndarray:
        classifier.precision = "bfloat16"
        try:
            return run_topex()
        finally:
            classifier.precision = "float32"

    def run_pipeline() -> list:
        return reference(dataset.texts, batch_size=args.batch_size)

    run_topex()  # warm-up: allocator, thread pool, tokenizer caches
    topex_times, pipeline_times, bfloat16_times = [], [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        logits = run_topex()
        topex_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        bfloat16_logits = run_topex_bfloat16()
        bfloat16_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        outputs = run_pipeline()
        pipeline_times.append(time.perf_counter() - start)

    label_index = {name: i for i, name in enumerate(dataset.label_names)}
    reference_logits = np.zeros_like(logits)
    for row, scores in enumerate(outputs):
        for item in scores:
            reference_logits[row, label_index[item["label"]]] = item["score"]
    topex_median = statistics.median(topex_times)
    pipeline_median = statistics.median(pipeline_times)
    bfloat16_median = statistics.median(bfloat16_times)
    print(json.dumps({
        "benchmark": "forward_pass",
        "rows": len(dataset), "batch_size": args.batch_size, "max_length": args.max_length,
        "threads": threads, "machine": machine_line(),
        "torch": torch.__version__,
        "topex_s_median": round(topex_median, 3), "pipeline_s_median": round(pipeline_median, 3),
        "topex_rows_per_s": round(len(dataset) / topex_median, 1),
        "speedup": round(pipeline_median / topex_median, 2),
        "max_abs_logit_diff": float(np.abs(logits - reference_logits).max()),
        "topex_bfloat16_s_median": round(bfloat16_median, 3),
        "speedup_bfloat16": round(pipeline_median / bfloat16_median, 2),
        "bfloat16_max_abs_logit_diff": float(np.abs(bfloat16_logits - logits).max()),
    }))


if __name__ == "__main__":
    main()
