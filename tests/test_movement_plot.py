from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topex_core.movement_plot import MAX_CHANGE_LINES, movement_map, movement_summary

LABELS = ["a", "b"]


def frames(rows: int = 40, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows 0–9 wrong before; 0–7 fixed, 39 broken; every row shifted right a little."""
    rng = np.random.default_rng(seed)
    points = pd.DataFrame({"text": [f"<b>row {i}</b>" for i in range(rows)],
                           "label": ["a"] * rows, "pred": ["b"] * 10 + ["a"] * (rows - 10),
                           "correct": [False] * 10 + [True] * (rows - 10),
                           "tsne_x": rng.normal(size=rows).astype(np.float32),
                           "tsne_y": rng.normal(size=rows).astype(np.float32)})
    correct_after = np.array([True] * 8 + [False] * 2 + [True] * (rows - 11) + [False])
    after = pd.DataFrame({"pred_after": np.where(correct_after, 0, 1),
                          "correct_after": correct_after,
                          "tsne_x": points["tsne_x"] + 0.01, "tsne_y": points["tsne_y"]})
    after.loc[:7, "tsne_x"] += 2.0  # the fixed rows travel
    return points, after


def samples() -> pd.DataFrame:
    return pd.DataFrame({"candidate_id": [5, 6], "text": ["fee refund", "refund fee"],
                         "label": ["a", "a"], "pred_before": ["b", "b"],
                         "pred_after": ["a", "a"], "tsne_x_before": [0.0, 0.1],
                         "tsne_y_before": [0.0, 0.1], "tsne_x": [3.0, 3.1],
                         "tsne_y": [0.0, 0.1]})


def test_only_fixed_broken_target_rows_and_samples_move() -> None:
    points, after = frames()
    target = np.zeros(len(points), bool)
    target[:10] = True
    figure = movement_map(points, after, label_names=LABELS, target=target,
                          target_name="cluster 3", samples=samples())
    names = [trace.name for trace in figure.data]
    assert names == ["other rows, after (29)", "where they were (open rings)", "moves",
                     "cluster 3 (10 rows)", "fixed (8)", "broken (1)", "accepted samples (2)"]
    background, origins, lines, ring, fixed, broken, stars = figure.data
    np.testing.assert_allclose(origins.x, points["tsne_x"][[*range(8), 39]])
    assert list(origins.marker.color) == ["#0072B2"] * 8 + ["#D55E00"]
    assert len(background.x) == 29 and background.marker.opacity < 0.5
    np.testing.assert_allclose(fixed.x, after["tsne_x"][:8])  # opens on the after state
    assert len(lines.x) == 3 * (10 + 1 + 2)  # target (incl. fixed), broken, samples
    assert np.isnan(np.asarray(lines.x[2::3], float)).all()
    assert "&lt;b&gt;row 0&lt;/b&gt;" in fixed.text[0]
    assert "before: b ✗ → after: a ✓" in fixed.text[0]
    assert "base model: b → retrained: a" in stars.text[0]


def test_frames_run_from_before_to_after_and_carry_only_coordinates() -> None:
    points, after = frames()
    figure = movement_map(points, after, label_names=LABELS, samples=samples(), steps=4)
    assert [frame.name for frame in figure.frames] == ["before", "25.0%", "50.0%", "75.0%", "after"]
    assert [step.label for step in figure.layout.sliders[0].steps] == ["before", "", "", "", "after"]
    first, last = figure.frames[0], figure.frames[-1]
    assert list(first.traces) == [2, 3, 4, 5]  # the background and the origins never change
    np.testing.assert_allclose(first.data[1].x, points["tsne_x"][:8], atol=1e-6)
    np.testing.assert_allclose(last.data[1].x, after["tsne_x"][:8], atol=1e-6)
    np.testing.assert_allclose(first.data[3].x, [0.0, 0.1])
    assert first.data[1].text is None and first.data[1].marker.size is None
    assert np.isnan(np.asarray(first.data[0].x, float)[2::3]).all()
    assert figure.layout.updatemenus[0].buttons[0].label.startswith("▶")
    assert figure.layout.sliders[0].active == 4


def test_movement_summary_in_shares_of_the_map() -> None:
    points, after = frames()
    summary = movement_summary(points, after, "tsne")
    diagonal = np.hypot(*np.ptp(points[["tsne_x", "tsne_y"]].to_numpy(), axis=0))
    assert summary.median == pytest.approx(0.01 / diagonal, rel=1e-3)
    assert summary.share_over == pytest.approx(8 / 40)
    assert (summary.fixed, summary.broken, summary.rows) == (8, 1, 40)


def test_a_large_round_stays_light() -> None:
    points, after = frames(100_000)
    broken = np.zeros(len(points), bool)
    broken[10:12_000] = True  # many rows broke: their lines are capped
    after.loc[broken, "correct_after"] = False
    figure = movement_map(points, after, label_names=LABELS, steps=4)
    assert figure.data[0].text is None and figure.data[0].hoverinfo == "skip"
    assert len(figure.data[2].x) == 3 * MAX_CHANGE_LINES  # the longest moves keep lines
    assert len(figure.data[4].x) == 11_991  # every broken row is still drawn (row 99,999 too)
    assert len(figure.to_json()) < 6_000_000


def test_misaligned_frames_and_unknown_maps_are_refused() -> None:
    points, after = frames()
    with pytest.raises(ValueError, match="after-points"):
        movement_map(points, after.iloc[:5], label_names=LABELS)
    with pytest.raises(ValueError, match="unknown map"):
        movement_map(points, after, label_names=LABELS, map_name="umap")
