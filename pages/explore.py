"""Explore: the map of the model's output space, error clusters named and ranked, error
slices with their statistics, and how much of the model's mistakes they hold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from topex_app import resources, state
from topex_app.confusion import cell_detail, confusion_matrices
from topex_app.descriptions import describe_form, kept_sentence, show_description
from topex_app.guards import require_run
from topex_app.rounds import last_round_of
from topex_app.work import long_work
from topex_core import plots
from topex_core.augmenter.describe import (
    KEEP_LIFT,
    Description,
    read_region_descriptions,
)
from topex_core.exploredir import explored_at, is_explored, read_words
from topex_core.explorer import scoring
from topex_core.explorer.clustering import METHODS, ClusterConfig
from topex_core.explorer.explored import (
    ConfusionCell,
    ErrorCluster,
    ErrorSlice,
    ExploredRun,
    Region,
)
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.explorer.space import SPACES
from topex_core.rundir import has_classifier
from topex_core.training.classifier import set_cpu_threads

SCORE_HELP = {name: scoring.EXPLANATIONS[name] for name in scoring.SCORE_COLUMNS}
TEXT_COLUMNS = ["id", "text", "label", "pred", "max_prob", "cluster"]
DEFAULTS = ClusterConfig()
SPACE_TITLES = {"logits": "Logits", "features": "Model features",
                "both": "Logits + features"}
EVIDENCE_ROWS = 10
Q_HELP = ("Benjamini–Hochberg corrected Fisher test: a slice against its scope; a concept "
          "against its scope too, but descriptive: its terms were each kept for failing "
          "significantly, so their union cannot fail the test; a cluster against every row "
          "(descriptive: its rows were kept for their mistakes)")


@st.cache_data(show_spinner=False, max_entries=4)
def _words(run_dir: str, modified: float) -> dict:
    return read_words(Path(run_dir))


def _explore_form(run_dir: Path) -> None:
    with st.form("explore_settings"):
        st.markdown("**Clustering and maps**")
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
        own_model = has_classifier(run_dir)
        space = middle.selectbox(
            "Space", SPACES if own_model else ["logits"], key="explore_space",
            format_func=SPACE_TITLES.get,
            help="what is clustered, mapped and scored. Logits: TopEx's space, the default. "
                 "With two classes the logits are one-dimensional (the map is a line); the "
                 "model's features give the map the texts' structure, but hold fewer of the "
                 "mistakes in error clusters"
                 + ("." if own_model else ". This run's predictions were imported, so it "
                    "has no model features."))
        submitted = st.form_submit_button("Explore", type="primary")
    if not submitted:
        return
    config = ExploreConfig(clustering=ClusterConfig(method=method, min_samples=int(min_samples),
                                                    xi=float(xi), error_threshold=threshold),
                           space=space)
    with long_work("Exploring the model's errors…", failed_label="Exploring failed",
                   first_step="normalising logits") as work:
        set_cpu_threads()
        result = explore_run(run_dir, config, embed=resources.embedder(),
                             progress=work.progress)
        work.done(f"Found {result.error_clusters} error clusters")
    if not work.failed:
        st.rerun()


def _summary(explored: ExploredRun) -> None:
    meta = explored.explore
    cols = st.columns(5)
    cols[0].metric("Clusters", meta.clusters, help=f"method: {meta.method}; "
                   f"{meta.noise_points:,} points in no cluster")
    cols[1].metric("Error clusters", meta.error_clusters,
                   help=f"clusters in the {SPACE_TITLES[meta.space].lower()} space where most "
                        "rows are misclassified")
    concepts = sum(isinstance(r, ErrorSlice) and r.is_concept for r in explored.regions())
    cols[2].metric("Error slices", meta.slices,
                   help="words and phrases (and concepts: several words of one meaning) "
                        "whose rows are misclassified more often than the rest (Fisher's "
                        f"exact test, Benjamini–Hochberg q ≤ 0.05); {concepts} concepts")
    coverage = meta.coverage
    cols[3].metric("Mistakes covered", "—" if coverage is None else f"{coverage:.0%}",
                   help="share of the model's mistakes inside an error cluster or slice")
    target = explored.default_target()
    cols[4].metric("Default target", "—" if target is None else target.heading,
                   help="the strongest region by evidence; the reason is below")
    if not meta.mistakes:
        st.success("The model makes no mistake on this pool.")
        return
    st.info(f"Error clusters and slices hold **{coverage:.0%}** of the model's "
            f"{meta.mistakes:,} mistakes ({meta.in_error_clusters:,} in error clusters, "
            f"{meta.in_slices:,} in slices). {meta.target_reason or meta.reason}")
    if explored.slices_lead:
        classes = len(explored.label_names)
        why = (" With two classes the logits are one-dimensional, so clusters in them "
               "separate little more than the two sides of the decision." if classes == 2
               else "")
        st.warning(f"The error clusters hold only {meta.in_error_clusters:,} of the "
                   f"{meta.mistakes:,} mistakes; the slices and concepts hold "
                   f"{meta.in_slices:,}, so they lead this page.{why}")


def _evidence_table(explored: ExploredRun, descriptions: dict) -> None:
    st.subheader("Regions by evidence")
    evidence = explored.evidence()[:EVIDENCE_ROWS]
    if not evidence:
        return
    regions = {(region.kind, region.key): region for region in explored.regions()}
    listed = [regions[(e.kind, e.key)] for e in evidence]
    # the scope first, so that a long name cut at the column's edge keeps what tells two
    # slices of one term apart ("(true entailment)"); the confusion last
    table = pd.DataFrame({
        "region": [f"{region.listing} · {region.confusion}" if region.confusion
                   else region.listing for region in listed],
        "description": [kept_sentence(descriptions.get((e.kind, e.key))) for e in evidence],
        "rows": [e.rows for e in evidence], "mistakes": [e.errors for e in evidence],
        "error_rate": [e.purity for e in evidence],
        "explained": [round(e.explained) for e in evidence], "q": [e.q for e in evidence]})
    if not any(table["description"]):
        table = table.drop(columns=["description"])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "region": st.column_config.TextColumn("region", width="large"),
        "error_rate": st.column_config.ProgressColumn("error rate", min_value=0.0,
                                                      max_value=1.0, format="percent"),
        "explained": st.column_config.NumberColumn(
            "beyond base rate",
            help="mistakes more than the scope's error rate would put in this many rows: "
                 "what repairing the region can win"),
        "q": st.column_config.NumberColumn("q", format="%.1e", help=Q_HELP),
        "description": st.column_config.TextColumn(
            "description", width="medium",
            help="a sentence kept only when the rows nearest it fail more than the rest "
                 "(Describe, below)")})
    held, mistakes = explored.mistakes_held(listed), explored.explore.mistakes
    shown = "The region above holds" if len(listed) == 1 else (
        f"The {len(listed)} regions above hold")
    st.caption(f"{shown} **{held / max(mistakes, 1):.0%}** of the model's {mistakes:,} "
               f"mistakes ({held:,}); every error cluster and slice together "
               f"{explored.explore.coverage or 0:.0%}.")
    found_again = [f"**{region.listing}** also holds "
                   + "; ".join(one.listing for one in folded)
                   for region in listed if (folded := explored.same_failure(region))]
    if found_again:
        st.caption("One failure, one row — the same failure found again (same confusion, "
                   "its mistakes inside, failing no more sharply) is listed with it, and "
                   "stays a target: " + " · ".join(found_again))


@st.fragment
def _map_and_selection(explored: ExploredRun, target: Region | None) -> None:
    points = explored.points
    left, right = st.columns(2)
    map_name = left.radio("Map", ["tsne", "sparse_pca"], horizontal=True, key="explore_map_name",
                          format_func=plots.MAP_TITLES.get)
    color_by = right.radio("Colour by", list(plots.COLOR_MODES), horizontal=True,
                           key="explore_color_by",
                           format_func={"cluster": "error clusters", "label": "true label",
                                        "pred": "predicted label",
                                        "correct": "correctness"}.get)
    figure = plots.cluster_map(
        points, explored.clusters, map_name=map_name, color_by=color_by,
        selected_cluster=target.cluster if target is not None else None,
        selected_rows=((target.legend, target.rows)
                       if target is not None and target.cluster is None else None),
        space=explored.explore.space)
    event = st.plotly_chart(figure, width="stretch", on_select="rerun",
                            selection_mode=("points", "box", "lasso"), key="explore_chart")
    rows = sorted({int(p["customdata"]) for p in event.selection.points
                   if p.get("customdata") is not None}) if event else []
    if event and (event.selection.get("box") or event.selection.get("lasso")):
        # the region, not the drawn points: above the density threshold most rows are
        # in the picture, not in a trace
        rows = plots.rows_in_region(points, map_name, event.selection).tolist()
    if len(rows) == 1:
        _select_clicked_cluster(explored, rows[0], target)
    if rows:
        st.markdown(f"**{len(rows):,} selected points**")
        st.dataframe(points.iloc[rows][TEXT_COLUMNS], hide_index=True, width="stretch")
    else:
        st.caption("Click a point to select its error cluster; box- or lasso-select points "
                   "to list them here.")


def _select_clicked_cluster(explored: ExploredRun, row: int, target: Region | None) -> None:
    clicked = explored.points.iloc[row]
    cluster = explored.error_cluster(int(clicked["cluster"]))
    if cluster is None:
        where = ("no cluster" if clicked["cluster"] < 0
                 else f"cluster {clicked['cluster']}, not an error cluster")
        st.caption(f"Row {int(clicked['id'])} is in {where}.")
        return
    if target is None or target.ref != cluster.ref:
        st.session_state[state.PENDING_TARGET] = cluster.ref
        st.rerun(scope="app")


def _slice_table(slices: list[ErrorSlice]) -> None:
    st.subheader("Error slices: terms the model fails on more than elsewhere")
    if not slices:
        st.caption("No term's rows are misclassified significantly more often than the rest "
                   "(Benjamini–Hochberg q ≤ 0.05).")
        return
    table = pd.DataFrame({
        "term": [s.term for s in slices], "words": [len(s.terms) for s in slices],
        "scope": [f"true {s.true_label}" if s.true_label else "all rows" for s in slices],
        "rows": [len(s.rows) for s in slices], "errors": [s.errors for s in slices],
        "error_rate": [s.error_rate for s in slices], "base_rate": [s.base_rate for s in slices],
        "lift": [s.lift for s in slices], "q": [s.q for s in slices],
        "confusion": [s.confusion for s in slices],
        "example_ids": ["; ".join(map(str, s.example_ids)) for s in slices]})
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={
            "term": st.column_config.TextColumn(
                "term or concept", help="a concept is several words of one meaning, found "
                                        "as slices of one confusion and tested as one"),
            "words": st.column_config.NumberColumn("words", help="terms in the concept"),
            "error_rate": st.column_config.ProgressColumn("error rate", min_value=0.0,
                                                          max_value=1.0, format="percent"),
            "base_rate": st.column_config.NumberColumn(
                "base rate", format="percent", help="error rate of every row in the scope"),
            "lift": st.column_config.NumberColumn("lift", format="%.1f×"),
            "q": st.column_config.NumberColumn("q", format="%.1e", help=Q_HELP),
            "example_ids": st.column_config.TextColumn("misclassified rows")})


def _uncovered(explored: ExploredRun) -> None:
    """The mistakes no error cluster or slice holds."""
    outside = explored.points[explored.mistakes_outside()]
    with st.expander(f"{len(outside):,} mistakes outside every error cluster and slice"):
        st.dataframe(outside[TEXT_COLUMNS].sort_values("max_prob", ascending=False),
                     hide_index=True, width="stretch", height=300)


def _score_table(error_clusters: list[ErrorCluster]) -> None:
    st.subheader("Error clusters, ranked for augmentation")
    if not error_clusters:
        st.success("No cluster is dominated by mistakes at this threshold.")
        return
    column_config = {name: st.column_config.NumberColumn(name, help=SCORE_HELP[name],
                                                         format="%.3f")
                     for name in scoring.SCORE_COLUMNS}
    column_config["error_rate"] = st.column_config.ProgressColumn(
        "error rate", min_value=0.0, max_value=1.0, format="percent")
    column_config["name_coverage"] = st.column_config.NumberColumn(
        "name coverage", format="percent",
        help="share of the cluster's texts that contain one of its keywords")
    table = pd.DataFrame({
        "rank": [c.rank for c in error_clusters], "cluster": [c.cluster for c in error_clusters],
        "name": [c.name for c in error_clusters], "size": [len(c.rows) for c in error_clusters],
        "error_rate": [c.error_rate for c in error_clusters],
        "name_coverage": [c.name_coverage for c in error_clusters],
        **{name: [c.scores.get(name) for c in error_clusters]
           for name in scoring.SCORE_COLUMNS}})
    st.dataframe(table, hide_index=True, width="stretch", column_config=column_config)


def _slice_detail(points: pd.DataFrame, target: ErrorSlice,
                  description: Description | None) -> None:
    st.subheader(f"{'Concept' if target.is_concept else 'Slice'}: {target.name}")
    holds = (f"one of {len(target.terms)} words" if target.is_concept
             else f"“{target.term}”")
    descriptive = ", descriptive: its terms were picked for failing" if target.is_concept else ""
    st.caption(f"{len(target.rows):,} rows contain {holds} among {target.scope} · "
               f"{target.error_rate:.0%} misclassified vs {target.base_rate:.0%} of the scope "
               f"({target.lift:.1f}×, q = {target.q:.1e}{descriptive}) · confusion "
               f"{target.confusion}")
    show_description(target, description)
    members = points.iloc[target.rows]
    mistakes_first = members.sort_values(["correct", "max_prob"], ascending=[True, False])
    st.dataframe(mistakes_first[TEXT_COLUMNS], hide_index=True, width="stretch", height=360)


def _cluster_detail(points: pd.DataFrame, words: dict, target: ErrorCluster,
                    description: Description | None) -> None:
    st.subheader(f"Cluster {target.key}: {target.name}")
    st.caption(f"{len(target.rows)} points · {target.error_rate:.0%} misclassified · "
               f"confusion {target.confusion or '—'} · true majority {target.true_majority}, "
               f"predicted majority {target.pred_majority}")
    show_description(target, description)
    left, right = st.columns([1, 2])
    if words.get(target.key):
        left.plotly_chart(plots.word_weights(words[target.key], title="Keywords"),
                          width="stretch", key="explore_words")
    else:
        left.caption("These texts share no wording: no term occurs in enough of them to "
                     "name the cluster.")
    members = points.iloc[target.rows]
    right.dataframe(members[TEXT_COLUMNS].sort_values("max_prob"), hide_index=True,
                    width="stretch", height=360)


def _choose_target(explored: ExploredRun) -> Region | None:
    regions = {region.ref: region for region in explored.choices()}
    if not regions:
        return None
    options = list(regions)
    pending = st.session_state.pop(state.PENDING_TARGET, None)
    if pending in options:
        st.session_state["explore_target"] = pending
    elif st.session_state.get("explore_target") not in options:
        remembered = st.session_state.get(state.TARGET)
        strongest = explored.default_target()
        picked = strongest.ref if strongest is not None else options[0]
        st.session_state["explore_target"] = (remembered if remembered in options else
                                              picked if picked in options else options[0])
    target = st.selectbox(
        "Target: an error region, strongest first (then the confusion cells)", options,
        key="explore_target",
        format_func=lambda ref: explored.choice_title(regions[ref]))
    st.session_state[state.TARGET] = target
    return regions[target]


st.title("Explore")
run_dir = require_run()
if not is_explored(run_dir):
    st.caption(f"Run: {run_dir}")
    _explore_form(run_dir)
    st.stop()

explored = resources.explored_run(run_dir)
descriptions = read_region_descriptions(run_dir)
_summary(explored)
target = _choose_target(explored)
if target is not None:
    last_round_of(run_dir, target)
_map_and_selection(explored, target)
_evidence_table(explored, descriptions)
confusion_matrices(explored, target)
with st.expander("Describe the strongest regions in a sentence"):
    st.caption("A language model reads each region's misclassified rows and terms and writes "
               "one sentence; it is kept only when the rows nearest the sentence fail "
               f"{KEEP_LIFT}× as often as the rest.")
    describe_form(explored)
_uncovered(explored)
error_clusters = [r for r in explored.regions() if isinstance(r, ErrorCluster)]
error_slices = [r for r in explored.regions() if isinstance(r, ErrorSlice)]
if explored.slices_lead:
    _slice_table(error_slices)
    _score_table(error_clusters)
else:
    _score_table(error_clusters)
    _slice_table(error_slices)
if isinstance(target, ErrorCluster):
    _cluster_detail(explored.points, _words(str(run_dir), explored_at(run_dir)), target,
                    descriptions.get((target.kind, target.key)))
elif isinstance(target, ErrorSlice):
    _slice_detail(explored.points, target, descriptions.get((target.kind, target.key)))
elif isinstance(target, ConfusionCell):
    cell_detail(explored.points[TEXT_COLUMNS], target)
with st.expander("Explore again with other settings"):
    _explore_form(run_dir)
