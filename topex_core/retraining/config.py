"""How a round is trained: its mode, seeds, controls and head schedule."""

from __future__ import annotations

from dataclasses import dataclass

from topex_core.config import MAX_SAMPLE_REPEATS, MAX_SEEDS, RETRAIN_MODES, SAMPLE_REPEATS
from topex_core.errors import TopexError
from topex_core.retraining.head import HeadSchedule
from topex_core.round_outcomes import CONTROLS


class RetrainError(TopexError):
    """A round cannot be trained; nothing was written."""


@dataclass(frozen=True)
class RetrainConfig:
    """``seeds`` None = the base run's seed. Two controls, each trained per seed beside the
    round (``controls``):

    - ``matched_control``: the round with its samples replaced by as many copies of
      training rows with the samples' labels, in the same proportions: the same rows,
      steps, batches and label balance, so that "beyond the control" is what the samples'
      *content* did. The verdict is read against it.
    - ``control``: the round without the samples: what retraining alone moves.

    None = on in head mode (seconds), off in full mode (each is one more fine-tune per
    seed). Head-mode optimiser settings are named ``head_*``.

    A run of imported predictions has no classifier: it is retrained in full mode only,
    fine-tuning ``backbone`` (None = the packaged default) on its data with and without
    the samples; the plain control is then always trained, since "before" is another
    model.

    ``sample_repeats``: each accepted sample is added this many times, so that a few dozen
    samples weigh against a thousand training rows (``SAMPLE_REPEATS``, chosen in
    ``bench/bench_repair.py``)."""

    mode: str = "head"
    seeds: tuple[int, ...] | None = None
    control: bool | None = None
    matched_control: bool | None = None
    head_epochs: int = 20
    head_learning_rate: float = 2e-3
    head_batch_size: int = 32
    backbone: str | None = None
    sample_repeats: int = SAMPLE_REPEATS

    def validate(self) -> RetrainConfig:
        if self.mode not in RETRAIN_MODES:
            raise RetrainError(f"unknown mode '{self.mode}'; choose one of "
                               f"{', '.join(RETRAIN_MODES)}")
        if self.seeds is not None and not 1 <= len(self.seeds) <= MAX_SEEDS:
            raise RetrainError(f"between 1 and {MAX_SEEDS} seeds, got {len(self.seeds)}")
        if not 1 <= self.head_epochs <= 1000 or self.head_batch_size < 1:
            raise RetrainError("head_epochs must be in [1, 1000] and head_batch_size ≥ 1")
        if not 1 <= self.sample_repeats <= MAX_SAMPLE_REPEATS:
            raise RetrainError(f"sample repeats must be between 1 and {MAX_SAMPLE_REPEATS}, "
                               f"got {self.sample_repeats}")
        return self

    @property
    def head_schedule(self) -> HeadSchedule:
        return HeadSchedule(self.head_epochs, self.head_learning_rate, self.head_batch_size)

    @property
    def with_control(self) -> bool:
        return self.control if self.control is not None else self.mode == "head"

    @property
    def with_matched_control(self) -> bool:
        return (self.matched_control if self.matched_control is not None
                else self.mode == "head")

    @property
    def controls(self) -> tuple[str, ...]:
        """The controls trained beside the round, in ``CONTROLS`` order (the label-matched
        one first)."""
        trained = {"matched": self.with_matched_control, "plain": self.with_control}
        return tuple(control for control in CONTROLS if trained[control])


def consecutive_seeds(base_seed: int, count: int) -> tuple[int, ...]:
    """``count`` seeds starting at the base run's: the first seed changes nothing but the
    samples, the others show how much of a change is seed noise."""
    if not 1 <= count <= MAX_SEEDS:
        raise RetrainError(f"the number of seeds must be between 1 and {MAX_SEEDS}, got {count}")
    return tuple(base_seed + offset for offset in range(count))
