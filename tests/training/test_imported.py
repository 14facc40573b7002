"""Predictions made elsewhere, imported as a run: the planted run's own logits written to a
table give the same run, the same clusters and names; probabilities become
log-probabilities; bad tables are one line with nothing written; a run without a model
is retrained by fine-tuning a backbone against a control."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import accept, hashing_embed, make_run, one_line

from topex_core.cli.main import main
from topex_core.errors import RunError
from topex_core.explorer.pipeline import explore_run
from topex_core.retraining.config import RetrainConfig, RetrainError
from topex_core.retraining.retrain import retrain
from topex_core.rounddir import read_sample_points
from topex_core.rundir import MODEL_DIR, has_classifier, read_logits, read_points, read_run
from topex_core.storage.store import Store
from topex_core.training.classifier import softmax
from topex_core.training.imported import import_predictions, load_scored, scored_from_frame

LABELS = ["billing", "shipping", "tech"]


def predictions_table(run: Path, kind: str = "logit") -> pd.DataFrame:
    """The planted run's texts, labels and scores as another tool would write them."""
    points, logits = read_points(run), read_logits(run)
    scores = logits if kind == "logit" else softmax(logits)
    frame = points[["text", "label"]].copy()
    for column, label in enumerate(LABELS):
        frame[f"{kind}_{label}"] = scores[:, column]
    return frame


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    return make_run(tmp_path / "planted")


def test_imported_logits_give_the_same_clusters_and_names_as_the_run(
        planted: Path, tmp_path: Path) -> None:
    predictions_table(planted).to_csv(tmp_path / "predictions.csv", index=False)
    scored = load_scored(tmp_path / "predictions.csv")
    record = import_predictions(scored, tmp_path / "imported", test_size=0)
    assert record.config.imported == "logit" and record.train_ids is None
    assert not has_classifier(tmp_path / "imported")
    assert not (tmp_path / "imported" / MODEL_DIR).exists()
    np.testing.assert_array_equal(read_logits(tmp_path / "imported"), read_logits(planted))
    assert not read_points(tmp_path / "imported")["in_train"].any()
    original = explore_run(planted, embed=hashing_embed)
    imported = explore_run(tmp_path / "imported", embed=hashing_embed)
    assert imported.picked_name == original.picked_name
    assert imported.clusters == original.clusters and imported.covered == original.covered
    for name in ("map_points.parquet",):
        pd.testing.assert_frame_equal(pd.read_parquet(planted / name),
                                      pd.read_parquet(tmp_path / "imported" / name))
    assert (pd.read_csv(planted / "clusters.csv")["name"].tolist()
            == pd.read_csv(tmp_path / "imported" / "clusters.csv")["name"].tolist())


def test_probabilities_become_log_probabilities_that_softmax_back(
        planted: Path, tmp_path: Path) -> None:
    table = predictions_table(planted, "prob").round(4)  # as a CSV with four decimals
    scored = scored_from_frame(table.astype(str), source="probs.csv")
    assert scored.kind == "prob"
    probabilities = table[[f"prob_{label}" for label in LABELS]].to_numpy()
    np.testing.assert_allclose(softmax(scored.logits), probabilities / probabilities.sum(1,
                               keepdims=True), atol=1e-5)
    assert (scored.logits.argmax(1) == read_logits(planted).argmax(1)).all()
    assert np.isfinite(scored.logits).all()  # a probability of 0 is floored, not −inf


def test_a_held_out_test_split_keeps_each_row_with_its_scores(planted: Path,
                                                              tmp_path: Path) -> None:
    table = predictions_table(planted)
    scored = scored_from_frame(table, source="p.csv")
    record = import_predictions(scored, tmp_path / "run", test_size=0.2)
    test_points = pd.read_parquet(tmp_path / "run" / "test_points.parquet")
    test_logits = np.load(tmp_path / "run" / "test_logits.npy")
    assert record.test_dataset.rows == len(test_points) == 41
    np.testing.assert_array_equal(test_logits, read_logits(planted)[test_points["id"]])
    assert record.test_accuracy == pytest.approx(
        float((test_logits.argmax(1) == test_points["label_id"]).mean()), abs=1e-4)
    # the same table into the same folder reopens the run; other scores are refused
    assert import_predictions(scored, tmp_path / "run", test_size=0.2).run_id == record.run_id
    table["logit_tech"] += 1.0
    with pytest.raises(RunError, match="holds another run"):
        import_predictions(scored_from_frame(table, source="p.csv"), tmp_path / "run",
                           test_size=0.2)


