"""Retraining rounds on a planted, explored run with a tiny real classifier: refusal
without accepted samples, determinism, a planted fix, seeds, the same maps, the store
and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import accept, one_line

from topex_core.errors import RunError
from topex_core.explorer.explored import ExploredRun
from topex_core.region_ref import RegionRef
from topex_core.retraining.config import RetrainConfig, RetrainError
from topex_core.retraining.paired import mcnemar_exact
from topex_core.retraining.retrain import retrain
from topex_core.round_outcomes import outcome_sentence
from topex_core.rounddir import (
    latest_outcome,
    list_rounds,
    read_round,
    read_sample_points,
    round_lock,
)
from topex_core.storage.store import Candidate, Store

FAST_HEAD = {"head_epochs": 150, "head_learning_rate": 0.05}


def test_a_round_without_accepted_samples_is_refused(explored, tmp_path: Path) -> None:
    run, _ = explored
    with Store(tmp_path / "db") as store:
        run_id = store.register_run(run)
        rejected = store.add_candidates(run_id, [Candidate("x y", "billing", "eda")])
        store.decide(rejected[0], "reject")
        with pytest.raises(RetrainError, match="no accepted samples"):
            retrain(run, RetrainConfig(), store=store)
    assert list_rounds(run) == [] and not list((run / "rounds").glob("*"))


def test_samples_next_to_the_error_cluster_fix_it(explored, tmp_path: Path) -> None:
    run, cluster = explored
    # a test split holding the planted rows: the slice is measured on it too
    points = pd.read_parquet(run / "points.parquet")
    points.iloc[170:].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[170:])
    with Store(tmp_path / "db") as store:
        ids = accept(store, run, ["express delivery fee refund"] * 6)
        result = retrain(run, RetrainConfig(**FAST_HEAD), store=store)
        rounds = store.training_rounds(store.run_id(run))
    regions = {(change.kind, change.key): change for change in result.metrics.regions}
    assert result.metrics.regions[0].targeted  # the samples named no region: the default
    picked = regions[("cluster", str(cluster))]
    assert picked.pool.accuracy_before == 0.0 and picked.pool.accuracy_after == 1.0
    assert picked.pool.fixed == picked.pool.rows >= 5
    # the planted rows in the test split fall into the planted cluster, and are fixed there
    assert picked.test.test_rows >= 5 and picked.test.accuracy_before == 0.0
    assert picked.test.accuracy_after == 1.0
    metrics = result.metrics.to_json()
    assert metrics["fixed"] >= 20 and metrics["mcnemar_p"] < 0.001
    assert metrics["diff_ci95"][0] > 0
    planted_slice = regions[("slice", "delivery")]
    assert planted_slice.pool.rows == 25 and planted_slice.pool.accuracy_before == 0.0
    assert planted_slice.pool.accuracy_after == 1.0 and planted_slice.test.test_rows == 25
    assert planted_slice.test.accuracy_before == 0.0 and planted_slice.test.accuracy_after == 1.0
    cell = regions[("confusion", "billing -> shipping")]  # every kind is measured
    assert cell.pool.rows == 25 and cell.test.test_rows == 25
    assert [c.label for c in result.metrics.per_class] == ["billing", "shipping", "tech"]
    assert read_round(run).metrics.regions == result.metrics.regions  # kept in round.json
    assert result.candidate_ids == ids and result.samples == 6
    assert len(rounds) == 1 and rounds[0].round_dir == result.round_dir
    assert rounds[0].candidate_ids == ids and result.store_round == rounds[0].id
    after = pd.read_parquet(Path(result.round_dir) / "after_points.parquet")
    assert len(after) == 205 and np.isfinite(after[["tsne_x", "tsne_y"]].to_numpy()).all()
    assert read_round(run).round_dir == result.round_dir
    samples = read_sample_points(Path(result.round_dir))
    assert samples["candidate_id"].tolist() == ids
    assert (samples["label"] == "billing").all() and (samples["pred_after"] == "billing").all()
    assert (samples["pred_before"] == "shipping").all()  # the base model made the mistake
    coordinates = samples[[f"{m}_{a}{s}" for m in ("tsne", "sparse_pca") for a in "xy"
                           for s in ("", "_before")]].to_numpy()
    assert np.isfinite(coordinates).all()


def test_identical_data_and_seed_give_identical_after_logits(explored, tmp_path: Path) -> None:
    run, _ = explored
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund", "refund the express fee"])
        for mode in ("head", "full"):
            first = retrain(run, RetrainConfig(mode=mode), store=store)
            second = retrain(run, RetrainConfig(mode=mode), store=store)
            a = np.load(Path(first.round_dir) / "after_logits_0.npy")
            b = np.load(Path(second.round_dir) / "after_logits_0.npy")
            assert np.array_equal(a, b), mode
    assert [r.mode for r in list_rounds(run)] == ["head", "head", "full", "full"]
    assert (Path(list_rounds(run)[-1].round_dir) / "model_0" / "model.safetensors").is_file()


def test_several_seeds_report_mean_and_spread(explored, tmp_path: Path) -> None:
    run, _ = explored
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"] * 3)
        result = retrain(run, RetrainConfig(seeds=(0, 1, 2), **FAST_HEAD), store=store)
    metrics = result.metrics.to_json()
    assert [entry["seed"] for entry in metrics["seeds"]] == [0, 1, 2]
    labels = pd.read_parquet(run / "points.parquet")["label_id"].to_numpy()
    logits = [np.load(Path(result.round_dir) / f"after_logits_{s}.npy") for s in (0, 1, 2)]
    assert not np.array_equal(logits[0], logits[1])  # each seed trained its own head
    accuracies = [float(np.mean(seed.argmax(1) == labels)) for seed in logits]
    spread = metrics["across_seeds"]["pool"]
    assert spread["mean"] == pytest.approx(np.mean(accuracies))
    assert spread["std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert (spread["min"], spread["max"]) == (min(accuracies), max(accuracies))
    assert all((Path(result.round_dir) / f"head_{s}.safetensors").is_file() for s in (0, 1, 2))


def test_bad_configs_are_refused(explored, tmp_path: Path) -> None:
    run, _ = explored
    with pytest.raises(RetrainError, match="unknown mode"):
        RetrainConfig(mode="lora").validate()
    with pytest.raises(RetrainError, match="seeds"):
        RetrainConfig(seeds=tuple(range(11))).validate()
    with pytest.raises(RunError, match="no training round"):
        read_round(run)


def test_cli_retrain_and_compare(explored, tmp_path: Path, capsys) -> None:
    from topex_core.cli import main as cli

    run, _ = explored
    db = tmp_path / "db"
    assert cli.main(["retrain", "--run", str(run), "--db", str(db)]) == 2
    assert one_line(capsys.readouterr().err)
    with Store(db) as store:
        accept(store, run, ["express delivery fee refund"] * 4)
    assert cli.main(["retrain", "--run", str(run), "--db", str(db), "--seeds", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seeds"] == [0, 1]
    assert cli.main(["compare", "--run", str(run), "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    for key in ("accuracy_before", "accuracy_after", "fixed", "broken", "mcnemar_p",
                "diff_ci95", "regions", "per_class"):
        assert key in compared
    assert set(compared["accuracy_after"]) == {"pool", "test"}
    assert cli.main(["compare", "--run", str(run), "--round", "7"]) == 2
    assert "not a training round" in capsys.readouterr().err


def test_a_second_round_while_one_runs_is_refused(explored, tmp_path: Path) -> None:
    run, _ = explored
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"] * 2)
        with round_lock(run), pytest.raises(RunError, match="already in progress"):
            retrain(run, RetrainConfig(), store=store)
        assert store.training_rounds(store.run_id(run)) == []
        assert not list((run / "rounds").glob("*"))
        retrain(run, RetrainConfig(), store=store)  # the lock is free again
    assert len(list_rounds(run)) == 1


def test_an_interrupted_round_leaves_nothing_behind(explored, tmp_path: Path) -> None:
    run, _ = explored

    def interrupt(fraction: float, message: str) -> None:
        if fraction > 0.3:
            raise KeyboardInterrupt  # Ctrl-C in the CLI; the dashboard's Cancel is alike

    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"] * 2)
        with pytest.raises(KeyboardInterrupt):
            retrain(run, RetrainConfig(mode="full"), store=store, progress=interrupt)
        assert store.training_rounds(store.run_id(run)) == []
        assert not list((run / "rounds").glob("*"))
        assert retrain(run, RetrainConfig(), store=store).store_round == 1


def test_a_control_round_separates_the_samples_from_retraining(explored, tmp_path: Path) -> None:
    run, cluster = explored
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"] * 6)
        head = retrain(run, RetrainConfig(control=True, **FAST_HEAD), store=store)
        full = retrain(run, RetrainConfig(mode="full", control=True), store=store)
    against = head.metrics.to_json()["against_control"]["pool"]
    control = np.load(Path(head.round_dir) / "control_after_logits_0.npy").argmax(1)
    after = np.load(Path(head.round_dir) / "after_logits_0.npy").argmax(1)
    labels = pd.read_parquet(run / "points.parquet")["label_id"].to_numpy()
    assert against["accuracy_before"] == pytest.approx(np.mean(control == labels))
    assert against["fixed"] == int(((after == labels) & (control != labels)).sum()) >= 20
    assert (Path(head.round_dir) / "control_head_0.safetensors").is_file()
    assert head.model_paths == [str(Path(head.round_dir) / "head_0.safetensors")]
    # full retraining is deterministic: its control is the base model again
    assert full.metrics.to_json()["against_control"]["pool"]["fixed"] == full.metrics.to_json()["fixed"]
    assert full.metrics.to_json()["against_control"]["pool"]["broken"] == full.metrics.to_json()["broken"]


def test_a_bfloat16_run_retrains_in_bfloat16(explored, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Before and after logits come from the same precision, so a round compares models,
    not arithmetic."""
    from topex_core.rundir import write_json_atomic
    from topex_core.training import classifier as clf_module

    run, _ = explored
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    write_json_atomic(run / "run.json", {**record, "logits_precision": "bfloat16"})
    precisions: list[str] = []
    forward = clf_module._forward

    def recording_forward(classifier, *args, **kwargs):
        precisions.append(classifier.precision)
        return forward(classifier, *args, **kwargs)

    monkeypatch.setattr(clf_module, "_forward", recording_forward)
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"])
        for mode in ("head", "full"):
            retrain(run, RetrainConfig(mode=mode, **FAST_HEAD), store=store)
    assert precisions and set(precisions) == {"bfloat16"}


