from __future__ import annotations

import numpy as np
import pytest

from topex_core.explorer.normalise import MinMaxScaler, normalise_logits


def test_each_dimension_spans_minus_one_to_one() -> None:
    logits = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]])
    normalised, scaler = normalise_logits(logits)
    np.testing.assert_allclose(normalised, [[-1, -1], [0, 0], [1, 1]])
    assert normalised.dtype == np.float32


def test_constant_dimension_maps_to_zero_and_new_logits_are_not_clipped() -> None:
    scaler = MinMaxScaler.fit(np.array([[1.0, 0.0], [1.0, 4.0]]))
    np.testing.assert_allclose(scaler.transform(np.array([[1.0, 8.0]])), [[0.0, 3.0]])


@pytest.mark.parametrize(("bad", "message"), [
    (np.zeros((0, 3)), "empty"), (np.array([1.0, 2.0]), "2-D"),
    (np.array([[np.nan, 1.0]]), "NaN"),
])
def test_bad_logits(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_logits(bad)


def test_dimension_mismatch() -> None:
    with pytest.raises(ValueError, match="expected 2 logit dimensions"):
        MinMaxScaler.fit(np.zeros((2, 2))).transform(np.zeros((1, 3)))
