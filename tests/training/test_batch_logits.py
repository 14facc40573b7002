"""topex logits: the local engine and a Ray Data job on a local Ray give the same logits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_run, tiny_frame

from topex_core.errors import DataError
from topex_core.training import classifier as clf
from topex_core.training.batch_logits import EngineError, LogitsJob, logit_columns, score_file
from topex_core.training.run import load_run_classifier


def _file(tmp_path: Path, suffix: str = ".csv", rows_per_class: int = 100) -> Path:
    frame = tiny_frame(rows_per_class, seed=3).assign(note="kept")
    path = tmp_path / f"score{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def test_the_local_engine_writes_the_files_columns_and_the_runs_logits(explored,
                                                                       tmp_path: Path) -> None:
    run, _ = explored
    data = _file(tmp_path)
    scored = score_file(LogitsJob(run, data, tmp_path / "out.parquet"))
    written = pd.read_parquet(tmp_path / "out.parquet")
    columns = logit_columns(["billing", "shipping", "tech"])
    assert list(written.columns) == ["text", "label", "note", *columns]
    frame = pd.read_csv(data)
    expected = clf.predict_logits(load_run_classifier(run), frame["text"].tolist())
    np.testing.assert_allclose(written[columns].to_numpy(), expected, atol=1e-6)
    assert written["text"].tolist() == frame["text"].tolist() and len(scored) == len(frame)


@pytest.mark.parametrize("job, error, match", [
    (dict(text_col="body"), DataError, "no column 'body'"),
    (dict(engine="spark"), EngineError, "unknown engine 'spark'"),
    (dict(batch_size=0), EngineError, "must be positive"),
])
def test_bad_jobs_are_one_line_errors(explored, tmp_path: Path, job, error, match) -> None:
    run, _ = explored
    with pytest.raises(error, match=match):
        score_file(LogitsJob(run, _file(tmp_path), tmp_path / "out.parquet", **job))
    assert not (tmp_path / "out.parquet").exists()


def test_a_run_without_a_model_cannot_compute_logits(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with pytest.raises(EngineError, match="no classifier"):
        score_file(LogitsJob(run, _file(tmp_path), tmp_path / "out.parquet"))


@pytest.mark.slow
def test_a_ray_data_job_on_a_local_ray_equals_the_local_engine(explored, tmp_path: Path,
                                                               monkeypatch) -> None:
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    run, _ = explored
    for suffix in (".csv", ".parquet"):
        data = _file(tmp_path, suffix)
        local = score_file(LogitsJob(run, data, tmp_path / f"local{suffix}.parquet"))
        distributed = score_file(LogitsJob(run, data, tmp_path / f"ray{suffix}.parquet",
                                           engine="ray", batch_size=64, actors=2))
        assert len(distributed) == len(local) == 300
        assert distributed["text"].tolist() == local["text"].tolist()  # the file's order
        columns = logit_columns(["billing", "shipping", "tech"])
        np.testing.assert_allclose(distributed[columns].to_numpy(), local[columns].to_numpy(),
                                   atol=1e-5)
    with pytest.raises(DataError, match="reads"):
        score_file(LogitsJob(run, tmp_path / "x.jsonl", tmp_path / "o.parquet", engine="ray"))
