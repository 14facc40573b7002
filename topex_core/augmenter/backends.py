"""Which generator and which predictor a target gets: EDA with the target's own vocabulary,
an OpenAI-compatible server, or a model loaded into this process (``target_backend``,
``local_backend``), and the run's classifier for the candidate checks
(``classifier_predict``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from topex_core.augmenter.checks import Predict
from topex_core.augmenter.generation import Backend, backend_spec
from topex_core.data.texts import point_texts
from topex_core.rundir import has_classifier
from topex_core.training.embeddings import Embed
from topex_core.training.run import load_run_classifier

if TYPE_CHECKING:  # augment's target: its rows give EDA its vocabulary
    from topex_core.augmenter.augment import TargetContext


def target_backend(name: str, context: TargetContext, *, embed: Embed,
                   model: str | None = None, base_url: str | None = None,
                   api_key: str | None = None, timeout_s: float = 120.0,
                   concurrency: int = 4, stream: bool = False) -> Backend:
    """The generator ``name`` for ``context``, by where its text comes from
    (``registry.BackendSpec.source``): EDA with the target's own vocabulary, an
    OpenAI-compatible server (``base_url``, ``model``), or a model in this process
    (``model``: a directory or id)."""
    spec = backend_spec(name)
    if spec.source == "vocabulary":
        return eda_for_target(context, embed)
    if spec.source == "server":
        return spec.build(base_url=base_url, model=model, api_key=api_key,
                          timeout_s=timeout_s, concurrency=concurrency, stream=stream)
    return local_backend(name, model)


def local_backend(name: str, model: str | None) -> Backend:
    """A generator that loads ``model`` (a directory or id) into this process; without a
    model the transformers backend uses the packaged SmolLM2-135M-Instruct."""
    return backend_spec(name).build(model=model or None)


def classifier_predict(run_dir: Path) -> Predict | None:
    """The run's classifier as ``(texts, pairs) -> (m, C) probabilities``; None for a run
    of imported predictions, which has no classifier (the prediction check is skipped)."""
    from topex_core.training.classifier import predict_logits, softmax

    if not has_classifier(run_dir):
        return None
    classifier = load_run_classifier(run_dir)

    def predict(texts: Sequence[str], pairs: Sequence[str] | None) -> np.ndarray:
        return softmax(predict_logits(classifier, texts, pairs))

    return predict


def eda_for_target(context: TargetContext, embed: Embed, **options) -> Backend:
    """The EDA backend with synonyms from the target's own vocabulary."""
    from topex_core.augmenter.generation.eda import EdaBackend, vocabulary_synonyms

    return EdaBackend(vocabulary_synonyms(point_texts(context.rows), embed), **options)
