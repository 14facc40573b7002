"""The experiment harness end to end with a real tiny classifier on a dataset with a planted
error region, its resumption, its report and its command line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TOPIC_WORDS, hashing_embed, one_line, tiny_frame

from topex_core.cli.main import main
from topex_core.data.dataset import dataset_from_frame
from topex_core.experiments.folder import (
    OUTCOMES_FILE,
    RESULTS_FILE,
    SAMPLES_FILE,
    ExperimentError,
)
from topex_core.experiments.harness import LABELLED_BY, ExperimentConfig, run_experiment
from topex_core.experiments.report import (
    against_control,
    dataset_key,
    render_report,
    summarise,
)
from topex_core.explorer.explored import ExploredRun
from topex_core.rundir import read_run
from topex_core.training.classifier import TrainConfig


def planted_frame(rows_per_class: int, planted: int, seed: int) -> pd.DataFrame:
    """Three separable classes plus ``planted`` rows of shipping and technical words labelled
    billing: a region the classifier gets wrong together."""
    rng = random.Random(seed + 100)
    mixed = TOPIC_WORDS["shipping"].split() + TOPIC_WORDS["technical"].split()
    extra = [{"text": "my " + " ".join(rng.choice(mixed) for _ in range(6)), "label": "billing"}
             for _ in range(planted)]
    return pd.concat([tiny_frame(rows_per_class, seed), pd.DataFrame(extra)], ignore_index=True)


@pytest.fixture()
def splits(tiny_backbone: str):
    pool = dataset_from_frame(planted_frame(40, 30, 0), source="pool")
    test = dataset_from_frame(planted_frame(10, 10, 1), source="test",
                              label_names=pool.label_names)
    train = TrainConfig(backbone=tiny_backbone, train_size=30, epochs=8, max_length=16,
                        batch_size=8, learning_rate=5e-3)
    return pool, test, train


def test_every_strategy_and_n_is_measured_against_its_own_seed(splits, tmp_path: Path) -> None:
    pool, test, train = splits
    config = ExperimentConfig(dataset_name="planted", train=train, n_synthetic=(1, 3),
                              seeds=(0, 1), retrain_mode="head",
                              selections=("weighted", "largest", "random", "eda_random",
                                          "none"))
    results = run_experiment(pool, test, config, tmp_path, embed=hashing_embed)
    expected = {(seed, strategy, n) for seed in (0, 1)
                for strategy in ("weighted", "largest", "random", "eda_random") for n in (1, 3)}
    expected |= {(0, "none", 0), (1, "none", 0)}
    assert set(zip(results["seed"], results["strategy"], results["n"], strict=True)) == expected
    for seed in (0, 1):
        record = read_run(tmp_path / "runs" / f"seed_{seed}")
        rows = results[results["seed"] == seed]
        assert np.allclose(rows["base_accuracy"], record.test_accuracy)
    ok = results[results["status"] == "ok"]
    assert len(ok) >= 10  # the planted region is found in both seeds
    assert np.allclose(ok["accuracy"] - ok["base_accuracy"], ok["delta"])
    assert np.allclose((ok["fixed"] - ok["broken"]) / len(test), ok["delta"])
    directed = ok[ok["strategy"].isin(["weighted", "largest", "random"])]
    assert (directed["samples"] <= directed["n"]).all() and (directed["samples"] >= 1).all()
    reused = ok[ok["reused_from"].notna()]
    for row in reused.to_dict("records"):
        source = ok[(ok["seed"] == row["seed"]) & (ok["strategy"] == row["reused_from"])
                    & (ok["n"] == row["n"])].iloc[0]
        assert source["cluster"] == row["cluster"] and source["accuracy"] == row["accuracy"]

    samples = [json.loads(line) for line in (tmp_path / SAMPLES_FILE).read_text().splitlines()]
    cluster_samples = [s for s in samples if s["cluster"] is not None]
    assert cluster_samples and all(s["labelled_by"] == LABELLED_BY for s in cluster_samples)
    # the Augment page's checks ran on every cluster sample: warnings in samples.jsonl, the
    # count of clean ones in results.csv
    assert all(isinstance(s["warnings"], list) for s in cluster_samples)
    trained = directed[directed["reused_from"].isna()]
    clean = {(s["seed"], s["strategy"], s["n"]): 0 for s in cluster_samples}
    for sample in cluster_samples:
        clean[(sample["seed"], sample["strategy"], sample["n"])] += not sample["warnings"]
    assert [clean[(r["seed"], r["strategy"], r["n"])] for r in trained.to_dict("records")] == (
        trained["passed_checks"].astype(int).tolist())
    assert ok.loc[ok["strategy"].isin(["eda_random", "none"]), "passed_checks"].isna().all()
    targets = dict(zip(zip(ok["seed"], ok["cluster"], strict=True), ok["target_label"],
                       strict=True))
    assert all(s["label"] == targets[(s["seed"], s["cluster"])] for s in cluster_samples)
    random_rows = [s for s in samples if s["strategy"] == "eda_random"]
    assert len(random_rows) == 2 * (1 + 3)
    assert {s["text"] for s in random_rows}.isdisjoint(set(pool.texts))


def test_an_interrupted_experiment_resumes_and_another_config_is_refused(
        splits, tmp_path: Path) -> None:
    pool, test, train = splits
    config = ExperimentConfig(dataset_name="planted", train=train, n_synthetic=(1,),
                              seeds=(0,), retrain_mode="head", selections=("eda_random",))
    first = run_experiment(pool, test, config, tmp_path, embed=hashing_embed)
    extended = ExperimentConfig(**{**config.__dict__, "seeds": (0, 1),
                                   "selections": ("eda_random", "none")})
    calls = []
    second = run_experiment(pool, test, extended, tmp_path, embed=hashing_embed,
                            progress=calls.append)
    assert len(first) == 1 and len(second) == 4
    assert not any(message.startswith("seed 0 eda_random") for message in calls)
    assert second.iloc[0].equals(first.iloc[0])
    with pytest.raises(ExperimentError, match=r"another configuration \(retrain_mode\)"):
        run_experiment(pool, test, ExperimentConfig(**{**config.__dict__,
                                                       "retrain_mode": "full"}),
                       tmp_path, embed=hashing_embed)
    # an experiment started before a training setting existed resumes with its default
    meta = json.loads((tmp_path / "experiment.json").read_text())
    del meta["comparable"]["train"]["fine_tune"], meta["comparable"]["train"]["label_map"]
    (tmp_path / "experiment.json").write_text(json.dumps(meta))
    assert len(run_experiment(pool, test, extended, tmp_path, embed=hashing_embed)) == 4


def test_full_retraining_without_samples_reproduces_the_base_model(splits,
                                                                   tmp_path: Path) -> None:
    pool, test, train = splits
    config = ExperimentConfig(dataset_name="planted", train=train, n_synthetic=(3,),
                              seeds=(0,), retrain_mode="full",
                              selections=("weighted", "none"))
    results = run_experiment(pool, test, config, tmp_path, embed=hashing_embed)
    control = results[results["strategy"] == "none"].iloc[0]
    assert (control["fixed"], control["broken"], control["delta"]) == (0, 0, 0.0)
    assert results["status"].eq("ok").all()


def test_summary_intervals_and_significance_count_each_test_row_once() -> None:
    rows = [{"dataset": "d", "strategy": "weighted", "n": 1, "seed": seed, "status": "ok",
             "delta": delta, "fixed": fixed, "broken": 0}
            for seed, (delta, fixed) in enumerate([(0.01, 3), (0.02, 4), (0.03, 5)])]
    # every seed predicts the same test split: its fixed rows are rows 0–2, 0–3 and 0–4
    lines = [{"seed": seed, "strategy": "weighted", "n": 1, "split": "test", "rows": 100,
              "target": [], "complement": [], "gained": [], "lost": [],
              "fixed": list(range(fixed)), "broken": []}
             for seed, fixed in enumerate((3, 4, 5))]
    summary = summarise(pd.DataFrame(rows), {"d": lines}).iloc[0]
    assert summary["delta_mean"] == pytest.approx(2.0)
    assert summary["delta_half_width"] == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)
    assert (summary["fixed"], summary["broken"]) == (5, 0)  # not 12: five distinct rows
    assert summary["p"] == pytest.approx(2 * 0.5 ** 5)
    older = summarise(pd.DataFrame(rows)).iloc[0]  # no rows kept: no p, no mark
    assert (older["fixed"], np.isnan(older["p"])) == (12, True)
    assert dataset_key("AG News") == dataset_key("ag_news") == "agnews"


def test_report_shows_the_harness_numbers(splits, tmp_path: Path) -> None:
    pool, test, train = splits
    config = ExperimentConfig(dataset_name="TREC", train=train, n_synthetic=(1, 3),
                              seeds=(0, 1), retrain_mode="head",
                              selections=("weighted", "eda_random", "none"))
    results = run_experiment(pool, test, config, tmp_path, embed=hashing_embed)
    report = render_report([tmp_path])
    base = 100 * results.drop_duplicates("seed")["base_accuracy"]
    assert f"| TREC | 2 | {base.mean():.2f} ± " in report and "| 84.1 |" in report
    summary = summarise(results)
    for row in summary[summary["n"] > 0].to_dict("records"):
        assert f"{row['delta_mean']:+.2f} ± {row['delta_half_width']:.2f}" in report
    assert "no human reviewed them" in report and "Control (`none`" in report
    weighted_samples = [json.loads(line) for line in
                        (tmp_path / SAMPLES_FILE).read_text().splitlines()]
    weighted_samples = [s for s in weighted_samples if s["strategy"] == "weighted"]
    passed = sum(not s["fired"] for s in weighted_samples)
    assert (f"| TREC | eda | weighted | {len(weighted_samples)} | "
            f"{passed / len(weighted_samples):.0%} ({passed}) |") in report
    control = results[results["strategy"] == "none"].set_index("seed")["accuracy"]
    weighted = results[(results["strategy"] == "weighted") & (results["n"] == 1)]
    against = 100 * (weighted["accuracy"].to_numpy() - control.loc[weighted["seed"]].to_numpy())
    row = against_control(results).set_index(["strategy", "n"]).loc[("weighted", 1)]
    assert row["delta_mean"] == pytest.approx(against.mean())
    assert f"{against.mean():+.2f} ± {row['delta_half_width']:.2f}" in report


def test_command_line_runs_an_experiment_and_rejects_bad_options(
        splits, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, _, train = splits
    folder = tmp_path / "data"
    folder.mkdir()
    planted_frame(40, 25, 0).to_csv(folder / "train.csv", index=False)
    planted_frame(10, 10, 1).to_json(folder / "test.jsonl", orient="records", lines=True)
    out = tmp_path / "out"
    common = ["experiment", "--data", str(folder), "--backbone", train.backbone,
              "--train-size", "60", "--epochs", "2", "--max-length", "16"]
    assert main([*common, "--seeds", "1", "--n-synthetic", "1", "--selection",
                 "eda_random,none", "--retrain-mode", "head", "--out", str(out)]) == 0
    assert len(pd.read_csv(out / RESULTS_FILE)) == 2 and (out / "report.md").is_file()
    assert main(["experiment-report", str(out), "--out", str(tmp_path / "r.md")]) == 0
    assert "Table 2" in (tmp_path / "r.md").read_text()
    capsys.readouterr()
    for bad in (["--n-synthetic", "51"], ["--selection", "weighted,best"],
                ["--n-synthetic", "one"], ["--seeds", "0"], ["--target", "best"],
                ["--sample-repeats", "0"]):
        assert main([*common, *bad, "--out", str(tmp_path / "bad")]) == 2
        assert one_line(capsys.readouterr().err)
    (folder / "test.jsonl").unlink()
    assert main([*common, "--out", str(tmp_path / "bad")]) == 2
    assert "no test.csv" in capsys.readouterr().err
    assert main(["experiment-report", str(tmp_path / "nothing"), "--out", "x.md"]) == 2


def test_region_strategies_are_judged_on_the_target_against_the_matched_control(
        splits, tmp_path: Path) -> None:
    pool, test, train = splits
    validation = dataset_from_frame(planted_frame(8, 8, 2), source="validation",
                                    label_names=pool.label_names)
    config = ExperimentConfig(dataset_name="planted", train=train, n_synthetic=(3, 12),
                              seeds=(0,), retrain_mode="head", target="slice",
                              sample_repeats=2,
                              selections=("none", "oracle", "random_rows", "directed",
                                          "rewrite", "balanced"))
    results = run_experiment(pool, test, config, tmp_path, embed=hashing_embed,
                             validation=validation)
    ok = results[results["status"] == "ok"]
    assert set(ok["strategy"]) == set(config.selections)
    assert ok["region_kind"].eq("slice").all() and ok["region_key"].nunique() == 1
    assert ok["control"].eq("matched").all()
    for prefix, rows in (("", len(test)), ("val_", len(validation))):
        groups = ok[[f"{prefix}{g}_test_rows" for g in ("target", "complement", "rest")]]
        assert (groups.sum(axis=1) == rows).all()  # the three groups cover the split
        assert (ok[f"{prefix}overall_test_rows"] == rows).all()
    assert (ok["test_rows"] == len(test)).all()  # the base accuracy is the test split's
    control = ok[ok["strategy"] == "none"].iloc[0]
    assert control["target_vs_control"] == 0 and control["overall_vs_control"] == 0
    assert np.allclose(ok["target_vs_control"], (ok["target_gained"] - ok["target_lost"])
                       / ok["target_test_rows"])
    oracle = ok[(ok["strategy"] == "oracle") & (ok["n"] == 12)].iloc[0]
    assert oracle["plain_target_vs_control"] > 0
    assert set(ok["verdict"]) <= {"repaired", "at_a_cost", "not_repaired", "cannot_tell"}

    samples = [json.loads(line) for line in (tmp_path / SAMPLES_FILE).read_text().splitlines()]
    training = set(read_run(tmp_path / "runs" / "seed_0").train_ids)
    pooled = [s for s in samples if s["strategy"] in ("oracle", "random_rows")]
    assert pooled and all(s["source_id"] not in training for s in pooled)
    assert all(s["labelled_by"] == "the row's own label in the dataset" for s in pooled)
    oracle_labels = {s["label"] for s in samples if s["strategy"] == "oracle"}
    assert oracle_labels == {oracle["target_label"]}
    rewrites = [s for s in samples if s["strategy"] == "rewrite"]
    assert rewrites and all(s["source_id"] is not None for s in rewrites)
    balanced = [s for s in samples if s["strategy"] == "balanced" and s["n"] == 12]
    assert len(balanced) == 12 and {s["label"] for s in balanced} >= {oracle["target_label"]}
    assert len({s["label"] for s in balanced}) > 1  # the complement keeps its own labels
    outcomes = [json.loads(line) for line in (tmp_path / OUTCOMES_FILE).read_text().splitlines()]
    assert {line["split"] for line in outcomes} == {"test", "validation"}
    assert len(outcomes) == 2 * len(ok)
    report = render_report([tmp_path])
    assert "## The target region against the label-matched control" in report
    assert "| oracle | 12 |" in report and "| balanced | 12 |" in report


def test_an_experiment_repairs_a_confusion_cell_like_any_region(splits, tmp_path: Path) -> None:
    pool, test, train = splits
    config = ExperimentConfig(dataset_name="planted", train=train, n_synthetic=(3,),
                              seeds=(0,), retrain_mode="head", target="confusion",
                              selections=("none", "oracle", "rewrite"))
    results = run_experiment(pool, test, config, tmp_path, embed=hashing_embed)
    # "confusion": the cell with the most mistakes of the seed's base model
    biggest = ExploredRun.load(tmp_path / "runs" / "seed_0").regions("confusion")[0]
    cell = biggest.key
    ok = results[results["status"] == "ok"]
    assert set(ok["strategy"]) == set(config.selections)
    assert ok["region_kind"].eq("confusion").all() and ok["region_key"].eq(cell).all()
    assert ok["target_label"].dropna().eq(biggest.label).all()
    groups = ok[[f"{g}_test_rows" for g in ("target", "complement", "rest")]]
    assert (groups.sum(axis=1) == len(test)).all()
    assert (ok["target_test_rows"] == len(biggest.test_rows)).all()
    assert (ok["complement_test_rows"] == len(biggest.reach(test=True))
            - len(biggest.test_rows)).all()
