"""Automatic checks shown beside each candidate before a human decides. They warn; the
human decides.

For one candidate (text, optional pair, assigned label):

- duplicate: an exact duplicate of a dataset row (case and spacing ignored, all rows) or
  of another candidate, or a near duplicate: cosine similarity of sentence embeddings ≥
  ``near_duplicate`` with a reference row or another candidate.
- length: its word count below half the 1st or above 1.5 × the 99th percentile of the
  assigned class's rows (plus two words, so a class of equal-length rows tolerates a
  little variation).
- prediction: the current classifier's label and confidence (softmax probability).
- intrusion (after inversedMixup's manifold intrusion): among the ``neighbours`` nearest
  reference rows by embedding, another class outnumbers the assigned label. The nearest
  ``SHOWN_NEIGHBOURS`` rows are kept (row id, label, similarity) for the reviewer.
- topic: cosine similarity to the centroid of the target's rows (an error cluster or
  slice). Off topic when it is below the threshold min(10th percentile of the target's
  own rows, 90th percentile of the rows outside it): no closer to the topic than most
  other rows are.
- term (error slices): the candidate still holds the slice's term, which is how test
  rows join the slice; a sample without it repairs something else.
- output: what a language model wrote instead of a sample — meta-talk, a refusal, an echo
  of a prompt example, a loop (``output_checks``).

A candidate that rewrites a dataset row (rewrite and complement modes, and EDA's changes
of one few-shot example in free mode: its ``source``) is meant to stay close to that row,
and a row the model gets wrong is meant to be predicted wrongly again: closeness to its
own source (``duplicate.source_similarity``, and ``changed``, the share of its words not
taken from the source in order) and the model's disagreement where the model got the
source wrong (``prediction.expected``) are information, not warnings. A new text (free
mode, no source) of the target's label that the model reads as the target's mistakes are
read — the target's own confusion — is a hard example, as expected; another wrong label
still warns. A rewrite identical to its source warns; so does being a near duplicate of
any other row, or echoing another prompt's source.

Reference rows are the whole dataset up to ``max_reference`` rows; above that a seeded
sample of that size plus every row of the target (exact duplicates still use all rows).
Reference rows are embedded once per run (``RowEmbeddings``, the run's one embedding cache).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from topex_core.augmenter.output_checks import OutputChecker, echo_share
from topex_core.augmenter.prompts import Example
from topex_core.data.texts import joined_text, point_texts
from topex_core.explorer.explored import ExploredRun, Region, RowEmbeddings, row_terms
from topex_core.records import CandidateChecks, CheckResult
from topex_core.training.embeddings import Embed

Predict = Callable[[Sequence[str], Sequence[str] | None], np.ndarray]
SHOWN_NEIGHBOURS = 3  # nearest rows kept with the intrusion check, for the reviewer to read


@dataclass(frozen=True)
class CheckConfig:
    near_duplicate: float = 0.95
    neighbours: int = 10
    max_reference: int = 50_000
    topic_quantile: float = 0.10
    seed: int = 0


class CandidateChecker:
    """Checks against one run's dataset and one cluster (positions into ``points``)."""

    def __init__(self, points: pd.DataFrame, reference_embeddings: np.ndarray,
                 reference_positions: np.ndarray, cluster_positions: np.ndarray, *,
                 embed: Embed, predict: Predict | None, label_names: Sequence[str],
                 config: CheckConfig = CheckConfig(), terms: Sequence[str] = (),
                 mistake: tuple[str, str | None] | None = None) -> None:
        """``reference_embeddings`` (R, e) are of ``points`` rows ``reference_positions``
        (R,); ``cluster_positions`` must be among them. ``predict`` returns (m, C)
        probabilities for texts and pairs (None skips the prediction check). ``terms``:
        a slice's terms, one of which a candidate must hold (empty skips the term check).
        ``mistake``: the target's (true label, predicted label) — a new text of that label
        the model reads as the target's rows is expected, not suspect."""
        self.config, self.embed, self.predict = config, embed, predict
        self.terms = tuple(terms)
        self.mistake = mistake
        self.label_names = list(label_names)
        self.ids = points["id"].to_numpy()[reference_positions]
        # rows the model gets wrong (a dataset without predictions: none known)
        wrong = (~points["correct"].to_numpy(bool) if "correct" in points.columns
                 else np.zeros(len(points), bool))
        self.misclassified = set(points["id"].to_numpy()[wrong].tolist())
        self.reference_labels = points["label"].astype(str).to_numpy()[reference_positions]
        self.reference = _unit(reference_embeddings)
        texts = point_texts(points)
        self.exact = {_normal(text): int(row_id)
                      for text, row_id in zip(texts, points["id"], strict=True)}
        words = pd.Series([len(text.split()) for text in texts])
        self.output = OutputChecker([texts[i] for i in reference_positions])
        self.length_range = {label: (0.5 * float(group.quantile(0.01)),
                                     1.5 * float(group.quantile(0.99)) + 2)
                             for label, group in words.groupby(points["label"].astype(str))}
        in_cluster = np.isin(reference_positions, cluster_positions)
        centroid = self.reference[in_cluster].mean(axis=0) if in_cluster.any() else None
        self.centroid = None if centroid is None else centroid / max(np.linalg.norm(centroid),
                                                                     1e-12)
        self.topic_threshold = None
        if self.centroid is not None and in_cluster.sum() >= 3 and (~in_cluster).any():
            own = self.reference[in_cluster] @ self.centroid
            outside = self.reference[~in_cluster] @ self.centroid
            self.topic_threshold = min(float(np.quantile(own, config.topic_quantile)),
                                       float(np.quantile(outside, 1 - config.topic_quantile)))

    def check(self, texts: Sequence[str], text_pairs: Sequence[str | None] | None,
              labels: Sequence[str], *, others: Sequence[str] = (),
              examples: Sequence[Example] = (),
              sources: Sequence[Example | None] | None = None) -> list[CandidateChecks]:
        """The seven checks of each candidate, with the warnings each raised (short
        sentences); the output check's findings are named by what they found (meta-talk,
        refusal, echo, repetition).

        ``others`` are texts of candidates already stored for this run (joined like
        ``texts.point_texts`` for pairs); ``examples`` are the prompt's few-shot examples
        (an echo of one is flagged); ``sources``: the row each candidate rewrites (None:
        not a rewrite), see the module."""
        pairs = list(text_pairs) if text_pairs is not None else [None] * len(texts)
        joined = [joined_text(text, pair) for text, pair in zip(texts, pairs, strict=True)]
        if not joined:
            return []
        vectors = _unit(np.asarray(self.embed(joined), dtype=np.float32))
        other_vectors = (_unit(np.asarray(self.embed(list(others)), dtype=np.float32))
                         if others else np.zeros((0, vectors.shape[1]), np.float32))
        probabilities = (self.predict(list(texts), None if all(p is None for p in pairs)
                                      else [p or "" for p in pairs])
                         if self.predict is not None else None)
        sources = list(sources) if sources is not None else [None] * len(texts)
        source_vectors = self._source_vectors(sources)
        results = []
        for i, (text, label, source) in enumerate(zip(joined, labels, sources, strict=True)):
            earlier = np.vstack([other_vectors, vectors[:i]])
            earlier_texts = list(others) + joined[:i]
            result = {
                "duplicate": self._duplicate(text, vectors[i], earlier, earlier_texts, source,
                                             source_vectors.get(source)),
                "length": self._length(text, label),
                "prediction": (self._prediction(probabilities[i], label, source)
                               if probabilities is not None else None),
                "intrusion": self._intrusion(vectors[i], label),
                "topic": self._topic(vectors[i]),
                "term": self._term(text),
            }
            output = self.output.check(text, [example for example in examples
                                              if source is None or example != source])
            result["output"] = output.to_json()
            results.append(_checks(result, _findings(result, label) + output.findings()))
        return results

    def _source_vectors(self, sources: Sequence[Example | None]) -> dict[Example, np.ndarray]:
        """The unit embedding of each distinct source row, in one call to the embedder."""
        distinct = list(dict.fromkeys(source for source in sources if source is not None))
        if not distinct:
            return {}
        vectors = _unit(np.asarray(self.embed([joined_text(source.text, source.text_pair)
                                               for source in distinct]), np.float32))
        return dict(zip(distinct, vectors, strict=True))

    def _duplicate(self, text: str, vector: np.ndarray, earlier: np.ndarray,
                   earlier_texts: list[str], source: Example | None = None,
                   source_vector: np.ndarray | None = None) -> dict:
        own = ({} if source is None or source_vector is None
               else self._source_closeness(text, vector, source, source_vector))
        if _normal(text) in self.exact:
            row_id = self.exact[_normal(text)]
            kind = "source" if source is not None and row_id == source.row_id else "exact"
            return {"kind": kind, "of": f"row {row_id}", "similarity": 1.0, **own}
        if _normal(text) in {_normal(other) for other in earlier_texts}:
            return {"kind": "exact", "of": "another candidate", "similarity": 1.0, **own}
        best = {"kind": None, "of": None, "similarity": 0.0, **own}
        if len(self.reference):
            # a rewrite is meant to stay near its own source: the nearest other row counts
            similarities = np.where(self.ids == (-1 if source is None else source.row_id),
                                    -1.0, self.reference @ vector)
            top = int(similarities.argmax())
            best.update({"of": f"row {int(self.ids[top])}",
                         "similarity": float(similarities[top])})
        if len(earlier):
            similarities = earlier @ vector
            top = int(similarities.argmax())
            if similarities[top] > best["similarity"]:
                best.update({"of": "another candidate",
                             "similarity": float(similarities[top])})
        if best["similarity"] >= self.config.near_duplicate:
            best["kind"] = "near"
        best["similarity"] = round(best["similarity"], 4)
        return best

    def _length(self, text: str, label: str) -> dict:
        words = len(text.split())
        low, high = self.length_range.get(label, (0.0, float("inf")))
        return {"words": words, "low": round(low, 1), "high": round(high, 1),
                "outlier": bool(words < low or words > high)}

    @staticmethod
    def _source_closeness(text: str, vector: np.ndarray, source: Example,
                          source_vector: np.ndarray) -> dict:
        """How close a rewrite stays to its ``source`` (``source_vector`` its unit
        embedding): the cosine similarity and the share of its words not taken from the
        source (``output_checks``' echo measure)."""
        similarity = float(source_vector @ vector)
        taken = echo_share(text.lower(), joined_text(source.text, source.text_pair).lower())
        return {"source": source.row_id, "source_similarity": round(similarity, 4),
                "changed": round(1.0 - taken, 3)}

    def _prediction(self, probabilities: np.ndarray, label: str,
                    source: Example | None = None) -> dict:
        """The model's label and confidence; ``expected`` when it disagrees on a rewrite of
        a row it gets wrong (that row was picked for the mistake), or, on a new text, makes
        the target's own mistake on it (``mistake``)."""
        predicted = int(np.argmax(probabilities))
        agrees = self.label_names[predicted] == label
        repeated = (source.row_id in self.misclassified if source is not None
                    else (label, self.label_names[predicted]) == self.mistake)
        return {"label": self.label_names[predicted],
                "confidence": round(float(probabilities[predicted]), 4), "agrees": agrees,
                "expected": not agrees and repeated}

    def _intrusion(self, vector: np.ndarray, label: str) -> dict:
        k = min(self.config.neighbours, len(self.reference))
        if k == 0:
            return {"nearest_label": None, "share_nearest": 0.0, "share_assigned": 0.0,
                    "intrudes": False}
        similarities = self.reference @ vector
        nearest = np.argpartition(-similarities, k - 1)[:k]
        counts = Counter(self.reference_labels[nearest])
        majority, majority_count = max(counts.items(), key=lambda item: (item[1], item[0] == label))
        closest = nearest[np.argsort(-similarities[nearest], kind="stable")[:SHOWN_NEIGHBOURS]]
        return {"nearest_label": majority, "share_nearest": majority_count / k,
                "share_assigned": counts.get(label, 0) / k,
                "intrudes": majority != label,
                "nearest": [{"row": int(self.ids[i]), "label": str(self.reference_labels[i]),
                             "similarity": round(float(similarities[i]), 4)}
                            for i in closest]}

    def _term(self, text: str) -> dict | None:
        if not self.terms:
            return None
        held = set(row_terms(text))
        return {"terms": list(self.terms), "kept": any(term in held for term in self.terms)}

    def _topic(self, vector: np.ndarray) -> dict | None:
        if self.centroid is None:
            return None
        similarity = float(vector @ self.centroid)
        threshold = self.topic_threshold
        return {"similarity": round(similarity, 4),
                "threshold": None if threshold is None else round(threshold, 4),
                "off_topic": bool(threshold is not None and similarity < threshold)}


