from __future__ import annotations

import numpy as np
import pytest

from topex_core.explorer.concepts import ConceptConfig, FoundSlice, concepts_of, fisher_p
from topex_core.explorer.slices import SliceConfig, find_error_slices
from topex_core.training.embeddings import SentenceEmbedder

COMEDY = ["comedy", "funny", "humor", "laughs"]
FILLER = ["the plot", "a cast", "this director", "the story", "its script", "the ending"]


@pytest.fixture(scope="module")
def minilm() -> SentenceEmbedder:
    """The packaged MiniLM: whether words belong together is what it is for."""
    return SentenceEmbedder()


def _planted(n: int = 4_000, seed: int = 0):
    """Reviews (neg/pos) with 6% noise mistakes; one topic written four ways (one of
    ``COMEDY`` per row) has its negative rows misclassified 90% of the time, and
    'solar panels' rows fail as often, with the same confusion but another meaning."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["comedy", "solar", "plain"], n, p=[0.12, 0.04, 0.84])
    words = np.where(kind == "comedy", rng.choice(COMEDY, n),
                     np.where(kind == "solar", "solar panels", ""))
    texts = [f"{rng.choice(FILLER)} {word} {rng.choice(FILLER)} {rng.integers(10_000)}"
             for word in words]
    truth = rng.integers(0, 2, n)
    planted = (kind != "plain") & (truth == 0) & (rng.random(n) < 0.9)
    wrong = planted | (rng.random(n) < 0.06)
    return texts, truth, np.where(wrong, 1 - truth, truth), kind, planted


def test_a_topic_written_in_four_words_is_one_concept(minilm) -> None:
    texts, truth, pred, kind, planted = _planted()
    found = find_error_slices(texts, truth, pred, ["neg", "pos"], np.arange(len(texts)),
                              embed=minilm)
    table = found.table
    concept = table[table["terms"].str.contains("; ")].iloc[0]
    assert set(concept["terms"].split("; ")) == set(COMEDY)
    assert concept["slice"] == " + ".join(concept["terms"].split("; ")) + " | neg"
    assert concept["term"] == " · ".join(concept["terms"].split("; "))
    assert concept["confusion"] == "neg → pos" and concept["q"] < 1e-30
    rows = found.members[concept["slice"]]
    assert set(rows) == set(np.flatnonzero((kind == "comedy") & (truth == 0)))
    assert concept["rows"] == len(rows) and concept["errors"] == (truth != pred)[rows].sum()
    # against the planted mistakes, the concept is the region, not one of its words
    hit = planted[rows].sum()
    f1 = 2 * hit / (len(rows) + (planted & (kind == "comedy")).sum())
    assert f1 > 0.9
    # a word of it is not listed again beside it (nor among every row: its mistakes are
    # the concept's), and 'solar' (same confusion, another meaning) is its own slice
    assert not table.loc[table["true_label"] != "pos", "term"].isin(COMEDY).any()
    assert not any("solar" in terms and "; " in terms for terms in table["terms"])
    assert table["term"].isin(["solar", "panels", "solar panels"]).any()
    assert (table["q"] <= 0.05).all() and table["p"].is_monotonic_increasing


def test_without_an_embedder_only_co_occurring_terms_group() -> None:
    texts, truth, pred, kind, _ = _planted()
    found = find_error_slices(texts, truth, pred, ["neg", "pos"], np.arange(len(texts)))
    # the four words never share a row: unlinked, each its own slice
    assert table_terms(found.table) >= {"comedy", "funny", "humor", "laughs"}
    # "solar" and "panels" always do, but they are the same rows: one slice, as before
    assert not found.table["terms"].str.contains("; ").any()


def table_terms(table) -> set[str]:
    return {term for terms in table["terms"] for term in terms.split("; ")}


def test_concepts_can_be_switched_off(minilm) -> None:
    texts, truth, pred, *_ = _planted()
    found = find_error_slices(texts, truth, pred, ["neg", "pos"], np.arange(len(texts)),
                              SliceConfig(concepts=None), embed=minilm)
    assert not found.table["terms"].str.contains("; ").any()
    assert table_terms(found.table) >= set(COMEDY)


def _slice(term: str, positions, wrong: np.ndarray, confusion: str = "a → b") -> FoundSlice:
    positions = np.asarray(positions)
    errors = int(wrong[positions].sum())
    return FoundSlice((term,), 0, positions, errors, len(wrong), int(wrong.sum()), confusion,
                      fisher_p(errors, len(positions), int(wrong.sum()), len(wrong)))


def _rows_of(slices: list[FoundSlice], wrong: np.ndarray):
    """Every row is in scope 0; a term's rows are its slice's."""
    rows = {s.terms[0]: s.positions for s in slices}
    return lambda terms, scope: (np.unique(np.concatenate([rows[t] for t in terms])),
                                 len(wrong), int(wrong.sum()))


def _concepts(slices: list[FoundSlice], wrong: np.ndarray, vectors: dict, **options):
    embed = lambda terms: np.array([vectors[term] for term in terms], float)  # noqa: E731
    return concepts_of(slices, wrong, _rows_of(slices, wrong), embed=embed, **options)


def test_a_group_stands_only_when_the_whole_says_more_than_each_part() -> None:
    wrong = np.zeros(2_000, bool)
    wrong[:40] = True  # "storm": 40 of 40 rows wrong
    wrong[1_000:1_012] = True  # "rain": 12 of 400 rows wrong, about the base rate
    storm = _slice("storm", np.arange(40), wrong)
    rain = _slice("rain", np.arange(1_000, 1_400), wrong)
    assert _concepts([storm, rain], wrong, {"storm": [1, 0.1], "rain": [1, 0]}) == []
    wrong[40:55] = True  # "drizzle": 15 of 20 rows wrong
    drizzle = _slice("drizzle", np.arange(40, 60), wrong)
    storm = _slice("storm", np.arange(40), wrong)
    grouped = _concepts([storm, drizzle], wrong, {"storm": [1, 0.1], "drizzle": [1, 0]})
    assert len(grouped) == 1 and grouped[0].terms == ("storm", "drizzle")
    assert grouped[0].rows == 60 and grouped[0].errors == 55


def test_slices_of_other_confusions_or_meanings_do_not_group() -> None:
    wrong = np.zeros(1_000, bool)
    wrong[:60] = True
    storm, rain = _slice("storm", np.arange(30), wrong), _slice("rain", np.arange(30, 60), wrong)
    other_confusion = _slice("rain", np.arange(30, 60), wrong, "a → c")
    alike, unlike = {"storm": [1, 0], "rain": [1, 0]}, {"storm": [1, 0], "rain": [0, 1]}
    assert _concepts([storm, other_confusion], wrong, alike) == []
    assert _concepts([storm, rain], wrong, unlike) == []
    assert _concepts([storm, rain], wrong, unlike, config=ConceptConfig(min_affinity=0.0))
    assert _concepts([storm, rain], wrong, alike)


def test_slices_whose_mistakes_are_about_one_subject_group() -> None:
    """Words unalike ("inning", "yankees") whose mistakes are texts on one subject: the
    mistakes' embeddings, less the pool's mean, link them."""
    wrong = np.zeros(1_000, bool)
    wrong[:60] = True
    inning, yankees = _slice("inning", np.arange(30), wrong), _slice("yankees",
                                                                     np.arange(30, 60), wrong)
    unlike = {"inning": [1, 0], "yankees": [0, 1]}
    rows = np.zeros((1_000, 3))
    rows[:, 2] = 1  # what every text shares
    rows[:60, 0] = 2  # the mistakes are baseball stories
    embed_rows = lambda positions: rows[positions]  # noqa: E731
    grouped = _concepts([inning, yankees], wrong, unlike, embed_rows=embed_rows)
    assert len(grouped) == 1 and set(grouped[0].terms) == {"inning", "yankees"}
    rows[30:60, 0], rows[30:60, 1] = 0, 2  # about two subjects: no group
    assert _concepts([inning, yankees], wrong, unlike, embed_rows=embed_rows) == []
