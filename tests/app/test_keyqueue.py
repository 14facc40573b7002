from __future__ import annotations

from topex_app.keyqueue import first_waiting


def test_the_first_key_numbered_after_the_last_taken_waits() -> None:
    pending = [{"seq": 4, "key": "x"}, {"seq": 2, "key": "a"}, {"seq": 3, "key": "n"}]
    assert first_waiting(pending, 0) == (2, "a")
    assert first_waiting(pending, 2) == (3, "n")
    assert first_waiting(pending, 3) == (4, "x")
    assert first_waiting(pending, 4) is None
    assert first_waiting([], 0) is None
