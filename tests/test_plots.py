from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from topex_core import plots


def frame(n: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    points = pd.DataFrame({
        "text": ["<script>alert(1)</script>"] + [f"text {i}" for i in range(1, n)],
        "label": rng.choice(["a", "b"], n), "pred": rng.choice(["a", "b"], n),
        "cluster": np.repeat([-1, 0, 1], n // 3), "tsne_x": rng.normal(size=n),
        "tsne_y": rng.normal(size=n), "sparse_pca_x": rng.normal(size=n),
        "sparse_pca_y": rng.normal(size=n)})
    points["correct"] = points["label"] == points["pred"]
    clusters = pd.DataFrame({"cluster": [0, 1], "name": ["refund <b>fee</b>", "fine"],
                             "is_error_cluster": [True, False]})
    return points, clusters


def test_cluster_mode_colours_error_clusters_and_labels_them() -> None:
    points, clusters = frame()
    figure = plots.cluster_map(points, clusters, selected_cluster=0)
    names = [trace.name for trace in figure.data]
    assert names == ["other points", "0: refund &lt;b&gt;fee&lt;/b&gt;"]  # legends escaped
    assert figure.layout.yaxis.scaleanchor == "x"  # a wide window does not stretch the map
    assert sum(len(trace.x) for trace in figure.data) == len(points)
    assert figure.data[1].marker.size == 15 and figure.data[0].marker.color == plots.BACKGROUND_GREY
    assert figure.layout.annotations[0].text == "refund &lt;b&gt;fee&lt;/b&gt;"
    assert figure.layout.legend.y < 0


def test_hover_text_is_escaped_and_rows_are_customdata() -> None:
    points, clusters = frame()
    figure = plots.cluster_map(points, clusters, color_by="correct", map_name="sparse_pca")
    every_text = [t for trace in figure.data for t in trace.text]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in every_text
    rows = sorted(int(r) for trace in figure.data for r in trace.customdata)
    assert rows == list(range(len(points)))
    assert all(trace.type == "scattergl" for trace in figure.data)


def test_label_modes_have_one_trace_per_class() -> None:
    points, clusters = frame()
    assert [t.name for t in plots.cluster_map(points, clusters, color_by="pred").data] == [
        "predicted: a", "predicted: b"]


def test_large_maps_skip_hover_text(monkeypatch) -> None:
    monkeypatch.setattr(plots, "HOVER_TEXT_LIMIT", 10)
    points, clusters = frame()
    assert plots.cluster_map(points, clusters).data[0].text is None


def test_hover_text_is_shortened() -> None:
    assert plots.hover_text(pd.Series(["x" * 500]))[0].endswith("…")
    assert len(plots.hover_text(pd.Series(["x" * 500]))[0]) == plots.HOVER_CHARS


@pytest.mark.parametrize("bad", [{"color_by": "rainbow"}, {"map_name": "umap"}])
def test_unknown_modes(bad: dict) -> None:
    points, clusters = frame()
    with pytest.raises(ValueError, match="choose one of"):
        plots.cluster_map(points, clusters, **bad)


def test_word_weights_bars() -> None:
    figure = plots.word_weights([("refund", 0.3), ("fee", 0.2)], title="cluster 4")
    assert list(figure.data[0].y) == ["fee", "refund"]


def test_many_error_clusters_name_only_the_best_ranked_and_the_selected() -> None:
    rng = np.random.default_rng(1)
    n = 400
    points = pd.DataFrame({"text": [f"t{i}" for i in range(n)], "label": "a", "pred": "b",
                           "correct": False, "cluster": np.arange(n) // 4,
                           "tsne_x": rng.normal(size=n), "tsne_y": rng.normal(size=n)})
    clusters = pd.DataFrame({"cluster": range(100), "name": [f"c{i}" for i in range(100)],
                             "is_error_cluster": True, "rank": range(100, 0, -1)})
    figure = plots.cluster_map(points, clusters, selected_cluster=50)
    names = [trace.name for trace in figure.data]
    assert names[:2] == ["other points", "89 more error clusters"]
    assert len(names) == 2 + plots.MAX_NAMED_CLUSTERS + 1 and "50: c50" in names
    assert "99: c99" in names and "0: c0" not in names  # rank 1 is cluster 99
    assert len(figure.layout.annotations) == plots.MAX_NAMED_CLUSTERS + 1
    assert sum(len(trace.x) for trace in figure.data) == n


def test_region_accuracy_change_puts_the_targeted_first_and_prefers_test_rows() -> None:
    from topex_core.repair_plot import region_accuracy_change
    from topex_core.round_outcomes import RegionOutcome
    from topex_core.round_records import PairedSummary, RegionChange

    def pool(rows: int, before: float, after: float, fixed: int, broken: int):
        return PairedSummary(rows, before, after, fixed, broken, 1.0, None)

    def test(rows: int, before: float, after: float, control: float | None = None):
        return RegionOutcome("slice", "b", "b", rows, before, after, control)

    changes = [RegionChange("cluster", "1", "a", True, pool(5, 0.2, 0.4, 2, 1)),
               RegionChange("slice", "b", "b", False, pool(8, 0.0, 1.0, 8, 0),
                            test(4, 0.25, 0.75)),
               RegionChange("slice", "c", "c", False, pool(8, 0.5, 0.5, 0, 0),
                            test(40, 0.5, 0.55))]
    figure = region_accuracy_change(changes)
    assert list(figure.data[0].y) == ["★ cluster a", "slice b", "slice c"]  # moved most first
    assert list(figure.data[1].x) == [0.4, 0.75, 0.55]
    assert figure.data[1].text[0] == "+20% vs before on 5 pool rows (2 fixed, 1 broken)"
    assert figure.data[1].text[1] == "+50% vs before on 4 test rows"
    assert "picked for the base model's mistakes" in figure.layout.title.text
    # with a control, after is read against it, and the bars say so
    changes[1] = replace(changes[1], test=test(4, 0.25, 0.75, 0.72))
    against = region_accuracy_change(changes)
    assert [trace.name for trace in against.data] == ["before (picked it)", "control", "after"]
    assert against.data[2].text[2] == "+3% vs control on 4 test rows"  # now moved least
    # with a test split, the others need enough test rows to be drawn; at most ``most``
    few = region_accuracy_change(changes, min_test_rows=10, most=2)
    assert list(few.data[0].y) == ["★ cluster a", "slice c"]
    assert "1 more region left out" in few.layout.title.text
    assert list(region_accuracy_change(changes, most=1).data[0].y) == ["★ cluster a"]


def test_a_large_map_sends_a_density_picture_and_only_the_mistakes_as_points() -> None:
    import json

    rng = np.random.default_rng(1)
    n = 200_000
    points = pd.DataFrame({"text": "t", "label": "a", "pred": "a",
                           "cluster": rng.integers(-1, 50, n),
                           "tsne_x": rng.normal(size=n), "tsne_y": rng.normal(size=n)})
    points["correct"] = rng.random(n) > 0.05
    clusters = pd.DataFrame({"cluster": np.arange(50), "name": [f"c{i}" for i in range(50)],
                             "is_error_cluster": np.arange(50) < 3, "rank": np.arange(50)})
    figure = plots.cluster_map(points, clusters, color_by="correct", space="both")
    assert len(figure.layout.images) == 1 and figure.layout.images[0].layer == "below"
    drawn = sum(len(trace.x) for trace in figure.data if trace.x[0] is not None)
    assert drawn == (~points["correct"]).sum() <= plots.FOREGROUND_MAX
    assert "logits and features" in figure.layout.title.text
    assert len(json.dumps(figure.to_plotly_json(), default=str)) < 3_000_000
    by_cluster = plots.cluster_map(points, clusters)
    in_error = points["cluster"].isin([0, 1, 2]).sum()
    assert sum(len(t.x) for t in by_cluster.data if t.x[0] is not None) == in_error
    sample = plots.cluster_map(points, clusters, color_by="label")  # every row foreground
    assert sum(len(t.x) for t in sample.data if t.x[0] is not None) <= 1.05 * plots.FOREGROUND_MAX
    assert "sample" in sample.data[-1].name


def test_a_box_or_lasso_selects_every_row_inside_it() -> None:
    points = pd.DataFrame({"tsne_x": [0.0, 1, 2, 3, 0.5], "tsne_y": [0.0, 1, 2, 3, 0.2]})
    box = plots.rows_in_region(points, "tsne", {"box": [{"x": [1.5, -0.5], "y": [-1, 1.5]}]})
    assert box.tolist() == [0, 1, 4]
    triangle = {"lasso": [{"x": [-1, 3.5, -1], "y": [-1, -1, 3.5]}]}  # below x + y = 2.5
    assert plots.rows_in_region(points, "tsne", triangle).tolist() == [0, 1, 4]
    assert plots.rows_in_region(points, "tsne", {"box": [], "lasso": []}).tolist() == []


def test_a_name_with_quotes_reads_as_written_in_a_legend() -> None:
    """Plotly shows an escaped quote as the entity: names keep their quotes, while tags
    stay escaped (a structural slice is named 'premise has "and"')."""
    from topex_core.plots import plot_text

    assert plot_text('premise has "and" <b>') == 'premise has "and" &lt;b&gt;'
