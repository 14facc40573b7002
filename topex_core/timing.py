"""Wall-clock timing of pipeline stages, recorded into a plain dict (seconds), and the
progress callback that long stages report to."""

from __future__ import annotations

import math
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


class TimeLeft:
    """An estimate of the time a stage has left, from its progress since the first report
    (so that loading and the first, slower step do not count): ``left(fraction)`` is "" until
    ``min_elapsed_s`` seconds and some progress have passed, then "about 40 s left" or
    "about 3 min left"."""

    def __init__(self, min_elapsed_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_elapsed_s, self.clock = min_elapsed_s, clock
        self.first: tuple[float, float] | None = None

    def left(self, fraction: float) -> str:
        now = self.clock()
        if self.first is None:
            self.first = (now, fraction)
            return ""
        start, start_fraction = self.first
        elapsed, done = now - start, fraction - start_fraction
        if elapsed < self.min_elapsed_s or done <= 0 or fraction >= 1.0:
            return ""
        return f"about {duration_text(elapsed / done * (1.0 - fraction))} left"


def duration_text(seconds: float) -> str:
    """A rounded duration: "90 s" (up to the next 10 s under 100 s), "2 min" (to the
    nearest minute), "1 h 5 min"."""
    if seconds < 100:
        return f"{max(10, 10 * math.ceil(seconds / 10))} s"
    minutes = int(seconds / 60 + 0.5)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
