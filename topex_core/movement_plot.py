"""The before → after view of a training round: which rows the round fixed and broke, where
the target's rows and the accepted samples went, in the SAME map as before.

Only the rows that tell the story move on screen: fixed and broken rows, the target's
rows and the accepted samples take part in the animation (Plotly frames, a play button
and a slider from "before" to "after") and get a line from where they were (past
``MAX_CHANGE_LINES`` fixed and broken rows, only the longest moves keep one). Every
other row is drawn once, faint, at its after position; how far those rows shifted is
summarised in numbers (:func:`movement_summary`) instead of drawn, so that a round that
moves every row still reads at 100k rows (the figure's JSON grows with the moving rows,
not with the data; ``bench/bench_movement.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from topex_core.errors import SettingsError
from topex_core.plots import (
    BACKGROUND_GREY,
    HOVER_CHARS,
    HOVER_TEXT_LIMIT,
    MAP_TITLES,
    MAP_X_AXIS,
    MAP_Y_AXIS,
    OKABE_ITO,
    hover_text,
    plot_text,
)

SHIFT_THRESHOLD = 0.05  # a row "moved" when it shifted more than 5% of the map's diagonal
ANIMATION_STEPS = 8
# more lines than this hide the map: past it, the fixed and broken rows with the longest
# moves keep theirs (the target's rows and the samples always do)
MAX_CHANGE_LINES = 300


@dataclass(frozen=True)
class MovementSummary:
    """How far the pool's rows shifted in one map between the base and the retrained model.

    Distances are shares of the before-map's diagonal: ``median`` of all ``rows``, and the
    share of rows that moved more than ``threshold``.
    """

    rows: int
    median: float
    threshold: float
    share_over: float
    fixed: int
    broken: int


def movement_summary(points: pd.DataFrame, after: pd.DataFrame, map_name: str) -> MovementSummary:
    """Shift of every row between ``points`` (before) and the row-aligned ``after``."""
    start, end = _coordinates(points, after, map_name)
    diagonal = float(np.hypot(*np.ptp(start, axis=0))) or 1.0
    distance = np.hypot(*(end - start).T) / diagonal
    before_ok, after_ok = _correctness(points, after)
    return MovementSummary(
        rows=len(points), median=float(np.median(distance)) if len(distance) else 0.0,
        threshold=SHIFT_THRESHOLD,
        share_over=float((distance > SHIFT_THRESHOLD).mean()) if len(distance) else 0.0,
        fixed=int((after_ok & ~before_ok).sum()), broken=int((before_ok & ~after_ok).sum()))


def changed_rows(points: pd.DataFrame, after: pd.DataFrame, label_names: list[str]
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fixed, broken): the rows of ``points`` wrong before and right after, and right
    before and wrong after, with ``pred_after`` (a label name) and ``correct_after``."""
    joined = points.assign(pred_after=[label_names[i] for i in after["pred_after"]],
                           correct_after=after["correct_after"].to_numpy())
    before_ok, after_ok = _correctness(points, after)
    return joined[~before_ok & after_ok], joined[before_ok & ~after_ok]


