"""A separate process that writes decisions, for the crash and concurrency tests.

    python store_worker.py DB_PATH CANDIDATE_IDS(comma) COUNT ACTOR

Prints each decision id on its own line after ``decide`` returned (i.e. after commit).
"""

import sys

from topex_core.storage.store import Store

db_path, candidate_ids, count, actor = sys.argv[1:5]
ids = [int(i) for i in candidate_ids.split(",")]
with Store(db_path) as store:
    for step in range(int(count)):
        action = "accept" if step % 2 else "reject"
        decision = store.decide(ids[step % len(ids)], action, actor=actor)
        print(decision, flush=True)
