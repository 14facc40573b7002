"""Rewrite mode (a misclassified row of the target → a new text of the same label, its
source in the lineage) and generation in batches (progress, a stop that keeps what
finished), on the planted explored run with EDA."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conftest import hashing_embed, parts

from topex_core.augmenter import augment, backends
from topex_core.augmenter.batches import generate_in_batches
from topex_core.augmenter.generation import Sampling
from topex_core.augmenter.prompts import Example, build_rewrite_prompt
from topex_core.errors import SettingsError
from topex_core.storage.store import Store


def test_a_rewrite_prompt_shows_its_source_and_asks_for_the_same_class() -> None:
    source = Example("where is my <b>refund</b>", row_id=7, source="cluster")
    prompt = build_rewrite_prompt(task="text", label="billing", issue="refund · card",
                                  source=source, confused_with="shipping")
    assert len(prompt.messages) == 1 and prompt.messages[0]["role"] == "user"
    content = prompt.messages[0]["content"]
    assert "new billing text about the same subject ('refund · card')" in content
    assert "wrongly reads such texts as shipping" in content
    assert content.endswith("Text: where is my brefundb")  # tags lose their brackets
    assert [(e.row_id, e.source) for e in prompt.examples] == [(7, "rewrite")]
    pair = build_rewrite_prompt(task="nli", label="entailment", issue="x",
                                source=Example("a premise", "a hypothesis", 3))
    assert '"hypothesis": "a hypothesis"' in pair.messages[0]["content"]


def test_rewrites_start_from_the_targets_mistakes_and_name_them_in_the_lineage(
        explored: tuple[Path, int], tmp_path: Path) -> None:
    run, cluster = explored
    context, checker = parts(run, cluster)
    request = augment.AugmentRequest(n=6, mode="rewrite", sampling=Sampling(seed=2))
    prompts = augment.prepare_prompts(context, request)
    rows = context.rows.set_index("id")
    sources = [prompt.examples[0].row_id for prompt in prompts]
    assert len(set(sources)) == len(prompts) <= 6
    assert all(rows.loc[s, "label"] == "billing" and not rows.loc[s, "correct"]
               for s in sources)
    finished = []
    with Store(tmp_path / "topex.db") as store:
        outcome = generate_in_batches(
            context, request, prompts, backend=backends.eda_for_target(context, hashing_embed),
            checker=checker, store=store, batch_size=2,
            on_batch=lambda done, total: finished.append((done, total)))
        stored = store.candidates(store.run_id(run))
    per_prompt = -(-6 // len(prompts))
    total = per_prompt * len(prompts)
    assert finished[-1] == (total, total) and len(finished) == -(-len(prompts) // 2)
    assert outcome.error is None and len(stored) == len(outcome.candidates) > 0
    lineage = [json.loads(value) for value in stored["sampling"]]
    assert {entry["mode"] for entry in lineage} == {"rewrite"}
    assert {entry["source_id"] for entry in lineage} <= set(sources)
    for entry, prompt_text in zip(lineage, stored["prompt"], strict=True):
        assert rows.loc[entry["source_id"], "text"][:20] in prompt_text
    assert (stored["label"] == "billing").all()


def test_a_stop_keeps_the_batches_that_finished_and_batches_never_repeat_seeds(
        explored: tuple[Path, int], tmp_path: Path) -> None:
    run, cluster = explored
    context, checker = parts(run, cluster)
    request = augment.AugmentRequest(n=9, shots=3, sampling=Sampling(seed=4))
    prompts = augment.prepare_prompts(context, request)
    backend = backends.eda_for_target(context, hashing_embed)
    with Store(tmp_path / "all.db") as store:
        everything = generate_in_batches(context, request, prompts, backend=backend,
                                         checker=checker, store=store, batch_size=4)
    seeds = [candidate.candidate.seed for candidate in everything.candidates]
    assert everything.completions == 9 and len(set(seeds)) == len(seeds)
    reads = []
    with Store(tmp_path / "all.db") as store:
        real = store.candidates
        store.candidates = lambda *args, **kwargs: reads.append(args) or real(*args, **kwargs)
        again = generate_in_batches(context, request, prompts, backend=backend,
                                    checker=checker, store=store, batch_size=4)
    # the stored texts are read once for three batches; each batch's join them, so a text
    # met in an earlier batch (or run) is a duplicate in the next
    assert len(reads) == 1 and again.completions == 9
    first_texts = {item.candidate.text for item in everything.candidates}
    repeated = [item for item in again.candidates if item.candidate.text in first_texts]
    assert repeated and all("duplicate" in item.candidate.checks.fired for item in repeated)
    stop = threading.Event()
    with Store(tmp_path / "stopped.db") as store:
        stopped = generate_in_batches(context, request, prompts, backend=backend,
                                      checker=checker, store=store, batch_size=4,
                                      on_batch=lambda done, total: stop.set(), cancel=stop)
        kept = store.candidates(store.run_id(run))
    assert stopped.error == "generation was stopped" and stopped.completions == 4
    assert len(kept) == len(stopped.candidates) > 0


def test_rewrite_needs_rows_of_its_label(explored: tuple[Path, int]) -> None:
    run, cluster = explored
    context, _ = parts(run, cluster)
    labels = set(context.rows["label"].astype(str))
    absent = next(label for label in context.label_names if label not in labels)
    with pytest.raises(SettingsError, match=f"no row labelled '{absent}' to rewrite"):
        augment.prepare_prompts(context, augment.AugmentRequest(mode="rewrite", label=absent))
    with pytest.raises(SettingsError, match="unknown mode"):
        augment.prepare_prompts(context, augment.AugmentRequest(mode="paraphrase"))


def test_a_balanced_round_rewrites_the_regions_other_labels_keeping_each_label(
        explored: tuple[Path, int], tmp_path: Path) -> None:
    from dataclasses import replace

    import numpy as np

    run, cluster = explored
    context, checker = parts(run, cluster)
    # a region whose reach holds rows of every label (as a slice's terms would)
    reach = np.arange(0, 205, 5)
    context = replace(context, target=replace(context.target,
                                              _reach=lambda test: reach))
    request = augment.AugmentRequest(n=6, mode="complement", sampling=Sampling(seed=3))
    prompts = augment.prepare_prompts(context, request)
    points = context.points.set_index("id")
    sources = [prompt.examples[0].row_id for prompt in prompts]
    assert len(prompts) == 6 and len(set(sources)) == 6
    assert all(points.loc[s, "label"] != "billing" for s in sources)
    assert [prompt.label for prompt in prompts] == [points.loc[s, "label"] for s in sources]
    assert all("wrongly reads such texts as billing" in prompt.text for prompt in prompts)
    assert sources == [p.examples[0].row_id for p in augment.prepare_prompts(context, request)]
    with Store(tmp_path / "topex.db") as store:
        augment.generate_candidates(context, request, prompts,
                                    backend=backends.eda_for_target(context, hashing_embed),
                                    checker=checker, store=store)
        stored = store.candidates(store.run_id(run))
    lineage = [json.loads(value) for value in stored["sampling"]]
    assert {entry["mode"] for entry in lineage} == {"complement"}
    assert all(points.loc[entry["source_id"], "label"] == label
               for entry, label in zip(lineage, stored["label"], strict=True))
    only_billing = replace(context, target=replace(context.target,
                                                   _reach=lambda test: context.target.rows))
    with pytest.raises(SettingsError, match="has no complement to rewrite"):
        augment.prepare_prompts(only_billing, request)


def test_eda_in_free_mode_names_the_example_it_changed_and_is_checked_as_its_rewrite(
        explored: tuple[Path, int], tmp_path: Path) -> None:
    """EDA changes one few-shot example per candidate: that example is its source, in the
    lineage and in the checks (closeness to it is information, not a near duplicate)."""
    run, cluster = explored
    context, checker = parts(run, cluster)
    request = augment.AugmentRequest(n=6, shots=3, sampling=Sampling(seed=2))
    prompts = augment.prepare_prompts(context, request)
    examples = {example.row_id for example in prompts[0].examples}
    with Store(tmp_path / "eda.db") as store:
        outcome = augment.generate_candidates(
            context, request, prompts, backend=backends.eda_for_target(context, hashing_embed),
            checker=checker, store=store)
        vetted = store.vetted(store.run_id(run))
    assert outcome.candidates and {c.source_id for c in vetted} <= examples
    for candidate in vetted:
        closeness = candidate.checks.to_json()["duplicate"]
        assert closeness["source"] == candidate.source_id and "changed" in closeness
        assert f"row {candidate.source_id}" not in " ".join(candidate.checks.warnings)
