from __future__ import annotations

import pandas as pd

from topex_core.data import demo


def test_committed_demo_files_match_the_generator(tmp_path) -> None:
    demo.write_demo_files(tmp_path)
    for name in ("train.csv", "test.csv"):
        assert (tmp_path / name).read_bytes() == (demo.DEMO_DIR / name).read_bytes()


def test_demo_is_large_enough_and_has_confusable_pockets() -> None:
    train, test = demo.load_demo()
    assert len(train) >= 1200 and train.num_classes >= 4 and len(test) > 0
    frame = pd.read_csv(demo.DEMO_DIR / "train.csv")
    pockets = {topics[-1][0] for topics in demo.TOPICS.values()}
    share = frame["subtopic"].isin(pockets).mean()
    assert 0.005 < share < 0.1
    assert frame["text"].is_unique
