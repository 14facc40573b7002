"""Server-side time of a warm interaction on the Explore page with many points.

    python bench/bench_interaction.py [--points 100000]

Builds and explores a synthetic run (bench_explore.synthetic_run), opens the Explore page
with Streamlit's AppTest (the script runs as on the server, without a browser), then
times choosing another error cluster, five times, after one warm-up. Compared in the same
run with the first, cold render of the page.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench_explore import synthetic_run
from streamlit.testing.v1 import AppTest

from topex_core.explorer.pipeline import explore_run
from topex_core.training.classifier import set_cpu_threads
from topex_core.training.embeddings import SentenceEmbedder

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "explore.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    set_cpu_threads()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        synthetic_run(run_dir, args.points)
        explore_run(run_dir, embed=SentenceEmbedder())
        at = AppTest.from_file(PAGE, default_timeout=600)
        at.session_state["run_dir"] = str(run_dir)
        start = time.perf_counter()
        at.run()
        cold = time.perf_counter() - start
        clusters = at.selectbox(key="explore_cluster").options
        timings = []
        for step in range(6):
            start = time.perf_counter()
            at.selectbox(key="explore_cluster").set_value(
                int(clusters[(step + 1) % len(clusters)].split(":")[0])).run()
            timings.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    print(json.dumps({"benchmark": "explore_interaction", "points": args.points,
                      "error_clusters": len(clusters), "cold_render_s": round(cold, 2),
                      "select_cluster_ms": [round(1000 * t) for t in timings[1:]],
                      "median_ms": round(1000 * statistics.median(timings[1:]))}))


if __name__ == "__main__":
    main()
