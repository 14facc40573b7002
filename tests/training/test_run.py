from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_frame

from topex_core.data.dataset import dataset_from_frame
from topex_core.errors import RunError
from topex_core.rundir import read_run
from topex_core.training.classifier import TrainConfig, head_layer
from topex_core.training.run import load_run_classifier, train_run


def config(backbone: str) -> TrainConfig:
    return TrainConfig(backbone=backbone, train_size=40, epochs=2, batch_size=8,
                       learning_rate=3e-3)


def test_run_directory_contents(tiny_backbone: str, tmp_path: Path) -> None:
    pool = dataset_from_frame(tiny_frame(), source="pool")
    test = dataset_from_frame(tiny_frame(5, seed=9), source="test", label_names=pool.label_names)
    record = train_run(pool, config(tiny_backbone), tmp_path / "run", test=test)
    run = tmp_path / "run"
    logits = np.load(run / "logits.npy")
    points = pd.read_parquet(run / "points.parquet")
    assert logits.shape == (60, 3)
    assert points.columns.tolist() == ["id", "text", "label", "label_id", "pred", "pred_id",
                                       "correct", "max_prob", "in_train"]
    assert points["in_train"].sum() == 40
    np.testing.assert_array_equal(points["pred_id"], logits.argmax(1))
    assert (run / "model" / "model.safetensors").is_file()
    assert np.load(run / "test_logits.npy").shape == (15, 3)
    saved = read_run(run)
    assert saved == record
    assert saved.test_accuracy is not None and 0 <= saved.test_accuracy <= 1
    assert set(saved.versions) >= {"python", "torch", "transformers"}
    assert "fine_tune" in saved.timings_s and len(saved.train_ids) == 40
    # the features a head round trains on come from the same forward pass as the logits
    features, test_features = (np.load(run / "head_features.npy"),
                               np.load(run / "test_head_features.npy"))
    head = head_layer(load_run_classifier(run))
    assert features.shape == (60, head.in_features) and len(test_features) == 15
    rebuilt = features @ head.weight.detach().numpy().T + head.bias.detach().numpy()
    np.testing.assert_allclose(rebuilt, logits, atol=1e-4)


def test_second_identical_run_uses_the_cache(tiny_backbone: str, tmp_path: Path) -> None:
    pool = dataset_from_frame(tiny_frame(), source="pool")
    first = train_run(pool, config(tiny_backbone), tmp_path / "a")
    second = train_run(pool, config(tiny_backbone), tmp_path / "b")
    assert "fine_tune" not in second.timings_s and "load_cached_model" in second.timings_s
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "logits.npy"),
                                  np.load(tmp_path / "b" / "logits.npy"))
    assert first.pool_accuracy == second.pool_accuracy
    changed = TrainConfig(**{**config(tiny_backbone).__dict__, "seed": 1})
    third = train_run(pool, changed, tmp_path / "c")
    assert "fine_tune" in third.timings_s


def test_refuses_to_overwrite_a_directory_that_is_not_a_run(tiny_backbone: str,
                                                           tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("precious")
    pool = dataset_from_frame(tiny_frame(), source="pool")
    with pytest.raises(RunError, match="not empty and is not a TopEx run"):
        train_run(pool, config(tiny_backbone), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_read_run_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a TopEx run directory"):
        read_run(tmp_path)
    (tmp_path / "run.json").write_text("{half")
    with pytest.raises(RunError, match="corrupt run record"):
        read_run(tmp_path)


def test_bfloat16_run_keeps_its_precision_and_its_own_cached_logits(tiny_backbone: str,
                                                                    tmp_path: Path) -> None:
    pool = dataset_from_frame(tiny_frame(), source="pool")
    exact = train_run(pool, config(tiny_backbone), tmp_path / "exact")
    fast = train_run(pool, config(tiny_backbone), tmp_path / "fast", precision="bfloat16")
    assert exact.logits_precision == "float32" and fast.logits_precision == "bfloat16"
    assert "load_cached_model" in fast.timings_s  # same weights, trained once
    exact_logits = np.load(tmp_path / "exact" / "logits.npy")
    fast_logits = np.load(tmp_path / "fast" / "logits.npy")
    assert fast_logits.dtype == np.float32
    assert not np.array_equal(exact_logits, fast_logits)  # not the float32 cache file
    np.testing.assert_allclose(fast_logits, exact_logits, atol=0.1)
    assert load_run_classifier(tmp_path / "fast").precision == "bfloat16"
    assert load_run_classifier(tmp_path / "exact").precision == "float32"
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        train_run(pool, config(tiny_backbone), tmp_path / "bad", precision="float16")


def test_without_a_test_file_a_stratified_share_is_held_out(tiny_backbone: str,
                                                            tmp_path: Path) -> None:
    given = dataset_from_frame(tiny_frame(), source="given.csv")
    record = train_run(given, config(tiny_backbone), tmp_path / "run")
    points = pd.read_parquet(tmp_path / "run" / "points.parquet")
    test_points = pd.read_parquet(tmp_path / "run" / "test_points.parquet")
    assert (len(points), len(test_points)) == (48, 12)
    assert not set(points["id"]) & set(test_points["id"])
    assert not test_points["in_train"].any() and not set(record.train_ids) & set(
        test_points["id"])
    assert record.test_accuracy is not None
    assert record.held_out is not None and record.held_out.share == 0.2
    assert record.input_hash == given.content_hash != record.dataset.content_hash
    assert read_run(tmp_path / "run") == record
    assert train_run(given, config(tiny_backbone), tmp_path / "none",
                     test_size=0).test_dataset is None


def test_a_run_folder_is_reused_for_the_same_data_and_never_overwritten(
        tiny_backbone: str, tmp_path: Path) -> None:
    given = dataset_from_frame(tiny_frame(), source="a/train.csv")
    first = train_run(given, config(tiny_backbone), tmp_path / "run")
    files = {path: path.read_bytes() for path in (tmp_path / "run").glob("*") if path.is_file()}
    again = train_run(given, config(tiny_backbone), tmp_path / "run")
    assert again.run_id == first.run_id
    other = dataset_from_frame(tiny_frame(seed=5), source="b/train.csv")
    with pytest.raises(RunError, match=r"holds a run of another dataset \(a/train.csv, 60 rows"
                                       r"\); refusing to train b/train.csv \(60 rows\)"):
        train_run(other, config(tiny_backbone), tmp_path / "run")
    changed = TrainConfig(**{**config(tiny_backbone).__dict__, "epochs": 3})
    with pytest.raises(RunError, match=r"same data with other settings \(epochs\)"):
        train_run(given, changed, tmp_path / "run")
    with pytest.raises(RunError, match=r"other settings \(test split\)"):
        train_run(given, config(tiny_backbone), tmp_path / "run", test_size=0.3)
    assert {path: path.read_bytes() for path in files} == files