def checker_for_run(explored: ExploredRun, target: Region, *, embed: Embed,
                    predict: Predict | None, config: CheckConfig = CheckConfig(),
                    progress: Callable[[float, str], None] | None = None) -> CandidateChecker:
    """A checker for ``target`` (a region) of an explored run, embedding
    the reference rows once (cached in the run directory)."""
    points = explored.points
    reference_positions = _reference_positions(len(points), target.rows, config)
    embeddings = RowEmbeddings(explored.run_dir, point_texts(points), embed)(
        reference_positions, progress=progress)
    return CandidateChecker(points, embeddings, reference_positions, target.rows,
                            embed=embed, predict=predict, label_names=explored.label_names,
                            config=config, terms=target.defining_terms,
                            mistake=(target.label, target.confused_with))


def _reference_positions(rows: int, cluster_positions: np.ndarray,
                         config: CheckConfig) -> np.ndarray:
    if rows <= config.max_reference:
        return np.arange(rows)
    rng = np.random.default_rng(config.seed)
    sample = rng.choice(rows, config.max_reference, replace=False)
    return np.union1d(sample, cluster_positions)


def _checks(details: dict, findings: list[tuple[str, str]]) -> CandidateChecks:
    """Each check's ``details`` with the (check, message) ``findings`` it raised; findings
    of a check without details of its own (the output check's kinds) follow."""
    raised: dict[str, list[str]] = {}
    for check, message in findings:
        raised.setdefault(check, []).append(message)
    results = [CheckResult(name, value, tuple(raised.pop(name, ())))
               for name, value in details.items()]
    return CandidateChecks(tuple(results + [CheckResult(name, None, tuple(messages))
                                            for name, messages in raised.items()]))


