"""The figures of Retrain & compare that judge a round (no Streamlit here): what it did to
the target, its complement, the rest and every class against the control, and what it did
per region.

A region was chosen for the base model's mistakes, so its accuracy "before" is low by
construction and rises again under any retraining (regression toward the mean): its chart
leads with the control, the same retraining without the samples' content.
"""

from __future__ import annotations

import plotly.graph_objects as go

from topex_core.plots import BACKGROUND_GREY, OKABE_ITO, plot_text, short
from topex_core.round_outcomes import SIGNIFICANCE, RegionOutcome, RoundGroups
from topex_core.round_records import RegionChange

GAIN, LOSS, UNSURE = OKABE_ITO[3], OKABE_ITO[4], "#7F7F7F"
MAX_REGIONS = 12  # bars a reader can take in; the title counts the rest
CONTROL_WORDS = {"matched": "the label-matched control", "plain": "the plain control"}


def groups_chart(groups: RoundGroups, plain: RoundGroups | None = None) -> go.Figure:
    """Points beyond the control (after − control, mean over seeds) of the target, its
    complement, the rest and every class, with McNemar's exact 95% interval (a line; with
    several seeds it is the interval of the net share of rows gained) and the rows gained
    / lost; coloured where p < 0.05. ``plain``: the same against the plain control,
    hollow."""
    rows = [("Target", groups.target, f"true {groups.label}"),
            ("Complement", groups.complement, "other labels, in its reach"),
            ("Rest", groups.rest, "every other test row")]
    rows += [("Class", _class_outcome(c), c.label) for c in groups.per_class]
    names = [f"<b>{title}</b>: {plot_text(short(what, 32))} ({outcome.test_rows:,})"
             if title != "Class" else f"class {plot_text(short(what, 30))} "
             f"({outcome.test_rows:,})" for title, outcome, what in rows]
    figure = go.Figure()
    figure.add_vline(x=0, line_color=BACKGROUND_GREY, line_width=1)
    plain_rows = ([plain.target, plain.complement, plain.rest]
                  + [_class_outcome(c) for c in plain.per_class]) if plain else []
    for outcomes, control, hollow in ((plain_rows, "plain", True),
                                      ([outcome for _, outcome, _ in rows], groups.control,
                                       False)):
        if outcomes:
            _add_series(figure, names, outcomes, CONTROL_WORDS[control], hollow)
    figure.update_layout(
        template="plotly_white", height=140 + 44 * len(rows),
        margin={"l": 10, "r": 30, "t": 60, "b": 40},
        title={"text": f"Beyond {CONTROL_WORDS[groups.control]}: accuracy after − control, "
                       "in points", "x": 0.01, "font": {"size": 15}},
        xaxis={"title": "points (line: exact 95% interval)", "zeroline": False,
               "ticksuffix": ""},
        yaxis={"autorange": "reversed", "type": "category", "categoryorder": "array",
               "categoryarray": names},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1, "xanchor": "right"},
        shapes=[{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1,
                 "y0": 2.5, "y1": 2.5, "line": {"color": BACKGROUND_GREY, "dash": "dot"}}])
    return figure


def _add_series(figure: go.Figure, names: list[str], outcomes: list[RegionOutcome],
                control: str, hollow: bool) -> None:
    shown = [(name, outcome) for name, outcome in zip(names, outcomes, strict=True)
             if outcome.vs_control is not None]
    for name, outcome in shown:
        if outcome.vs_control_ci95 is not None:
            low, high = outcome.vs_control_ci95
            figure.add_trace(go.Scatter(
                x=[100 * low, 100 * high], y=[name, name], mode="lines", showlegend=False,
                hoverinfo="skip", opacity=0.45 if hollow else 1.0,
                line={"color": _colour(outcome), "width": 2 if hollow else 4}))
    figure.add_trace(go.Scatter(
        x=[100 * outcome.vs_control for _, outcome in shown], y=[name for name, _ in shown],
        mode="markers" if hollow else "markers+text", name=f"against {control}",
        text=None if hollow else [_label(outcome) for _, outcome in shown],
        textposition="top center", cliponaxis=False,
        marker={"size": 11 if hollow else 13, "symbol": "circle-open" if hollow else "circle",
                "color": [_colour(outcome) for _, outcome in shown],
                "line": {"width": 2}},
        hovertemplate="%{y}<br>%{x:+.1f} points<extra>" + f"against {control}</extra>"))


