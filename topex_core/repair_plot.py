"""The figures of Retrain & compare that judge a round (no Streamlit here): what it did to
the target, its complement, the rest and every class against the control, and what it did
per error cluster.

A cluster was chosen for the base model's mistakes, so its accuracy "before" is low by
construction and rises again under any retraining (regression toward the mean): its chart
leads with the control, the same retraining without the samples' content.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from topex_core.plots import BACKGROUND_GREY, OKABE_ITO, short
from topex_core.round_outcomes import SIGNIFICANCE, RegionOutcome, RoundGroups

GAIN, LOSS, UNSURE = OKABE_ITO[3], OKABE_ITO[4], "#7F7F7F"
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
    names = [f"<b>{title}</b>: {html.escape(short(what, 32))} ({outcome.test_rows:,})"
             if title != "Class" else f"class {html.escape(short(what, 30))} "
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


def cluster_accuracy_change(per_cluster: list[dict], *,
                            picked_cluster: int | None = None,
                            min_test_rows: int = 0) -> go.Figure:
    """Accuracy per error cluster (grouped bars, the picked one first): of the control and
    after the round where the round has a control, then the base model's, which picked
    the cluster for its mistakes (see the module); on the cluster's test rows where it has
    any, else on its pool rows (marked "pool"), which include rows the model was trained
    on. With a test split, clusters other than the picked one are drawn only with at least
    ``min_test_rows`` test rows (fewer cannot tell a change from chance), and the title
    says how many were left out."""
    has_test = any(r.get("test_rows") for r in per_cluster)
    kept = [r for r in per_cluster if r["cluster"] == picked_cluster or not has_test
            or (r.get("test_rows") or 0) >= min_test_rows]
    left_out = len(per_cluster) - len(kept)
    measured = [_cluster_measure(r) for r in kept]
    gains = [after - (control if control is not None else before)
             for _, before, after, control in measured]
    order = sorted(range(len(kept)), key=lambda i: (kept[i]["cluster"] != picked_cluster,
                                                    -gains[i]))
    rows, measured = [kept[i] for i in order], [measured[i] for i in order]
    names = [("★ " if r["cluster"] == picked_cluster else "")
             + html.escape(short(f"{r['cluster']}: {r['name']}", 40)) for r in rows]
    with_control = any(m[3] is not None for m in measured)
    bars = [go.Bar(y=names, x=[m[1] for m in measured], name="before (picked it)",
                   orientation="h", marker_color="#DDDDDD")]
    if with_control:
        bars.append(go.Bar(y=names, x=[m[3] for m in measured], name="control",
                           orientation="h", marker_color=BACKGROUND_GREY))
    bars.append(go.Bar(
        y=names, x=[m[2] for m in measured], name="after", orientation="h",
        marker_color=OKABE_ITO[3], textposition="outside", cliponaxis=False,
        text=[f"{gain:+.0%} vs {'control' if m[3] is not None else 'before'} on {m[0]}"
              for gain, m in zip((gains[i] for i in order), measured, strict=True)]))
    figure = go.Figure(bars)
    subtitle = ("a cluster was picked for the base model's mistakes, so 'before' is low by "
                "construction:<br>read after against the control")
    if left_out:
        subtitle += (f" · {left_out} more error cluster{'s' if left_out > 1 else ''} with "
                     f"fewer than {min_test_rows} test rows left out")
    figure.update_layout(
        template="plotly_white", barmode="group",
        height=200 + (72 if with_control else 56) * max(1, len(rows)),
        margin={"l": 10, "r": 220, "t": 120, "b": 10},
        title={"text": "Accuracy per error cluster: on its test rows, else on the pool"
                       f"<br><sup>{subtitle}</sup>",
               "x": 0.01, "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12},
               "font": {"size": 15}},
        xaxis={"range": [0, 1.0], "tickformat": ".0%", "title": "accuracy on the cluster's rows"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0, "xanchor": "left"})
    return figure


def _cluster_measure(row: dict) -> tuple[str, float, float, float | None]:
    """(where it was measured, accuracy before, after, of the control or None) of one
    per-cluster record."""
    if row.get("test_rows"):
        return (f"{row['test_rows']} test rows", row["test_accuracy_before"],
                row["test_accuracy_after"], row.get("test_accuracy_control"))
    return (f"{row['rows']} pool rows ({row['fixed']} fixed, {row['broken']} broken)",
            row["accuracy_before"], row["accuracy_after"], None)
