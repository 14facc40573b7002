"""What a run's settings resolve to on this hardware and this data: the precision of
fine-tuning and of the forward passes, and the number of epochs; and the values runs
written before a setting existed were made with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from topex_core.config import PRECISIONS
from topex_core.errors import SettingsError
from topex_core.training import tokens

if TYPE_CHECKING:
    from topex_core.training.classifier import TrainConfig

# Runs and experiments written before a setting existed were made with these values.
LEGACY_SETTINGS = {"truncation": "head", "train_precision": "float32"}
DEFAULT_EPOCHS = 3
LONG_TEXT_EPOCHS = 2


def epochs_for(config: TrainConfig, max_length: int) -> int:
    """The epochs a fine-tune with this budget (tokens) runs: ``config.epochs`` when set."""
    if config.epochs is not None:
        return config.epochs
    return LONG_TEXT_EPOCHS if max_length > tokens.LONG_TEXT_TOKENS else DEFAULT_EPOCHS


def fast_train_precision() -> str:
    """"bfloat16" where autocast runs it fast (AMX or AVX512-BF16 CPU, bfloat16 GPU), else
    "float32" (emulated bfloat16 would be slower than float32)."""
    if torch.cuda.is_available():
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    except OSError:  # not Linux: no cheap way to know, so the exact path
        return "float32"
    return "bfloat16" if {"amx_bf16", "avx512_bf16"} & set(flags) else "float32"


def run_precision(precision: str, config: TrainConfig, max_length: int) -> str:
    """The precision of a run's forward passes: ``precision`` unless it is "auto", which
    is bfloat16 where the model was fine-tuned in bfloat16 (the hardware is fast at it)
    and its budget is above ``tokens.LONG_TEXT_TOKENS`` (long texts, where the logits are
    a fifth of the first map's time), else float32, the exact logits. ``config`` is
    resolved."""
    if precision != "auto":
        return check_precision(precision)
    long_texts = max_length > tokens.LONG_TEXT_TOKENS
    fast = config.fine_tune and config.train_precision == "bfloat16"
    return "bfloat16" if long_texts and fast else "float32"


def check_precision(precision: str) -> str:
    """``precision`` itself when it is one of :data:`PRECISIONS`, else a ValueError."""
    if precision not in PRECISIONS:
        raise SettingsError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    return precision
