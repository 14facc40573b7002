"""Cluster names from BERTopic's class-based TF-IDF (TopEx §2.3).

Manual topic modelling: our cluster labels are passed as ``y`` and BERTopic skips its own
embedding, dimensionality reduction and clustering (``BaseEmbedder``, ``BaseCluster``,
``BaseDimensionalityReduction``). The name is the top words joined by spaces, as in the
paper ("cinderella disney her the"); English stop words are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TOP_WORDS = 4


@dataclass(frozen=True)
class ClusterName:
    """``words``: (word, c-TF-IDF weight) pairs, best first; ``name``: the words joined."""

    cluster: int
    name: str
    words: list[tuple[str, float]]


def name_clusters(texts: Sequence[str], cluster_labels: np.ndarray, *,
                  top_n_words: int = TOP_WORDS, stop_words: str | None = "english",
                  ) -> dict[int, ClusterName]:
    """Names of every cluster in ``cluster_labels`` (N,) except noise (-1).

    Noise texts still take part in c-TF-IDF (as BERTopic's outlier topic) so that words
    common to every region are weighted down. A cluster whose texts have no usable word
    (all stop words, emoji only…) is named ``cluster K``.
    """
    from bertopic import BERTopic
    from bertopic.backend import BaseEmbedder
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(cluster_labels, dtype=np.int64)
    clusters = sorted(int(c) for c in np.unique(labels) if c != -1)
    fallback = {c: ClusterName(c, f"cluster {c}", []) for c in clusters}
    if not clusters:
        return {}
    topic_model = BERTopic(
        embedding_model=BaseEmbedder(), umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(), ctfidf_model=ClassTfidfTransformer(),
        vectorizer_model=CountVectorizer(stop_words=stop_words), top_n_words=top_n_words,
        calculate_probabilities=False, verbose=False,
    )
    try:
        topic_model.fit(list(texts), embeddings=np.zeros((len(labels), 1)), y=labels)
    except ValueError:  # "empty vocabulary": nothing but stop words anywhere
        return fallback
    # BERTopic renumbers topics by size: map each cluster to the topic its texts received
    assigned_topics = np.asarray(topic_model.topics_)
    names = {}
    for cluster in clusters:
        topic_id = int(assigned_topics[np.flatnonzero(labels == cluster)[0]])
        topic = topic_model.get_topic(topic_id) or []
        words = [(word, round(float(weight), 4)) for word, weight in topic[:top_n_words]
                 if word and weight > 0]
        names[cluster] = (ClusterName(cluster, " ".join(w for w, _ in words), words)
                          if words else fallback[cluster])
    return names
