"""Plotly figures as pure functions of data frames (no Streamlit here).

Colours are the Okabe–Ito palette (colour-blind safe); legends sit below the plot so they
never cover points. Points carry their row position as ``customdata`` so a selection can
be mapped back to rows; hover text is HTML-escaped and shortened, and left out above
``HOVER_TEXT_LIMIT`` points because a rerun re-sends the whole figure.

Above ``DENSITY_ABOVE`` rows a map stays light: the background rows (every row, in fact)
become one density picture (counts in ``DENSITY_BINS``² bins, log-scaled, a PNG under the
axes), and only the foreground (error clusters, mistakes, the selection, a slice) is
drawn as points, at most ``FOREGROUND_MAX`` of them (a seeded sample beyond, said in the
legend). A box or lasso over the picture still selects rows: :func:`rows_in_region` maps
the selected region back to every row inside it.
"""

from __future__ import annotations

import base64
import html
import io

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
SPACE_TITLES = {"logits": "the model's normalised logits",
                "features": "the model's own sentence features",
                "both": "the model's logits and features"}
DENSITY_ABOVE = 50_000
DENSITY_BINS = 360
FOREGROUND_MAX = 30_000


def hover_text(texts: pd.Series, *, limit: int = HOVER_CHARS) -> list[str]:
    """HTML-escaped texts cut to ``limit`` characters (with an ellipsis)."""
    return [plot_text(short(text, limit)) for text in texts]


def cluster_map(points: pd.DataFrame, clusters: pd.DataFrame, *, map_name: str = "tsne",
                color_by: str = "cluster", selected_cluster: int | None = None,
                selected_rows: tuple[str, np.ndarray] | None = None,
                space: str = "logits") -> go.Figure:
    """Scattergl map of ``points`` (needs ``{map_name}_x/_y``, cluster, label, pred, correct).

    ``clusters`` is the explorer's table (cluster, name, is_error_cluster, optional rank).
    With ``color_by="cluster"`` the ``MAX_NAMED_CLUSTERS`` best-ranked error clusters (and
    ``selected_cluster``, drawn larger) are coloured and labelled by name, the other error
    clusters share one trace, and every other point is a faint grey background.
    ``selected_rows`` (legend name, row positions of a region that is not a cluster: "slice
    oil", "concept comedy · funny") draws those rows on top, its mistakes as filled rings
    and its correct rows as open ones, whatever the colouring. ``space``
    (``explorer.space``) names what the map was drawn from. Above ``DENSITY_ABOVE`` rows
    the background is a density picture (module docstring).
    """
    if color_by not in COLOR_MODES:
        raise SettingsError(f"unknown colour mode '{color_by}'; choose one of "
                         f"{', '.join(COLOR_MODES)}")
    if map_name not in MAP_TITLES:
        raise SettingsError(f"unknown map '{map_name}'; choose one of {', '.join(MAP_TITLES)}")
    x, y = points[f"{map_name}_x"].to_numpy(), points[f"{map_name}_y"].to_numpy()
    texts = hover_text(points["text"]) if len(points) <= HOVER_TEXT_LIMIT else None
    figure = go.Figure()
    groups = _groups(points, clusters, color_by, selected_cluster)
    dense = len(points) > DENSITY_ABOVE
    if dense:
        _add_density(figure, x, y)
        groups = _foreground(groups)
    for group in groups:
        positions = np.flatnonzero(group["mask"])
        figure.add_trace(go.Scattergl(
            x=x[positions], y=y[positions], mode="markers", name=plot_text(group["name"]),
            customdata=positions,
            text=[texts[i] for i in positions] if texts is not None else None,
            hovertemplate=("%{text}<br>" if texts is not None else "")
            + "row %{customdata}<extra>" + plot_text(group["name"]) + "</extra>",
            marker={"size": group["size"], "color": group["color"],
                    "opacity": group["opacity"],
                    "line": {"width": 1 if group["size"] >= 10 else 0, "color": "#333333"}},
        ))
    if color_by == "cluster":
        _label_error_clusters(figure, points, clusters, x, y, selected_cluster)
    if selected_rows is not None:
        _draw_rows(figure, points, *selected_rows, x, y, texts)
    figure.update_layout(
        template="plotly_white", height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title={"text": f"{MAP_TITLES[map_name]} map of {SPACE_TITLES[space]}"
                       + (f" ({len(points):,} rows as density, the highlighted as points)"
                          if dense else ""), "x": 0.01, "font": {"size": 15}},
        legend={"orientation": "h", "yanchor": "top", "y": -0.04, "x": 0, "font": {"size": 12}},
        xaxis=MAP_X_AXIS, yaxis=MAP_Y_AXIS,
        uirevision=map_name, dragmode="lasso", hoverlabel={"font_size": 13},
    )
    return figure


