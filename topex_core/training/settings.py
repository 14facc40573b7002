"""What a run's settings resolve to on this hardware and this data: the precision of
fine-tuning and of the forward passes, and the number of epochs; and the values runs
written before a setting existed were made with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from topex_core.config import PRECISIONS
from topex_core.errors import SettingsError
from topex_core.training import tokens
from topex_core.training.hardware import cuda_available

if TYPE_CHECKING:
    from topex_core.train_config import TrainConfig

DEFAULT_EPOCHS = 3
LONG_TEXT_EPOCHS = 2
# the float32 path's long-text levers (measured in bench/bench_long_texts.py, README)
FLOAT32_LONG_TEXT_FROZEN_LAYERS = 1
FLOAT32_LONG_TEXT_LOGITS = "int8"


def epochs_for(config: TrainConfig, max_length: int) -> int:
    """The epochs a fine-tune with this budget (tokens) runs: ``config.epochs`` when set."""
    if config.epochs is not None:
        return config.epochs
    return LONG_TEXT_EPOCHS if max_length > tokens.LONG_TEXT_TOKENS else DEFAULT_EPOCHS


def frozen_layers_for(config: TrainConfig, max_length: int) -> int:
    """The lowest encoder layers a fine-tune with this budget (tokens) freezes:
    ``config.freeze_layers`` when set; else ``FLOAT32_LONG_TEXT_FROZEN_LAYERS`` for long
    texts fine-tuned in float32 (compute-bound there: freezing cuts the backward pass of
    those layers; measured in bench/bench_long_texts.py), none elsewhere. ``config`` is
    resolved."""
    if config.freeze_layers is not None:
        return config.freeze_layers
    long_texts = max_length > tokens.LONG_TEXT_TOKENS
    slow = config.fine_tune and config.train_precision == "float32"
    return FLOAT32_LONG_TEXT_FROZEN_LAYERS if long_texts and slow else 0


def run_precision(precision: str, config: TrainConfig, max_length: int) -> str:
    """The precision of a run's forward passes: ``precision`` unless it is "auto". For a
    model fine-tuned on long texts (a budget above ``tokens.LONG_TEXT_TOKENS``, where the
    logits are a fifth of the first map's time), "auto" is bfloat16 where it was
    fine-tuned in bfloat16 (the hardware is fast at it), else ``FLOAT32_LONG_TEXT_LOGITS``
    (int8: 1.5x faster at -0.2 points in bench/bench_long_texts.py); float32, the exact
    logits, everywhere else. ``config`` is resolved."""
    if precision != "auto":
        return check_precision(precision)
    long_texts = max_length > tokens.LONG_TEXT_TOKENS
    if not (long_texts and config.fine_tune):
        return "float32"
    if config.train_precision == "bfloat16":
        return "bfloat16"
    return "float32" if cuda_available() else FLOAT32_LONG_TEXT_LOGITS  # int8 is CPU-only


def check_precision(precision: str) -> str:
    """``precision`` itself when it is one of :data:`PRECISIONS`, else a ValueError."""
    if precision not in PRECISIONS:
        raise SettingsError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    return precision
