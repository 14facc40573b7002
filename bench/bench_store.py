"""Durable decisions per second: each ``decide`` committed with synchronous=FULL.

    python bench/bench_store.py [--decisions 1000]

Compared in the same run with synchronous=NORMAL (WAL's usual setting, which can lose the
last transactions on power loss) to show what durability costs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from topex_core.rundir import write_json_atomic
from topex_core.storage.store import Candidate, Store


def decisions_per_second(db_path: Path, run_dir: Path, count: int, synchronous: str) -> float:
    with Store(db_path) as store:
        store._db.execute(f"PRAGMA synchronous={synchronous}")
        run_id = store.register_run(run_dir)
        ids = store.add_candidates(run_id, [Candidate(f"text {i}", "a", "bench")
                                            for i in range(50)])
        start = time.perf_counter()
        for step in range(count):
            store.decide(ids[step % len(ids)], "accept" if step % 2 else "reject")
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        run_dir.mkdir()
        write_json_atomic(run_dir / "run.json", {
            "label_names": ["a", "b"], "config": {}, "versions": {}, "timings_s": {},
            "dataset": {"content_hash": "h", "source": "s", "rows": 1, "text_col": "text",
                        "text_pair_col": None, "label_col": "label"}})
        full = decisions_per_second(Path(scratch) / "full.db", run_dir, args.decisions, "FULL")
        normal = decisions_per_second(Path(scratch) / "normal.db", run_dir, args.decisions,
                                      "NORMAL")
    print(json.dumps({"benchmark": "store_decisions", "decisions": args.decisions,
                      "durable_per_s": round(full, 1), "normal_per_s": round(normal, 1),
                      "durability_cost": round(normal / full, 2)}))


if __name__ == "__main__":
    main()
