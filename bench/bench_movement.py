"""How heavy the before → after view is: the figure's JSON (what a browser receives on
every rerun) and the time to build it, at 2k and 100k rows.

    python bench/bench_movement.py [--rows 2000 100000]

A head-mode round moves nearly every row a little and changes the correctness of a few
percent; the synthetic round here does the same (every row shifted, about 1.6% fixed or
broken, a 40-row target, 5 samples). Compared in the same run with the obvious alternative — the
view this replaced, with a line for every row that moved and every row animated — to show
what drawing only the story saves.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from topex_core.movement_plot import ANIMATION_STEPS, movement_map

LABELS = ["negative", "positive"]


def synthetic_round(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame,
                                                       np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    before = rng.normal(size=(rows, 2)).astype(np.float32)
    after_xy = before + rng.normal(0, 0.05, size=(rows, 2)).astype(np.float32)
    labels = rng.integers(0, 2, rows)
    correct = rng.random(rows) > 0.1
    flips = rng.random(rows)
    correct_after = np.where(flips < 0.02, True, np.where(flips < 0.035, False, correct))
    pred = np.where(correct, labels, 1 - labels)
    pred_after = np.where(correct_after, labels, 1 - labels)
    points = pd.DataFrame({"text": [f"review number {i} of the synthetic round" for i in
                                    range(rows)],
                           "label": np.array(LABELS)[labels], "pred": np.array(LABELS)[pred],
                           "correct": correct, "tsne_x": before[:, 0], "tsne_y": before[:, 1]})
    after = pd.DataFrame({"pred_after": pred_after, "correct_after": correct_after,
                          "tsne_x": after_xy[:, 0], "tsne_y": after_xy[:, 1]})
    target = np.zeros(rows, bool)
    target[:40] = True
    samples = pd.DataFrame({"candidate_id": range(5), "text": ["a sample"] * 5,
                            "label": ["positive"] * 5, "pred_before": ["negative"] * 5,
                            "pred_after": ["positive"] * 5, "tsne_x_before": np.zeros(5),
                            "tsne_y_before": np.zeros(5), "tsne_x": np.ones(5),
                            "tsne_y": np.ones(5)})
    return points, after, target, samples


def every_row_moving(points: pd.DataFrame, after: pd.DataFrame) -> go.Figure:
    """The alternative: every row a marker with a line from where it was, all animated."""
    start = points[["tsne_x", "tsne_y"]].to_numpy(np.float32)
    end = after[["tsne_x", "tsne_y"]].to_numpy(np.float32)

    def traces(t: float) -> list[go.Scattergl]:
        current = start + t * (end - start)
        segments = np.full((3 * len(start), 2), np.nan, np.float32)
        segments[0::3], segments[1::3] = start, current
        return [go.Scattergl(x=segments[:, 0], y=segments[:, 1], mode="lines"),
                go.Scattergl(x=current[:, 0], y=current[:, 1], mode="markers")]

    figure = go.Figure(traces(1.0))
    figure.frames = [go.Frame(name=str(t), data=traces(t))
                     for t in np.linspace(0, 1, ANIMATION_STEPS + 1)]
    return figure


def measure(build, repeats: int = 3) -> tuple[float, int]:
    """(median seconds to build and serialise, JSON bytes)."""
    timings, size = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        size = len(build().to_json())
        timings.append(time.perf_counter() - start)
    return float(np.median(timings)), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000, 100_000])
    args = parser.parse_args()
    for rows in args.rows:
        points, after, target, samples = synthetic_round(rows)
        story_s, story_bytes = measure(partial(
            movement_map, points, after, label_names=LABELS, target=target,
            target_name="cluster 3", samples=samples))
        every_s, every_bytes = measure(partial(every_row_moving, points, after))
        print(json.dumps({"benchmark": "movement_view", "rows": rows,
                          "moving_rows": int((target | (points["correct"].to_numpy()
                                                        != after["correct_after"].to_numpy())
                                              ).sum()),
                          "story_json_mb": round(story_bytes / 1e6, 2),
                          "story_build_s": round(story_s, 2),
                          "every_row_json_mb": round(every_bytes / 1e6, 2),
                          "every_row_build_s": round(every_s, 2),
                          "json_ratio": round(every_bytes / story_bytes, 1)}))


if __name__ == "__main__":
    main()
