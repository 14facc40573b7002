from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TOPIC_WORDS, hashing_embed, make_run, write_run_record

from topex_core.data.dataset import dataset_from_frame
from topex_core.errors import RunError, SettingsError
from topex_core.exploredir import SPACE_FILE, read_explore
from topex_core.explorer.explored import ExploredRun
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.explorer.space import check_space, fit_space, load_space
from topex_core.rundir import FEATURES_FILE, read_logits, read_points
from topex_core.train_config import RunConfig
from topex_core.training import classifier as clf
from topex_core.training.run import points_frame


def test_a_feature_space_without_a_model_or_an_unknown_space_is_refused() -> None:
    assert check_space("features", has_features=True) == "features"
    with pytest.raises(SettingsError, match="imported"):
        check_space("both", has_features=False)
    with pytest.raises(SettingsError, match="unknown space 'pixels'"):
        check_space("pixels", has_features=True)


def test_both_gives_each_block_unit_total_variance_and_keeps_the_logits_first() -> None:
    rng = np.random.default_rng(0)
    normalised = rng.uniform(-1, 1, (200, 2)) * [1.0, 0.1]
    features = rng.normal(0, 5, (200, 40))
    fitted = fit_space("both", normalised, features)
    points = fitted.points(normalised, features)
    assert points.shape == (200, 2 + 16)
    assert np.var(points[:, :2], axis=0).sum() == pytest.approx(1.0)
    assert np.var(points[:, 2:], axis=0).sum() == pytest.approx(1.0)
    assert np.allclose(points[:, :2] / fitted.logit_scale, normalised)
    logits_only = fit_space("logits", normalised)
    assert np.array_equal(logits_only.points(normalised), normalised)
    with pytest.raises(RunError, match="features of every row"):
        fitted.points(normalised, features[:10])


def _two_class_run_with_an_unseen_topic(directory: Path, backbone: str) -> tuple[Path, set]:
    """A two-class run (billing, shipping) with a tiny model trained on those topics, and 25
    rows on a topic it never saw (technical words), each labelled against its prediction:
    a sub-topic of mistakes. Returns (run, ids of the planted rows)."""
    rng = random.Random(0)

    def text(topic: str) -> str:
        words = TOPIC_WORDS[topic].split()
        return "my " + " ".join(rng.choice(words) for _ in range(rng.randint(4, 8)))

    labels = ["billing", "shipping"]
    rows = [(text(label), label) for label in labels for _ in range(70)]
    training = dataset_from_frame(pd.DataFrame(rows, columns=["text", "label"]).iloc[::2],
                                  source="planted", label_names=labels)
    config = clf.TrainConfig(backbone=backbone, train_size=len(training), epochs=8,
                             max_length=16, batch_size=8, learning_rate=5e-3,
                             train_precision="float32")
    model = clf.fine_tune(training, config)
    unseen = [text("technical") for _ in range(25)]
    guesses = clf.predict_logits(model, unseen).argmax(1)
    rows += [(sample, labels[1 - guess]) for sample, guess in zip(unseen, guesses, strict=True)]
    pool = dataset_from_frame(pd.DataFrame(rows, columns=["text", "label"]), source="planted",
                              label_names=labels)
    logits = clf.predict_logits(model, pool.texts)
    directory.mkdir(parents=True)
    clf.save_classifier(model, directory / "model")
    np.save(directory / "logits.npy", logits)
    in_train = np.zeros(len(pool), bool)
    in_train[:140:2] = True
    points_frame(pool, logits, in_train).to_parquet(directory / "points.parquet")
    write_run_record(directory, labels, rows=len(pool), train_ids=list(range(0, 140, 2)),
                     config=RunConfig(**asdict(config)))
    return directory, set(range(140, 165))


def test_the_both_space_finds_and_names_an_unseen_topic_of_a_two_class_run(
        tmp_path: Path, tiny_backbone: str) -> None:
    run, planted = _two_class_run_with_an_unseen_topic(tmp_path / "run", tiny_backbone)
    assert explore_run(run, embed=hashing_embed).space == "logits"  # the default
    assert not (run / FEATURES_FILE).is_file()
    result = explore_run(run, ExploreConfig(space="both"), embed=hashing_embed)
    assert result.space == "both" and (run / FEATURES_FILE).is_file()
    meta, clusters = read_explore(run)
    points = read_points(run)
    error_clusters = clusters[clusters["is_error_cluster"]]
    best = max(error_clusters["cluster"],
               key=lambda c: len(planted & set(points.loc[points["cluster"] == c, "id"])))
    members = set(points.loc[points["cluster"] == best, "id"])
    assert len(planted & members) >= 20 and len(members - planted) <= 5
    keywords = clusters.loc[clusters["cluster"] == best, "keywords"].iloc[0].split("; ")
    assert {token for keyword in keywords for token in keyword.split()} <= set(
        TOPIC_WORDS["technical"].split())


def test_rows_placed_again_in_a_feature_space_land_where_the_explorer_put_them(
        tmp_path: Path, tiny_backbone: str) -> None:
    run, _ = _two_class_run_with_an_unseen_topic(tmp_path / "run", tiny_backbone)
    explore_run(run, ExploreConfig(space="features"), embed=hashing_embed)
    explored = ExploredRun.load(run)
    assert explored.explore.space == "features"
    assert load_space(run, "features").space == "features"
    points = explored.points
    logits = read_logits(run)
    placed = explored.place(logits)
    assert np.allclose(placed["tsne"], points[["tsne_x", "tsne_y"]].to_numpy(), atol=1e-5)
    assert np.allclose(placed["sparse_pca"], points[["sparse_pca_x", "sparse_pca_y"]],
                       atol=1e-4)
    # in the features space a row's place does not depend on its logits
    assert np.allclose(explored.space_points(logits * 0 + 1), explored.space_points(logits))


def test_a_run_without_a_model_explores_in_logits_and_refuses_features(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    assert explore_run(run, embed=hashing_embed).space == "logits"
    assert not (run / SPACE_FILE).is_file()
    with pytest.raises(SettingsError, match="imported"):
        explore_run(run, ExploreConfig(space="features"), embed=hashing_embed)
