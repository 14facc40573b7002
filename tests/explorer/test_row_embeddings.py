from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import hashing_embed, make_run

from topex_core.exploredir import ROW_EMBEDDINGS_FILE
from topex_core.explorer.pipeline import explore_run
from topex_core.explorer.row_embeddings import RowEmbeddings
from topex_core.rundir import read_points


class CountingEmbed:
    identity = "counting"

    def __init__(self) -> None:
        self.texts = 0

    def __call__(self, texts):
        self.texts += len(texts)
        return hashing_embed(texts)


def test_rows_are_embedded_once_per_run_and_again_for_another_embedder(tmp_path: Path) -> None:
    texts = [f"row {i} words" for i in range(50)]
    embed = CountingEmbed()
    first = RowEmbeddings(tmp_path, texts, embed)
    vectors = first(np.array([3, 1, 3, 7]))
    assert vectors.shape == (4, 64) and np.array_equal(vectors[0], vectors[2])
    assert embed.texts == 3 and (tmp_path / ROW_EMBEDDINGS_FILE).is_file()
    again = RowEmbeddings(tmp_path, texts, embed)
    assert np.array_equal(again(np.array([7, 1])), vectors[[3, 1]]) and embed.texts == 3
    again(np.array([1, 9]))
    assert embed.texts == 4 and again.embedded == 1
    heard = []
    again(np.arange(20, 30), batch=4, progress=lambda fraction, message: heard.append(fraction))
    assert heard == [0.4, 0.8, 1.0] and embed.texts == 14  # three batches, then saved
    assert np.array_equal(RowEmbeddings(tmp_path, texts, embed)(np.array([29])),
                          again(np.array([29])))
    for identity in ("another model@128:head_tail", "the model@256:head_tail"):
        other = CountingEmbed()
        other.identity = identity
        RowEmbeddings(tmp_path, texts, other)(np.array([1]))
        assert other.texts == 1  # another model's vectors, or another cut's, are not reused
    changed = CountingEmbed()
    RowEmbeddings(tmp_path, [*texts[:-1], "edited"], changed)(np.array([1]))
    assert changed.texts == 1  # nor are those of other texts


def test_exploring_again_embeds_no_row_twice(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    row_texts = set(read_points(run)["text"])
    embedded_rows = []

    def embed(texts):
        embedded_rows.append(sum(text in row_texts for text in texts))
        return hashing_embed(texts)

    assert explore_run(run, embed=embed).error_clusters >= 1
    first = sum(embedded_rows)
    explore_run(run, embed=embed)
    assert first >= 5 and sum(embedded_rows) == first  # the second run embedded no row
