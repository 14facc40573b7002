"""Plotly figures as pure functions of data frames (no Streamlit here).

Colours are the Okabe–Ito palette (colour-blind safe); legends sit below the plot so they
never cover points. Points carry their row position as ``customdata`` so a selection can
be mapped back to rows; hover text is HTML-escaped and shortened, and left out above
``HOVER_TEXT_LIMIT`` points because a rerun re-sends the whole figure (DESIGN.md).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from topex_core.errors import SettingsError

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442",
             "#000000"]
BACKGROUND_GREY = "#B0B0B0"
HOVER_TEXT_LIMIT = 20_000
HOVER_CHARS = 120
# One unit on x is one unit on y: on a wide window (a 4k screen) the map keeps its shape
# and leaves margins instead of stretching six to one.
MAP_X_AXIS = {"showticklabels": False, "title": None, "zeroline": False, "showgrid": False,
              "constrain": "domain"}
MAP_Y_AXIS = {"showticklabels": False, "title": None, "zeroline": False, "showgrid": False,
              "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"}
MAX_NAMED_CLUSTERS = 10  # more names than this cover the map; the rest share one trace
OTHER_ERRORS_COLOR = "#7A4F9A"
COLOR_MODES = ("cluster", "label", "pred", "correct")
MAP_TITLES = {"tsne": "t-SNE", "sparse_pca": "SparsePCA"}


def hover_text(texts: pd.Series, *, limit: int = HOVER_CHARS) -> list[str]:
    """HTML-escaped texts cut to ``limit`` characters (with an ellipsis)."""
    return [html.escape(short(text, limit)) for text in texts]


def cluster_map(points: pd.DataFrame, clusters: pd.DataFrame, *, map_name: str = "tsne",
                color_by: str = "cluster", selected_cluster: int | None = None,
                selected_slice: tuple[str, np.ndarray] | None = None) -> go.Figure:
    """Scattergl map of ``points`` (needs ``{map_name}_x/_y``, cluster, label, pred, correct).

    ``clusters`` is the explorer's table (cluster, name, is_error_cluster, optional rank).
    With ``color_by="cluster"`` the ``MAX_NAMED_CLUSTERS`` best-ranked error clusters (and
    ``selected_cluster``, drawn larger) are coloured and labelled by name, the other error
    clusters share one trace, and every other point is a faint grey background.
    ``selected_slice`` (name, row positions) draws that slice's rows on top, its mistakes
    as filled rings and its correct rows as open ones, whatever the colouring.
    """
    if color_by not in COLOR_MODES:
        raise SettingsError(f"unknown colour mode '{color_by}'; choose one of "
                         f"{', '.join(COLOR_MODES)}")
    if map_name not in MAP_TITLES:
        raise SettingsError(f"unknown map '{map_name}'; choose one of {', '.join(MAP_TITLES)}")
    x, y = points[f"{map_name}_x"].to_numpy(), points[f"{map_name}_y"].to_numpy()
    texts = hover_text(points["text"]) if len(points) <= HOVER_TEXT_LIMIT else None
    figure = go.Figure()
    for group in _groups(points, clusters, color_by, selected_cluster):
        mask = group["mask"]
        positions = np.flatnonzero(mask)
        figure.add_trace(go.Scattergl(
            x=x[mask], y=y[mask], mode="markers", name=html.escape(group["name"]),
            customdata=positions,
            text=[texts[i] for i in positions] if texts is not None else None,
            hovertemplate=("%{text}<br>" if texts is not None else "")
            + "row %{customdata}<extra>" + html.escape(group["name"]) + "</extra>",
            marker={"size": group["size"], "color": group["color"],
                    "opacity": group["opacity"],
                    "line": {"width": 1 if group["size"] >= 10 else 0, "color": "#333333"}},
        ))
    if color_by == "cluster":
        _label_error_clusters(figure, points, clusters, x, y, selected_cluster)
    if selected_slice is not None:
        _draw_slice(figure, points, *selected_slice, x, y, texts)
    figure.update_layout(
        template="plotly_white", height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title={"text": f"{MAP_TITLES[map_name]} map of the model's normalised logits",
               "x": 0.01, "font": {"size": 15}},
        legend={"orientation": "h", "yanchor": "top", "y": -0.04, "x": 0, "font": {"size": 12}},
        xaxis=MAP_X_AXIS, yaxis=MAP_Y_AXIS,
        uirevision=map_name, dragmode="lasso", hoverlabel={"font_size": 13},
    )
    return figure


def _draw_slice(figure: go.Figure, points: pd.DataFrame, name: str, positions: np.ndarray,
                x: np.ndarray, y: np.ndarray, texts: list[str] | None) -> None:
    correct = points["correct"].to_numpy(bool)[positions]
    for subset, label, symbol in ((positions[~correct], "misclassified", "circle"),
                                  (positions[correct], "correct", "circle-open")):
        if not len(subset):
            continue
        figure.add_trace(go.Scattergl(
            x=x[subset], y=y[subset], mode="markers", customdata=subset,
            name=html.escape(f"slice {short(name, 28)}: {label} ({len(subset):,})"),
            text=[texts[i] for i in subset] if texts is not None else None,
            hovertemplate=("%{text}<br>" if texts is not None else "")
            + "row %{customdata}<extra>slice</extra>",
            marker={"size": 10, "symbol": symbol, "color": OKABE_ITO[7],
                    "line": {"width": 1.5, "color": OKABE_ITO[7]}}))


def _groups(points: pd.DataFrame, clusters: pd.DataFrame, color_by: str,
            selected_cluster: int | None) -> list[dict]:
    if color_by == "correct":
        correct = points["correct"].to_numpy(bool)
        return [
            {"name": "correct", "mask": correct, "color": BACKGROUND_GREY, "size": 4,
             "opacity": 0.45},
            {"name": "misclassified", "mask": ~correct, "color": OKABE_ITO[4], "size": 6,
             "opacity": 0.9},
        ]
    if color_by in ("label", "pred"):
        values = points[color_by].astype(str)
        return [{"name": f"{'true' if color_by == 'label' else 'predicted'}: {value}",
                 "mask": (values == value).to_numpy(), "size": 5, "opacity": 0.75,
                 "color": OKABE_ITO[i % len(OKABE_ITO)]}
                for i, value in enumerate(sorted(values.unique()))]
    error_table = clusters[clusters["is_error_cluster"]]
    named = named_clusters(clusters, selected_cluster)
    in_error = points["cluster"].isin(error_table["cluster"]).to_numpy()
    in_named = points["cluster"].isin(named["cluster"]).to_numpy()
    groups = [{"name": "other points", "mask": ~in_error, "color": BACKGROUND_GREY,
               "size": 4, "opacity": 0.35}]
    unnamed = len(error_table) - len(named)
    if unnamed:
        groups.append({"name": f"{unnamed} more error clusters", "mask": in_error & ~in_named,
                       "color": OTHER_ERRORS_COLOR, "size": 6, "opacity": 0.6})
    for i, row in enumerate(named.sort_values("cluster").itertuples()):
        chosen = row.cluster == selected_cluster
        groups.append({"name": f"{row.cluster}: {short(row.name, 32)}",
                       "mask": (points["cluster"] == row.cluster).to_numpy(),
                       "color": OKABE_ITO[i % (len(OKABE_ITO) - 1)],
                       "size": 15 if chosen else 11, "opacity": 1.0 if chosen else 0.9})
    return groups


def named_clusters(clusters: pd.DataFrame, selected_cluster: int | None) -> pd.DataFrame:
    """The error clusters named on the map: the best ``MAX_NAMED_CLUSTERS`` by rank (in
    table order where there is no rank) and the selected one."""
    errors = clusters[clusters["is_error_cluster"]]
    order = errors.sort_values("rank", na_position="last") if "rank" in errors.columns else errors
    chosen = order.head(MAX_NAMED_CLUSTERS)
    if selected_cluster is not None and selected_cluster not in set(chosen["cluster"]):
        chosen = pd.concat([chosen, errors[errors["cluster"] == selected_cluster]])
    return chosen


def _label_error_clusters(figure: go.Figure, points: pd.DataFrame, clusters: pd.DataFrame,
                          x: np.ndarray, y: np.ndarray, selected_cluster: int | None) -> None:
    for row in named_clusters(clusters, selected_cluster).itertuples():
        members = (points["cluster"] == row.cluster).to_numpy()
        if members.any():
            figure.add_annotation(x=float(np.median(x[members])), y=float(np.median(y[members])),
                                  text=html.escape(short(row.name, 28)), showarrow=True,
                                  arrowhead=0, ax=0, ay=-28, font={"size": 12},
                                  bgcolor="rgba(255,255,255,0.8)")


def short(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def word_weights(words: list[tuple[str, float]], *, title: str) -> go.Figure:
    """Horizontal bars of a cluster's top words and their c-TF-IDF weights."""
    ordered = list(reversed(words))
    figure = go.Figure(go.Bar(x=[w for _, w in ordered], y=[html.escape(t) for t, _ in ordered],
                              orientation="h", marker_color=OKABE_ITO[3]))
    figure.update_layout(template="plotly_white", height=60 + 32 * max(1, len(words)),
                         margin={"l": 10, "r": 10, "t": 36, "b": 10},
                         title={"text": html.escape(title), "x": 0.01, "font": {"size": 14}},
                         xaxis_title="c-TF-IDF weight")
    return figure