def _add_density(figure: go.Figure, x: np.ndarray, y: np.ndarray) -> None:
    """Every row as a log-scaled density picture under the axes, and the axes fixed to it
    (a layout image takes no part in autoscaling)."""
    from PIL import Image

    x_range, y_range = _padded(x), _padded(y)
    counts, _, _ = np.histogram2d(x, y, bins=DENSITY_BINS, range=[x_range, y_range])
    shade = np.log1p(counts.T[::-1]) / max(np.log1p(counts.max()), 1e-9)  # row 0 = top
    pixels = np.zeros((*shade.shape, 4), np.uint8)
    pixels[..., :3] = 80
    pixels[..., 3] = np.where(counts.T[::-1] > 0, 40 + 200 * shade, 0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, format="PNG", optimize=True)
    figure.add_layout_image(
        source="data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(),
        xref="x", yref="y", x=x_range[0], y=y_range[1], sizex=x_range[1] - x_range[0],
        sizey=y_range[1] - y_range[0], sizing="stretch", layer="below")
    # an invisible trace names the picture in the legend
    figure.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name="all rows (density)",
                                  marker={"size": 8, "color": "#505050", "symbol": "square"},
                                  hoverinfo="skip"))
    figure.update_xaxes(range=list(x_range))
    figure.update_yaxes(range=list(y_range))


def _padded(values: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    pad = max(high - low, 1e-9) * 0.02
    return low - pad, high + pad


def _foreground(groups: list[dict]) -> list[dict]:
    """The groups drawn as points over the density picture: every group but the
    background, thinned to ``FOREGROUND_MAX`` points by one seeded rate for all."""
    shown = [group for group in groups if not group.get("background")]
    total = sum(int(group["mask"].sum()) for group in shown)
    # small markers: over a density picture, large ones would hide it
    shown = [{**group, "size": min(group["size"], 3), "opacity": 0.7} if group["size"] < 10
             else group for group in shown]
    if total <= FOREGROUND_MAX:
        return shown
    rng = np.random.default_rng(0)
    rate = FOREGROUND_MAX / total
    thinned = []
    for group in shown:
        mask = group["mask"] & (rng.random(len(group["mask"])) < rate)
        thinned.append({**group, "mask": mask, "name": f"{group['name']} (a {rate:.0%} sample)"})
    return thinned


def rows_in_region(points: pd.DataFrame, map_name: str, selection: dict) -> np.ndarray:
    """Row positions inside a box or lasso selection of a map (Streamlit's plotly
    ``selection``: ``box`` [{"x": [x0, x1], "y": [y0, y1]}], ``lasso`` [{"x": [...],
    "y": [...]}]), so that a selection over the density picture reaches every row."""
    x, y = points[f"{map_name}_x"].to_numpy(), points[f"{map_name}_y"].to_numpy()
    inside = np.zeros(len(points), bool)
    for box in selection.get("box") or []:
        (x0, x1), (y0, y1) = sorted(box["x"][:2]), sorted(box["y"][:2])
        inside |= (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    for lasso in selection.get("lasso") or []:
        inside |= _in_polygon(x, y, np.asarray(lasso["x"], float), np.asarray(lasso["y"], float))
    return np.flatnonzero(inside)


def _in_polygon(x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd rule: a point is inside when a ray to its right crosses the polygon's
    edges an odd number of times (one vectorised pass per edge)."""
    inside = np.zeros(len(x), bool)
    for x0, y0, x1, y1 in zip(xs, ys, np.roll(xs, 1), np.roll(ys, 1), strict=True):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


def _draw_rows(figure: go.Figure, points: pd.DataFrame, name: str, positions: np.ndarray,
               x: np.ndarray, y: np.ndarray, texts: list[str] | None) -> None:
    correct = points["correct"].to_numpy(bool)[positions]
    for subset, label, symbol in ((positions[~correct], "misclassified", "circle"),
                                  (positions[correct], "correct", "circle-open")):
        if not len(subset):
            continue
        figure.add_trace(go.Scattergl(
            x=x[subset], y=y[subset], mode="markers", customdata=subset,
            name=plot_text(f"{short(name, 34)}: {label} ({len(subset):,})"),
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
             "opacity": 0.45, "background": True},
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
               "size": 4, "opacity": 0.35, "background": True}]
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
                                  text=plot_text(short(row.name, 28)), showarrow=True,
                                  arrowhead=0, ax=0, ay=-28, font={"size": 12},
                                  bgcolor="rgba(255,255,255,0.8)")


def plot_text(text: str) -> str:
    """``text`` safe inside a Plotly label: ``<``, ``>`` and ``&`` escaped (Plotly reads a
    subset of HTML there), quotes kept (Plotly does not decode ``&quot;``, so an escaped
    quote would show as the entity)."""
    return html.escape(text, quote=False)


def short(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def word_weights(words: list[tuple[str, float]], *, title: str) -> go.Figure:
    """Horizontal bars of a cluster's top words and their c-TF-IDF weights."""
    ordered = list(reversed(words))
    figure = go.Figure(go.Bar(x=[w for _, w in ordered], y=[plot_text(t) for t, _ in ordered],
                              orientation="h", marker_color=OKABE_ITO[3]))
    figure.update_layout(template="plotly_white", height=60 + 32 * max(1, len(words)),
                         margin={"l": 10, "r": 10, "t": 36, "b": 10},
                         title={"text": plot_text(title), "x": 0.01, "font": {"size": 14}},
                         xaxis_title="c-TF-IDF weight")
    return figure
