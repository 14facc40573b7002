"""Retrain & compare: retrain with the accepted samples, then see in the same map which
points moved, what was fixed or broken, and whether the change is significant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from topex_app import resources, state
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
from topex_core.repair_plot import groups_chart, region_accuracy_change
from topex_core.retraining.compare import MIN_REGION_TEST_ROWS
from topex_core.retraining.config import RetrainConfig, consecutive_seeds
from topex_core.retraining.retrain import retrain
from topex_core.round_outcomes import GROUP_KINDS, interval_words
from topex_core.round_records import PairedSummary, RegionChange, RoundMetrics, RoundResult
from topex_core.rounddir import list_rounds, read_after_points, read_sample_points
from topex_core.rundir import has_classifier, read_run
from topex_core.storage.candidates import VettedCandidate, target_name
from topex_core.storage.store import Store
from topex_core.training.classifier import set_cpu_threads

CONTROL_NAMES = {"matched": "label-matched control", "plain": "plain control"}
MODE_HELP = {"head": "head only: the encoder stays frozen; seconds on a CPU",
             "full": "full fine-tune from the same checkpoint, seed and schedule; minutes"}
LIST_COLUMNS = ["id", "text", "label", "pred", "pred_after", "cluster"]


def _accepted(run_dir: Path) -> list[VettedCandidate]:
    with Store() as store:
        return [candidate for candidate in store.vetted(store.register_run(run_dir))
                if candidate.status == "accepted"]


def _retrain_form(run_dir: Path, accepted: list[VettedCandidate]) -> None:
    count = len(accepted)
    st.markdown(f"**{count} accepted sample{'' if count == 1 else 's'}** will be added to the "
                "base run's training subset.")
    with st.expander("Accepted samples"):
        st.dataframe(pd.DataFrame({
            "id": [c.id for c in accepted], "target": [target_name(c.target) for c in accepted],
            "text": [c.text for c in accepted], "label": [c.label for c in accepted],
            "backend": [c.backend for c in accepted]}), hide_index=True, width="stretch")
    left, right = st.columns(2)
    imported = not has_classifier(run_dir)
    backbone = None
    if imported:
        mode = "full"
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
                               help="more seeds show how much of the change is seed noise; "
                                    "each test row still counts once")
    repeats = right.number_input(
        "Each sample counts as … rows", 1, MAX_SAMPLE_REPEATS, SAMPLE_REPEATS,
        key="retrain_repeats",
        help="A round adds each accepted sample this many times, so that a few dozen "
             "samples weigh against the training rows. Measured (README): more repeats "
             "moved narrow regions further, and moved the model toward the samples' label "
             "around them; read the complement and the rest before keeping the round.")
    fine_tune_s = read_run(run_dir).timings_s.get("fine_tune")
    matched = st.checkbox(
        _control_label("label-matched", mode, fine_tune_s), value=mode == "head",
        key=f"retrain_matched_{mode}",
        help="The same round with the samples replaced by as many training rows of their "
             "labels: the same rows, steps and label balance. What the round does beyond it "
             "is the samples' content; the verdict is read against it and needs it.")
    control = imported or st.checkbox(
        _control_label("plain", mode, fine_tune_s), value=mode == "head",
        key=f"retrain_control_{mode}",
        help="The same round without the samples: what retraining alone moves.")
    if not st.button("Retrain", type="primary", key="retrain_go"):
        return
    with long_work(f"Retraining ({mode})…", failed_label="Retraining failed") as work:
        # A click reruns the page; the next progress update then stops training and the
        # half-written round is removed (retrain cleans up on any interruption).
        st.button("Cancel", key="retrain_cancel", icon=":material/stop:")
        config = RetrainConfig(mode=mode, control=control, matched_control=matched,
                               backbone=(backbone or "").strip() or None,
                               seeds=consecutive_seeds(read_run(run_dir).seed, int(seeds)),
                               sample_repeats=int(repeats))
        set_cpu_threads()
        with Store() as store:
            result = retrain(run_dir, config, store=store, progress=work.progress)
        work.done(f"Round {result.name} done")
        st.session_state[state.RETRAIN_ROUND] = result.name


def _control_label(kind: str, mode: str, fine_tune_s: float | None) -> str:
    what = ("Train the label-matched control (training rows of the samples' labels instead; "
            "the verdict needs it)" if kind == "label-matched"
            else "Train the plain control (no samples: what retraining alone moves)")
    if mode == "head":
        return f"{what}: seconds"
    cost = f", about {fine_tune_s / 60:.0f} more minutes" if fine_tune_s else ""
    return f"{what}: one more fine-tune per seed{cost}"


def _round_table(rounds: list[RoundResult]) -> None:
    table = pd.DataFrame([_round_row(r) for r in rounds])
    percent = st.column_config.NumberColumn(format="percent")
    points = st.column_config.NumberColumn(format="%+.1f pp")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"target after": percent, "target vs control": points,
                                "complement vs control": points, "rest vs control": points,
                                "test after": percent})


def _round_row(round_result: RoundResult) -> dict:
    metrics = round_result.metrics
    groups = metrics.groups
    first = metrics.first
    return {"round": round_result.name, "mode": round_result.mode,
            "seeds": len(round_result.seeds), "samples": round_result.samples,
            "verdict": metrics.verdict.words if metrics.verdict else "—",
            "control": metrics.control or "—",
            "target after": groups.target.accuracy_after if groups else None,
            **{f"{name} vs control": (100 * getattr(groups, name).vs_control
                                      if groups and getattr(groups, name).vs_control is not None
                                      else None)
               for name in GROUP_KINDS},
            "test after": first.test.accuracy_after if first.test else None}


def _verdict(metrics: RoundMetrics) -> None:
    """The verdict first: green only for a repair, amber when it cost the complement or
    the rest."""
    verdict = metrics.verdict
    if verdict is None:
        st.info("This round was trained before rounds were judged against a label-matched "
                "control: retrain to get a verdict.")
        return
    show = {"repaired": st.success, "at_a_cost": st.warning}.get(verdict.status, st.info)
    sentence = verdict.sentence
    show(f"**Verdict: {verdict.words}.** {sentence[0].upper()}{sentence[1:]}")


def _groups(metrics: RoundMetrics) -> None:
    """Target, complement and rest against the control, and every class; the same against
    the plain control beside them."""
    groups = metrics.groups
    if groups is None:
        return
    columns = st.columns(3)
    for column, name, what in zip(columns, GROUP_KINDS, (
            f"the region's test rows of true label {groups.label}",
            "the region's test rows of other labels: what a shortcut toward "
            f"{groups.label} would break", "every other test row"), strict=True):
        outcome = getattr(groups, name)
        if not outcome.test_rows:
            column.metric(name.title(), "no test rows", help=what)
            continue
        column.metric(f"{name.title()} ({outcome.test_rows:,} test rows)",
                      f"{outcome.accuracy_after:.1%}",
                      f"{100 * outcome.vs_control:+.1f} pp vs control", delta_color="off",
                      help=f"{what}; accuracy after the round (mean over seeds), and after − "
                           f"the {CONTROL_NAMES[groups.control]}")
        column.caption(f"control {outcome.accuracy_control:.1%} · {interval_words(outcome)}")
    st.plotly_chart(groups_chart(groups, metrics.plain_groups), width="stretch",
                    key="retrain_groups")
    if groups.shift:
        st.warning(groups.shift)
    seeds = len(metrics.seeds)
    st.caption(f"{seeds} seed{'s' if seeds > 1 else ''}; each test row is counted once: "
               + ("gained when the round's models get it right in more seeds than their "
                  "controls. The interval line is then that of the net share of rows gained."
                  if seeds > 1 else "gained when the round gets it right and the control "
                                     "wrong.")
               + (" Hollow circles: against the plain control (no samples)."
                  if metrics.plain_groups else ""))
    with st.expander("Per class on the test split, against the control"):
        st.dataframe(pd.DataFrame([c.to_json() for c in groups.per_class]), hide_index=True,
                     width="stretch",
                     column_config={name: st.column_config.NumberColumn(format="percent")
                                    for name in ("accuracy_control", "accuracy_after",
                                                 "predicted_control", "predicted_after",
                                                 "vs_control")})


def _headline(metrics: RoundMetrics) -> None:
    """The whole split, against the control and the base model: context, never the
    verdict (no colour)."""
    first = metrics.first
    split = "test" if first.test is not None else "pool"
    base = first.test if first.test is not None else first.pool
    control = next((name for name in ("matched", "plain")
                    if first.against(name, split) is not None), None)
    against = first.against(control, split) if control else None
    words = CONTROL_NAMES.get(control, "")
    parts = [f"The whole {split} split ({base.rows:,} rows), first seed: accuracy "
             f"{base.accuracy_before:.2%} → {base.accuracy_after:.2%} against the base model "
             f"({base.fixed} fixed, {base.broken} broken, p = {base.mcnemar_p:.3g})"]
    if against is not None:
        parts.append(f"{100 * against.change:+.2f} points against the {words} "
                     f"({against.fixed} gained, {against.broken} lost, p = "
                     f"{against.mcnemar_p:.3g})")
    st.caption("; ".join(parts) + ".")
    if metrics.worst_other is not None and metrics.worst_other.vs_control is not None:
        worst = metrics.worst_other
        st.caption(f"Of the other error regions with at least {MIN_REGION_TEST_ROWS} test "
                   f"rows, {worst.kind} {worst.name} moved most against the control: "
                   f"{100 * worst.vs_control:+.1f} points on {worst.test_rows:,} test rows "
                   "(descriptive: the worst of many is picked, so its p is not a test).")
    if len(metrics.seeds) > 1:
        spread = metrics.across_seeds[split]
        st.caption(f"Across {len(metrics.seeds)} seeds, {split} accuracy after: "
                   f"mean {spread.mean:.2%}, sd {100 * spread.std:.2f} pp, "
                   f"range {spread.min:.2%}–{spread.max:.2%}.")


def _round_target_rows(explored: ExploredRun, samples: list[VettedCandidate]
                       ) -> tuple[np.ndarray, str]:
    """(N,) bools of the rows of the regions this round's samples were made for, and what
    to call them."""
    regions = explored.targeted(dict.fromkeys(sample.target for sample in samples
                                              if sample.target is not None))
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


def _regions(changes: list[RegionChange]) -> None:
    """Every region before → after, the targeted first: its pool rows against the base
    model, its test rows against the control."""
    st.markdown("**Every region before → after** (pool against the base model; test rows "
                "against the control, over every seed)")
    table = _summaries({change.name: change.pool for change in changes}, "region")
    table.insert(0, "targeted", [change.targeted for change in changes])
    table.insert(1, "kind", [change.kind for change in changes])
    table["test_rows"] = [change.test.test_rows if change.test else 0 for change in changes]
    for column in ("accuracy_before", "accuracy_control", "accuracy_after", "vs_control",
                   "gained", "lost", "mcnemar_p"):
        table[f"test_{column}"] = [getattr(change.test, column) if change.test else None
                                   for change in changes]
    percent = {column: st.column_config.NumberColumn(column.replace("_", " "), format="percent")
               for column in table.columns if "accuracy" in column or column == "test_vs_control"}
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        **percent, "targeted": st.column_config.CheckboxColumn(
            "targeted", help="accepted samples were made for this region"),
        "test_rows": st.column_config.NumberColumn(
            "test rows", help="where there are none, only the pool figures exist, and they "
                              "include rows the model was trained on"),
        "test_mcnemar_p": st.column_config.NumberColumn("test p", format="%.2g")})


def _summaries(pools: dict[str, PairedSummary], what: str) -> pd.DataFrame:
    """One row per paired summary (``pools``: by name): rows, accuracy before and after,
    fixed, broken."""
    return pd.DataFrame({what: list(pools), **{
        column: [getattr(summary, column) for summary in pools.values()]
        for column in ("rows", "accuracy_before", "accuracy_after", "fixed", "broken")}})


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
if not accepted:
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
_verdict(metrics)
_groups(metrics)
_headline(metrics)
explored = resources.explored_run(run_dir)
points = explored.points
after = read_after_points(Path(chosen.round_dir))
round_samples = [sample for sample in accepted if sample.id in set(chosen.candidate_ids)]
_maps(points, after, explored.label_names,
      _round_target_rows(explored, round_samples),
      read_sample_points(Path(chosen.round_dir)))
if metrics.regions:
    st.plotly_chart(region_accuracy_change(metrics.regions, min_test_rows=MIN_REGION_TEST_ROWS),
                    width="stretch", key="retrain_regions")
    _regions(metrics.regions)
_changes(points, after, explored.label_names)
with st.expander("Per class on the pool, against the base model (training rows included)"):
    st.dataframe(_summaries({c.label: c.pool for c in metrics.per_class}, "label"),
                 hide_index=True, width="stretch")
