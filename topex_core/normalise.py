"""Min-max normalisation of logits to [-1, 1] per output dimension (TopEx §2.1).

The fitted bounds are kept so that the logits of a later model are scaled the same way and
land in the same space as the points they are compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MinMaxScaler:
    """Per-dimension bounds: ``minimums`` and ``maximums`` are (C,) float64."""

    minimums: np.ndarray
    maximums: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> MinMaxScaler:
        """Bounds of ``values`` (N, C); raises ValueError on an empty or non-finite array."""
        values = _as_matrix(values)
        if len(values) == 0:
            raise ValueError("cannot normalise an empty set of logits")
        return cls(values.min(axis=0), values.max(axis=0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(N, C) float32 in [-1, 1] for the fitted data; a constant dimension maps to 0.

        Values of another model may fall outside [-1, 1]; they are not clipped, so that
        movement beyond the old range stays visible.
        """
        values = _as_matrix(values)
        if values.shape[1] != len(self.minimums):
            raise ValueError(f"expected {len(self.minimums)} logit dimensions, "
                             f"got {values.shape[1]}")
        span = self.maximums - self.minimums
        safe_span = np.where(span > 0, span, 1.0)
        scaled = 2.0 * (values - self.minimums) / safe_span - 1.0
        return np.where(span > 0, scaled, 0.0).astype(np.float32)


def normalise_logits(logits: np.ndarray) -> tuple[np.ndarray, MinMaxScaler]:
    """Fit on ``logits`` (N, C) and return (normalised (N, C) float32, scaler)."""
    scaler = MinMaxScaler.fit(logits)
    return scaler.transform(logits), scaler


def _as_matrix(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"logits must be a 2-D array (N, C), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("logits contain NaN or infinite values")
    return values