def movement_map(points: pd.DataFrame, after: pd.DataFrame, *, label_names: list[str],
                 map_name: str = "tsne", target: np.ndarray | None = None,
                 target_name: str = "target", samples: pd.DataFrame | None = None,
                 steps: int = ANIMATION_STEPS) -> go.Figure:
    """Animated before → after map of a round (see the module docstring).

    ``points``: the explored pool (text, label, pred, correct, ``{map}_x/_y``); ``after``:
    the round's row-aligned after-points (pred_after, correct_after, ``{map}_x/_y``);
    ``target``: (N,) bools, the rows of the cluster or slice the samples were made for;
    ``samples``: the round's sample points (``read_sample_points``) or None. The figure
    opens on the after state; its frames run from before (t = 0) to after (t = 1).
    """
    start, end = _coordinates(points, after, map_name)
    before_ok, after_ok = _correctness(points, after)
    fixed, broken = after_ok & ~before_ok, before_ok & ~after_ok
    target = np.zeros(len(points), bool) if target is None else np.asarray(target, bool)
    after_names = np.asarray(label_names)[after["pred_after"].to_numpy()]
    moving = fixed | broken | target
    # hover texts for every moving row; for the others only while the figure stays light
    described = moving if len(points) > HOVER_TEXT_LIMIT else np.ones(len(points), bool)
    hovers = _row_hovers(points, after_names, before_ok, after_ok, described)
    figure = go.Figure()
    quiet = ~moving
    quiet_described = bool(described[quiet].all())
    figure.add_trace(go.Scattergl(
        x=end[quiet, 0], y=end[quiet, 1], mode="markers",
        name=f"other rows, after ({quiet.sum():,})",
        text=hovers[quiet] if quiet_described else None,
        hoverinfo="text" if quiet_described else "skip",
        marker={"size": 4, "color": BACKGROUND_GREY, "opacity": 0.35}))
    layers = [_Layer(name, start[mask], end[mask], marker, hovers[mask])
              for mask, name, marker in _row_layers(fixed, broken, target, target_name)
              if mask.any()]
    changed = np.flatnonzero((fixed | broken) & ~target)
    longest = changed[np.argsort(-np.hypot(*(end[changed] - start[changed]).T),
                                 kind="stable")[:MAX_CHANGE_LINES]]
    lined = np.sort(np.concatenate([np.flatnonzero(target), longest]))
    line_start, line_end = [start[lined]], [end[lined]]
    if samples is not None and len(samples):
        layers.append(_sample_layer(samples, map_name))
        line_start.append(layers[-1].start)
        line_end.append(layers[-1].end)
    lines = _Layer("moves", np.vstack(line_start), np.vstack(line_end), {}, None, lines=True)
    figure.add_trace(_origins(start, fixed, broken))
    for layer in [lines, *layers]:
        figure.add_trace(layer.trace(1.0))
    fractions = np.linspace(0.0, 1.0, steps + 1)
    moving_traces = list(range(2, 3 + len(layers)))  # after the background and the origins
    figure.frames = [go.Frame(name=_frame_name(t), traces=moving_traces,
                              data=[layer.positions(t) for layer in [lines, *layers]])
                     for t in fractions]
    _animation_controls(figure, fractions)
    figure.update_layout(
        template="plotly_white", height=680, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title={"text": f"Before → after in the same {MAP_TITLES[map_name]} map", "x": 0.01,
               "font": {"size": 15}},
        legend={"orientation": "h", "yanchor": "top", "y": -0.14, "x": 0, "font": {"size": 12}},
        xaxis=MAP_X_AXIS, yaxis=MAP_Y_AXIS, uirevision=map_name, hoverlabel={"font_size": 13})
    return figure


@dataclass(frozen=True)
class _Layer:
    """Rows drawn with the same marker that move from ``start`` to ``end`` ((n, 2) each)."""

    name: str
    start: np.ndarray
    end: np.ndarray
    marker: dict
    hovers: np.ndarray | None
    lines: bool = False

    def trace(self, t: float) -> go.Scattergl:
        """The whole trace at time ``t`` in [0, 1] (0: before, 1: after)."""
        trace = self.positions(t)
        if self.lines:
            trace.update(mode="lines", name=self.name, hoverinfo="skip",
                         line={"width": 1, "color": "rgba(60,60,60,0.45)"})
        else:
            trace.update(mode="markers", name=self.name, text=self.hovers, marker=self.marker,
                         hoverinfo="text" if self.hovers is not None else "skip")
        return trace

    def positions(self, t: float) -> go.Scattergl:
        """Only the coordinates at time ``t``: what an animation frame changes."""
        current = (self.start + t * (self.end - self.start)).astype(np.float32)
        if self.lines:
            return go.Scattergl(x=_segments(self.start[:, 0], current[:, 0]),
                                y=_segments(self.start[:, 1], current[:, 1]))
        return go.Scattergl(x=current[:, 0], y=current[:, 1])


def _origins(start: np.ndarray, fixed: np.ndarray, broken: np.ndarray) -> go.Scattergl:
    """Open rings where the fixed (blue) and broken (vermillion) rows were before: they stay
    visible when a round piles the rows onto a few after positions."""
    changed = fixed | broken
    return go.Scattergl(
        x=start[changed, 0], y=start[changed, 1], mode="markers", hoverinfo="skip",
        name="where they were (open rings)",
        marker={"size": 7, "symbol": "circle-open", "line": {"width": 1.5},
                "color": np.where(fixed[changed], OKABE_ITO[3], OKABE_ITO[4])})


