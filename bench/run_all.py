"""Run every benchmark script in bench/ and collect their JSON lines into one file.

    python bench/run_all.py --out bench/results

Each script runs in its own process (clean memory and thread state) and prints one JSON
object per measurement on stdout; this writes them to OUT/results.json and prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from topex_core.training.hardware import machine_line, machine_record

SCRIPTS = [["bench_fine_tune.py"], ["bench_logits.py"], ["bench_explore.py", "--points", "trec"],
           ["bench_explore.py", "--points", "100000"], ["bench_store.py"],
           ["bench_generation.py"], ["bench_retrain.py"], ["bench_interaction.py"],
           ["bench_stages.py"], ["bench_error_regions.py"], ["bench_movement.py"],
           ["bench_llm.py"], ["bench_long_texts.py"], ["bench_review_queue.py"],
           ["bench_demo_repair.py"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--only", nargs="*", default=None,
                        help="script names to run (all their configurations)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    results = []
    chosen = [s for s in SCRIPTS if args.only is None or s[0] in args.only]
    for script, *script_args in chosen:
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, str(here / script), *script_args],
                                   capture_output=True,
                                   text=True, env={**os.environ, "PYTHONPATH": str(here.parent)})
        if completed.returncode != 0:
            print(f"{script} failed:\n{completed.stderr[-2000:]}", file=sys.stderr)
            continue
        for line in completed.stdout.splitlines():
            if line.startswith("{"):
                results.append(json.loads(line))
                print(line, flush=True)
        print(f"# {script} {' '.join(script_args)}: {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
    machine = {**machine_record(), "line": machine_line(), "machine": platform.machine(),
               "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    print(f"# machine: {machine['line']}", file=sys.stderr)
    (args.out / "results.json").write_text(json.dumps({"machine": machine, "results": results},
                                                      indent=2))


if __name__ == "__main__":
    main()
