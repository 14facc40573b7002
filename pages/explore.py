"""Explore: the map of the model's output space, error clusters named and ranked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from topex_app import resources, state
from topex_app.guards import require_run
from topex_app.work import long_work
from topex_core import plots
from topex_core.explorer import scoring
from topex_core.explorer.clustering import METHODS, ClusterConfig
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.records import ExploreResult
from topex_core.rundir import explored_at, is_explored, read_explore, read_points, read_words
from topex_core.training.classifier import set_cpu_threads

SCORE_HELP = {name: scoring.EXPLANATIONS[name] for name in scoring.SCORE_COLUMNS}
TEXT_COLUMNS = ["id", "text", "label", "pred", "max_prob", "cluster"]
DEFAULTS = ClusterConfig()


@st.cache_data(show_spinner=False, max_entries=4)
def _load(run_dir: str, modified: float) -> tuple[ExploreResult, pd.DataFrame, pd.DataFrame,
                                                  dict]:
    """Explorer results of a run; ``modified`` (explore.json's mtime) keys the cache."""
    meta, clusters = read_explore(Path(run_dir))
    return meta, clusters, read_points(Path(run_dir)), read_words(Path(run_dir))


def _explore_form(run_dir: Path) -> None:
    with st.form("explore_settings"):
        st.markdown("**Clustering of the normalised logits**")
        left, middle, right = st.columns(3)
        method = left.selectbox("Method", list(METHODS), key="explore_method",
                                index=METHODS.index(DEFAULTS.method),
                                help=f"auto: OPTICS up to {DEFAULTS.auto_threshold:,} points, "
                                     "HDBSCAN above")
        min_samples = middle.number_input("Min samples", 2, 1000, DEFAULTS.min_samples,
                                          key="explore_min_samples")
        xi = right.number_input("OPTICS xi", 0.001, 0.999, DEFAULTS.xi, format="%.3f",
                                key="explore_xi")
        threshold = left.slider("Error-cluster threshold (share misclassified)", 0.0, 0.95,
                                DEFAULTS.error_threshold, 0.05, key="explore_threshold")
        submitted = st.form_submit_button("Explore", type="primary")
    if not submitted:
        return
    config = ExploreConfig(clustering=ClusterConfig(method=method, min_samples=int(min_samples),
                                                    xi=float(xi), error_threshold=threshold))
    with long_work("Exploring the model's errors…", failed_label="Exploring failed",
                   first_step="normalising logits") as work:
        set_cpu_threads()
        result = explore_run(run_dir, config, embed=resources.embedder(),
                             progress=work.progress)
        work.done(f"Found {result.error_clusters} error clusters")
    if not work.failed:
        st.rerun()


def _summary(meta: ExploreResult) -> None:
    cols = st.columns(4)
    cols[0].metric("Clusters", meta.clusters, help=f"method: {meta.method}")
    cols[1].metric("Error clusters", meta.error_clusters)
    cols[2].metric("Noise points", f"{meta.noise_points:,}")
    cols[3].metric("Pick", meta.picked_cluster if meta.picked_cluster is not None else "—")
    st.info(meta.reason)


@st.fragment
def _map_and_selection(points: pd.DataFrame, clusters: pd.DataFrame,
                       selected_cluster: int | None) -> None:
    left, right = st.columns(2)
    map_name = left.radio("Map", ["tsne", "sparse_pca"], horizontal=True, key="explore_map_name",
                          format_func=plots.MAP_TITLES.get)
    color_by = right.radio("Colour by", list(plots.COLOR_MODES), horizontal=True,
                           key="explore_color_by",
                           format_func={"cluster": "error clusters", "label": "true label",
                                        "pred": "predicted label",
                                        "correct": "correctness"}.get)
    figure = plots.cluster_map(points, clusters, map_name=map_name, color_by=color_by,
                               selected_cluster=selected_cluster)
    event = st.plotly_chart(figure, width="stretch", on_select="rerun",
                            selection_mode=("points", "box", "lasso"), key="explore_chart")
    rows = sorted({int(p["customdata"]) for p in event.selection.points
                   if p.get("customdata") is not None}) if event else []
    if rows:
        st.markdown(f"**{len(rows):,} selected points**")
        st.dataframe(points.iloc[rows][TEXT_COLUMNS], hide_index=True, width="stretch")
    else:
        st.caption("Click, box- or lasso-select points on the map to list them here.")


def _score_table(clusters: pd.DataFrame) -> None:
    error_clusters = clusters[clusters["is_error_cluster"]].sort_values("rank")
    st.subheader("Error clusters, ranked for augmentation")
    if error_clusters.empty:
        st.success("No cluster is dominated by mistakes at this threshold.")
        return
    column_config = {name: st.column_config.NumberColumn(name, help=SCORE_HELP[name],
                                                         format="%.3f")
                     for name in scoring.SCORE_COLUMNS}
    column_config["error_rate"] = st.column_config.ProgressColumn(
        "error rate", min_value=0.0, max_value=1.0, format="percent")
    st.dataframe(error_clusters[["rank", "cluster", "name", "size", "error_rate", "confusion",
                                 *scoring.SCORE_COLUMNS]],
                 hide_index=True, width="stretch", column_config=column_config)


def _cluster_detail(points: pd.DataFrame, clusters: pd.DataFrame, words: dict,
                    cluster: int) -> None:
    row = clusters[clusters["cluster"] == cluster].iloc[0]
    st.subheader(f"Cluster {cluster}: {row['name']}")
    st.caption(f"{row['size']} points · {row['error_rate']:.0%} misclassified · "
               f"confusion {row['confusion'] or '—'} · true majority {row['true_majority']}, "
               f"predicted majority {row['pred_majority']}")
    left, right = st.columns([1, 2])
    left.plotly_chart(plots.word_weights(words.get(str(cluster), []), title="Top words"),
                      width="stretch", key="explore_words")
    members = points[points["cluster"] == cluster]
    right.dataframe(members[TEXT_COLUMNS].sort_values("max_prob"), hide_index=True,
                    width="stretch", height=360)


st.title("Explore")
run_dir = require_run()
if not is_explored(run_dir):
    st.caption(f"Run: {run_dir}")
    _explore_form(run_dir)
    st.stop()

meta, clusters, points, words = _load(str(run_dir), explored_at(run_dir))
_summary(meta)
error_ids = clusters.loc[clusters["is_error_cluster"]].sort_values("rank")["cluster"].tolist()
chosen = None
if error_ids:
    cluster_names = dict(zip(clusters["cluster"], clusters["name"], strict=True))
    chosen = st.selectbox(
        "Cluster", error_ids, key="explore_cluster",
        index=error_ids.index(meta.picked_cluster) if meta.picked_cluster in error_ids else 0,
        format_func=lambda c: f"{c}: {cluster_names[c]}")
    st.session_state[state.TARGET_CLUSTER] = int(chosen)
_map_and_selection(points, clusters, chosen)
_score_table(clusters)
if chosen is not None:
    _cluster_detail(points, clusters, words, int(chosen))
with st.expander("Explore again with other settings"):
    _explore_form(run_dir)
