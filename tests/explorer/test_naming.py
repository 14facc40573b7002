from __future__ import annotations

import numpy as np

from topex_core.explorer.naming import name_clusters


def test_names_are_the_distinctive_words_of_each_cluster() -> None:
    texts = (["my parcel courier is late again"] * 6 + ["invoice refund card payment"] * 6
             + ["the screen battery died"] * 6)
    labels = np.array([0] * 6 + [5] * 6 + [-1] * 6)
    names = name_clusters(texts, labels, top_n_words=3)
    assert set(names) == {0, 5}
    assert set(names[0].name.split()) <= {"parcel", "courier", "late", "again"}
    assert set(names[5].name.split()) <= {"invoice", "refund", "card", "payment"}
    assert len(names[0].words) == 3 and all(weight > 0 for _, weight in names[0].words)
    assert "the" not in names[0].name.split()


def test_no_clusters_and_stop_words_only() -> None:
    assert name_clusters(["a b", "c d"], np.array([-1, -1])) == {}
    names = name_clusters(["the and", "of the"], np.array([0, 1]))
    assert names[0].name == "cluster 0" and names[1].words == []
