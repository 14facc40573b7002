from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_frame

from topex_core.data.dataset import dataset_from_frame
from topex_core.training import classifier as clf
from topex_core.training import layers, settings, tokens


@pytest.fixture()
def tiny_dataset():
    return dataset_from_frame(tiny_frame(), source="tiny")


def test_fine_tune_then_logits_have_shape_and_learn(tiny_dataset, tiny_backbone) -> None:
    config = clf.TrainConfig(backbone=tiny_backbone, epochs=15, batch_size=8,
                             learning_rate=3e-3, seed=1)
    progress = []
    classifier = clf.fine_tune(tiny_dataset, config, progress=lambda f, m: progress.append(f))
    logits = clf.predict_logits(classifier, tiny_dataset.texts)
    assert logits.shape == (len(tiny_dataset), 3) and logits.dtype == np.float32
    assert (logits.argmax(1) == tiny_dataset.labels).mean() > 0.9
    assert progress[-1] == pytest.approx(1.0)


def test_length_sorted_prediction_returns_rows_in_input_order(tiny_dataset, tiny_backbone) -> None:
    classifier = clf.load_backbone(tiny_backbone, tiny_dataset.label_names, seed=0)
    batched = clf.predict_logits(classifier, tiny_dataset.texts, batch_size=7)
    one_by_one = np.vstack([clf.predict_logits(classifier, [t]) for t in tiny_dataset.texts[:10]])
    np.testing.assert_allclose(batched[:10], one_by_one, atol=1e-5)


def test_sentence_pairs_use_both_texts(tiny_backbone) -> None:
    classifier = clf.load_backbone(tiny_backbone, ["a", "b"], seed=0)
    single = clf.predict_logits(classifier, ["my card payment"])
    paired = clf.predict_logits(classifier, ["my card payment"], ["parcel courier late"])
    assert not np.allclose(single, paired)


def test_same_seed_same_model(tiny_dataset, tiny_backbone) -> None:
    config = clf.TrainConfig(backbone=tiny_backbone, epochs=1, batch_size=8, learning_rate=1e-3)
    first = clf.predict_logits(clf.fine_tune(tiny_dataset, config), tiny_dataset.texts)
    second = clf.predict_logits(clf.fine_tune(tiny_dataset, config), tiny_dataset.texts)
    np.testing.assert_array_equal(first, second)


def test_save_and_load_round_trip(tiny_dataset, tiny_backbone, tmp_path: Path) -> None:
    classifier = clf.load_backbone(tiny_backbone, tiny_dataset.label_names, seed=3)
    classifier.max_length = 24
    clf.save_classifier(classifier, tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert not list((tmp_path / "m").glob("*.bin"))
    restored = clf.load_classifier(tmp_path / "m")
    assert restored.label_names == tiny_dataset.label_names and restored.max_length == 24
    np.testing.assert_allclose(clf.predict_logits(restored, tiny_dataset.texts),
                               clf.predict_logits(classifier, tiny_dataset.texts), atol=1e-6)


def test_load_refuses_directory_without_safetensors(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(clf.ModelError, match="not a saved TopEx classifier"):
        clf.load_classifier(tmp_path)


def test_unknown_backbone_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(clf.ModelError, match="cannot load backbone"):
        clf.load_backbone(str(tmp_path / "no-such-model"), ["a", "b"], seed=0)


def test_training_positions_are_seeded_and_bounded() -> None:
    first = clf.training_positions(100, 30, seed=4)
    assert len(first) == 30 and len(set(first.tolist())) == 30
    np.testing.assert_array_equal(first, clf.training_positions(100, 30, seed=4))
    assert not np.array_equal(first, clf.training_positions(100, 30, seed=5))
    assert clf.training_positions(10, 30, seed=0).tolist() == list(range(10))


def test_the_automatic_budget_and_the_training_precision_resolve(tiny_backbone) -> None:
    config = clf.TrainConfig(backbone=tiny_backbone).resolved()
    assert config.truncation == "head_tail" and config.train_precision in ("float32", "bfloat16")
    assert clf.TrainConfig(backbone="x", fine_tune=False).resolved().truncation == "head"
    assert tokens.length_cap("head_tail") == 192 and tokens.length_cap("head") == 256
    classifier = clf.fine_tune(
        dataset_from_frame(tiny_frame(4).assign(text=lambda f: f["text"] + " x" * 300),
                           source="long"),
        clf.TrainConfig(backbone=tiny_backbone, epochs=1, train_precision="bfloat16"))
    # capped at 192, and then at the tiny backbone's 128 positions
    assert classifier.max_length == 128 and classifier.truncation == "head_tail"


def test_long_texts_get_one_epoch_fewer_and_bfloat16_forward_passes_where_trained_so() -> None:
    config = clf.TrainConfig(backbone="x")
    assert settings.epochs_for(config, 64) == 3 and settings.epochs_for(config, 136) == 2
    assert settings.epochs_for(clf.TrainConfig(backbone="x", epochs=5), 192) == 5
    bf16 = clf.TrainConfig(backbone="x", train_precision="bfloat16")
    fp32 = clf.TrainConfig(backbone="x", train_precision="float32")
    assert settings.run_precision("auto", bf16, 192) == "bfloat16"
    assert settings.run_precision("auto", bf16, 128) == "float32"  # short texts: exact logits
    assert settings.run_precision("auto", fp32, 192) == "float32"  # int8 is opt-in
    assert settings.run_precision("auto", fp32, 128) == "float32"
    assert settings.run_precision("float32", bf16, 192) == "float32"
    as_is = clf.TrainConfig(backbone="x", fine_tune=False, train_precision="bfloat16")
    assert settings.run_precision("auto", as_is, 256) == "float32"
    with pytest.raises(ValueError):
        settings.run_precision("float16", bf16, 192)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"train_size": 1}, {"max_length": 4},
                                 {"batch_size": 0}, {"learning_rate": 2.0},
                                 {"truncation": "middle"}, {"train_precision": "float16"}])
