"""The speed table in minutes: explore on short and on long texts, a first head round and its
comparison, on this machine.

    python bench/bench_quick.py        # make bench-quick

1. **Short texts**: AG News from shared, its 6,000 training rows as the pool and its 1,600
   test rows, MiniLM fine-tuned with the defaults. ``explore_run`` with the sentence
   embedder already loaded and BERTopic imported (as a dashboard holds them after its first
   exploration; the import is timed apart: the first exploration after a server starts
   adds it): first with no row embedding cached (a run's first explore), then again (the
   embeddings the concepts read are kept with the run).
   The same on 7,000 real movie-review sentences (``movie_snippets.py``, about 19 words,
   1,800 test sentences; ``make bench-data`` fetches them, and without them this line is
   left out): the kind of set the speed issue measured at 43 s.
   Where the sentence embedder runs bfloat16 (a CPU with fast bfloat16), AG News is
   explored once more with a float32 embedder: the path of a CPU without it, same run.
2. **Long texts**: 2,000 "ending" documents of ``bench_long_texts`` (eight AG News articles,
   about 330 words; the label in the last) and 500 test documents, explored the same way,
   with a failure for the explorer to find (without one these documents' mistakes share
   nothing, no slice stands and nothing is embedded: a flattering 6 s): Sports documents
   about baseball (``bench_error_regions``'s eleven words) labelled Business outside the
   training sample, as its ``planted_concept``.
   The classifier is fine-tuned with the defaults (the long-text levers as the machine
   picks them; their cost is ``bench_long_texts``'s subject).
3. **A first round**: 30 EDA rewrites of the short-text run's default target accepted, then
   one head round with both controls (the page's default), its total and its comparison
   (maps and statistics).

Models and logits come from the content cache of ``TOPEX_HOME`` when they exist (a fresh
home trains all three first: 9 minutes on 2 cores, 1.5 with them cached). Prints one
JSON object per measurement, then the table beside the speed issue's targets (explore
≤ 15 s on each kind of set, a head round ≤ 10 s, the comparison ≤ 3 s).
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import time
from pathlib import Path

from bench_error_regions import relabelled
from bench_long_texts import long_documents
from bench_retrain import accept_eda_samples
from movie_snippets import SOURCE, MissingBenchData, pool_and_test

from topex_core.data.dataset import dataset_from_frame, load_dataset
from topex_core.exploredir import ROW_EMBEDDINGS_FILE
from topex_core.explorer.pipeline import explore_run
from topex_core.region_ref import RegionRef
from topex_core.retraining.config import RetrainConfig
from topex_core.retraining.retrain import retrain
from topex_core.storage.store import Store
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.hardware import machine_line
from topex_core.training.run import train_run

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
LONG_ROWS, LONG_TEST_ROWS = 2_000, 500
ROUND_SAMPLES = 30
TARGETS_S = {"explore": 15.0, "head_round": 10.0, "compare": 3.0}


def explored(run_dir: Path, embed: SentenceEmbedder) -> dict:
    """Two explores of ``run_dir``: the first with no cached row embedding, then again."""
    (run_dir / ROW_EMBEDDINGS_FILE).unlink(missing_ok=True)
    times = {}
    for attempt in ("first", "again"):
        start = time.perf_counter()
        result = explore_run(run_dir, embed=embed)
        times[attempt] = round(time.perf_counter() - start, 2)
        times[f"{attempt}_stages_s"] = result.timings_s
    summary = json.loads((run_dir / "explore.json").read_text())
    return {**times, "embedder": embed.precision, "error_clusters": summary["error_clusters"],
            "slices": summary["slices"], "mistakes": summary["coverage"]["mistakes"],
            "default_target": summary.get("target_name")}


def snippets_explored(run_dir: Path, embed: SentenceEmbedder, machine: dict) -> list[dict]:
    """The explore line of the movie snippets; none (and a note) without the data."""
    try:
        pool_frame, test_frame = pool_and_test()
    except MissingBenchData as missing:
        print(f"# movie snippets left out: {missing}", flush=True)
        return []
    pool = dataset_from_frame(pool_frame[["text", "label"]], source=SOURCE)
    test = dataset_from_frame(test_frame[["text", "label"]], source=SOURCE,
                              label_names=pool.label_names)
    train_run(pool, TrainConfig(), run_dir, test=test)
    return [{"measure": "explore", "set": "movie snippets, short", "rows": len(pool),
             "test_rows": len(test), **explored(run_dir, embed), **machine}]


def first_round(run_dir: Path, store: Store, embed: SentenceEmbedder) -> dict:
    summary = json.loads((run_dir / "explore.json").read_text())
    target = RegionRef(summary["target_kind"], summary["target_key"])
    samples = accept_eda_samples(run_dir, store, ROUND_SAMPLES, embed, target=target)
    start = time.perf_counter()
    result = retrain(run_dir, RetrainConfig(), store=store)
    return {"samples": samples, "total_s": round(time.perf_counter() - start, 2),
            "compare_s": result.timings_s.get("compare"), "stages_s": result.timings_s,
            "verdict": result.metrics.to_json()["verdict"]}


def main() -> None:
    threads = set_cpu_threads()
    embed = SentenceEmbedder()
    embed(["warm-up"])
    start = time.perf_counter()
    importlib.import_module("bertopic")  # the naming step's library, once per process
    import_s = round(time.perf_counter() - start, 2)
    machine = {"threads": threads, "machine": machine_line()}
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        short_run = Path(scratch) / "short"
        pool = load_dataset(SHARED / "ag_news" / "train.csv")
        test = load_dataset(SHARED / "ag_news" / "test.csv", label_names=pool.label_names)
        train_run(pool, TrainConfig(), short_run, test=test)
        lines.append({"measure": "explore", "set": "AG News, short", "rows": len(pool),
                      "test_rows": len(test), **explored(short_run, embed), **machine})
        if embed.precision != "float32":  # the path of a CPU without fast bfloat16, beside
            exact = SentenceEmbedder(precision="float32")
            exact(["warm-up"])
            lines.append({"measure": "explore", "set": "AG News, short", "rows": len(pool),
                          "test_rows": len(test), **explored(short_run, exact), **machine})
        lines += snippets_explored(Path(scratch) / "snippets", embed, machine)
        with Store(Path(scratch) / "topex.db") as store:
            lines.append({"measure": "head_round", "set": "AG News, short",
                          **first_round(short_run, store, embed), **machine})
        long_run = Path(scratch) / "long"
        long_pool = dataset_from_frame(
            relabelled(long_documents("ending", LONG_ROWS, "train", 0), "planted_concept",
                       TrainConfig().seed),
            source="ending documents, baseball as Business")
        long_test = dataset_from_frame(
            relabelled(long_documents("ending", LONG_TEST_ROWS, "test", 1), "planted_concept",
                       None),
            source="ending documents, baseball as Business", label_names=long_pool.label_names)
        train_run(long_pool, TrainConfig(), long_run, test=long_test)
        lines.append({"measure": "explore", "set": "long documents", "rows": len(long_pool),
                      "test_rows": len(long_test), **explored(long_run, embed), **machine})
    for line in lines:
        print(json.dumps(line, ensure_ascii=False), flush=True)
    print(json.dumps({"measure": "import", "library": "bertopic", "seconds": import_s,
                      **machine}))
    print(table(lines, import_s))


def table(lines: list[dict], import_s: float) -> str:
    """The measurements beside their targets, as Markdown."""
    rows = ["| measure | set | first | again | target |", "| --- | --- | ---: | ---: | ---: |"]
    for line in lines:
        if line["measure"] == "explore":
            rows.append(f"| explore, embedder {line['embedder']} | {line['set']} "
                        f"({line['rows']:,} + {line['test_rows']:,} test) | {line['first']} s "
                        f"| {line['again']} s | ≤ {TARGETS_S['explore']:.0f} s |")
        else:
            rows.append(f"| head round, both controls | {line['set']} | {line['total_s']} s "
                        f"| | ≤ {TARGETS_S['head_round']:.0f} s |")
            rows.append(f"| its comparison | {line['set']} | {line['compare_s']} s | | "
                        f"≤ {TARGETS_S['compare']:.0f} s |")
    return "\n".join(rows + [
        f"\nThe first exploration after a server starts adds BERTopic's import: {import_s} s.",
        f"{lines[0]['machine']}, {lines[0]['threads']} threads, "
        f"TOPEX_HOME={os.environ.get('TOPEX_HOME', '~/.topex')}"])


if __name__ == "__main__":
    main()
