"""Guards at the top of a page: without what the page needs, say what to do and stop."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from topex_app.state import current_run
from topex_core.exploredir import is_explored

NO_RUN = "Open or train a run on the Data & model page first."


def require_run(*, explored_because: str | None = None) -> Path:
    """The current run; stops the page with a hint when there is none, or when
    ``explored_because`` is given (why this page needs the explorer) and the run is not
    explored yet."""
    run_dir = current_run()
    if run_dir is None:
        st.info(NO_RUN)
        st.stop()
    if explored_because is not None and not is_explored(run_dir):
        st.info(f"Explore this run first: {explored_because}")
        st.stop()
    return run_dir
