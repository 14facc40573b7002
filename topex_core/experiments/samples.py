"""The samples an experiment adds, as rows of ``SAMPLE_COLUMNS`` (text, text_pair, label,
backend, model, generator_seed, source_id): parsed from a generator's completions, or
labelled pool rows (the oracle's and random rows')."""

from __future__ import annotations

import numpy as np
import pandas as pd

from topex_core.augmenter.augment import generate_parsed
from topex_core.augmenter.generation import Backend, Sampling
from topex_core.augmenter.prompts import Prompt
from topex_core.data.dataset import TextDataset

POOL_BACKEND = "pool rows"
SAMPLE_COLUMNS = ["text", "text_pair", "label", "backend", "model", "generator_seed",
                  "source_id"]


def generated_samples(backend: Backend, prompts: list[Prompt], n: int,
                      sampling: Sampling) -> pd.DataFrame:
    """Up to n parsed samples (text, text_pair, label, backend, model, generator_seed,
    source_id: the rewritten row, if any) from n completions over ``prompts``."""
    parsed, _, _, _ = generate_parsed(backend, prompts, -(-n // len(prompts)), sampling)
    rows = [{"text": item.text, "text_pair": item.text_pair,
             "label": prompts[completion.prompt_index].label,
             "backend": completion.backend, "model": completion.model,
             "generator_seed": completion.seed,
             "source_id": rewritten_row(prompts[completion.prompt_index])}
            for completion, item in parsed]
    return pd.DataFrame(rows[:n]) if rows else empty_samples()


def rewritten_row(prompt: Prompt) -> int | None:
    """The row a rewrite prompt starts from (None for a free prompt)."""
    return (prompt.examples[0].row_id
            if len(prompt.examples) == 1 and prompt.examples[0].source == "rewrite" else None)


def empty_samples() -> pd.DataFrame:
    return pd.DataFrame(columns=SAMPLE_COLUMNS)


def rows_as_samples(pool: TextDataset, positions: np.ndarray) -> pd.DataFrame:
    """Pool rows in the samples' columns, each naming its row (``source_id``)."""
    pair = pool.text_pairs is not None
    return pd.DataFrame({
        "text": [pool.texts[i] for i in positions],
        "text_pair": [pool.text_pairs[i] for i in positions] if pair else None,
        "label": [pool.label_names[pool.labels[i]] for i in positions],
        "backend": POOL_BACKEND, "model": POOL_BACKEND, "generator_seed": None,
        "source_id": [int(pool.ids[i]) for i in positions]},
        columns=SAMPLE_COLUMNS)
