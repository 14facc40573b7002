from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import hashing_embed

from topex_core.explorer import scoring


def test_density_by_hand() -> None:
    assert scoring.density(np.array([[0, 0], [1, 0.5], [0.5, 2]])) == pytest.approx(1.5)
    assert scoring.density(np.ones((4, 3))) == pytest.approx(4 / scoring.MIN_EXTENT)


def test_average_pairwise_distance_by_hand() -> None:
    points = np.array([[0.0, 0], [3, 4], [0, 1]])
    assert scoring.average_pairwise_distance(points, np.array([True, False, False])) == (3.0,
                                                                                          0.0)
    points = np.array([[0.0, 0], [0, 2], [3, 4]])
    expected = 5 + math.sqrt(13)
    apd, error = scoring.average_pairwise_distance(points, np.array([True, True, False]))
    assert apd == pytest.approx(expected) and error == 0.0
    assert all(math.isnan(v) for v in scoring.average_pairwise_distance(points, np.ones(3, bool)))


def test_average_pairwise_distance_chunking_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 4))
    mask = rng.random(300) < 0.3
    brute = np.linalg.norm(points[mask][:, None] - points[~mask][None], axis=2).sum() / (~mask).sum()
    apd, error = scoring.average_pairwise_distance(points, mask, chunk_elements=1500)
    assert apd == pytest.approx(brute) and error == 0.0
    # as many sampled outsiders as there are: still exact
    assert scoring.average_pairwise_distance(points, mask, sample=(~mask).sum())[0] == (
        pytest.approx(brute))


def test_a_sampled_apd_lies_within_its_standard_error_of_the_exact_one() -> None:
    rng = np.random.default_rng(1)
    points = rng.normal(size=(20_000, 6))
    mask = np.zeros(len(points), bool)
    mask[:40] = True
    exact, _ = scoring.average_pairwise_distance(points, mask)
    estimates = [scoring.average_pairwise_distance(points, mask, sample=2_000, seed=seed)
                 for seed in range(20)]
    errors = np.array([estimate - exact for estimate, _ in estimates])
    standard_errors = np.array([error for _, error in estimates])
    assert (standard_errors > 0).all() and (standard_errors < 0.02 * exact).all()
    # a standard error that is honest: about two thirds of estimates lie within one
    assert 0.45 <= np.mean(np.abs(errors) <= standard_errors) <= 0.95
    assert np.abs(errors).max() < 4 * standard_errors.mean()


def test_geometric_median_by_hand() -> None:
    square = np.array([[0.0, 0], [2, 0], [0, 2], [2, 2]])
    np.testing.assert_allclose(scoring.geometric_median(square), [1, 1], atol=1e-6)
    assert scoring.geometric_median_distance(square) == pytest.approx(math.sqrt(2), abs=1e-6)
    line = np.array([[0.0, 0], [1, 0], [10, 0]])
    np.testing.assert_allclose(scoring.geometric_median(line), [1, 0], atol=1e-4)
    assert scoring.geometric_median_distance(line) == pytest.approx(10 / 3, abs=1e-4)
    assert scoring.geometric_median_distance(np.ones((3, 2))) == 0.0


def test_cosine_metrics_by_hand() -> None:
    embeddings = np.array([[1.0, 0], [0, 1], [1, 1]])
    assert scoring.mean_pairwise_cosine(embeddings) == pytest.approx(
        ((0 + 2 / math.sqrt(2) / 2 * 2) / 3, 0.0))  # every text: exact
    assert math.isnan(scoring.mean_pairwise_cosine(embeddings[:1])[0])
    assert scoring.name_text_similarity(np.array([1.0, 0]), embeddings) == pytest.approx(
        ((1 + 0 + 1 / math.sqrt(2)) / 3, 0.0))


def test_sampled_cosine_scores_carry_standard_errors_that_cover_the_whole() -> None:
    rng = np.random.default_rng(3)
    directions = rng.normal(0, 1, (5, 16))
    population = directions[rng.integers(0, 5, 4000)] + rng.normal(0, 0.8, (4000, 16))
    name = directions[0]
    exact_cos = scoring.mean_pairwise_cosine(population)[0]
    exact_ctc = scoring.name_text_similarity(name, population)[0]
    within = {"cos": 0, "ctc": 0}
    for seed in range(40):
        sample = population[np.random.default_rng(seed).choice(4000, 500, replace=False)]
        cos, cos_se = scoring.mean_pairwise_cosine(sample, population=4000)
        ctc, ctc_se = scoring.name_text_similarity(name, sample, population=4000)
        assert 0 < cos_se < 0.05 and 0 < ctc_se < 0.05
        within["cos"] += abs(cos - exact_cos) <= 1.96 * cos_se
        within["ctc"] += abs(ctc - exact_ctc) <= 1.96 * ctc_se
    # a 95% interval covers the whole's value about 38 times in 40; 32 leaves room for chance
    assert within["cos"] >= 32 and within["ctc"] >= 32


def test_tight_coherent_cluster_ranks_first_with_a_reason() -> None:
    rng = np.random.default_rng(1)
    tight = np.array([0.5, 0.5]) + rng.normal(0, 0.01, (20, 2))
    loose = np.array([-0.5, 0.0]) + rng.normal(0, 0.3, (20, 2))
    rest = rng.uniform(-1, 1, (100, 2))
    points = np.vstack([tight, loose, rest])
    labels = np.array([0] * 20 + [1] * 20 + [-1] * 100)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    texts = ["refund express delivery fee"] * 20
    texts += [" ".join(rng.choice(words, 4)) for _ in range(120)]
    scores = scoring.score_clusters(points, labels, [1, 0], texts,
                                    {0: "refund express delivery", 1: "alpha beta"},
                                    embed=hashing_embed)
    assert scores["cluster"].tolist() == [0, 1] and scores["rank"].tolist() == [1, 2]
    assert list(scores.columns) == ["cluster", *scoring.SCORE_COLUMNS, *scoring.ERROR_COLUMNS,
                                    "rank"]
    assert (scores[scoring.ERROR_COLUMNS] == 0).all().all()  # few points: every score exact
    assert scores.loc[0, "ctc"] > scores.loc[1, "ctc"]
    reason = scoring.pick_reason(scores)
    assert reason.startswith("Cluster 0 was chosen because its ") and "× the mean" in reason


def test_single_point_clusters_and_empty_input() -> None:
    points = np.array([[0.0, 0], [1, 1], [0.5, 0.2]])
    scores = scoring.score_clusters(points, np.array([0, 1, -1]), [0, 1], ["a b", "c d", "e"],
                                    {0: "a", 1: "c"}, embed=hashing_embed)
    assert len(scores) == 2 and scores["cos"].isna().all()
    assert np.isfinite(scores["weighted"]).all()
    empty = scoring.score_clusters(points, np.array([-1, -1, -1]), [], ["a", "b", "c"], {},
                                   embed=hashing_embed)
    assert empty.empty
    assert scoring.pick_reason(empty) == "No error cluster to choose."


def test_every_score_has_an_explanation() -> None:
    assert set(scoring.EXPLANATIONS) == set(scoring.SCORE_COLUMNS)
