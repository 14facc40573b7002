"""Easy Data Augmentation (Wei & Zou, 2019): the offline baseline, no language model.

Each candidate is one few-shot example of the prompt changed by one operation:
synonym replacement, random insertion (of a synonym of a word already there), random
swap or random deletion, touching ``alpha`` of the words (at least one). WordNet is not
used: synonyms come from the cluster's own vocabulary, the nearest words by sentence
embedding (``vocabulary_synonyms``), so replacements stay in the cluster's register.
For sentence pairs only the premise is changed; the hypothesis is kept as written.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from topex_core.augmenter.generation.base import (
    Generated,
    GenerationError,
    OnDelta,
    Sampling,
    check_request,
)
from topex_core.augmenter.prompts import PAIR_TASKS, Prompt
from topex_core.errors import SettingsError
from topex_core.training.embeddings import Embed

OPERATIONS = ("synonym_replacement", "random_insertion", "random_swap", "random_deletion")
WORD = re.compile(r"[a-z][a-z'-]{2,}")


def vocabulary_synonyms(texts: Sequence[str], embed: Embed, *, max_words: int = 2_000,
                        per_word: int = 3, min_similarity: float = 0.5) -> dict[str, list[str]]:
    """For each frequent content word of ``texts``, up to ``per_word`` nearest other words
    of the same texts with cosine similarity ≥ ``min_similarity`` (embeddings of the
    words themselves)."""
    counts = Counter(word for text in texts for word in WORD.findall(text.lower())
                     if word not in ENGLISH_STOP_WORDS)
    words = [word for word, _ in counts.most_common(max_words)]
    if len(words) < 2:
        return {}
    vectors = np.asarray(embed(words), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    synonyms = {}
    for row, word in enumerate(words):
        nearest = np.argsort(-similarity[row])[:per_word]
        chosen = [words[i] for i in nearest if similarity[row, i] >= min_similarity]
        if chosen:
            synonyms[word] = chosen
    return synonyms


class EdaBackend:
    """``generate`` changes the prompts' examples; a prompt without examples is an error."""

    name = "eda"
    model = "eda"

    def __init__(self, synonyms: dict[str, list[str]] | None = None, *,
                 alpha: float = 0.1) -> None:
        if not 0.0 < alpha <= 0.5:
            raise SettingsError(f"EDA alpha must be in (0, 0.5], got {alpha}")
        self.synonyms = synonyms or {}
        self.alpha = alpha

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: Sampling, *,
                 on_delta: OnDelta | None = None) -> list[Generated]:
        sampling = check_request(prompts, n, sampling)
        outputs = []
        for prompt_index, prompt in enumerate(prompts):
            if not prompt.examples:
                raise GenerationError("the eda backend rewrites examples of the cluster; "
                                      "choose at least one few-shot example", outputs)
            for i in range(n):
                example = prompt.examples[i % len(prompt.examples)]
                seed = sampling.seed + i
                rng = np.random.default_rng([seed, prompt_index])
                start = (i // len(prompt.examples)) % len(OPERATIONS)
                text, operation = self.augment(example.text, rng, start)
                raw = (json.dumps({"premise": text, "hypothesis": example.text_pair or ""})
                       if prompt.task in PAIR_TASKS else text)
                if on_delta is not None:
                    on_delta(prompt_index, i, raw)
                outputs.append(Generated(
                    prompt_index=prompt_index, raw=raw, backend=self.name, model=self.model,
                    seed=seed, sampling={"alpha": self.alpha, "operation": operation,
                                         **({"source_id": example.row_id}
                                            if example.row_id is not None else {})},
                    tokens=len(text.split())))
        return outputs

    def augment(self, text: str, rng: np.random.Generator, start: int = 0) -> tuple[str, str]:
        """(changed text, operation) trying operations from ``start`` until one changes it."""
        words = text.split()
        for step in range(len(OPERATIONS)):
            operation = OPERATIONS[(start + step) % len(OPERATIONS)]
            changed = getattr(self, f"_{operation}")(list(words), rng)
            if changed and changed != words:
                return " ".join(changed), operation
        return text, "unchanged"

    def _count(self, words: list[str]) -> int:
        return max(1, int(self.alpha * len(words)))

    def _replaceable(self, words: list[str]) -> list[int]:
        return [i for i, word in enumerate(words) if _key(word) in self.synonyms]

    def _synonym_replacement(self, words: list[str], rng: np.random.Generator) -> list[str]:
        positions = self._replaceable(words)
        for i in rng.permutation(positions)[: self._count(words)]:
            words[i] = str(rng.choice(self.synonyms[_key(words[i])]))
        return words

    def _random_insertion(self, words: list[str], rng: np.random.Generator) -> list[str]:
        # the sources are chosen among the original words: an insertion shifts positions
        sources = [words[i] for i in self._replaceable(words)]
        if not sources:
            return words
        for _ in range(self._count(words)):
            source = sources[int(rng.integers(0, len(sources)))]
            words.insert(int(rng.integers(0, len(words) + 1)),
                         str(rng.choice(self.synonyms[_key(source)])))
        return words

    def _random_swap(self, words: list[str], rng: np.random.Generator) -> list[str]:
        if len(words) < 2:
            return words
        for _ in range(self._count(words)):
            a, b = rng.choice(len(words), 2, replace=False)
            words[a], words[b] = words[b], words[a]
        return words

    def _random_deletion(self, words: list[str], rng: np.random.Generator) -> list[str]:
        if len(words) < 2:
            return words
        kept = [word for word in words if rng.random() >= self.alpha]
        if len(kept) == len(words):
            del kept[int(rng.integers(0, len(kept)))]
        return kept or [words[int(rng.integers(0, len(words)))]]


def _key(word: str) -> str:
    return word.lower().strip(".,;:!?\"'()[]")
