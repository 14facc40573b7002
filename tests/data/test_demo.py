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


def test_the_test_split_holds_enough_rows_of_each_pocket_to_measure_a_repair() -> None:
    """Forty more rows of each pocket than the natural rate gives (about three), none of
    them a training row: a round's target is measured on at least thirty test rows."""
    train = pd.read_csv(demo.DEMO_DIR / "train.csv")
    test = pd.read_csv(demo.DEMO_DIR / "test.csv")
    pockets = [topics[-1][0] for topics in demo.TOPICS.values()]
    counts = test["subtopic"].value_counts()
    assert all(counts[pocket] >= demo.POCKET_TEST_ROWS for pocket in pockets)
    assert len(test) == demo.TEST_ROWS + demo.POCKET_TEST_ROWS * len(pockets)
    assert test["text"].is_unique and not set(test["text"]) & set(train["text"])