def test_config_validation(bad: dict) -> None:
    with pytest.raises(ValueError):
        clf.TrainConfig(backbone="x", **bad).validate()


def test_frozen_layers_keep_their_weights_and_the_rest_learn(tiny_dataset, tiny_backbone) -> None:
    import torch

    before = clf.load_backbone(tiny_backbone, tiny_dataset.label_names, seed=0).model
    config = clf.TrainConfig(backbone=tiny_backbone, epochs=2, batch_size=8,
                             learning_rate=3e-3, freeze_layers=1, train_precision="float32")
    after = clf.fine_tune(tiny_dataset, config).model
    weights = {name: value for name, value in before.state_dict().items()}
    changed = {name for name, value in after.state_dict().items()
               if not torch.equal(value, weights[name])}
    assert not any(name.startswith(("bert.embeddings.", "bert.encoder.layer.0."))
                   for name in changed)
    assert any(name.startswith("bert.encoder.layer.1.") for name in changed)
    assert all(parameter.requires_grad for parameter in after.parameters())


def test_no_layer_is_frozen_unless_asked() -> None:
    """Freezing cost accuracy on long texts the float32 path fine-tunes (README): opt-in."""
    fp32 = clf.TrainConfig(backbone="x", train_precision="float32")
    bf16 = clf.TrainConfig(backbone="x", train_precision="bfloat16")
    assert settings.frozen_layers_for(fp32) == 0 and settings.frozen_layers_for(bf16) == 0
    assert settings.frozen_layers_for(
        clf.TrainConfig(backbone="x", train_precision="float32", freeze_layers=1)) == 1
    with pytest.raises(clf.SettingsError, match="freeze_layers must be between 0 and 48"):
        clf.TrainConfig(backbone="x", freeze_layers=-1).validate()


def test_a_model_without_findable_layers_refuses_to_freeze() -> None:
    import torch

    class Flat(torch.nn.Module):
        config = type("Config", (), {"num_hidden_layers": 4})()

        def __init__(self) -> None:
            super().__init__()
            self.base_model = torch.nn.Linear(2, 2)

    assert layers.freeze_lowest(Flat(), 0) == 0
    with pytest.raises(clf.SettingsError, match="cannot find the encoder layers of Flat"):
        layers.freeze_lowest(Flat(), 2)


def test_int8_forward_passes_agree_with_float32_and_keep_the_head(tiny_dataset,
                                                                   tiny_backbone) -> None:
    config = clf.TrainConfig(backbone=tiny_backbone, epochs=6, batch_size=8,
                             learning_rate=3e-3, seed=1, train_precision="float32")
    classifier = clf.fine_tune(tiny_dataset, config)
    exact = clf.predict_logits(classifier, tiny_dataset.texts)
    exact_features, _ = clf.predict_features(classifier, tiny_dataset.texts)
    classifier.precision = "int8"
    quantised = clf.predict_logits(classifier, tiny_dataset.texts)
    features, logits = clf.predict_features(classifier, tiny_dataset.texts)
    assert quantised.dtype == np.float32 and not np.array_equal(quantised, exact)
    np.testing.assert_allclose(quantised, exact, atol=0.1 * np.abs(exact).max())
    assert (quantised.argmax(1) == exact.argmax(1)).mean() >= 0.95
    assert features.shape == exact_features.shape
    # the head stays float32: the features it reads give the logits it writes
    head = clf.head_layer(classifier)
    recomputed = features @ head.weight.detach().numpy().T + head.bias.detach().numpy()
    np.testing.assert_allclose(recomputed, logits, atol=1e-4)
    assert type(clf.head_layer(classifier)).__name__ == "Linear"  # the model itself untouched
