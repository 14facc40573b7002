"""The interface every generation backend implements, and what it returns.

``backend.generate(prompts, n, sampling)`` asks for ``n`` completions of every prompt in
one batch (one engine call, or one request per prompt with ``n`` set) and returns
``Generated`` items: the raw text of one completion and where it came from. Parsing the
raw text into candidates is ``topex_core.augmenter.generation.parsing``'s job.

A backend that fails part-way raises ``GenerationError`` whose ``received`` holds every
completion that did arrive, so the caller can keep them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

from topex_core.augmenter.prompts import Prompt, completion_budget
from topex_core.errors import SettingsError, TopexError

# (prompt index, completion index, text so far): streamed text for a live preview
OnDelta = Callable[[int, int, str], None]


class GenerationError(TopexError):
    """Generation failed; ``received`` holds the completions that arrived before it did."""

    def __init__(self, message: str, received: Sequence[Generated] = ()) -> None:
        super().__init__(message)
        self.received = list(received)


class GenerationCancelled(GenerationError):
    """The user stopped generation; ``received`` holds what had arrived."""


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters, always sent explicitly (servers' defaults differ).

    ``seed`` seeds the first completion; completions asked for separately get seed + i.
    ``max_tokens`` is the length limit of one completion in tokens; None (the default)
    lets ``augment.generate_parsed`` size it from the prompt's examples
    (``prompts.completion_budget``): a small model that is not stopped writes on long after
    its sample, and every token costs time.
    """

    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int | None = None
    seed: int = 0

    def validate(self) -> Sampling:
        if not 0.0 <= self.temperature <= 2.0:
            raise SettingsError(f"temperature must be in [0, 2], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise SettingsError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens is not None and not 1 <= self.max_tokens <= 8192:
            raise SettingsError(f"max_tokens must be in [1, 8192], got {self.max_tokens}")
        return self

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Generated:
    """One raw completion. ``tokens`` is its length in generated tokens where known."""

    prompt_index: int
    raw: str
    backend: str
    model: str
    seed: int | None
    sampling: dict = field(default_factory=dict)
    tokens: int | None = None


class Backend(Protocol):
    """What the augmenter needs from a generator."""

    name: str
    model: str

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: Sampling, *,
                 on_delta: OnDelta | None = None) -> list[Generated]:
        """``n`` completions of every prompt, in prompt order."""
        ...


def check_request(prompts: Sequence[Prompt], n: int, sampling: Sampling) -> Sampling:
    """The sampling a backend uses (``max_tokens`` sized from the prompts when None);
    SettingsError for a request no backend can serve."""
    if not prompts:
        raise SettingsError("no prompt to generate from")
    if not 1 <= n <= 1000:
        raise SettingsError(f"n must be between 1 and 1000 candidates per prompt, got {n}")
    sampling.validate()
    if sampling.max_tokens is None:
        sampling = replace(sampling, max_tokens=max(completion_budget(prompt)
                                                    for prompt in prompts))
    return sampling
