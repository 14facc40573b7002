"""Directed augmentation end to end on a planted, explored run with a real (tiny)
classifier: prompt → backend → parse → checks → store, and ``topex generate``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from chat_server import ChatServer
from conftest import hashing_embed, one_line, parts

from topex_core.augmenter import augment, backends
from topex_core.augmenter.generation import Sampling, make_backend
from topex_core.errors import SettingsError
from topex_core.exploredir import SLICE_ROWS_FILE, SLICES_FILE
from topex_core.explorer.explored import ExploredRun
from topex_core.records import CHECK_NAMES, CandidateChecks
from topex_core.region_ref import RegionRef
from topex_core.storage.store import Store


def test_prompt_states_the_topic_the_majority_label_the_confusion_and_mixed_examples(
        explored: tuple[Path, int]) -> None:
    run, cluster = explored
    context = augment.target_context(run, RegionRef("cluster", str(cluster)))
    assert context.majority_label == "billing" and not context.pair
    request = augment.AugmentRequest(shots=4, mix_ratio=0.5)
    prompt = augment.prepare_prompt(context, request)
    topic, confusion = context.name.split(" · ")
    assert confusion == "billing → shipping"
    assert prompt.label == "billing" and prompt.issue == topic and prompt.task == "text"
    assert "wrongly reads such texts as shipping; the new text must clearly be billing" in (
        prompt.text)
    assert [e.source for e in prompt.examples].count("cluster") == 2
    assert all(e.row_id is not None for e in prompt.examples)
    assert prompt.mix_ratio == 0.5 and f"'{topic}'" in prompt.text
    member = int(context.rows["id"].iloc[0])
    chosen = augment.prepare_prompt(context, augment.AugmentRequest(example_ids=(member, 3)))
    assert [(e.row_id, e.source) for e in chosen.examples] == [(member, "cluster"), (3, "target")]
    zero_shot = augment.prepare_prompt(context, augment.AugmentRequest(shots=0))
    assert zero_shot.examples == () and zero_shot.mix_ratio is None


@pytest.mark.parametrize("change, message", [
    ({"label": "sports"}, "not one of the run's labels"),
    ({"example_ids": (9999,)}, "not in the dataset"),
    ({"shots": 99}, "shots"),
    ({"n": 0}, "n must be"),
    ({"task": "poem"}, "unknown task"),
    ({"template": "Write {label}"}, "must use {label} and {issue}"),
])
def test_bad_requests_are_refused(explored: tuple[Path, int], change: dict, message: str) -> None:
    run, cluster = explored
    context = augment.target_context(run, RegionRef("cluster", str(cluster)))
    with pytest.raises(ValueError, match=message):
        augment.prepare_prompt(context, augment.AugmentRequest(**change))


def test_unknown_cluster_lists_the_error_clusters(explored: tuple[Path, int]) -> None:
    run, cluster = explored
    with pytest.raises(ValueError, match=f"error clusters: {cluster}"):
        augment.target_context(run, RegionRef("cluster", "999"))


def test_eda_candidates_are_stored_with_lineage_and_checks(explored: tuple[Path, int],
                                                           tmp_path: Path) -> None:
    run, cluster = explored
    context, checker = parts(run, cluster)
    request = augment.AugmentRequest(n=6, shots=3, mix_ratio=2 / 3,
                                     sampling=Sampling(seed=5))
    prompt = augment.prepare_prompt(context, request)
    with Store(tmp_path / "topex.db") as store:
        outcome = augment.generate_candidates(
            context, request, [prompt], backend=backends.eda_for_target(context, hashing_embed),
            checker=checker, store=store)
        stored = store.candidates(store.run_id(run))
    assert outcome.error is None and outcome.completions == 6
    assert len(outcome.candidates) == len(stored) > 0
    row = stored.iloc[0]
    assert row["backend"] == "eda" and row["label"] == "billing"
    assert (row["target_kind"], row["target_key"]) == ("cluster", str(cluster))
    assert row["prompt"] == prompt.text and row["mix_ratio"] == pytest.approx(2 / 3)
    lineage = json.loads(row["sampling"])
    assert lineage["example_ids"] == [e.row_id for e in prompt.examples]
    assert lineage["task"] == "text" and "operation" in lineage and row["seed"] == 5
    checks = row["checks"]
    assert [result.name for result in checks.results][:7] == list(CHECK_NAMES)
    prediction = next(result for result in checks.results if result.name == "prediction")
    assert prediction.details["label"] in ("billing", "shipping", "tech")
    assert checks.fired == [name for result in checks.results for name in
                            [result.name] * len(result.warnings)]
    assert CandidateChecks.from_json(checks.to_json()) == checks  # the store's JSON


def test_a_failing_server_keeps_the_candidates_it_sent(explored: tuple[Path, int],
                                                       tmp_path: Path) -> None:
    run, cluster = explored
    context, checker = parts(run, cluster)
    request = augment.AugmentRequest(n=3, shots=2)
    prompt = augment.prepare_prompt(context, request)
    with ChatServer("ignore_n") as server, Store(tmp_path / "topex.db") as store:
        backend = make_backend("openai", base_url=server.base_url, model="m", max_retries=0,
                               concurrency=1)
        original = backend._post

        def fail_after_first(body, request, on_delta):
            if len(server.requests) >= 1:
                server.mode = "error_500"
            return original(body, request, on_delta)

        backend._post = fail_after_first
        outcome = augment.generate_candidates(context, request, [prompt], backend=backend,
                                              checker=checker, store=store)
        stored = store.candidates(store.run_id(run))
    assert "HTTP 500" in outcome.error and outcome.completions == 1
    assert len(stored) == 1 and stored.iloc[0]["backend"] == "openai"
    assert stored.iloc[0]["model"] == "m"


def test_cli_generate_prints_json_lines_and_fails_in_one_line(explored: tuple[Path, int],
                                                              tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    from topex_core.cli import main as cli
    from topex_core.training.embeddings import SentenceEmbedder

    monkeypatch.setattr(SentenceEmbedder, "__call__", lambda self, texts: hashing_embed(texts))
    run, cluster = explored
    db = tmp_path / "cli.db"
    assert cli.main(["generate", "--run", str(run), "--cluster", str(cluster), "--n", "4",
                     "--shots", "2", "--db", str(db)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) >= 1
    assert set(lines[0]) == {"id", "text", "text_pair", "label", "backend", "model", "mode",
                             "source_id", "checks"}
    # the target has misclassified rows: a rewrite round by default, each naming its source
    assert {line["mode"] for line in lines} == {"rewrite"}
    assert all(isinstance(line["source_id"], int) for line in lines)
    assert cli.main(["generate", "--run", str(run), "--cluster", str(cluster), "--n", "2",
                     "--mode", "free", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                     "--model", "m", "--timeout", "1", "--db", str(db)]) == 2
    error = capsys.readouterr().err
    assert one_line(error) and "cannot reach" in error and "0 candidates were stored" in error
    assert cli.main(["generate", "--run", str(run), "--cluster", "12345"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["generate", "--run", str(run), "--slice", "nonesuch"]) == 2
    assert "'nonesuch' is not an error slice" in capsys.readouterr().err
    assert cli.main(["generate", "--run", str(run), "--slice", "delivery", "--n", "3",
                     "--shots", "2", "--db", str(db)]) == 0
    slice_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    delivery = ExploredRun.load(run).region(RegionRef("slice", "delivery")).ref
    with Store(db) as store:
        stored = store.candidates(store.run_id(run), target=delivery)
    assert len(stored) == len(slice_lines) >= 1 and (stored["target_kind"] == "slice").all()
    assert cli.main(["generate", "--run", str(run), "--target", f"slice:{delivery.key}",
                     "--n", "1", "--db", str(db)]) == 0
    capsys.readouterr()
    # no region, mode or size named: the default target, a rewrite of each of its
    # misclassified rows up to 30
    assert cli.main(["generate", "--run", str(run), "--db", str(db)]) == 0
    strongest = augment.target_context(run, None)
    rewrites = min(30, strongest.mistakes)
    assert rewrites >= 1
    assert f"the default target, {strongest.target.ref}" in capsys.readouterr().err
    with Store(db) as store:
        latest = store.vetted(store.run_id(run))[-rewrites:]
    assert {candidate.target for candidate in latest} == {strongest.target.ref}
    assert all(candidate.lineage["mode"] == "rewrite" for candidate in latest)
    assert len({candidate.source_id for candidate in latest}) == rewrites
    assert cli.main(["generate", "--run", str(run), "--mode", "free", "--db", str(db)]) == 0
    assert "free mode, 5 candidates" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a malformed region is a usage error
        cli.main(["generate", "--run", str(run), "--target", "topic:7"])
    assert "unknown region kind 'topic'" in capsys.readouterr().err


def test_a_round_defaults_to_rewriting_each_mistake_up_to_thirty(
        explored: tuple[Path, int]) -> None:
    run, cluster = explored
    context = augment.target_context(run, RegionRef("cluster", str(cluster)))
    rows = context.rows
    mistakes = int(((rows["label"] == context.majority_label) & ~rows["correct"]).sum())
    assert context.mistakes == mistakes >= 1 and context.default_mode() == "rewrite"
    assert context.default_size("rewrite") == min(30, mistakes)
    assert context.default_size("free") == 5 and context.default_size("complement") == 30


def test_a_slice_is_a_target_like_a_cluster(explored: tuple[Path, int], tmp_path: Path) -> None:
    run, _ = explored
    context = augment.target_context(run, RegionRef("slice", "delivery"))
    assert context.target.kind == "slice" and context.target.cluster is None
    assert context.name == "delivery · billing → shipping"
    assert context.majority_label == "billing" and len(context.rows) == 25
    prompt = augment.prepare_prompt(context, augment.AugmentRequest(shots=3))
    assert "the topic: 'delivery'. A classifier wrongly reads such texts as shipping" in (
        prompt.text)
    # the target's own rows are its mistakes: every example comes from them
    assert all(e.row_id >= 180 and e.source == "cluster" for e in prompt.examples)
    with pytest.raises(SettingsError, match="unknown region kind"):
        RegionRef.parse("topic:1")
    with pytest.raises(SettingsError, match="KIND:KEY"):
        RegionRef.parse("delivery")


def rekey_slice(run: Path, old: str, term: str, true_label: str) -> str:
    """The run's slice ``old`` renamed to ``term`` of ``true_label``'s rows (same rows):
    the key it now has."""
    key = f"{term} | {true_label}"
    slices = pd.read_csv(run / SLICES_FILE, keep_default_na=False)
    slices.loc[slices["slice"] == old, ["slice", "term", "terms", "true_label"]] = [
        key, term, term, true_label]
    slices.to_csv(run / SLICES_FILE, index=False)
    members = pd.read_parquet(run / SLICE_ROWS_FILE)
    members.loc[members["slice"] == old, "slice"] = key
    members.to_parquet(run / SLICE_ROWS_FILE)
    return key


def test_a_slice_of_a_form_asks_for_the_form_and_a_scope_is_not_a_topic(
        explored: tuple[Path, int]) -> None:
    """A trait or structural term is not what a text is about: the prompt asks for it as a
    requirement, about the examples' subject; a slice's scope is the prompt's label."""
    run, _ = explored
    key = rekey_slice(run, "delivery", "asks a question", "billing")
    context = augment.target_context(run, RegionRef("slice", key))
    assert context.target.forms == ("it asks a question",)
    prompt = augment.prepare_prompt(context, augment.AugmentRequest(shots=3))
    request = prompt.messages[0]["content"]
    assert request.startswith("Write one text of the class billing about the topic: "
                              f"'{augment.SHARED_SUBJECT}'. A classifier wrongly reads")
    assert "must clearly be billing. One more requirement: it asks a question. Answer" in request
    zero_shot = augment.prepare_prompt(context, augment.AugmentRequest(shots=0))
    assert f"'{augment.ANY_SUBJECT}'" in zero_shot.text
    rewrites = augment.prepare_prompts(context, augment.AugmentRequest(mode="rewrite", n=2))
    assert rewrites and all("One more requirement: it asks a question." in one.text
                            for one in rewrites)

    words = augment.target_context(run, RegionRef("slice", rekey_slice(
        run, key, "delivery", "billing")))
    assert words.name == "delivery (true billing) · billing → shipping"
    worded = augment.prepare_prompt(words, augment.AugmentRequest(shots=3)).text
    assert "the topic: 'delivery'." in worded and "requirement" not in worded
