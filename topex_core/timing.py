"""Wall-clock timing of pipeline stages, recorded into a plain dict (seconds), and the
progress callback that long stages report to."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[float, str], None]


@contextmanager
def timed(stage: str, timings: dict[str, float]) -> Iterator[None]:
    """Add the wall time of the block to ``timings[stage]`` in seconds (3 decimals)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - start, 3)