BAD_TABLES = {
    "a class column missing": (lambda t: t.drop(columns="logit_tech"),
                               "labels without a score column: tech"),
    "an extra class column": (lambda t: t.assign(logit_travel=0.0),
                              "classes the label column does not have: logit_travel"),
    "no score columns": (lambda t: t[["text", "label"]], "no score columns"),
    "a NaN score": (lambda t: t.assign(logit_tech=[np.nan] + [0.0] * (len(t) - 1)),
                    "column 'logit_tech', row 1: score is missing (1 row with a bad score)"),
    "an infinite score": (lambda t: t.assign(logit_billing=[0.0, np.inf] + [0.0] * (len(t) - 2)),
                          "row 2: score 'inf' is not a finite number"),
    "a word for a score": (lambda t: t.astype(str).assign(logit_billing="high"),
                           "score 'high' is not a finite number"),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_bad_tables_are_one_line_and_nothing_is_written(
        case: str, planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    change, message = BAD_TABLES[case]
    change(predictions_table(planted)).to_csv(tmp_path / "bad.csv", index=False)
    code = main(["import-predictions", "--data", str(tmp_path / "bad.csv"),
                 "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2 and message in error and one_line(error), error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p.assign(prob_tech=p["prob_tech"] + 0.5), "probabilities must lie in [0, 1]"),
    (lambda p: p.assign(prob_tech=p["prob_tech"] * 0.5), "not 1 (±0.01"),
])
def test_probabilities_that_are_not_are_refused(change, message: str, planted: Path,
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    table = predictions_table(planted, "prob")
    change(table).to_csv(tmp_path / "bad.csv", index=False)
    code = main(["import-predictions", "--data", str(tmp_path / "bad.csv"),
                 "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2 and message in error and one_line(error), error
    assert not (tmp_path / "run").exists()


def test_cli_import_with_a_test_file_whose_scores_lack_a_class(
        planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = predictions_table(planted)
    table.to_csv(tmp_path / "pool.csv", index=False)
    table.head(30).to_csv(tmp_path / "test.csv", index=False)
    code = main(["import-predictions", "--data", str(tmp_path / "pool.csv"),
                 "--test", str(tmp_path / "test.csv"), "--out", str(tmp_path / "run")])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["scores"] == "logit" and summary["test_rows"] == 30
    assert summary["rows"] == 205
    table.head(30).drop(columns="logit_tech").to_csv(tmp_path / "test2.csv", index=False)
    code = main(["import-predictions", "--data", str(tmp_path / "pool.csv"),
                 "--test", str(tmp_path / "test2.csv"), "--out", str(tmp_path / "run2")])
    error = capsys.readouterr().err
    assert code == 2 and "test2.csv" in error and "tech" in error and one_line(error)
    assert not (tmp_path / "run2").exists()


def test_a_run_without_a_model_is_retrained_from_a_backbone_against_a_control(
        planted: Path, tmp_path: Path, tiny_backbone: str) -> None:
    predictions_table(planted).to_csv(tmp_path / "predictions.csv", index=False)
    run = tmp_path / "imported"
    import_predictions(load_scored(tmp_path / "predictions.csv"), run, test_size=0)
    explore_run(run, embed=hashing_embed)
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"] * 4)
        with pytest.raises(RetrainError, match="no head to retrain; use full mode"):
            retrain(run, RetrainConfig(mode="head"), store=store)
        result = retrain(run, RetrainConfig(mode="full", backbone=tiny_backbone,
                                            control=False), store=store)
    assert result.config["control"] is True  # "before" is another model: always a control
    assert result.base_config["backbone"] == tiny_backbone
    first = result.metrics.first
    assert first.control_pool is not None
    assert first.pool.rows == 205  # before = the imported predictions
    assert first.pool.accuracy_before == pytest.approx(read_run(run).pool_accuracy, abs=1e-4)
    samples = read_sample_points(Path(result.round_dir))
    assert len(samples) == 4 and samples["pred_before"].isin(LABELS).all()


def test_a_backbone_for_a_run_with_its_own_classifier_is_refused(explored,
                                                                  tmp_path: Path) -> None:
    run, _ = explored
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"])
        with pytest.raises(RetrainError, match="backbone is for runs of imported predictions"):
            retrain(run, RetrainConfig(backbone="other"), store=store)
