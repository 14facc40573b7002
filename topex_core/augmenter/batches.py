"""Many candidates in one go: ``generate_candidates`` in batches, each stored as it
arrives, so that a long request shows progress and time left and a stop keeps every
batch finished before it.

A batch is ``batch_size`` completions of the free prompt (its seed advanced by the
completions before it, so no batch repeats another), or ``batch_size`` rewrite prompts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from topex_core.augmenter.augment import (
    AugmentRequest,
    Outcome,
    TargetContext,
    generate_candidates,
    stored_texts,
)
from topex_core.augmenter.checks import CandidateChecker
from topex_core.augmenter.generation import Backend
from topex_core.augmenter.generation.base import OnDelta
from topex_core.augmenter.prompts import Prompt
from topex_core.data.texts import joined_text
from topex_core.errors import SettingsError
from topex_core.storage.store import Store

BATCH_SIZE = 5
# (completions finished, completions asked for) after each batch
OnBatch = Callable[[int, int], None]


def generate_in_batches(context: TargetContext, request: AugmentRequest,
                        prompts: Sequence[Prompt], *, backend: Backend,
                        checker: CandidateChecker, store: Store, batch_size: int = BATCH_SIZE,
                        on_batch: OnBatch | None = None, on_delta: OnDelta | None = None,
                        cancel: threading.Event | None = None) -> Outcome:
    """``generate_candidates`` over ``request.n`` completions in batches; the outcome of
    all batches together. It stops after the batch in which ``cancel`` is set or a
    backend fails (its error is the outcome's)."""
    if not prompts:
        raise SettingsError("no prompt to generate from")
    if batch_size < 1:
        raise SettingsError(f"batch size must be positive, got {batch_size}")
    per_prompt = -(-request.n // len(prompts))
    total = per_prompt * len(prompts)
    outcome = Outcome(candidates=[], completions=0, dropped=0)
    stored = stored_texts(store, context.run_dir)  # read once, not once per batch
    done = 0
    for chunk, count, seed_offset in _batches(prompts, per_prompt, batch_size):
        batch = replace(request, n=count * len(chunk),
                        sampling=replace(request.sampling,
                                         seed=request.sampling.seed + seed_offset))
        part = generate_candidates(context, batch, chunk, backend=backend, checker=checker,
                                   store=store, on_delta=on_delta, cancel=cancel,
                                   stored=stored)
        stored += [joined_text(item.candidate.text, item.candidate.text_pair)
                   for item in part.candidates]
        outcome.candidates += part.candidates
        outcome.completions += part.completions
        outcome.dropped += part.dropped
        done += count * len(chunk)
        if on_batch is not None:
            on_batch(done, total)
        if part.error or (cancel is not None and cancel.is_set()):
            outcome.error = part.error or "generation was stopped"
            break
    return outcome


def _batches(prompts: Sequence[Prompt], per_prompt: int, batch_size: int
             ) -> list[tuple[Sequence[Prompt], int, int]]:
    """(prompts, completions of each, seed offset) per batch."""
    if len(prompts) == 1:
        return [(prompts, min(batch_size, per_prompt - start), start)
                for start in range(0, per_prompt, batch_size)]
    return [(prompts[start:start + batch_size], per_prompt, start)
            for start in range(0, len(prompts), batch_size)]
