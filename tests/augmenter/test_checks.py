"""The automatic checks on candidates, on a small frame with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import hashing_embed

from topex_core.augmenter.checks import (
    CandidateChecker,
    CheckConfig,
    checker_for_run,
)
from topex_core.augmenter.prompts import Example
from topex_core.region_ref import RegionRef


def points() -> pd.DataFrame:
    billing = [f"invoice payment refund card {w}" for w in ("a", "b", "c", "d", "e", "f")]
    shipping = [f"parcel courier tracking box {w}" for w in ("a", "b", "c", "d", "e", "f")]
    cluster = [f"express delivery fee refund {w}" for w in ("a", "b", "c", "d")]
    texts = billing + shipping + cluster
    labels = ["billing"] * 6 + ["shipping"] * 6 + ["billing"] * 4
    return pd.DataFrame({"id": range(len(texts)), "text": texts, "label": labels,
                         "cluster": [0] * 6 + [1] * 6 + [2] * 4})


class JsonChecker:
    """A CandidateChecker whose results read as the JSON the store keeps (check → details,
    warnings, fired), which the assertions below name."""

    def __init__(self, checker: CandidateChecker) -> None:
        self.checker = checker

    def check(self, *args, **options) -> list[dict]:
        return [checks.to_json() for checks in self.checker.check(*args, **options)]


def checker(predict=None, terms=(), **config) -> JsonChecker:
    frame = points()
    everything = np.arange(len(frame))
    return JsonChecker(CandidateChecker(
        frame, hashing_embed(frame["text"].tolist()), everything,
        np.flatnonzero(frame["cluster"] == 2), embed=hashing_embed, predict=predict,
        label_names=["billing", "shipping"], config=CheckConfig(neighbours=5, **config),
        terms=terms))


def test_exact_and_near_duplicates_of_the_dataset_and_of_other_candidates() -> None:
    results = checker().check(
        ["Invoice  payment refund card a", "express delivery fee refund a",
         "brand new words here", "brand new words here"],
        None, ["billing"] * 4, others=["stored candidate text"])
    assert results[0]["duplicate"] == {"kind": "exact", "of": "row 0", "similarity": 1.0}
    assert results[1]["duplicate"]["kind"] == "exact" and results[1]["duplicate"]["of"] == "row 12"
    assert results[2]["duplicate"]["kind"] is None
    assert results[3]["duplicate"]["kind"] == "exact"
    assert results[3]["duplicate"]["of"] == "another candidate"
    near_stored = checker().check(["stored candidate text"], None, ["billing"],
                                  others=["stored candidate text"])
    assert near_stored[0]["duplicate"]["of"] == "another candidate"
    assert "exact duplicate of row 0" in results[0]["warnings"]
    near = checker(near_duplicate=0.9).check(["express delivery fee refund a z"], None,
                                             ["billing"])[0]
    assert near["duplicate"] == {"kind": "near", "of": "row 12", "similarity": 0.9129}
    assert "near duplicate of row 12 (similarity 0.91)" in near["warnings"]
    assert near["fired"][near["warnings"].index("near duplicate of row 12 (similarity 0.91)")] == (
        "duplicate")


def test_length_outliers_use_the_label_rows_percentiles() -> None:
    short, long = checker().check(["refund", " ".join(["refund"] * 40)], None,
                                  ["billing", "billing"])
    assert short["length"]["outlier"] and long["length"]["outlier"]
    assert short["length"]["low"] == pytest.approx(2.5)
    assert short["length"]["high"] == pytest.approx(9.5)
    ok = checker().check(["express fee refund for delivery b"], None, ["billing"])[0]
    assert not ok["length"]["outlier"]


def test_intrusion_flags_a_candidate_among_another_class() -> None:
    among_shipping, among_billing = checker().check(
        ["parcel courier tracking box z", "invoice payment refund card z"], None,
        ["billing", "billing"])
    assert among_shipping["intrusion"]["intrudes"]
    assert among_shipping["intrusion"]["nearest_label"] == "shipping"
    assert any("lies among 'shipping'" in w for w in among_shipping["warnings"])
    assert not among_billing["intrusion"]["intrudes"]
    assert among_billing["intrusion"]["share_assigned"] == 1.0
    # the three nearest rows are kept for the reviewer, closest first
    nearest = among_shipping["intrusion"]["nearest"]
    assert len(nearest) == 3 and all(row["label"] == "shipping" for row in nearest)
    assert all(6 <= row["row"] < 12 for row in nearest)
    similarities = [row["similarity"] for row in nearest]
    assert similarities == sorted(similarities, reverse=True)


def test_topic_similarity_to_the_cluster() -> None:
    on_topic, off_topic = checker().check(
        ["express delivery fee refund q", "parcel courier tracking box q"], None,
        ["billing", "billing"])
    assert on_topic["topic"]["similarity"] - off_topic["topic"]["similarity"] > 0.4
    assert on_topic["topic"]["similarity"] > off_topic["topic"]["similarity"]


def test_prediction_comes_from_the_given_classifier() -> None:
    def predict(texts, pairs):
        assert pairs is None
        return np.array([[0.2, 0.8] for _ in texts])

    result = checker(predict).check(["express delivery fee refund q"], None, ["billing"])[0]
    assert result["prediction"] == {"label": "shipping", "confidence": 0.8, "agrees": False,
                                    "expected": False}
    assert any("the model predicts 'shipping' (80%)" in w for w in result["warnings"])
    assert checker().check(["x y"], None, ["billing"])[0]["prediction"] is None


def test_a_rewrite_may_stay_near_its_source_and_keep_its_mistake() -> None:
    """Closeness to the row it rewrites and the model's wrong prediction of a misclassified
    source are what a rewrite is: information, not warnings; an unchanged copy warns."""
    frame = points().assign(correct=[True] * 12 + [False] * 4)  # the cluster's rows fail
    everything = np.arange(len(frame))
    rewrites = JsonChecker(CandidateChecker(
        frame, hashing_embed(frame["text"].tolist()), everything,
        np.flatnonzero(frame["cluster"] == 2), embed=hashing_embed,
        predict=lambda texts, pairs: np.array([[0.2, 0.8] for _ in texts]),
        label_names=["billing", "shipping"], config=CheckConfig(neighbours=5)))
    source = Example("express delivery fee refund a", None, 12, source="rewrite")
    text = "express delivery fee refund a today"
    rewrite, copy, free = (
        rewrites.check([text], None, ["billing"], sources=[source])[0],
        rewrites.check([source.text], None, ["billing"], sources=[source])[0],
        rewrites.check([text], None, ["billing"])[0])
    assert rewrite["duplicate"]["source"] == 12 and rewrite["duplicate"]["changed"] == 0.167
    assert rewrite["duplicate"]["source_similarity"] > 0.8 and rewrite["prediction"]["expected"]
    assert not any("duplicate" in w or "model predicts" in w for w in rewrite["warnings"])
    assert copy["warnings"][0] == "identical to the row it rewrites (row 12)"
    # a second rewrite nearer another candidate than any row still says how it changed
    two = rewrites.check([text, text + " again"], None, ["billing"] * 2, sources=[source] * 2)
    assert two[1]["duplicate"]["of"] == "another candidate" and "changed" in two[1]["duplicate"]
    assert rewrite["duplicate"]["of"] != "row 12"  # the nearest row other than its source
    # without its source the same text is one the model gets wrong, nearest row 12
    assert "prediction" in free["fired"] and free["duplicate"]["of"] == "row 12"
    # a source the model gets right: disagreeing is a warning again
    right = Example("invoice payment refund card a", None, 0, source="rewrite")
    flipped = rewrites.check(["invoice payment refund card a now"], None, ["billing"],
                             sources=[right])[0]
    assert not flipped["prediction"]["expected"] and "prediction" in flipped["fired"]


def test_a_new_text_that_the_model_reads_as_the_targets_mistake_is_expected() -> None:
    """Free generation for a target the model reads billing as shipping: a new billing text
    it also reads as shipping is the hard example asked for; read as another label, or a
    sample of another label, it still warns."""
    frame = points()
    everything = np.arange(len(frame))

    def checker_predicting(column: int) -> JsonChecker:
        def predict(texts, pairs):
            rows = np.full((len(texts), 3), 0.1)
            rows[:, column] = 0.8
            return rows
        return JsonChecker(CandidateChecker(
            frame, hashing_embed(frame["text"].tolist()), everything,
            np.flatnonzero(frame["cluster"] == 2), embed=hashing_embed, predict=predict,
            label_names=["billing", "shipping", "tech"], config=CheckConfig(neighbours=5),
            mistake=("billing", "shipping")))

    as_shipping = checker_predicting(1).check(["express fee refund z"], None, ["billing"])[0]
    assert as_shipping["prediction"]["expected"] and "prediction" not in as_shipping["fired"]
    as_tech = checker_predicting(2).check(["express fee refund z"], None, ["billing"])[0]
    assert not as_tech["prediction"]["expected"] and "prediction" in as_tech["fired"]
    other_label = checker_predicting(1).check(["express fee refund z"], None, ["tech"])[0]
    assert "prediction" in other_label["fired"]


def test_pairs_are_checked_as_joined_text_and_predicted_as_pairs() -> None:
    calls = []

    def predict(texts, pairs):
        calls.append((list(texts), pairs))
        return np.array([[0.9, 0.1]])

    result = checker(predict).check(["express delivery"], ["fee refund a"], ["billing"])[0]
    assert calls == [(["express delivery"], ["fee refund a"])]
    assert result["duplicate"]["kind"] is None and result["prediction"]["agrees"]
    assert checker().check([], None, []) == []


def test_checker_for_a_cluster_or_a_slice(tmp_path: Path) -> None:
    from conftest import make_run

    from topex_core.explorer.explored import ExploredRun
    from topex_core.explorer.pipeline import explore_run

    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    explored = ExploredRun.load(run)
    cluster = explored.regions("cluster")[0]
    sampled = checker_for_run(explored, cluster, embed=hashing_embed,
                              predict=None, config=CheckConfig(max_reference=50))
    assert 50 <= len(sampled.ids) < 205 and len(sampled.exact) == 10  # all distinct texts
    planted = explored.region(RegionRef("slice", "delivery"))
    checker = checker_for_run(explored, planted, embed=hashing_embed, predict=None)
    on_topic, off_topic = JsonChecker(checker).check(
        ["express delivery fee refund again", "screen wifi"], None, ["billing", "billing"])
    assert on_topic["topic"]["similarity"] - off_topic["topic"]["similarity"] > 0.4
    # one embedding cache per run: the rows embedded above are not embedded again
    embedded = []

    class SameEmbedder:  # hashing_embed, counting what it is asked for
        identity = hashing_embed.__qualname__

        def __call__(self, texts):
            embedded.append(len(texts))
            return hashing_embed(texts)

    checker_for_run(explored, planted, predict=None, embed=SameEmbedder())
    assert embedded == []


def test_a_slice_sample_must_keep_the_slices_term() -> None:
    kept, lost = checker(terms=("express delivery",)).check(
        ["express delivery fee refund twice", "a fee refund for delivery"], None,
        ["billing", "billing"])
    assert kept["term"] == {"terms": ["express delivery"], "kept": True}
    assert "term" not in kept["fired"]
    assert lost["term"]["kept"] is False and "term" in lost["fired"]
    assert any("lost the slice's term 'express delivery'" in w for w in lost["warnings"])
    assert checker().check(["a fee refund"], None, ["billing"])[0]["term"] is None


def test_the_notes_say_why_a_wrong_prediction_is_expected() -> None:
    """A rewrite keeps its source's mistake (whatever label that is); a new text repeats
    the target's own mistake."""
    from topex_core.augmenter.checks import check_notes
    from topex_core.records import CandidateChecks

    rewrite = CandidateChecks.from_json({
        "duplicate": {"kind": None, "source": 12, "source_similarity": 0.9, "changed": 0.2},
        "prediction": {"label": "account", "confidence": 0.89, "agrees": False,
                       "expected": True}})
    assert check_notes(rewrite) == [
        "It changed 20% of its source's words (similarity 0.90).",
        "The model predicts 'account' (89%); it gets the source row wrong: expected for a "
        "rewrite of a mistake."]
    new_text = CandidateChecks.from_json({
        "prediction": {"label": "billing", "confidence": 0.7, "agrees": False,
                       "expected": True}})
    assert check_notes(new_text) == ["The model predicts 'billing' (70%); the target's own "
                                     "mistake: a hard example, as expected."]
