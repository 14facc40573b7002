"""What a run's settings resolve to on this hardware and this data: the precision of
fine-tuning and of the forward passes, and the number of epochs; and the values runs
written before a setting existed were made with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from topex_core.config import PRECISIONS
from topex_core.errors import SettingsError
from topex_core.training import tokens

if TYPE_CHECKING:
    from topex_core.train_config import TrainConfig

DEFAULT_EPOCHS = 3
LONG_TEXT_EPOCHS = 2
# The float32 path's long-text levers (the lowest layer frozen, int8 logits) are opt-in: on
# documents whose label is only in their last part they cost 1.1 points (37 documents lost,
# 26 gained of 1,000; McNemar p = 0.21) for 210 s of training and logits instead of 271 s,
# and on real reviews 1.8 points (bench/bench_long_texts.py, README).


def epochs_for(config: TrainConfig, max_length: int) -> int:
    """The epochs a fine-tune with this budget (tokens) runs: ``config.epochs`` when set."""
    if config.epochs is not None:
        return config.epochs
    return LONG_TEXT_EPOCHS if max_length > tokens.LONG_TEXT_TOKENS else DEFAULT_EPOCHS


def frozen_layers_for(config: TrainConfig) -> int:
    """The lowest encoder layers a fine-tune freezes: ``config.freeze_layers`` when set,
    else none (``--freeze-layers 1`` saves their backward pass at a cost in accuracy, see
    above)."""
    return config.freeze_layers if config.freeze_layers is not None else 0


def run_precision(precision: str, config: TrainConfig, max_length: int) -> str:
    """The precision of a run's forward passes: ``precision`` unless it is "auto". For a
    model fine-tuned on long texts (a budget above ``tokens.LONG_TEXT_TOKENS``, where the
    logits are a fifth of the first map's time) in bfloat16 (the hardware is fast at it),
    "auto" is bfloat16; float32, the exact logits, everywhere else (int8 is opt-in: see
    above). ``config`` is resolved."""
    if precision != "auto":
        return check_precision(precision)
    long_texts = max_length > tokens.LONG_TEXT_TOKENS
    if long_texts and config.fine_tune and config.train_precision == "bfloat16":
        return "bfloat16"
    return "float32"


def check_precision(precision: str) -> str:
    """``precision`` itself when it is one of :data:`PRECISIONS`, else a ValueError."""
    if precision not in PRECISIONS:
        raise SettingsError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    return precision
