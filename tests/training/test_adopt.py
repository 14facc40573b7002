"""A fine-tuned classifier used as it is: a tiny classifier built and saved here, its
classes in another order and with other names than the data's labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_line, tiny_frame

from topex_core.cli.main import main
from topex_core.data.dataset import dataset_from_frame
from topex_core.errors import ModelError, SettingsError
from topex_core.retraining.retrain import _base_config
from topex_core.rundir import MODEL_DIR, read_logits, read_points, read_run
from topex_core.training.adopt import match_labels, parse_label_map
from topex_core.training.classifier import TrainConfig
from topex_core.training.run import train_run

# the model's classes: the data's three labels, upper-cased and in reverse order
MODEL_LABELS = ["TECHNICAL", "SHIPPING", "BILLING"]


@pytest.fixture(scope="module")
def own_classifier(tiny_backbone: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_backbone, num_labels=3, id2label=dict(enumerate(MODEL_LABELS)),
        label2id={label: i for i, label in enumerate(MODEL_LABELS)},
        ignore_mismatched_sizes=True)
    directory = tmp_path_factory.mktemp("own_classifier")
    model.save_pretrained(directory, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_backbone).save_pretrained(directory)
    return directory


def own_logits(directory: Path, texts: list[str], max_length: int) -> np.ndarray:
    """The saved model's own forward pass, in its own class order."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
    with torch.no_grad():
        return model(**encoded).logits.numpy()


def test_a_classifier_used_as_it_is_gives_its_own_logits_in_the_data_order(
        own_classifier: Path, tmp_path: Path) -> None:
    pool = dataset_from_frame(tiny_frame(15, seed=0), source="pool")
    assert pool.label_names == ["billing", "shipping", "technical"]
    record = train_run(pool, TrainConfig(backbone=str(own_classifier), fine_tune=False),
                       tmp_path / "run", test_size=0.2)
    logits = read_logits(tmp_path / "run")
    points = read_points(tmp_path / "run")
    expected = own_logits(own_classifier, points["text"].tolist(), record.config.max_length)
    # data label i is model class 2 - i (reverse order, matched ignoring case)
    assert np.allclose(logits, expected[:, ::-1], atol=1e-5)
    assert read_logits(tmp_path / "run", test=True).shape == (record.test_dataset.rows, 3)
    assert record.config.fine_tune is False and not points["in_train"].any()
    assert "fine_tune" in json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    saved = json.loads((tmp_path / "run" / MODEL_DIR / "config.json").read_text())
    assert saved["id2label"] == {"0": "billing", "1": "shipping", "2": "technical"}
    # retraining fine-tunes from the run's copy, whose classes are in the data's order
    base = _base_config(read_run(tmp_path / "run"), tmp_path / "run")
    assert base.backbone == str(tmp_path / "run" / MODEL_DIR) and base.fine_tune


def test_labels_match_exactly_then_loosely_or_through_a_map() -> None:
    assert match_labels(["b", "a"], ["a", "b"]) == [1, 0]
    assert match_labels(["Very Good", "BAD"], ["bad", "verygood"]) == [1, 0]
    mapping = parse_label_map("neg=NEGATIVE, pos=POSITIVE")
    assert mapping == {"neg": "NEGATIVE", "pos": "POSITIVE"}
    assert match_labels(["POSITIVE", "NEGATIVE"], ["neg", "pos"], mapping) == [1, 0]


@pytest.mark.parametrize("model_labels, data_labels, mapping, message", [
    (["LABEL_0", "LABEL_1"], ["neg", "pos"], None,
     "no model class for the data's labels neg, pos (the model's: LABEL_0, LABEL_1; "
     "the data's: neg, pos); map them with --label-map"),
    (["a", "b", "c"], ["a", "b"], None, "the model has 3 classes and the data 2 labels"),
    (["a", "b"], ["a", "b"], {"a": "b"}, "two data labels map to one model class"),
    (["a", "b"], ["a", "b"], {"z": "a"}, "names labels the data does not have: z"),
])
def test_a_label_mismatch_is_one_line_naming_both(model_labels, data_labels, mapping,
                                                  message: str) -> None:
    with pytest.raises((ModelError, SettingsError)) as raised:
        match_labels(model_labels, data_labels, mapping)
    assert message in str(raised.value) and one_line(str(raised.value))


@pytest.mark.parametrize("text", ["neg", "neg=", "=POS", "a=b,a=c", ""])
def test_a_malformed_label_map_is_refused(text: str) -> None:
    with pytest.raises(SettingsError, match="--label-map"):
        parse_label_map(text)


def test_bad_classifiers_are_refused_on_the_command_line_with_nothing_written(
        own_classifier: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data.csv"
    tiny_frame(10).to_csv(data, index=False)
    two_labels = tmp_path / "two.csv"
    tiny_frame(10).query("label != 'technical'").to_csv(two_labels, index=False)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for file in own_classifier.iterdir():
        if file.suffix != ".safetensors":
            (pickled / file.name).write_bytes(file.read_bytes())
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    cases = [
        (["--data", str(two_labels), "--backbone", str(own_classifier), "--no-fine-tune"],
         "the model has 3 classes and the data 2 labels"),
        (["--data", str(data), "--backbone", str(pickled), "--no-fine-tune"],
         "no safetensors weights (it has pytorch_model.bin); TopEx never loads pickle"),
        (["--data", str(data), "--no-fine-tune"], "needs its id or directory"),
        (["--data", str(data), "--backbone", str(own_classifier), "--label-map", "a=b"],
         "a label map is for a classifier used as it is"),
    ]
    for arguments, message in cases:
        out = tmp_path / "run"
        assert main(["train", *arguments, "--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert message in error and one_line(error)
        assert not out.exists() or not any(out.iterdir())
    out = tmp_path / "mapped"
    frame = tiny_frame(10)
    frame["label"] = frame["label"].map({"billing": "bill", "shipping": "ship",
                                         "technical": "tech"})
    frame.to_csv(data, index=False)
    assert main(["train", "--data", str(data), "--backbone", str(own_classifier),
                 "--no-fine-tune", "--label-map", "bill=BILLING,ship=SHIPPING,tech=TECHNICAL",
                 "--out", str(out)]) == 0
    assert read_run(out).config.label_map == {"bill": "BILLING", "ship": "SHIPPING",
                                                 "tech": "TECHNICAL"}
