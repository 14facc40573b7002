"""Cluster keywords backed by the cluster's own texts (TopEx §2.3, made to hold on real data).

BERTopic's class-based TF-IDF ranks each cluster's terms (manual topic modelling: our
cluster labels are passed as ``y``; BERTopic skips its own embedding, reduction and
clustering), with ``terms.phrases`` as the analyzer (1–2-grams, stop words out) and
``reduce_frequent_words``. c-TF-IDF alone ranks words that occur once first in clusters of
5–10 texts, so a term becomes a keyword only when it occurs in at least
max(``min_support``, ``support_share`` × size) of the cluster's texts. The supported
candidates of the clusters in ``rerank`` (the error clusters) are re-ranked by BERTopic's
``MaximalMarginalRelevance`` over the sentence embedder (the packaged MiniLM), which
prefers terms close to the cluster's wording and unlike each other; the other clusters keep
the c-TF-IDF order (embedding every cluster's candidates would cost more than the rest of
the explorer). A cluster whose texts share no supported term has no keywords, and says so.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from topex_core.explorer.terms import term_vectorizer
from topex_core.training.embeddings import Embed

TOP_WORDS = 4
NO_SHARED_WORDING = "no shared wording"


@dataclass(frozen=True)
class ClusterName:
    """``words``: (keyword, c-TF-IDF weight) pairs, best first, each in ≥ the support
    threshold of the cluster's texts; ``coverage``: share of the cluster's texts that
    contain at least one keyword (0 when there is none)."""

    cluster: int
    words: list[tuple[str, float]]
    coverage: float

    @property
    def keywords(self) -> list[str]:
        return [word for word, _ in self.words]

    @property
    def name(self) -> str:
        return ", ".join(self.keywords) or NO_SHARED_WORDING

    def label(self, confusion: str) -> str:
        """The name shown to a user: keywords and the confusion they carry."""
        return f"{self.name} · {confusion}" if confusion else self.name


def support_needed(size: int, *, min_support: int = 2, support_share: float = 0.2) -> int:
    """How many of a cluster's ``size`` texts must contain a term for it to be a keyword."""
    return max(min_support, math.ceil(support_share * size))


def name_clusters(texts: Sequence[str], cluster_labels: np.ndarray, *,
                  top_n_words: int = TOP_WORDS, embed: Embed | None = None,
                  rerank: Collection[int] = (), min_support: int = 2,
                  support_share: float = 0.2) -> dict[int, ClusterName]:
    """Names of every cluster in ``cluster_labels`` (N,) except noise (-1).

    Noise texts take part in c-TF-IDF (as BERTopic's outlier topic) so that words common to
    every region are weighted down. ``embed`` None skips the re-ranking.
    """
    labels = np.asarray(cluster_labels, dtype=np.int64)
    clusters = sorted(int(c) for c in np.unique(labels) if c != -1)
    if not clusters:
        return {}
    counts, vocabulary = _term_counts(texts)
    if counts is None:
        return {c: ClusterName(c, [], 0.0) for c in clusters}
    topic_model, candidates = _ctfidf_candidates(texts, labels, clusters, embed)
    support = _cluster_support(counts, labels, clusters)
    supported = {}
    for row, cluster in enumerate(clusters):
        needed = support_needed(int((labels == cluster).sum()), min_support=min_support,
                                support_share=support_share)
        supported[cluster] = _distinct([(word, weight) for word, weight in candidates[cluster]
                                        if word in vocabulary
                                        and support[row, vocabulary[word]] >= needed])
    reranked = [c for c in clusters if embed is not None and c in rerank
                and len(supported[c]) > top_n_words]
    # MMR embeds each cluster's words and their join; one batch for all clusters instead
    topic_model.embedding_model.remember(
        [text for c in reranked for text in
         [word for word, _ in supported[c]] + [" ".join(word for word, _ in supported[c])]])
    names = {}
    for cluster in clusters:
        words = supported[cluster]
        if cluster in reranked:
            words = _maximal_marginal_relevance(topic_model, words, top_n_words)
        words = words[:top_n_words]
        names[cluster] = ClusterName(cluster, words, _coverage(counts, vocabulary,
                                                               labels == cluster, words))
    return names


def _term_counts(texts: Sequence[str]) -> tuple[sparse.csr_matrix | None, dict[str, int]]:
    """(N, V) 0/1 matrix of the terms in ≥ 2 texts overall, and its vocabulary."""
    vectorizer = term_vectorizer(min_rows=2)
    try:
        return vectorizer.fit_transform(texts).tocsr(), vectorizer.vocabulary_
    except ValueError:  # "empty vocabulary": no term shared by two texts anywhere
        return None, {}


