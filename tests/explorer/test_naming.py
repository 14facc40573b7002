from __future__ import annotations

import numpy as np
from conftest import hashing_embed

from topex_core.explorer.naming import NO_SHARED_WORDING, name_clusters, support_needed
from topex_core.explorer.terms import phrases


def test_keywords_are_distinctive_and_each_occurs_in_several_texts() -> None:
    texts = ([f"my parcel courier is late again day{i}" for i in range(6)]
             + [f"invoice refund card payment ref{i}" for i in range(6)]
             + ["the screen battery died"] * 6)
    labels = np.array([0] * 6 + [5] * 6 + [-1] * 6)
    names = name_clusters(texts, labels, top_n_words=3)
    assert set(names) == {0, 5}
    for cluster, vocabulary in ((0, "parcel courier late"), (5, "invoice refund card payment")):
        keywords = names[cluster].keywords
        assert len(keywords) >= 2 and all(set(k.split()) <= set(vocabulary.split())
                                          for k in keywords)
        assert names[cluster].coverage == 1.0
        # no keyword repeats a word of a better one, no day0/ref0 that occurs once
        tokens = [token for keyword in keywords for token in keyword.split()]
        assert len(tokens) == len(set(tokens))
    assert names[0].label("billing → shipping").endswith(" · billing → shipping")


def test_words_used_once_are_never_keywords() -> None:
    texts = ["glass accessibility baring", "stand ioc oas", "ashen bigfoot macbeth",
             "wells malone martians", "sirk burdened eidologist"] * 1 + ["filler text"] * 5
    labels = np.array([0] * 5 + [1] * 5)
    names = name_clusters(texts, labels)
    assert names[0].keywords == [] and names[0].name == NO_SHARED_WORDING
    assert names[0].coverage == 0.0
    assert names[0].label("a → b") == "no shared wording · a → b"


def test_support_grows_with_the_cluster() -> None:
    assert support_needed(5) == 2 and support_needed(50) == 10
    # a word in 3 of 40 texts is not a keyword of that cluster; one in 20 of 40 is
    texts = [f"rare{i % 13} common" for i in range(40)] + ["other words here"] * 40
    texts[:3] = ["unusual common"] * 3
    names = name_clusters(texts, np.array([0] * 40 + [1] * 40))
    assert names[0].keywords == ["common"]


def test_rerank_with_an_embedder_keeps_supported_keywords() -> None:
    texts = [f"express delivery fee refund late parcel {i % 3}" for i in range(20)] + \
            ["card payment invoice"] * 20
    labels = np.array([0] * 20 + [1] * 20)
    names = name_clusters(texts, labels, embed=hashing_embed, rerank=[0], top_n_words=2)
    assert len(names[0].keywords) == 2
    assert all(keyword in phrases(texts[0]) for keyword in names[0].keywords)


def test_no_clusters_and_stop_words_only() -> None:
    assert name_clusters(["a b", "c d"], np.array([-1, -1])) == {}
    names = name_clusters(["the and", "of the"], np.array([0, 1]))
    assert names[0].name == NO_SHARED_WORDING and names[1].words == []


def test_names_come_from_bertopic_without_its_representative_documents(monkeypatch) -> None:
    """The topic model names use skips only BERTopic's representative documents: the same
    topics and c-TF-IDF weights as BERTopic itself (the method it overrides still exists)."""
    from bertopic import BERTopic

    from topex_core.explorer import naming

    assert callable(BERTopic._save_representative_docs)
    texts = ([f"parcel courier late {i}" for i in range(6)] + [f"refund card fee {i}" for i in range(6)]
             + [f"screen wifi broken {i}" for i in range(6)])
    labels = np.repeat([0, 1, -1], 6)
    ours, candidates = naming._ctfidf_candidates(texts, labels, [0, 1], hashing_embed)
    monkeypatch.setattr(naming, "_topic_model_class", lambda: BERTopic)
    theirs, their_candidates = naming._ctfidf_candidates(texts, labels, [0, 1], hashing_embed)
    assert candidates == their_candidates and ours.topics_ == theirs.topics_
    assert (ours.c_tf_idf_ != theirs.c_tf_idf_).nnz == 0
    assert ours.representative_docs_ == {} and theirs.representative_docs_
