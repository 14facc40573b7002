"""The samples an experiment adds, as rows of ``SAMPLE_COLUMNS`` (text, text_pair, label,
backend, model, generator_seed, source_id): parsed from a generator's completions (with
the checks a human would see on the Augment page), or labelled pool rows (the oracle's
and random rows')."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from topex_core.augmenter.augment import (
    REWRITE_MODES,
    AugmentRequest,
    TargetContext,
    generate_parsed,
    prepare_prompts,
)
from topex_core.augmenter.checks import CandidateChecker, checker_for_run
from topex_core.augmenter.generation import Backend, Sampling
from topex_core.augmenter.prompts import Example, Prompt, build_prompt
from topex_core.data.dataset import TextDataset
from topex_core.data.texts import point_texts
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.training.embeddings import Embed

MakeBackend = Callable[[TargetContext | None, Sequence[str]], Backend]

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


class SeedGenerators:
    """One seed's generated samples: for a region (one context, backend and checker per
    region, built once) and EDA rewrites of random training rows (the paper's baseline).
    ``make_backend(context, texts)`` builds a generator (context None: the baseline's);
    ``shots`` few-shot examples (EDA takes as many as it makes samples, up to 10)."""

    def __init__(self, explored: ExploredRun, pool: TextDataset, make_backend: MakeBackend,
                 embed: Embed, generator: str, shots: int, seed: int) -> None:
        self.explored, self.pool, self.make_backend = explored, pool, make_backend
        self.embed, self.generator, self.shots, self.seed = embed, generator, shots, seed
        self._regions: dict[tuple[str, str], tuple[TargetContext, Backend,
                                                   CandidateChecker]] = {}
        self._random_backend: Backend | None = None

    def for_region(self, region: Region, n: int, mode: str) -> pd.DataFrame:
        """Up to n samples for ``region`` in ``mode`` (``augment.MODES``) with the checks'
        ``warnings`` and the names of those that ``fired``."""
        key = (region.kind, region.key)
        if key not in self._regions:
            context = TargetContext(self.explored, region)
            self._regions[key] = (
                context, self.make_backend(context, point_texts(context.rows)),
                checker_for_run(self.explored, region, embed=self.embed, predict=None))
        context, backend, checker = self._regions[key]
        shots = max(self.shots, n) if self.generator == "eda" else self.shots
        request = AugmentRequest(n=n, shots=min(shots, 10), mode=mode,
                                 sampling=Sampling(seed=self.seed))
        prompts = prepare_prompts(context, request)
        samples = generated_samples(backend, prompts, n, request.sampling)
        if samples.empty:
            return samples
        pairs = samples["text_pair"].tolist() if context.pair else None
        # each rewrite is checked against its own source row, as the pages check it
        source_of = {example.row_id: example for prompt in prompts for example in prompt.examples}
        sources = ([None if row_id is None or row_id != row_id else source_of.get(int(row_id))
                    for row_id in samples["source_id"]] if mode in REWRITE_MODES
                   else None)
        checks = checker.check(samples["text"].tolist(), pairs, samples["label"].tolist(),
                               examples=[e for prompt in prompts for e in prompt.examples],
                               sources=sources)
        samples["warnings"] = [check.warnings for check in checks]
        samples["fired"] = [check.fired for check in checks]
        return samples

    def random_rows(self, positions: np.ndarray, n: int) -> pd.DataFrame:
        """Rewrites of n random rows among the pool ``positions``, keeping their labels."""
        pool = self.pool
        chosen = np.random.default_rng([self.seed, n, 11]).choice(
            positions, size=min(n, len(positions)), replace=False)
        pair = pool.text_pairs is not None
        if self._random_backend is None:
            self._random_backend = self.make_backend(None, [pool.texts[i] for i in positions])
        rows = []
        for position in chosen:
            example = Example(pool.texts[position], pool.text_pairs[position] if pair else None,
                              row_id=int(pool.ids[position]))
            prompt = build_prompt(task="nli" if pair else "text",
                                  label=pool.label_names[pool.labels[position]],
                                  issue="a random training row", examples=[example])
            rows.append(generated_samples(self._random_backend, [prompt], 1,
                                          Sampling(seed=self.seed + int(position))))
        return pd.concat(rows, ignore_index=True) if rows else empty_samples()