def cluster_accuracy_change(per_cluster: list[dict], *,
                            picked_cluster: int | None = None) -> go.Figure:
    """Accuracy before and after per error cluster (grouped bars, the picked one first):
    on the cluster's test rows where it has any, else on its pool rows (marked "pool"),
    which include rows the model was trained on."""
    rows = sorted(per_cluster, key=lambda r: (r["cluster"] != picked_cluster, -r["change"]))
    measured = [_cluster_measure(r) for r in rows]
    names = [("★ " if r["cluster"] == picked_cluster else "")
             + html.escape(short(f"{r['cluster']}: {r['name']}", 40)) for r in rows]
    figure = go.Figure([
        go.Bar(y=names, x=[m[1] for m in measured], name="before", orientation="h",
               marker_color=BACKGROUND_GREY),
        go.Bar(y=names, x=[m[2] for m in measured], name="after", orientation="h",
               marker_color=OKABE_ITO[3],
               text=[f"{m[2] - m[1]:+.0%} on {m[0]}" for m in measured],
               textposition="outside", cliponaxis=False)])
    figure.update_layout(
        template="plotly_white", barmode="group", height=150 + 56 * max(1, len(rows)),
        margin={"l": 10, "r": 190, "t": 70, "b": 10},
        title={"text": "Accuracy per error cluster: on its test rows, else on the pool",
               "x": 0.01, "y": 0.98, "yanchor": "top", "font": {"size": 15}},
        xaxis={"range": [0, 1.0], "tickformat": ".0%", "title": "accuracy on the cluster's rows"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0, "xanchor": "left"})
    return figure


def _cluster_measure(row: dict) -> tuple[str, float, float]:
    """(where it was measured, accuracy before, after) of one per-cluster record."""
    if row.get("test_rows"):
        return (f"{row['test_rows']} test rows", row["test_accuracy_before"],
                row["test_accuracy_after"])
    return (f"{row['rows']} pool rows ({row['fixed']} fixed, {row['broken']} broken)",
            row["accuracy_before"], row["accuracy_after"])