def _cluster_support(counts: sparse.csr_matrix, labels: np.ndarray,
                     clusters: list[int]) -> np.ndarray:
    """(K, V) number of each cluster's texts containing each term."""
    inside = np.isin(labels, clusters)
    rows = np.searchsorted(clusters, labels[inside])
    membership = sparse.csr_matrix((np.ones(len(rows)), (rows, np.flatnonzero(inside))),
                                   shape=(len(clusters), len(labels)))
    return np.asarray((membership @ counts).todense())


def _ctfidf_candidates(texts: Sequence[str], labels: np.ndarray, clusters: list[int],
                       embed: Embed | None):
    """BERTopic fitted on our clusters, and each cluster's terms by c-TF-IDF weight."""
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.vectorizers import ClassTfidfTransformer

    topic_model = _topic_model_class()(
        embedding_model=_embedder(embed), umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        vectorizer_model=term_vectorizer(), top_n_words=TOP_WORDS,
        calculate_probabilities=False, verbose=False)
    topic_model.fit(list(texts), embeddings=np.zeros((len(labels), 1)), y=labels)
    # BERTopic renumbers topics by size: map each cluster to the topic its texts received
    assigned_topics = np.asarray(topic_model.topics_)
    terms = topic_model.vectorizer_model.get_feature_names_out()
    weights = topic_model.c_tf_idf_.tocsr()
    candidates = {}
    for cluster in clusters:
        topic = int(assigned_topics[np.flatnonzero(labels == cluster)[0]])
        # every term of the topic, not BERTopic's top few: in a cluster of a few long texts
        # the top c-TF-IDF terms are the single-use ones, and the shared ones rank below
        row = weights[topic + topic_model._outliers]  # BERTopic's own row for a topic
        ranked = sorted(((str(terms[index]), round(float(weight), 4))
                         for index, weight in zip(row.indices, row.data, strict=True)
                         if weight > 0),
                        # ties: the phrase before its words ("stand for" before "stand")
                        key=lambda term: (-term[1], -term[0].count(" "), term[0]))
        candidates[cluster] = ranked
    return topic_model, candidates


def _topic_model_class() -> type:
    """BERTopic without the three representative documents per topic that every ``fit``
    samples and scores (the c-TF-IDF candidates of AG News's 266 clusters took 1.55 s with
    them, 0.85 s without): names never read them, and the pages show a cluster's own
    texts. Topics and c-TF-IDF are BERTopic's."""
    from bertopic import BERTopic

    class NamingTopics(BERTopic):
        def _save_representative_docs(self, documents) -> None:
            self.representative_docs_ = {}

    return NamingTopics


def _distinct(words: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """``words`` without those sharing a token with a better one ("courier" after "parcel
    courier"): the same wording twice says nothing more."""
    kept, seen = [], set()
    for word, weight in words:
        tokens = set(word.split())
        if not tokens & seen:
            kept.append((word, weight))
            seen |= tokens
    return kept


def _embedder(embed: Embed | None):
    from bertopic.backend import BaseEmbedder

    class SentenceEmbedder(BaseEmbedder):
        """BERTopic's view of our sentence embedder (the packaged MiniLM), serving texts it
        was asked to ``remember`` from memory."""

        def __init__(self) -> None:
            super().__init__()
            self.known: dict[str, np.ndarray] = {}

        def remember(self, texts: Sequence[str]) -> None:
            new = [text for text in dict.fromkeys(texts) if text not in self.known]
            if new and embed is not None:
                self.known.update(zip(new, np.asarray(embed(new), dtype=np.float32),
                                      strict=True))

        def embed(self, documents, verbose: bool = False) -> np.ndarray:
            self.remember(list(documents))
            return np.stack([self.known[document] for document in documents])

    return SentenceEmbedder()


def _maximal_marginal_relevance(topic_model, words: list[tuple[str, float]],
                                top_n_words: int) -> list[tuple[str, float]]:
    from bertopic.representation import MaximalMarginalRelevance

    return MaximalMarginalRelevance(diversity=0.3, top_n_words=top_n_words).extract_topics(
        topic_model, None, None, {0: words})[0]


def _coverage(counts: sparse.csr_matrix, vocabulary: dict[str, int], members: np.ndarray,
              words: list[tuple[str, float]]) -> float:
    """Share of the members' texts that contain at least one keyword (every keyword is in
    ``vocabulary``: it occurs in two or more texts)."""
    if not words:
        return 0.0
    columns = [vocabulary[word] for word, _ in words]
    return float((counts[np.flatnonzero(members)][:, columns].sum(axis=1) > 0).mean())
