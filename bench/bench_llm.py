"""The packaged SmolLM2-135M-Instruct as a generator on this machine: candidates per
minute in process and through ``transformers serve``, and the share that passes every check.

    python bench/bench_llm.py                    # the embedded demo
    python bench/bench_llm.py --only demo trec --clusters 3 --n 4

Per dataset (the embedded demo; TREC and AG News read from ../shared/datasets): fine-tune
MiniLM on 1,000 rows (cached by content), explore, take the ``--clusters`` error clusters
with the highest weighted score and generate ``--n`` candidates for each with the
``transformers`` backend in this process (default prompt: 5 examples, token budget from
the examples), parse and check them as the Augment page does (the classifier's
prediction left out). One JSON line per dataset: candidates, the share with no warning,
how often each check fired, seconds and candidates per minute (model load excluded).

Then the same first prompt through a ``transformers serve`` process on a free loopback
port with the ``openai`` backend (it answers one choice per request, so the backend asks
``n`` times, 4 at a time): seconds to the first candidate and for all ``n``, against the
in-process batch of ``n``. One JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from topex_core.augmenter.augment import (
    AugmentRequest,
    generate_parsed,
    prepare_prompt,
    target_context,
)
from topex_core.augmenter.checks import checker_for_run
from topex_core.augmenter.generation import Sampling, make_backend
from topex_core.augmenter.generation.packaged import packaged_model_dir
from topex_core.data.dataset import load_dataset
from topex_core.data.demo import load_demo
from topex_core.exploredir import read_explore
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.region_ref import RegionRef
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.run import train_run

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def dataset(name: str):
    return load_demo()[0] if name == "demo" else load_dataset(SHARED / name / "train.csv")


def measure_dataset(name: str, run_dir: Path, backend, embedder, clusters: int,
                    n: int) -> tuple[dict, object]:
    train_run(dataset(name), TrainConfig(), run_dir)
    explore_run(run_dir, ExploreConfig(), embed=embedder)
    _, table = read_explore(run_dir)
    picked = table[table["is_error_cluster"]].sort_values("weighted", ascending=False)
    request = AugmentRequest(n=n, sampling=Sampling(seed=0))
    fired, candidates, clean, seconds, first_prompt = Counter(), 0, 0, 0.0, None
    for cluster in picked["cluster"].head(clusters):
        context = target_context(run_dir, RegionRef("cluster", str(int(cluster))))
        prompt = prepare_prompt(context, request)
        first_prompt = first_prompt or prompt
        start = time.perf_counter()
        parsed, _, _, error = generate_parsed(backend, [prompt], n, request.sampling)
        seconds += time.perf_counter() - start
        if error:
            raise SystemExit(f"{name}: {error}")
        checker = checker_for_run(context.explored, context.target, embed=embedder, predict=None)
        pairs = [item.text_pair for _, item in parsed] if context.pair else None
        for check in checker.check([item.text for _, item in parsed], pairs,
                                   [prompt.label] * len(parsed), examples=prompt.examples):
            candidates += 1
            clean += not check["fired"]
            fired.update(set(check["fired"]))
    return {"bench": "llm_checks", "dataset": name, "clusters": min(clusters, len(picked)),
            "candidates": candidates, "passed_every_check": round(clean / max(candidates, 1), 3),
            "fired": {check: round(count / max(candidates, 1), 3)
                      for check, count in fired.most_common()},
            "generate_s": round(seconds, 1),
            "candidates_per_min": round(60 * candidates / seconds, 1)}, first_prompt


def measure_server(prompt, n: int, in_process) -> dict:
    command = shutil.which("transformers", path=str(Path(sys.executable).parent))
    model_dir = str(packaged_model_dir())
    from local_server import free_port, started_server

    port = free_port()
    server = started_server([command, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu", model_dir], f"http://127.0.0.1:{port}/health",
                            seconds=180, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        backend = make_backend("openai", base_url=f"http://127.0.0.1:{port}/v1",
                               model=model_dir, timeout_s=300)
        sampling = Sampling(seed=0)
        _seconds(lambda: generate_parsed(backend, [prompt], 1, sampling))  # the server loads
        first_s = _seconds(lambda: generate_parsed(backend, [prompt], 1,
                                                   replace(sampling, seed=1)))
        server_s = _seconds(lambda: generate_parsed(backend, [prompt], n,
                                                    replace(sampling, seed=2)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    in_process_s = _seconds(lambda: generate_parsed(in_process, [prompt], n, Sampling(seed=2)))
    # in process the n candidates come from one batch: the first appears with the last
    return {"bench": "llm_server", "n": n, "in_process_s": round(in_process_s, 1),
            "server_s": round(server_s, 1), "server_first_candidate_s": round(first_s, 1),
            "in_process_per_min": round(60 * n / in_process_s, 1),
            "server_per_min": round(60 * n / server_s, 1),
            "ratio_in_process_vs_server": round(server_s / in_process_s, 2)}


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    names = ["demo", "trec", "ag_news"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["demo"], choices=names)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    threads = set_cpu_threads()
    embedder = SentenceEmbedder()
    backend = make_backend("transformers")
    print(json.dumps({"bench": "llm_load", "load_s": round(_seconds(backend.load), 1),
                      "threads": threads}), flush=True)
    prompt = None
    for name in args.only:
        with tempfile.TemporaryDirectory() as scratch:
            result, first = measure_dataset(name, Path(scratch) / "run", backend, embedder,
                                            args.clusters, args.n)
            prompt = prompt or first
        print(json.dumps({**result, "threads": threads}), flush=True)
    if not args.no_server and prompt is not None:
        print(json.dumps({**measure_server(prompt, args.n, backend), "threads": threads}),
              flush=True)


if __name__ == "__main__":
    main()
