"""Concept regions: error slices that say one thing in several words, grouped into one.

A topic is written with many words ("comedy", "funny", "humor", "laughs"): each word is a
slice of its own, none of them holds the topic, and a round that targets one misses the
rest. Two slices whose mistakes carry the same confusion ("A → B"; of every row or of the
rows of true label A) are linked by the largest of three affinities in [0, 1]:

- the cosine similarity of their terms' sentence embeddings (the packaged MiniLM): words
  that mean the same kind of thing;
- the cosine similarity of what their misclassified rows are about: the mean embedding of
  (up to ``CONTEXT_ROWS`` of) each slice's mistakes, less the mean embedding of the pool
  (``POOL_SAMPLE`` rows), so that what every text of the dataset shares (all are film
  reviews, all are news) does not link everything; less ``CONTEXT_DISCOUNT``, since texts
  about one subject stay alike across subjects more than words do ("red sox", "inning"
  and "cardinals" are baseball stories; "prices" and "eu" are not one subject);
- co-occurrence: |A ∩ B| / min(|A|, |B|) over the rows holding each term;
- the same overlap over their misclassified rows: the same mistakes, found twice.

Slices are grouped by average linkage (``scipy.cluster.hierarchy``) at ``min_affinity``,
so a group's members are alike on average, not merely chained. A group's rows are the
rows with any of its terms — of every row, or of the true label A when a member's scope is
A, whichever has the lower p — tested again as a whole with the same one-sided Fisher
test; the caller corrects it with the run's other tests. A group stands only when its p
is below each member's — the whole says more than any of its parts — else its slices
stay as they are. At most ``max_terms`` terms (the best by p) make one concept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from topex_core.training.embeddings import Embed

# (terms, scope) → (the scope's rows with any of the terms, its rows N, its mistakes E)
RowsOf = Callable[[tuple[str, ...], int], tuple[np.ndarray, int, int]]


# (n,) row positions → (n, e) sentence embeddings of those rows' texts
EmbedRows = Callable[[np.ndarray], np.ndarray]
CONTEXT_ROWS = 50
# the pool's mean is subtracted from every context; 200 rows instead of 500 gave the same
# slices and concepts on AG News, the planted concept and the rare sub-topic, and 300 fewer
# rows to embed (2.4 s of a run's first explore on AG News)
POOL_SAMPLE = 200
CONTEXT_DISCOUNT = 0.2


@dataclass(frozen=True)
class ConceptConfig:
    """``min_affinity``: the average affinity at which slices group; ``max_terms``: the
    most terms a concept holds (its best by p; the rest stay single slices)."""

    min_affinity: float = 0.5
    max_terms: int = 10


@dataclass(frozen=True)
class FoundSlice:
    """A slice before it becomes a row of slices.csv. ``terms``: one term, or a concept's
    several, best first; ``scope``: 0 for every row, 1 + A for the rows of true label A;
    ``positions`` (n,) int, sorted: its rows; ``scope_rows``/``scope_errors``: N and E of
    its scope; ``confusion``: "true → predicted" most common among its mistakes."""

    terms: tuple[str, ...]
    scope: int
    positions: np.ndarray
    errors: int
    scope_rows: int
    scope_errors: int
    confusion: str
    p: float
    q: float = float("nan")

    @property
    def rows(self) -> int:
        return len(self.positions)

    @property
    def error_rate(self) -> float:
        return self.errors / self.rows

    @property
    def base_rate(self) -> float:
        return self.scope_errors / self.scope_rows

    @property
    def lift(self) -> float:
        return self.error_rate / self.base_rate


def fisher_p(errors: int, rows: int, scope_errors: int, scope_rows: int) -> float:
    """One-sided Fisher p of ``errors`` of ``rows`` misclassified, against ``scope_errors``
    of ``scope_rows``: the hypergeometric tail P(X ≥ errors)."""
    return float(stats.hypergeom.sf(errors - 1, scope_rows, scope_errors, rows))


def concepts_of(found: list[FoundSlice], wrong: np.ndarray, rows_of: RowsOf, *,
                embed: Embed | None, embed_rows: EmbedRows | None = None,
                config: ConceptConfig = ConceptConfig()) -> list[FoundSlice]:
    """The concepts among ``found`` term slices (``wrong`` (N,) bool: misclassified rows;
    ``rows_of(terms, scope)``: the positions of a scope's rows with any of the terms),
    each with its union's counts and p; empty when nothing groups. ``embed`` None leaves
    out the terms' similarity, ``embed_rows`` None that of their mistakes."""
    buckets: dict[str, list[FoundSlice]] = defaultdict(list)
    for found_slice in found:
        buckets[found_slice.confusion].append(found_slice)
    alike = [bucket for bucket in map(_widest, buckets.values()) if len(bucket) > 1]
    similarity = _term_similarity([s.terms[0] for bucket in alike for s in bucket], embed)
    context = _contexts([s for bucket in alike for s in bucket], wrong, embed_rows)
    concepts = []
    for bucket in alike:
        for members in _groups(bucket, wrong, similarity, context, config.min_affinity):
            members = sorted(members, key=lambda s: s.p)[: config.max_terms]
            concept = min((_union(members, scope, wrong, rows_of)
                           for scope in {0, *(member.scope for member in members)}),
                          key=lambda union: union.p)
            if concept.p < min(member.p for member in members):
                concepts.append(concept)
    return concepts


def _groups(bucket: list[FoundSlice], wrong: np.ndarray,
            similarity: dict[tuple[str, str], float], context: dict[int, np.ndarray],
            min_affinity: float) -> list[list[FoundSlice]]:
    """The groups of two or more slices in ``bucket`` at average affinity ≥ min_affinity."""
    size = len(bucket)
    affinity = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            first, second = context.get(id(bucket[i])), context.get(id(bucket[j]))
            affinity[i, j] = affinity[j, i] = max(
                similarity.get((bucket[i].terms[0], bucket[j].terms[0]), 0.0),
                float(first @ second) - CONTEXT_DISCOUNT if first is not None
                and second is not None else 0.0,
                _overlap(bucket[i].positions, bucket[j].positions),
                _overlap(bucket[i].positions[wrong[bucket[i].positions]],
                         bucket[j].positions[wrong[bucket[j].positions]]))
    tree = linkage(squareform(1 - affinity, checks=False), method="average")
    labels = fcluster(tree, t=1 - min_affinity, criterion="distance")
    return [[bucket[i] for i in np.flatnonzero(labels == label)]
            for label in np.unique(labels) if (labels == label).sum() > 1]


def _widest(bucket: list[FoundSlice]) -> list[FoundSlice]:
    """``bucket`` without the slices that add no row to a union: a phrase holding another
    slice's word ("story humor" beside "humor"), or rows inside another's; they would
    only pull the linkage apart."""
    words = {found_slice.terms[0] for found_slice in bucket}
    return [candidate for candidate in bucket
            if not (" " in candidate.terms[0] and words & set(candidate.terms[0].split()))
            and not any(other is not candidate and other.rows > candidate.rows
                        and np.isin(candidate.positions, other.positions).all()
                        for other in bucket)]


def _overlap(first: np.ndarray, second: np.ndarray) -> float:
    """|A ∩ B| / min(|A|, |B|) of two sorted position arrays (0 when one is empty)."""
    if not len(first) or not len(second):
        return 0.0
    shared = len(np.intersect1d(first, second, assume_unique=True))
    return shared / min(len(first), len(second))


def _contexts(found: list[FoundSlice], wrong: np.ndarray,
              embed_rows: EmbedRows | None) -> dict[int, np.ndarray]:
    """{id(slice): unit vector of what its mistakes are about, beyond the pool's mean}."""
    if embed_rows is None or not found:
        return {}
    rng = np.random.default_rng(0)
    sampled = {id(s): _sample(s.positions[wrong[s.positions]], rng) for s in found}
    pool = _sample(np.arange(len(wrong)), rng, POOL_SAMPLE)
    needed = np.unique(np.concatenate([pool, *sampled.values()]))
    vectors = np.asarray(embed_rows(needed), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row_of = {int(position): row for row, position in enumerate(needed)}
    pool_mean = vectors[[row_of[int(p)] for p in pool]].mean(axis=0)
    contexts = {}
    for key, positions in sampled.items():
        direction = vectors[[row_of[int(p)] for p in positions]].mean(axis=0) - pool_mean
        contexts[key] = direction / max(float(np.linalg.norm(direction)), 1e-12)
    return contexts


def _sample(positions: np.ndarray, rng: np.random.Generator,
            size: int = CONTEXT_ROWS) -> np.ndarray:
    return positions if len(positions) <= size else rng.choice(positions, size, replace=False)


def _term_similarity(terms: list[str], embed: Embed | None) -> dict[tuple[str, str], float]:
    """{(term, term): cosine similarity of their embeddings}, for every ordered pair."""
    terms = list(dict.fromkeys(terms))
    if embed is None or len(terms) < 2:
        return {}
    vectors = np.asarray(embed(terms), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cosine = np.clip(vectors @ vectors.T, 0.0, 1.0)
    return {(first, second): float(cosine[i, j]) for i, first in enumerate(terms)
            for j, second in enumerate(terms)}


def _union(members: list[FoundSlice], scope: int, wrong: np.ndarray,
           rows_of: RowsOf) -> FoundSlice:
    """The rows of ``scope`` with any of the members' terms, and their Fisher p."""
    terms = tuple(dict.fromkeys(term for member in members for term in member.terms))
    positions, scope_rows, scope_errors = rows_of(terms, scope)
    errors = int(wrong[positions].sum())
    return FoundSlice(terms=terms, scope=scope, positions=positions, errors=errors,
                      scope_rows=scope_rows, scope_errors=scope_errors,
                      confusion=members[0].confusion,
                      p=fisher_p(errors, len(positions), scope_errors, scope_rows))
