"""Streamlit AppTest of the Data & model page: empty state, happy path, error states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import tiny_frame
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "data_and_model.py")


def test_demo_is_the_default_and_previews() -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.radio(key="data_source").value == "Embedded demo"
    assert at.dataframe[0].value.shape[0] == 8
    assert any("No runs yet" in info.value for info in at.info)
    assert at.number_input(key="data_freeze_layers").value == -1  # auto
    assert "int8" in at.selectbox(key="data_precision").options


def test_server_path_outside_data_root_is_refused(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("../../etc/passwd").run()
    assert not at.exception
    assert any("outside the data root" in error.value for error in at.error)


def test_hugging_face_id_without_the_datasets_package_is_a_plain_error(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # as on a machine without it
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Hugging Face dataset").run()
    assert not at.error
    at.text_input(key="data_hf").input("ag_news:train").run()
    assert not at.exception
    assert any("hf:ag_news:train" in error.value and "datasets" in error.value
               for error in at.error)


def test_bad_file_shows_a_plain_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    (tmp_path / "bad.csv").write_text("text,label\nonly,one\n")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("bad.csv").run()
    assert not at.exception
    assert any("only one class" in error.value for error in at.error)


def test_a_test_file_with_unknown_labels_is_a_plain_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    tiny_frame().to_csv(tmp_path / "train.csv", index=False)
    tiny_frame().assign(label="gardening").to_csv(tmp_path / "test.csv", index=False)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("train.csv").run()
    assert at.slider(key="data_test_share").value == 20
    at.radio(key="data_test_choice").set_value("A separate test file").run()
    assert any("no test figures" in warning.value for warning in at.warning)
    at.text_input(key="data_test_path").input("test.csv").run()
    assert not at.exception
    assert any("labels unknown to the training data: gardening" in error.value
               for error in at.error)


@pytest.mark.slow
def test_two_files_called_train_csv_give_two_runs_with_test_accuracy(
        monkeypatch, tmp_path: Path, tiny_backbone: str) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    for folder, seed in (("a", 0), ("b", 7)):
        (tmp_path / folder).mkdir()
        tiny_frame(seed=seed).to_csv(tmp_path / folder / "train.csv", index=False)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("a/train.csv").run()
    at.text_input(key="data_backbone").input(tiny_backbone).run()
    at.number_input(key="data_train_size").set_value(30).run()
    at.number_input(key="data_epochs").set_value(1).run()
    run_dirs = []
    for folder in ("a", "b"):
        at.text_input(key="data_path").input(f"{folder}/train.csv").run()
        at.button(key="data_train").click().run()
        assert not at.exception
        run_dirs.append(Path(at.session_state["run_dir"]))
        test_metric = next(metric for metric in at.metric if metric.label == "Test accuracy")
        assert test_metric.value.endswith("%")
    assert run_dirs[0] != run_dirs[1]
    assert all(re.fullmatch(r"train-[0-9a-f]{8}-n30-e1-s0-h20-auto-headtail-auto", d.name)
               for d in run_dirs)
    listed = at.dataframe[-1].value["run"].tolist()
    assert {d.name for d in run_dirs} <= set(listed)


def test_a_file_with_score_columns_is_imported_without_a_model(monkeypatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    frame = tiny_frame(16)
    for label in ("billing", "shipping", "technical"):  # right on all but the billing rows
        frame[f"prob_{label}"] = 0.05 + 0.85 * (frame["label"] == label)
    frame.loc[frame["label"] == "billing", ["prob_billing", "prob_shipping"]] = [0.2, 0.75]
    frame.to_csv(tmp_path / "scored.csv", index=False)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("scored.csv").run()
    assert at.radio(key="data_model_choice").value == "Import the predictions in this file"
    assert any("prob columns" in caption.value for caption in at.caption)
    at.button(key="data_import").click().run()
    assert not at.exception and any("Imported 48 predictions" in s.value for s in at.success)
    run_dir = Path(at.session_state["run_dir"])
    assert re.fullmatch(r"scored-[0-9a-f]{8}-imported[0-9a-f]{8}-h20", run_dir.name)
    assert any("imported predictions (prob columns), no model" in caption.value
               for caption in at.caption)


def test_score_columns_that_do_not_match_the_labels_are_a_plain_error(monkeypatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    tiny_frame().assign(logit_billing=1.0, logit_shipping=0.0).to_csv(tmp_path / "s.csv",
                                                                      index=False)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("s.csv").run()
    assert not at.exception
    assert any("labels without a score column: technical" in error.value for error in at.error)
    assert "data_import" not in [button.key for button in at.button]


def test_a_classifier_used_as_it_is_needs_its_name_and_a_well_formed_map(
        monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    tiny_frame().to_csv(tmp_path / "train.csv", index=False)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("train.csv").run()
    assert at.radio(key="data_model_choice").options == [
        "Fine-tune a backbone", "Use a classifier as it is"]
    at.radio(key="data_model_choice").set_value("Use a classifier as it is").run()
    assert at.button(key="data_train").disabled and at.button(key="data_train").label == "Predict"
    at.text_input(key="data_label_map").input("billing").run()
    assert not at.exception
    assert any("expected data=MODEL pairs" in error.value for error in at.error)


@pytest.mark.parametrize(("content", "shown", "message"), [
    ("text;label\n" + "".join(f"row {i};{'ab'[i % 2]}\n" for i in range(30)), "error",
     "separated by semicolons (text, label)"),
    ("text,label\n" + "".join(f"row {i},id{i}\n" for i in range(30)), "error",
     "looks like an id column"),
    ("text,label\n" + "".join(f"{1000 + i},{'ab'[i % 2]}\n" for i in range(30)), "warning",
     "are only numbers"),
])
def test_data_the_tool_should_question_is_refused_or_warned_on_the_page(
        monkeypatch, tmp_path: Path, content: str, shown: str, message: str) -> None:
    monkeypatch.setenv("TOPEX_DATA_ROOT", str(tmp_path))
    (tmp_path / "odd.csv").write_text(content)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="data_source").set_value("Server-side path").run()
    at.text_input(key="data_path").input("odd.csv").run()
    assert not at.exception
    assert any(message in element.value for element in getattr(at, shown))