def _findings(result: dict, label: str) -> list[tuple[str, str]]:
    """(check, message) per check that fired; messages are formatted only for those (a
    check that did not fire lacks the fields its message names)."""
    duplicate, length, intrusion = result["duplicate"], result["length"], result["intrusion"]
    prediction, topic, term = result["prediction"], result["topic"], result["term"]
    fired = [
        ("duplicate", duplicate["kind"] == "exact",
         lambda: f"exact duplicate of {duplicate['of']}"),
        ("duplicate", duplicate["kind"] == "source",
         lambda: f"identical to the row it rewrites ({duplicate['of']})"),
        ("duplicate", duplicate["kind"] == "near",
         lambda: f"near duplicate of {duplicate['of']} "
                 f"(similarity {duplicate['similarity']:.2f})"),
        ("length", length["outlier"],
         lambda: f"{length['words']} words, unusual for '{label}' "
                 f"(expected {length['low']:.0f}–{length['high']:.0f})"),
        ("prediction", prediction is not None and not prediction["agrees"]
         and not prediction.get("expected"),
         lambda: f"the model predicts '{prediction['label']}' "
                 f"({prediction['confidence']:.0%}): a hard example, or a wrong label"),
        ("intrusion", intrusion["intrudes"],
         lambda: f"lies among '{intrusion['nearest_label']}' rows "
                 f"({intrusion['share_nearest']:.0%} of its nearest), not '{label}'"),
        ("topic", topic is not None and topic["off_topic"],
         lambda: f"off the region's topic (similarity {topic['similarity']:.2f})"),
        ("term", term is not None and not term["kept"],
         lambda: f"lost the slice's term '{' · '.join(term['terms'])}': test rows of the "
                 "slice are those that hold it"),
    ]
    return [(check, message()) for check, raised, message in fired if raised]


def check_notes(checks: CandidateChecks) -> list[str]:
    """What the checks found that is information, not a warning (short sentences): how
    much a rewrite changed of its source, and the model's expected disagreement with the
    rewrite of a row it gets wrong."""
    details = checks.to_json()
    notes = []
    closeness = details.get("duplicate") or {}
    if closeness.get("changed") is not None:
        notes.append(f"It changed {closeness['changed']:.0%} of its source's words "
                     f"(similarity {closeness['source_similarity']:.2f}).")
    prediction = details.get("prediction") or {}
    if prediction.get("expected"):
        why = ("it gets the source row wrong: expected for a rewrite of a mistake"
               if closeness.get("source") is not None
               else "the target's own mistake: a hard example, as expected")
        notes.append(f"The model predicts '{prediction['label']}' "
                     f"({prediction['confidence']:.0%}); {why}.")
    elif prediction.get("agrees"):
        notes.append(f"The model already predicts its label ({prediction['confidence']:.0%}).")
    return notes


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        return vectors.reshape(len(vectors), -1)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
