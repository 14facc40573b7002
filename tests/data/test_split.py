from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_frame

from topex_core.data.dataset import dataset_from_frame
from topex_core.data.split import hold_out
from topex_core.errors import DataError


def test_held_out_rows_are_stratified_seeded_and_keep_their_ids() -> None:
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(100)],
                          "label": ["a"] * 70 + ["b"] * 20 + ["c"] * 10})
    dataset = dataset_from_frame(frame, source="given.csv")
    pool, test = hold_out(dataset, 0.2)
    assert len(pool) == 80 and len(test) == 20
    assert np.bincount(test.labels).tolist() == [14, 4, 2]
    assert not set(pool.ids) & set(test.ids)
    assert sorted([*pool.ids, *test.ids]) == list(range(100))
    assert [dataset.texts[i] for i in test.ids] == test.texts
    again_pool, again_test = hold_out(dataset, 0.2)
    assert again_test.ids.tolist() == test.ids.tolist()
    assert hold_out(dataset, 0.2, seed=1)[1].ids.tolist() != test.ids.tolist()
    assert pool.label_names == test.label_names == dataset.label_names


def test_a_class_with_one_row_stays_in_the_pool() -> None:
    frame = pd.concat([tiny_frame(), pd.DataFrame({"text": ["a lone text"], "label": ["rare"]})])
    dataset = dataset_from_frame(frame, source="given.csv")
    pool, test = hold_out(dataset, 0.25)
    rare = dataset.label_names.index("rare")
    assert rare in pool.labels and rare not in test.labels


@pytest.mark.parametrize(("rows", "share", "message"), [
    (["a", "b", "a", "b"], 0.2, "too few to hold out a stratified 20% test split"),
    (["a", "b", "a", "b", "a", "b"], 0.9, "too few"),
    (["a", "b"] * 10, 1.0, r"must be a share in \[0, 1\)"),
    (["a", "b"] * 10, -0.1, "must be a share"),
])
def test_unsplittable_data_is_a_clear_error(rows: list[str], share: float,
                                            message: str) -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(len(rows))], "label": rows})
    with pytest.raises(DataError, match=message):
        hold_out(dataset_from_frame(frame, source="small.csv"), share)
