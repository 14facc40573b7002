"""Fine-tunes the real packaged MiniLM on a slice of the shared TREC data."""

from __future__ import annotations

import pytest
from conftest import shared_dataset

from topex_core.data.dataset import load_dataset
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.run import train_run


@pytest.mark.slow
def test_minilm_on_trec_slice_beats_chance_by_far(tmp_path) -> None:
    set_cpu_threads()
    pool = load_dataset(shared_dataset("trec", "train")).subset(range(600))
    test = load_dataset(shared_dataset("trec", "test"), label_names=pool.label_names)
    record = train_run(pool, TrainConfig(train_size=400, epochs=2, max_length=32), tmp_path,
                       test=test.subset(range(200)))
    # six classes, the largest about 23% of TREC test: 0.6 is far above any guess
    assert record.test_accuracy > 0.6
