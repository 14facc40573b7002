"""The ``st.session_state`` keys that more than one page reads, declared once.

Widget keys that only one page uses carry that page's prefix and stay in the page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

RUN_DIR = "run_dir"  # str: the run every page works on (chosen on Data & model)
TARGET = "target"  # RegionRef: the region picked on Explore, augmented on Augment
RETRAIN_ROUND = "retrain_round"  # str: the round just trained, shown first on Retrain
# RegionRef: a region picked on Explore's map or confusion matrix, applied on the next run
PENDING_TARGET = "explore_pending_target"


def current_run() -> Path | None:
    """The run chosen on the Data & model page, or None."""
    run_dir = st.session_state.get(RUN_DIR)
    return Path(run_dir) if run_dir else None


def set_current_run(run_dir: Path | str) -> None:
    st.session_state[RUN_DIR] = str(run_dir)

