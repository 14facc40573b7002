"""Explore's confusion matrices: the pool's and the test split's, where selecting a cell
off the diagonal makes its mistakes — a confusion cell (``explorer.confusion_cells``) —
the target; and the chosen cell's rows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from topex_app import state
from topex_core.errors import RunError
from topex_core.explorer.confusion_cells import cell_ref, confusion_matrix
from topex_core.explorer.explored import ConfusionCell, ExploredRun, Region


def confusion_matrices(explored: ExploredRun, target: Region | None) -> None:
    """The pool's and the test split's confusion matrices; selecting a cell off the
    diagonal makes its mistakes the target."""
    st.subheader("Confusion matrix: pick a cell to target its mistakes")
    st.caption("Rows: true label; columns: predicted label. A cell off the diagonal, true A "
               "predicted B, is a region: the base model's mistakes of that kind. Repairing it "
               "can break the rows rightly predicted B — its complement, measured after "
               "retraining.")
    splits = [("pool", explored.points)]
    if explored.test_points is not None:
        splits.append(("test", explored.test_points))
    for column, (split, points) in zip(st.columns(len(splits)), splits, strict=True):
        matrix = confusion_matrix(points, explored.label_names)
        column.markdown(f"**{split.capitalize()}** ({len(points):,} rows)")
        event = column.dataframe(matrix, width="stretch", on_select="rerun",
                                 selection_mode="single-cell", key=f"explore_confusion_{split}")
        cells = event.selection.get("cells", []) if event else []
        if cells and _new_selection(split, cells[0]):
            _pick_cell(explored, matrix.index[int(cells[0][0])], str(cells[0][1]), target)


def _new_selection(split: str, cell: object) -> bool:
    """Whether ``cell`` was selected since the last rerun: a selection stays in the widget,
    and the target chosen since must not be overridden by it."""
    key = f"explore_confusion_{split}_handled"
    new = st.session_state.get(key) != list(cell)
    st.session_state[key] = list(cell)
    return new


def _pick_cell(explored: ExploredRun, true_label: str, predicted: str,
               target: Region | None) -> None:
    if true_label == predicted:
        st.caption(f"The diagonal cell {true_label} holds the rows the model gets right.")
        return
    try:
        cell = explored.region(cell_ref(true_label, predicted))
    except RunError as error:
        st.caption(str(error).capitalize())
        return
    if target is None or target.ref != cell.ref:
        st.session_state[state.PENDING_TARGET] = cell.ref
        st.rerun(scope="app")


def cell_detail(points: pd.DataFrame, target: ConfusionCell) -> None:
    """The cell's rows (``points``: the pool's, the columns to show), surest first."""
    st.subheader(f"Confusion cell: {target.name}")
    reach = target.reach(test=False)
    st.caption(f"{target.errors:,} pool rows of true {target.label} predicted "
               f"{target.predicted} · the model predicts {target.predicted} for "
               f"{len(reach):,} pool rows, {len(reach) - target.errors:,} of them rightly or of "
               f"a third label (the complement a repair can break) · "
               f"{len(target.test_rows):,} test rows of the cell")
    members = points.iloc[target.rows]
    st.dataframe(members.sort_values("max_prob", ascending=False),
                 hide_index=True, width="stretch", height=360)