def _label(outcome: RegionOutcome) -> str:
    p = "" if outcome.mcnemar_p is None else f", p {outcome.mcnemar_p:.2g}"
    return f"{100 * outcome.vs_control:+.1f} ({outcome.gained}↑ {outcome.lost}↓{p})"


def _colour(outcome: RegionOutcome) -> str:
    if outcome.mcnemar_p is None or outcome.mcnemar_p >= SIGNIFICANCE:
        return UNSURE
    return GAIN if (outcome.gained or 0) > (outcome.lost or 0) else LOSS


def _class_outcome(outcome) -> RegionOutcome:
    return RegionOutcome("class", outcome.label, outcome.label, outcome.test_rows, None,
                         outcome.accuracy_after, outcome.accuracy_control, outcome.vs_control,
                         outcome.vs_control_ci95, outcome.mcnemar_p, outcome.gained,
                         outcome.lost)


def region_accuracy_change(changes: list[RegionChange], *, min_test_rows: int = 0,
                           most: int = MAX_REGIONS) -> go.Figure:
    """Accuracy per region (grouped bars): the targeted regions (★) first, then the
    regions the round moved most against the control: of the control and after the round
    where the round has a control, then the base model's, which picked the region for its
    mistakes (see the module); on the region's test rows where it has any, else on its
    pool rows (marked "pool"), which include rows the model was trained on. With a test
    split, regions other than the targeted ones are drawn only with at least
    ``min_test_rows`` test rows (fewer cannot tell a change from chance); at most ``most``
    regions, and the title says how many were left out."""
    has_test = any(change.test is not None for change in changes)
    eligible = [change for change in changes if change.targeted or not has_test
                or (change.test is not None and change.test.test_rows >= min_test_rows)]
    measured = {id(change): _measure(change) for change in eligible}
    gains = {key: after - (control if control is not None else before)
             for key, (_, before, after, control) in measured.items()}
    kept = sorted(eligible, key=lambda change: (not change.targeted,
                                                -abs(gains[id(change)])))[:most]
    left_out = len(changes) - len(kept)
    rows = [measured[id(change)] for change in kept]
    names = [("★ " if change.targeted else "")
             + plot_text(short(f"{change.kind} {change.name}", 44)) for change in kept]
    with_control = any(m[3] is not None for m in rows)
    bars = [go.Bar(y=names, x=[m[1] for m in rows], name="before (picked it)",
                   orientation="h", marker_color="#DDDDDD")]
    if with_control:
        bars.append(go.Bar(y=names, x=[m[3] for m in rows], name="control",
                           orientation="h", marker_color=BACKGROUND_GREY))
    bars.append(go.Bar(
        y=names, x=[m[2] for m in rows], name="after", orientation="h",
        marker_color=OKABE_ITO[3], textposition="outside", cliponaxis=False,
        text=[f"{gains[id(change)]:+.0%} vs {'control' if m[3] is not None else 'before'} "
              f"on {m[0]}" for change, m in zip(kept, rows, strict=True)]))
    figure = go.Figure(bars)
    subtitle = ("a region was picked for the base model's mistakes, so 'before' is low by "
                "construction:<br>read after against the control")
    if left_out:
        subtitle += (f" · {left_out} more region{'s' if left_out > 1 else ''} left out "
                     f"(moved less, or fewer than {min_test_rows} test rows)")
    figure.update_layout(
        template="plotly_white", barmode="group",
        height=200 + (72 if with_control else 56) * max(1, len(kept)),
        margin={"l": 10, "r": 220, "t": 120, "b": 10},
        title={"text": "Accuracy per region, the targeted first, then those the round moved "
                       f"most: on its test rows, else on the pool<br><sup>{subtitle}</sup>",
               "x": 0.01, "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12},
               "font": {"size": 15}},
        xaxis={"range": [0, 1.0], "tickformat": ".0%", "title": "accuracy on the region's rows"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0, "xanchor": "left"})
    return figure


def _measure(change: RegionChange) -> tuple[str, float, float, float | None]:
    """(where it was measured, accuracy before, after, of the control or None)."""
    test = change.test
    if test is not None and test.accuracy_before is not None:
        return (f"{test.test_rows} test rows", test.accuracy_before, test.accuracy_after,
                test.accuracy_control)
    pool = change.pool
    return (f"{pool.rows} pool rows ({pool.fixed} fixed, {pool.broken} broken)",
            pool.accuracy_before, pool.accuracy_after, None)
