"""Retraining rounds on TREC: head-only (cold and warm feature cache, with and without its
controls) against a full fine-tune, each with after-logits, the comparison, the groups,
the verdict and the map transform.

    python bench/bench_retrain.py [--data ../shared/datasets/trec/train.csv] [--samples 10]

Trains and explores TREC once (model and logits come from the content cache when they
exist), then accepts ``--samples`` EDA rewrites of the picked cluster and times
``retrain`` in head mode: with both controls (the page's default) as the run's first
round (the encoder features were written with the logits at training), then again with
the features deleted first (what a first round cost when it computed them: the
alternative), then warm with the plain control only and with no control (what the
label-matched control costs); and in full mode once, with its default of no control
(``--no-full`` skips it). Prints one JSON object, with the verdict and the target's
figures, and the training's forward pass (logits and features together).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from topex_core.augmenter import augment, backends
from topex_core.augmenter.generation import Sampling, parse_output
from topex_core.data.dataset import load_dataset
from topex_core.explorer.pipeline import explore_run
from topex_core.region_ref import RegionRef
from topex_core.retraining.config import RetrainConfig
from topex_core.retraining.retrain import retrain
from topex_core.rundir import FEATURES_FILE, TEST_FEATURES_FILE
from topex_core.storage.store import Candidate, Store
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.hardware import machine_line
from topex_core.training.run import train_run


def accept_eda_samples(run_dir: Path, store: Store, count: int, embed,
                       target: RegionRef | None = None) -> int:
    """Accept ``count`` EDA samples for ``target`` (the explorer's picked cluster when None)."""
    explored = json.loads((run_dir / "explore.json").read_text())
    target = target or RegionRef("cluster", str(explored["picked_cluster"]))
    context = augment.target_context(run_dir, target)
    request = augment.AugmentRequest(n=count, shots=5)
    prompt = augment.prepare_prompt(context, request)
    backend = backends.eda_for_target(context, embed)
    texts = [item.text for output in backend.generate([prompt], count, Sampling())
             for item in parse_output(output.raw, pair=False)][:count]
    run_id = store.register_run(run_dir)
    ids = store.add_candidates(run_id, [Candidate(text, prompt.label, "eda") for text in texts])
    for candidate_id in ids:
        store.decide(candidate_id, "accept")
    return len(ids)


def timed_round(run_dir: Path, store: Store, config: RetrainConfig) -> dict:
    start = time.perf_counter()
    result = retrain(run_dir, config, store=store)
    metrics = result.metrics.to_json()
    return {"total_s": round(time.perf_counter() - start, 2), "stages_s": result.timings_s,
            "controls": list(config.controls), "verdict": metrics["verdict"],
            "target": metrics["groups"]["target"] if metrics["groups"] else None,
            "overall": metrics["overall"],
            "pool_accuracy": [metrics["accuracy_before"]["pool"],
                              metrics["accuracy_after"]["pool"]],
            "targeted_region_pool_accuracy": [
                (region := result.metrics.regions[0]).pool.accuracy_before,
                region.pool.accuracy_after] if result.metrics.regions else None,
            "fixed": metrics["fixed"], "broken": metrics["broken"],
            "mcnemar_p": metrics["mcnemar_p"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/trec/train.csv")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--no-full", action="store_true", help="skip the full round")
    args = parser.parse_args()
    threads = set_cpu_threads()
    embed = SentenceEmbedder()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        record = train_run(load_dataset(args.data), TrainConfig(max_length=64), run_dir)
        rows = record.dataset.rows
        explore_run(run_dir, embed=embed)
        with Store(Path(scratch) / "topex.db") as store:
            samples = accept_eda_samples(run_dir, store, args.samples, embed)
            head_first = timed_round(run_dir, store, RetrainConfig())
            for features in (FEATURES_FILE, TEST_FEATURES_FILE):
                (run_dir / features).unlink(missing_ok=True)
            head_recomputed = timed_round(run_dir, store, RetrainConfig())
            head_warm = timed_round(run_dir, store, RetrainConfig())
            head_plain = timed_round(run_dir, store, RetrainConfig(matched_control=False))
            head_alone = timed_round(run_dir, store, RetrainConfig(matched_control=False,
                                                                   control=False))
            full = None if args.no_full else timed_round(run_dir, store,
                                                         RetrainConfig(mode="full"))
    print(json.dumps({
        "benchmark": "retrain", "data": args.data, "rows": rows, "samples": samples,
        "threads": threads, "machine": machine_line(),
        "training_forward_s": record.timings_s.get("predict_logits"),
        "head_first": head_first, "head_features_recomputed": head_recomputed,
        "first_over_recomputed": round(head_recomputed["total_s"] / head_first["total_s"], 1),
        "head_warm_both_controls": head_warm, "head_warm_plain_control": head_plain,
        "head_warm_no_control": head_alone, "full": full,
        "both_controls_over_none": round(head_warm["total_s"] / head_alone["total_s"], 2),
        "full_over_head_warm": (round(full["total_s"] / head_warm["total_s"], 1)
                                if full else None),
    }))


if __name__ == "__main__":
    main()