def test_the_control_is_on_by_default_in_head_mode_only() -> None:
    assert RetrainConfig().with_control and RetrainConfig(control=False).with_control is False
    assert not RetrainConfig(mode="full").with_control
    assert RetrainConfig(mode="full", control=True).with_control


def test_a_round_on_a_run_explored_in_both_spaces_places_rows_with_their_features(
        explored, tmp_path: Path) -> None:
    from conftest import hashing_embed

    from topex_core.explorer.pipeline import ExploreConfig, explore_run
    from topex_core.rundir import TEST_FEATURES_FILE

    run, _ = explored
    points = pd.read_parquet(run / "points.parquet")
    points.iloc[170:].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[170:])
    explore_run(run, ExploreConfig(space="both"), embed=hashing_embed)
    with Store(tmp_path / "db") as store:
        accept(store, run, ["express delivery fee refund"] * 6)
        result = retrain(run, RetrainConfig(**FAST_HEAD), store=store)
    assert (run / TEST_FEATURES_FILE).is_file()  # the test rows were placed in the space
    picked = next(change for change in result.metrics.regions if change.kind == "cluster")
    assert picked.test.test_rows >= 5  # the planted test rows fell into a cluster
    after = pd.read_parquet(Path(result.round_dir) / "after_points.parquet")
    before = pd.read_parquet(run / "map_points.parquet")
    moved = np.hypot(*(after[["tsne_x", "tsne_y"]].to_numpy()
                       - before[["tsne_x", "tsne_y"]].to_numpy()).T)
    assert np.isfinite(moved).all() and moved[:170].mean() < moved[180:].mean()
    samples = read_sample_points(Path(result.round_dir))
    assert np.isfinite(samples[["tsne_x", "tsne_y", "tsne_x_before"]].to_numpy()).all()


