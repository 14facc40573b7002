"""Retrain & compare: retrain with the accepted samples, then see in the same map which
points moved, what was fixed or broken, and whether the change is significant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from topex_app import state
from topex_app.guards import require_run
from topex_app.work import long_work
from topex_core import plots
from topex_core.config import MAX_SAMPLE_REPEATS, MAX_SEEDS, RETRAIN_MODES, SAMPLE_REPEATS
from topex_core.explorer.explored import ExploredRun
from topex_core.movement_plot import (
    MAX_CHANGE_LINES,
    changed_rows,
    movement_map,
    movement_summary,
)
from topex_core.retraining.compare import MIN_REGION_TEST_ROWS
from topex_core.retraining.config import RetrainConfig, consecutive_seeds
from topex_core.retraining.retrain import retrain
from topex_core.round_records import RoundMetrics, RoundResult
from topex_core.rounddir import list_rounds, read_after_points, read_sample_points
from topex_core.rundir import explored_at, has_classifier, read_run
from topex_core.storage.store import Store
from topex_core.training.classifier import set_cpu_threads

MODE_HELP = {"head": "head only: the encoder stays frozen; seconds on a CPU",
             "full": "full fine-tune from the same checkpoint, seed and schedule; minutes"}
LIST_COLUMNS = ["id", "text", "label", "pred", "pred_after", "cluster"]


def _accepted(run_dir: Path) -> pd.DataFrame:
    with Store() as store:
        return store.accepted(store.register_run(run_dir))


def _retrain_form(run_dir: Path, accepted: pd.DataFrame) -> None:
    count = len(accepted)
    st.markdown(f"**{count} accepted sample{'' if count == 1 else 's'}** will be added to the "
                "base run's training subset.")
    with st.expander("Accepted samples"):
        st.dataframe(accepted[["id", "cluster", "slice", "text", "label", "backend"]],
                     hide_index=True, width="stretch")
    left, right = st.columns(2)
    imported = not has_classifier(run_dir)
    backbone = None
    if imported:
        mode, control = "full", True
        st.info("This run holds imported predictions and no model, so there is no head to "
                "retrain. A backbone is fine-tuned on the run's data with and without the "
                "samples; the change the samples made is read against that control.")
        backbone = left.text_input("Backbone to fine-tune", key="retrain_backbone",
                                   placeholder="packaged all-MiniLM-L6-v2",
                                   help="A Hugging Face model id or a local directory.")
    else:
        mode = left.radio("Mode", RETRAIN_MODES, horizontal=True, key="retrain_mode",
                          format_func=MODE_HELP.get)
    seeds = right.number_input("Seeds", 1, MAX_SEEDS, 1, key="retrain_seeds",
                               help="more seeds show how much of the change is seed noise")
    repeats = right.number_input(
        "Each sample counts as … rows", 1, MAX_SAMPLE_REPEATS, SAMPLE_REPEATS,
        key="retrain_repeats",
        help="A round adds each accepted sample this many times, so that a few dozen "
             "samples weigh against the training rows. Measured (README): 3 helped a narrow "
             "region a lot, but when the samples' class is rare in training it made the "
             "model over-predict that class; check the whole test split against the "
             "control.")
    if not imported:
        control = st.checkbox(
            _control_label(mode, read_run(run_dir).timings_s.get("fine_tune")),
            value=mode == "head", key=f"retrain_control_{mode}",
            help="Retraining moves rows the samples never touch. The control is the same "
                 "round without the samples; comparing against it shows what the samples "
                 "themselves did.")
    if not st.button("Retrain", type="primary", key="retrain_go"):
        return
    with long_work(f"Retraining ({mode})…", failed_label="Retraining failed") as work:
        # A click reruns the page; the next progress update then stops training and the
        # half-written round is removed (retrain cleans up on any interruption).
        st.button("Cancel", key="retrain_cancel", icon=":material/stop:")
        config = RetrainConfig(mode=mode, control=control, backbone=(backbone or "").strip()
                               or None,
                               seeds=consecutive_seeds(read_run(run_dir).seed, int(seeds)),
                               sample_repeats=int(repeats))
        set_cpu_threads()
        with Store() as store:
            result = retrain(run_dir, config, store=store, progress=work.progress)
        work.done(f"Round {result.name} done")
        st.session_state[state.RETRAIN_ROUND] = result.name


def _control_label(mode: str, fine_tune_s: float | None) -> str:
    if mode == "head":
        return "Compare against a control trained without the samples (seconds; recommended)"
    cost = f", about {fine_tune_s / 60:.0f} more minutes" if fine_tune_s else ""
    return f"Also train a control without the samples (twice the time{cost})"


def _round_table(rounds: list[RoundResult]) -> None:
    table = pd.DataFrame([_round_row(r) for r in rounds])
    percent = st.column_config.NumberColumn(format="percent")
    points = st.column_config.NumberColumn(format="%+.2f pp")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"test before": percent, "test after": percent,
                                "pool after": percent, "samples vs control": points,
                                "McNemar p": st.column_config.NumberColumn(format="%.4f")})


def _round_row(round_result: RoundResult) -> dict:
    first = round_result.metrics.first
    headline = first.test if first.test is not None else first.pool
    against = first.control_test if first.test is not None else first.control_pool
    return {"round": round_result.name, "mode": round_result.mode,
            "seeds": len(round_result.seeds), "samples": round_result.samples,
            "test before": first.test.accuracy_before if first.test else None,
            "test after": first.test.accuracy_after if first.test else None,
            "pool after": first.pool.accuracy_after,
            "samples vs control": 100 * against.change if against is not None else None,
            "fixed": headline.fixed, "broken": headline.broken,
            "McNemar p": headline.mcnemar_p}


def _region_headline(metrics: RoundMetrics) -> None:
    """The region the samples were made for first: its test rows before, after and with
    the control; then the harm: the whole test split and the other region hurt most."""
    for target in metrics.targets:
        st.markdown(f"**Target {target.kind}: {target.name}**")
        if not target.test_rows:
            st.info("No test row falls into this region, so the test split cannot say what "
                    "the samples did to it; the pool figures below include training rows.")
            continue
        if target.test_rows < MIN_REGION_TEST_ROWS:
            falls = "row falls" if target.test_rows == 1 else "rows fall"
            st.caption(f"Only {target.test_rows} test {falls} into this region: too few to "
                       "tell a repair from chance.")
        cols = st.columns(4)
        cols[0].metric("Target test rows", f"{target.test_rows:,}")
        cols[1].metric("Target accuracy", f"{target.accuracy_after:.1%}",
                       f"{100 * target.change:+.1f} pp", help="after the round; the change "
                       "is against the base model")
        if target.vs_control is None:
            cols[2].metric("Control", "—", help="no control was trained")
            continue
        cols[2].metric("Control", f"{target.accuracy_control:.1%}",
                       help="the same retraining without the samples")
        cols[3].metric("Samples vs control", f"{100 * target.vs_control:+.1f} pp",
                       help="target accuracy after − the control's, on the same test rows")
        low, high = target.vs_control_ci95
        sure = target.mcnemar_p < 0.05
        (st.success if sure and target.vs_control > 0 else st.info)(
            f"On the target's {target.test_rows:,} test rows the samples moved accuracy "
            f"{100 * target.vs_control:+.1f} points beyond the control (95% bootstrap "
            f"interval {100 * low:+.1f} to {100 * high:+.1f}; McNemar p = "
            f"{target.mcnemar_p:.3f}): "
            + ("unlikely to be chance." if sure else "it could be chance at the 5% level."))
    harm = [outcome for outcome in (metrics.overall, metrics.worst_other)
            if outcome is not None and outcome.vs_control is not None]
    if harm:
        st.caption("Elsewhere, against the control: " + "; ".join(
            f"{'the whole test split' if o.kind == 'overall' else f'{o.kind} {o.name}'} "
            f"({o.test_rows:,} test rows) {100 * o.vs_control:+.1f} points "
            f"(interval {100 * o.vs_control_ci95[0]:+.1f} to {100 * o.vs_control_ci95[1]:+.1f})"
            for o in harm) + ".")


def _headline(metrics: RoundMetrics) -> None:
    """Test figures first; with a control, what the samples did beyond retraining itself."""
    first = metrics.first
    split = "test" if first.test is not None else "pool"
    base = first.test if first.test is not None else first.pool
    against = first.control_test if first.test is not None else first.control_pool
    headline = against if against is not None else base
    cols = st.columns(4)
    cols[0].metric(f"{split.title()} accuracy", f"{base.accuracy_after:.2%}",
                   f"{100 * base.change:+.2f} pp", help="after the round, against the base model")
    if against is not None:
        cols[1].metric("Samples vs control", f"{100 * against.change:+.2f} pp",
                       help="accuracy after − accuracy of the same retraining without the "
                            "samples: what the samples themselves changed")
    cols[2].metric(f"Fixed / broken ({split})", f"{headline.fixed} / {headline.broken}")
    cols[3].metric("McNemar p", f"{headline.mcnemar_p:.4f}")
    low, high = headline.diff_ci95
    significant = headline.mcnemar_p < 0.05
    subject = ("**Samples vs control**" if against is not None else "**After vs before**")
    message = (f"{subject} on the {split} ({headline.rows:,} rows): accuracy "
               f"{100 * headline.change:+.2f} points (95% bootstrap interval {100 * low:+.2f} "
               f"to {100 * high:+.2f}), {headline.fixed} rows fixed and {headline.broken} "
               f"broken; McNemar's exact test p = {headline.mcnemar_p:.4f}: "
               + ("the change is unlikely to be chance." if significant else
                  "the change could be chance at the 5% level."))
    (st.success if significant and headline.fixed > headline.broken else st.info)(message)
    if against is not None:
        st.caption(f"Against the base model, retraining itself included: {split} accuracy "
                   f"{100 * base.change:+.2f} points, {base.fixed} fixed and {base.broken} "
                   f"broken (p = {base.mcnemar_p:.4f}).")
    else:
        st.caption("No control was trained: this change includes what retraining alone moves, "
                   "so it is not the samples' effect by itself.")
    if split == "test":
        pool = first.pool
        st.caption(f"On the pool (its training rows included): accuracy "
                   f"{pool.accuracy_before:.2%} → {pool.accuracy_after:.2%}, {pool.fixed} "
                   f"fixed and {pool.broken} broken.")
    if len(metrics.seeds) > 1:
        spread = metrics.across_seeds[split]
        st.caption(f"Across {len(metrics.seeds)} seeds, {split} accuracy after: "
                   f"mean {spread.mean:.2%}, sd {100 * spread.std:.2f} pp, "
                   f"range {spread.min:.2%}–{spread.max:.2%}.")


@st.cache_resource(show_spinner=False, max_entries=4)
def _explored(run_dir: str, modified: float) -> ExploredRun:
    """The explored run, read once per exploration (``modified``: explore.json's mtime)."""
    return ExploredRun.load(Path(run_dir))


def _round_target_rows(explored: ExploredRun, samples: pd.DataFrame
                       ) -> tuple[np.ndarray, str]:
    """(N,) bools of the rows of the regions this round's samples were made for, and what
    to call them."""
    regions = explored.targeted(samples["cluster"].dropna(), samples["slice"].dropna())
    rows = np.zeros(len(explored.points), bool)
    for region in regions:
        rows[region.rows] = True
    name = (f"{regions[0].kind} {regions[0].name}" if len(regions) == 1
            else f"{len(regions)} targets")
    return rows, plots.short(name, 60)


@st.fragment
def _maps(points: pd.DataFrame, after: pd.DataFrame, label_names: list[str],
          target: tuple[np.ndarray, str], samples: pd.DataFrame | None) -> None:
    map_name = st.radio("Map", ["tsne", "sparse_pca"], horizontal=True, key="retrain_map",
                        format_func=plots.MAP_TITLES.get)
    rows, name = target
    st.plotly_chart(movement_map(points, after, label_names=label_names, map_name=map_name,
                                 target=rows, target_name=name, samples=samples),
                    width="stretch", key="retrain_chart")
    moved = movement_summary(points, after, map_name)
    drawn = int((rows | (after["correct_after"].to_numpy(bool)
                         != points["correct"].to_numpy(bool))).sum())
    samples_note = (f" and the accepted samples (stars, {len(samples):,})"
                    if samples is not None and len(samples) else "")
    changed = moved.fixed + moved.broken
    longest = (f" (the {MAX_CHANGE_LINES} longest moves of them)"
               if changed > MAX_CHANGE_LINES else "")
    st.caption(
        f"Lines join the {moved.fixed:,} fixed and {moved.broken:,} broken rows{longest}, the "
        f"target's rows (ringed){samples_note} to where they were before; press play to "
        f"watch them move. The other {moved.rows - drawn:,} rows are drawn once, faint, at "
        f"their after position: their median move is {moved.median:.1%} of the map's "
        f"diagonal, and {moved.share_over:.0%} of all rows moved more than "
        f"{moved.threshold:.0%}.")


def _slices(per_slice: list[dict]) -> None:
    """Error rate of each slice before/after, the slices the samples targeted first."""
    if not per_slice:
        return
    st.markdown("**Error slices before → after** (pool; test rows that contain the term, or "
                "one of a concept's terms)")
    percent = {column: st.column_config.NumberColumn(column.replace("_", " "), format="percent")
               for column in ("error_before", "error_after", "test_error_before",
                              "test_error_after")}
    percent["test_rows"] = st.column_config.NumberColumn(
        "test rows", help="test rows that contain the term or one of a concept's terms (with "
                          "the slice's label); where "
                          "there are none, only the pool figures exist and they include rows "
                          "the model was trained on")
    st.dataframe(pd.DataFrame(per_slice), hide_index=True, width="stretch",
                 column_config={**percent, "term": None, "true_label": None,
                                "targeted": st.column_config.CheckboxColumn(
                                    "targeted",
                                    help="accepted samples were generated for this slice")})


def _changes(points: pd.DataFrame, after: pd.DataFrame, label_names: list[str]) -> None:
    fixed, broken = changed_rows(points, after, label_names)
    left, right = st.columns(2)
    left.markdown(f"**Fixed ({len(fixed):,})** — wrong before, right after")
    left.dataframe(fixed[LIST_COLUMNS], hide_index=True, width="stretch", height=280)
    right.markdown(f"**Broken ({len(broken):,})** — right before, wrong after")
    right.dataframe(broken[LIST_COLUMNS], hide_index=True, width="stretch", height=280)


st.title("Retrain & compare")
run_dir = require_run(explored_because="then accept samples on the Augment page.")
accepted = _accepted(run_dir)
if accepted.empty:
    st.info("No accepted samples yet: accept candidates on the Augment page, then retrain.")
else:
    _retrain_form(run_dir, accepted)
rounds = list_rounds(run_dir)
if not rounds:
    st.stop()
st.subheader("Training rounds")
_round_table(rounds)
names = [r.name for r in rounds]
remembered = st.session_state.get(state.RETRAIN_ROUND)
chosen_name = st.selectbox("Round", names[::-1], key="retrain_round_choice",
                           index=names[::-1].index(remembered) if remembered in names else 0)
chosen = rounds[names.index(chosen_name)]
metrics = chosen.metrics
_region_headline(metrics)
_headline(metrics)
explored = _explored(str(run_dir), explored_at(run_dir))
points = explored.points
after = read_after_points(Path(chosen.round_dir))
round_samples = (accepted[accepted["id"].isin(chosen.candidate_ids)] if not accepted.empty
                 else accepted)
_maps(points, after, explored.label_names,
      _round_target_rows(explored, round_samples),
      read_sample_points(Path(chosen.round_dir)))
if metrics.per_cluster:
    # the cluster the samples were made for leads (the explorer's pick when none was)
    led_by = next((int(target.key) for target in metrics.targets if target.kind == "cluster"),
                  metrics.picked_cluster)
    st.plotly_chart(plots.cluster_accuracy_change(metrics.per_cluster, picked_cluster=led_by,
                                                  min_test_rows=MIN_REGION_TEST_ROWS),
                    width="stretch", key="retrain_clusters")
_slices(metrics.per_slice)
_changes(points, after, explored.label_names)
with st.expander("Per class"):
    st.dataframe(pd.DataFrame(metrics.per_class), hide_index=True, width="stretch")
