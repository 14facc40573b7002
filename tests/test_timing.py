"""The time-left estimate shown in progress messages."""

from __future__ import annotations

from topex_core.timing import TimeLeft, duration_text


def test_time_left_is_measured_from_the_first_report_and_rounded() -> None:
    now = [100.0]
    time_left = TimeLeft(min_elapsed_s=5.0, clock=lambda: now[0])
    assert time_left.left(0.05) == ""  # the first report: loading and the first step
    now[0] = 103.0
    assert time_left.left(0.10) == ""  # too early to say
    now[0] = 110.0
    assert time_left.left(0.15) == "about 90 s left"  # 10 s per 0.1 → 85 s
    now[0] = 120.0
    assert time_left.left(0.20) == "about 2 min left"  # 20 s per 0.15 → 107 s
    now[0] = 180.0
    assert time_left.left(0.95) == "about 10 s left"
    assert time_left.left(1.0) == ""


def test_durations_read_as_people_say_them() -> None:
    assert [duration_text(s) for s in (3, 44, 61, 99, 100, 150, 3900)] == [
        "10 s", "50 s", "70 s", "100 s", "2 min", "3 min", "1 h 5 min"]