def test_the_targeted_region_is_the_headline_against_the_control(explored, tmp_path: Path,
                                                                 capsys) -> None:
    from topex_core.cli import main as cli

    run, _ = explored
    points = pd.read_parquet(run / "points.parquet")  # test rows: 10 correct, 25 planted
    points.iloc[170:].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[170:])
    db = tmp_path / "db"
    with Store(db) as store:
        accept(store, run, ["express delivery fee refund"] * 6)
        result = retrain(run, RetrainConfig(control=True, matched_control=False, **FAST_HEAD),
                         store=store)
    metrics = result.metrics
    target, overall = metrics.targets[0], metrics.overall
    assert metrics.control == "plain" and metrics.verdict.status == "cannot_tell"
    assert "label-matched" in metrics.verdict.sentence
    # samples that name no region count for the default target, the strongest region; the
    # test rows repeat pool rows, so the planted ones join it
    strongest = ExploredRun.load(run).default_target()
    members = len(strongest.test_rows)
    assert (target.kind, target.key) == (strongest.kind, strongest.key)
    assert target.test_rows == members >= 5 and target.accuracy_before == 0.0
    assert target.accuracy_after == 1.0 and target.accuracy_control < 0.5
    assert target.vs_control > 0.5 and target.vs_control_ci95[0] > 0
    fixed = round(target.vs_control * members)
    assert target.mcnemar_p == pytest.approx(mcnemar_exact(fixed, 0))
    assert overall.kind == "overall" and overall.test_rows == 35
    assert overall.vs_control == pytest.approx(overall.accuracy_after - overall.accuracy_control)
    assert read_round(run).metrics.targets == [target]  # kept in round.json
    # the pages' line for the region: the latest round that targeted it
    name, latest = latest_outcome(run, strongest.ref)
    assert latest == target and latest_outcome(run, RegionRef("slice", "nothing")) is None
    assert f"test accuracy 0% → 100% on {members} test rows" in outcome_sentence(latest)
    assert f"{members} gained, 0 lost; interval +" in outcome_sentence(latest)
    # topex compare --json leads with the same blocks
    assert cli.main(["compare", "--run", str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    for block in (printed["target"], printed["overall"]):
        assert {"kind", "key", "test_rows", "accuracy_before", "accuracy_after",
                "accuracy_control", "vs_control", "vs_control_ci95", "gained",
                "lost"} <= set(block)
    assert printed["control"] == "plain" and printed["verdict"]["status"] == "cannot_tell"
    assert (printed["target"]["test_rows"], printed["complement"]["test_rows"]) == (members, 0)
    assert printed["rest"]["test_rows"] == 35 - members
    test_labels = points.iloc[170:]["label_id"].to_numpy()
    after = np.load(Path(result.round_dir) / "test_after_logits_0.npy").argmax(1)
    assert printed["overall"]["accuracy_after"] == pytest.approx(np.mean(after == test_labels))


def test_repeats_weigh_each_sample_as_that_many_accepted_copies(explored,
                                                                tmp_path: Path) -> None:
    run, _ = explored
    texts = ["express delivery fee refund", "refund for the express fee"]
    with Store(tmp_path / "repeated.db") as store:
        accept(store, run, texts)
        repeated = retrain(run, RetrainConfig(control=False, sample_repeats=3, **FAST_HEAD),
                           store=store)
    with Store(tmp_path / "copies.db") as store:
        accept(store, run, [text for text in texts for _ in range(3)])
        copies = retrain(run, RetrainConfig(control=False, **FAST_HEAD), store=store)
    assert repeated.config["sample_repeats"] == 3 and repeated.samples == 2
    # the same rows in the same order; the samples' features differ only by batching
    np.testing.assert_allclose(np.load(Path(repeated.round_dir) / "after_logits_0.npy"),
                               np.load(Path(copies.round_dir) / "after_logits_0.npy"),
                               atol=1e-3)
    with pytest.raises(RetrainError, match="sample repeats"):
        RetrainConfig(sample_repeats=0).validate()


def test_the_label_matched_control_stands_in_for_the_samples(explored, tmp_path: Path,
                                                             capsys) -> None:
    """On the planted run any six billing rows tip its borderline mistakes: the plain
    control credits the samples with the whole repair, the label-matched one with none."""
    from topex_core.cli import main as cli

    run, _ = explored
    points = pd.read_parquet(run / "points.parquet")
    points.iloc[170:].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[170:])
    db = tmp_path / "db"
    with Store(db) as store:
        accept(store, run, ["express delivery fee refund"] * 6)
        result = retrain(run, RetrainConfig(**FAST_HEAD), store=store)
    folder = Path(result.round_dir)
    assert result.config["matched_control"] and result.config["control"]  # head defaults
    for prefix in ("", "matched_", "control_"):
        assert (folder / f"{prefix}head_0.safetensors").is_file()
        assert (folder / f"test_{prefix}after_logits_0.npy").is_file()
    metrics = result.metrics
    assert metrics.control == "matched" and metrics.plain_groups.control == "plain"
    plain, matched = metrics.plain_groups.target, metrics.groups.target
    assert plain.vs_control == 1.0 and plain.gained == plain.test_rows == 25
    assert matched.accuracy_control == 1.0 and matched.vs_control == 0.0
    assert matched.vs_control_ci95 is None  # no row changed: no interval
    assert metrics.groups.complement.test_rows == 0
    assert metrics.verdict.status == "cannot_tell" and "complement has 0" in \
        metrics.verdict.sentence
    assert metrics.first.matched_test.accuracy_before == 1.0
    assert read_round(run).metrics.groups == metrics.groups  # kept in round.json
    assert cli.main(["compare", "--run", str(run)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["control"] == "matched" and printed["target"]["vs_control"] == 0.0
    assert printed["against_plain_control"]["target"]["vs_control"] == 1.0
    assert [c["label"] for c in printed["per_class_vs_control"]] == ["billing", "tech"]


def test_matched_rows_have_the_samples_labels_and_avoid_the_region() -> None:
    from topex_core.retraining.controls import matched_positions

    labels = np.array([0, 1, 2] * 20)
    training = np.arange(0, 60, 2)  # 10 rows of each label
    samples = np.array([0, 0, 0, 1, 0])
    region = np.arange(0, 20)
    drawn = matched_positions(labels, training, samples, region, seed=3,
                              label_names=["a", "b", "c"])
    assert np.array_equal(labels[drawn], samples)
    assert set(drawn) <= set(training) and not set(drawn) & set(region)
    assert len(set(drawn[samples == 0])) == 4  # without replacement while rows last
    assert np.array_equal(drawn, matched_positions(labels, training, samples, region, 3,
                                                   ["a", "b", "c"]))
    many = matched_positions(labels, training, np.zeros(25, np.int64), region, 0,
                             ["a", "b", "c"])
    assert (labels[many] == 0).all() and len(set(many)) <= 10 - 4  # 4 are in the region
    with pytest.raises(RetrainError, match="no training row is labelled 'c'"):
        matched_positions(labels, np.arange(0, 60, 3), np.array([2]), region, 0,
                          ["a", "b", "c"])


def test_a_confusion_cell_is_generated_for_stored_and_judged_like_any_region(
        explored, tmp_path: Path, capsys, monkeypatch) -> None:
    """true billing predicted shipping, from the command line to the round: its target is
    the planted test rows, its complement the shipping rows the base model predicts
    rightly."""
    from conftest import hashing_embed

    from topex_core.cli import main as cli
    from topex_core.training.embeddings import SentenceEmbedder

    monkeypatch.setattr(SentenceEmbedder, "__call__", lambda self, texts: hashing_embed(texts))
    run, _ = explored
    points = pd.read_parquet(run / "points.parquet")
    test_rows = [*range(100, 120), *range(180, 205)]  # 20 shipping rows, the 25 planted
    points.iloc[test_rows].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[test_rows])
    db = tmp_path / "db"
    assert cli.main(["generate", "--run", str(run), "--target", "confusion:billing → shipping",
                     "--n", "4", "--shots", "2", "--db", str(db)]) == 0
    generated = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cell = RegionRef("confusion", "billing -> shipping")
    with Store(db) as store:
        stored = store.candidates(store.run_id(run), target=cell)
        assert len(stored) == len(generated) >= 1 and (stored["label"] == "billing").all()
        for candidate_id in stored["id"]:
            store.decide(int(candidate_id), "accept")
        result = retrain(run, RetrainConfig(**FAST_HEAD), store=store)
    metrics = result.metrics
    assert [(target.kind, target.key) for target in metrics.targets] == [
        ("confusion", "billing -> shipping")]
    assert metrics.groups.target.test_rows == 25 and metrics.groups.target.accuracy_before == 0
    assert metrics.groups.complement.test_rows == 20
    assert metrics.groups.complement.accuracy_before == 1.0
    # the per-region chart and table lead with the cell, though the explorer lists no cells
    first = metrics.regions[0]
    assert (first.kind, first.key, first.targeted) == ("confusion", "billing -> shipping", True)
    assert first.test.test_rows == 25 and first.test.accuracy_before == 0
    assert sum(change.targeted for change in metrics.regions) == 1
    assert cli.main(["generate", "--run", str(run), "--target", "confusion:tech -> billing"]) == 2
    assert "no pool row of true tech as billing" in capsys.readouterr().err


def test_a_union_of_regions_is_generated_for_and_measured_as_one_target(
        explored, tmp_path: Path, capsys, monkeypatch) -> None:
    """Two regions merged by hand, named on the command line: one target whose test rows
    are both parts', leading the per-region changes."""
    from conftest import hashing_embed

    from topex_core.cli import main as cli
    from topex_core.training.embeddings import SentenceEmbedder

    monkeypatch.setattr(SentenceEmbedder, "__call__", lambda self, texts: hashing_embed(texts))
    run, cluster = explored
    points = pd.read_parquet(run / "points.parquet")
    test_rows = [*range(100, 120), *range(180, 205)]
    points.iloc[test_rows].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[test_rows])
    union = f"union:cluster:{cluster} ; slice:delivery"
    db = tmp_path / "db"
    assert cli.main(["generate", "--run", str(run), "--target", union, "--n", "4",
                     "--db", str(db)]) == 0
    capsys.readouterr()
    with Store(db) as store:
        stored = store.vetted(store.run_id(run))
        assert {candidate.target.kind for candidate in stored} == {"union"}
        for candidate in stored:
            store.decide(candidate.id, "accept")
        metrics = retrain(run, RetrainConfig(**FAST_HEAD), store=store).metrics
    assert [target.kind for target in metrics.targets] == ["union"]
    assert metrics.groups.target.test_rows == 25
    assert (metrics.regions[0].kind, metrics.regions[0].targeted) == ("union", True)
