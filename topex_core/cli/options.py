"""Options that several commands share."""

from __future__ import annotations

import argparse

from topex_core.config import TRAIN_PRECISIONS, TRUNCATIONS


def add_long_text_arguments(parser: argparse.ArgumentParser) -> None:
    """How long texts are cut and in which precision a fine-tune runs."""
    parser.add_argument("--truncation", default=None, choices=TRUNCATIONS,
                        help="what a text longer than the budget keeps: head_tail (its first "
                             "quarter and last three quarters; default when fine-tuning, "
                             "budget ≤ 192 tokens) or head (its start; default with "
                             "--no-fine-tune, budget ≤ 256)")
    parser.add_argument("--train-precision", default="auto", choices=TRAIN_PRECISIONS,
                        help="of the fine-tune: auto (bfloat16 autocast on CPUs with AMX or "
                             "AVX512-BF16 and bfloat16 GPUs, else float32), float32, bfloat16")
    parser.add_argument("--freeze-layers", type=int, default=None, metavar="N",
                        help="keep the embeddings and the N lowest encoder layers as "
                             "pre-trained (no backward pass through them; 1 with --precision "
                             "int8: long-text training and logits in float32 in 210 s "
                             "instead of 271 s, at 1.1 points); default 0")
