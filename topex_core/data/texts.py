"""The text of a row as every stage reads it: one string, a sentence pair joined by a
separator (the explorer's terms, the checks' embeddings, the prompts' examples)."""

from __future__ import annotations

import pandas as pd

PAIR_SEPARATOR = " || "


def joined_text(text: str, text_pair: str | None) -> str:
    """One text for a row, a sentence pair joined by ``PAIR_SEPARATOR``."""
    return text if not isinstance(text_pair, str) else f"{text}{PAIR_SEPARATOR}{text_pair}"


def point_texts(points: pd.DataFrame) -> list[str]:
    """The text of each row of ``points`` (columns text and, for pairs, text_pair)."""
    if "text_pair" in points.columns:
        return [joined_text(a, b) for a, b in zip(points["text"], points["text_pair"],
                                                   strict=True)]
    return points["text"].tolist()
