"""The embedded demo's whole repair by the command line, as the README's tour walks it, each
step timed: train (the real MiniLM backbone, defaults), explore, the default round (EDA
rewrites of the default target's mistakes, up to 30), accept them all, a head round with
its label-matched control, and the verdict with the target's test rows against the
control.

    python bench/bench_demo_repair.py [--home DIR]

Prints one JSON line: the seconds of each step, the default target, how many candidates
were accepted, and the round's target group (test rows, accuracy before, control, after,
gained, lost, McNemar p) and verdict. A fresh ``--home`` (default: a temporary folder)
times the first run with nothing cached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from topex_core.training.hardware import machine_line


def topex(home: Path, *arguments: str) -> tuple[str, float]:
    """Run ``topex ARGUMENTS`` with ``TOPEX_HOME`` at ``home``: its stdout and seconds."""
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "topex_core.cli.main", *arguments], capture_output=True,
        text=True, env={**os.environ, "TOPEX_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    if completed.returncode != 0:
        raise SystemExit(f"topex {' '.join(arguments)} failed:\n{completed.stderr[-2000:]}")
    return completed.stdout, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        run = str(home / "runs" / "demo")
        seconds = {}
        _, seconds["train_s"] = topex(home, "train", "--data", "demo", "--out", run)
        _, seconds["explore_s"] = topex(home, "explore", "--run", run)
        generated, seconds["generate_s"] = topex(home, "generate", "--run", run)
        candidates = [json.loads(line) for line in generated.splitlines()
                      if line.startswith("{")]
        ids = [str(candidate["id"]) for candidate in candidates]
        _, seconds["accept_s"] = topex(home, "decide", "--run", run, "--candidate", *ids,
                                       "--accept")
        summary, seconds["round_s"] = topex(home, "retrain", "--run", run, "--json")
        explored = json.loads((Path(run) / "explore.json").read_text())
    round_json = json.loads(summary)
    print(json.dumps({
        "benchmark": "demo_repair", "machine": machine_line(), **{
            key: round(value, 1) for key, value in seconds.items()},
        "total_s": round(sum(seconds.values()), 1), "accepted": len(ids),
        "passed_checks": sum(not c["checks"]["warnings"] for c in candidates),
        "target": explored.get("target_name"), "target_group": round_json["target"],
        "verdict": round_json["verdict"]}))


if __name__ == "__main__":
    main()