def _row_layers(fixed: np.ndarray, broken: np.ndarray, target: np.ndarray,
                target_name: str) -> list[tuple[np.ndarray, str, dict]]:
    """(rows, legend name, marker) of the moving rows: the target's rows ringed beneath,
    then the fixed and broken ones."""
    return [(target, f"{target_name} ({target.sum():,} rows)",
             {"size": 15, "color": "rgba(0,0,0,0)", "line": {"width": 1.5, "color": "#000000"}}),
            (fixed, f"fixed ({fixed.sum():,})", {"size": 9, "color": OKABE_ITO[3]}),
            (broken, f"broken ({broken.sum():,})",
             {"size": 10, "color": OKABE_ITO[4], "symbol": "x"})]


def _sample_layer(samples: pd.DataFrame, map_name: str) -> _Layer:
    return _Layer(
        f"accepted sample{'' if len(samples) == 1 else 's'} ({len(samples):,})",
        samples[[f"{map_name}_x_before", f"{map_name}_y_before"]].to_numpy(np.float32),
        samples[[f"{map_name}_x", f"{map_name}_y"]].to_numpy(np.float32),
        {"size": 14, "color": OKABE_ITO[2], "symbol": "star",
         "line": {"width": 1, "color": "#1B1B1B"}}, _sample_hovers(samples))


def _animation_controls(figure: go.Figure, fractions: np.ndarray) -> None:
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
             "transition": {"duration": 0}}
    figure.update_layout(
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0.0, "y": -0.02,
                      "xanchor": "left", "yanchor": "top", "pad": {"t": 4, "r": 8},
                      "buttons": [
                          {"label": "▶ play before → after", "method": "animate",
                           "args": [None, {"mode": "immediate", "fromcurrent": False,
                                           "frame": {"duration": 220, "redraw": True},
                                           "transition": {"duration": 0}}]},
                          {"label": "❚❚", "method": "animate",
                           "args": [[None], {**still, "frame": {"duration": 0,
                                                                "redraw": False}}]}]}],
        sliders=[{"active": len(fractions) - 1, "x": 0.22, "len": 0.78, "y": -0.02,
                  "yanchor": "top", "pad": {"t": 4}, "currentvalue": {"visible": False},
                  "steps": [{"label": _frame_name(t) if t in (0.0, 1.0) else "",
                             "method": "animate",
                             "args": [[_frame_name(t)], still]} for t in fractions]}])


def _frame_name(t: float) -> str:
    return {0.0: "before", 1.0: "after"}.get(float(t), f"{t:.1%}")


def _row_hovers(points: pd.DataFrame, after_names: np.ndarray, before_ok: np.ndarray,
                after_ok: np.ndarray, described: np.ndarray) -> np.ndarray:
    """(N,) hover texts of the ``described`` rows (text, true label, both predictions);
    None for the others."""
    mark = {True: "✓", False: "✗"}
    hovers = np.full(len(points), None, dtype=object)
    shown = points[described]
    hovers[described] = [
        f"{text}<br>true: {plot_text(str(label))} · before: {plot_text(str(before))} "
        f"{mark[bool(ok_before)]} → after: {plot_text(str(now))} {mark[bool(ok_after)]}"
        for text, label, before, now, ok_before, ok_after in zip(
            hover_text(shown["text"], limit=HOVER_CHARS), shown["label"], shown["pred"],
            after_names[described], before_ok[described], after_ok[described], strict=True)]
    return hovers


def _sample_hovers(samples: pd.DataFrame) -> np.ndarray:
    return np.array([
        f"accepted sample: {text}<br>label: {plot_text(label)} · base model: "
        f"{plot_text(before)} → retrained: {plot_text(after)}"
        for text, label, before, after in zip(
            hover_text(samples["text"]), samples["label"].astype(str),
            samples["pred_before"].astype(str), samples["pred_after"].astype(str),
            strict=True)], dtype=object)


def _coordinates(points: pd.DataFrame, after: pd.DataFrame,
                 map_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) float32 coordinates before and after in ``map_name``."""
    if map_name not in MAP_TITLES:
        raise SettingsError(f"unknown map '{map_name}'; choose one of {', '.join(MAP_TITLES)}")
    if len(points) != len(after):
        raise SettingsError(f"{len(points)} points but {len(after)} after-points")
    columns = [f"{map_name}_x", f"{map_name}_y"]
    return points[columns].to_numpy(np.float32), after[columns].to_numpy(np.float32)


def _correctness(points: pd.DataFrame, after: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return points["correct"].to_numpy(bool), after["correct_after"].to_numpy(bool)


def _segments(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Line segments start→end, one per row, separated by NaN gaps (one trace)."""
    segments = np.full(3 * len(start), np.nan, dtype=np.float32)
    segments[0::3], segments[1::3] = start, end
    return segments
