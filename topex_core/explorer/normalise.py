"""Min-max normalisation of logits to [-1, 1] per output dimension (TopEx §2.1).

The fitted bounds are kept so that the logits of a later model are scaled the same way and
land in the same space as the points they are compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from topex_core.errors import DataError


@dataclass(frozen=True)
class MinMaxScaler:
    """Per-dimension bounds: ``minimums`` and ``maximums`` are (C,) float64."""

    minimums: np.ndarray
    maximums: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> MinMaxScaler:
        """Bounds of ``values`` (N, C); raises ValueError on an empty or non-finite array."""
        return cls._fit_checked(_as_matrix(values))

    @classmethod
    def _fit_checked(cls, values: np.ndarray) -> MinMaxScaler:
        if len(values) == 0:
            raise DataError("cannot normalise an empty set of logits")
        return cls(values.min(axis=0), values.max(axis=0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(N, C) float32 in [-1, 1] for the fitted data; a constant dimension maps to 0.

        Values of another model may fall outside [-1, 1]; they are not clipped, so that
        movement beyond the old range stays visible.
        """
        return self._transform_checked(_as_matrix(values))

    def _transform_checked(self, values: np.ndarray) -> np.ndarray:
        if values.shape[1] != len(self.minimums):
            raise DataError(f"expected {len(self.minimums)} logit dimensions, "
                             f"got {values.shape[1]}")
        span = self.maximums - self.minimums
        # one multiply-add per value: 2·(v − min)/span − 1 = v·scale + offset
        scale = np.where(span > 0, 2.0 / np.where(span > 0, span, 1.0), 0.0)
        offset = np.where(span > 0, -1.0 - self.minimums * scale, 0.0)
        scaled = values * scale
        scaled += offset
        return scaled.astype(np.float32)


def normalise_logits(logits: np.ndarray) -> tuple[np.ndarray, MinMaxScaler]:
    """Fit on ``logits`` (N, C) and return (normalised (N, C) float32, scaler)."""
    values = _as_matrix(logits)  # converted and checked once for both steps
    scaler = MinMaxScaler._fit_checked(values)
    return scaler._transform_checked(values), scaler


def _as_matrix(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(f"logits must be a 2-D array (N, C), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise DataError("logits contain NaN or infinite values")
    return values
