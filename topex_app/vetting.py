"""Vetting on the Augment page: a review queue (one candidate at a time, large, decided by
keys) and a table for deciding many at once, with bulk actions and one undo/redo history
over all of them. Everything here runs in a fragment, so a key press reruns the vetting,
not the page; keys go through one queue on the page (``keyqueue``), so that none pressed
while the queue redraws is lost, and each does what its button does. Every decision goes
to the store at once; the history (``storage.history``) lives with the browser tab."""

from __future__ import annotations

import html
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import streamlit as st

from topex_app import keyqueue
from topex_core.augmenter.checks import check_notes
from topex_core.explorer.explored import Region
from topex_core.plots import short
from topex_core.storage.candidates import (
    REVIEW_ORDERS,
    VettedCandidate,
    review_order,
    target_name,
)
from topex_core.storage.export import export_samples
from topex_core.storage.history import DecisionHistory
from topex_core.storage.store import Store

STATUS_ICONS = {"pending": ":material/schedule:", "accepted": ":green[:material/check_circle:]",
                "rejected": ":red[:material/cancel:]"}
# Streamlit reserves C and R; N and P move, U and Y undo and redo as in most editors
KEYS = {"accept": "A", "reject": "X", "edit": "E", "relabel": "L", "previous": "P",
        "next": "N", "undo": "U", "redo": "Y"}
ACTIONS = {key.lower(): action for action, key in KEYS.items()}
KEY_QUEUE = "augment_keys"  # the page's key listener (``keyqueue``)
VIEW, ORDER = "augment_view", "augment_order"  # the queue's two segmented controls
CURRENT = "augment_queue_current"  # int: the candidate the queue shows
EDITING = "augment_queue_editing"  # (candidate id, "edit" | "relabel") being edited
TABLE_VERSION = "augment_table_version"  # int: a new table after its decisions are applied
DECISIONS = ("keep", "accept", "reject")  # the table's decision column


def history(run_id: int) -> DecisionHistory:
    """This tab's undo/redo history of the run's decisions."""
    return st.session_state.setdefault(f"augment_history_{run_id}", DecisionHistory())


@st.fragment
def vetting(run_dir: Path, target: Region, labels: list[str], rows: pd.DataFrame) -> None:
    """The candidates of ``target``: counts, bulk actions, the queue or the table, export.
    ``rows``: the run's rows by id (text, label, pred, correct), for the source a rewrite
    started from and the training rows nearest a candidate."""
    pressed = keyqueue.take(KEY_QUEUE)
    with Store() as store:
        run_id = store.register_run(run_dir)
    if pressed is not None:
        _press(run_id, target, pressed)
    with Store() as store:
        everything = store.vetted(run_id)
    st.subheader("Candidates")
    if not everything:
        st.caption("No candidates yet: generate some above.")
        return
    _counts(everything)
    accepted = sum(candidate.status == "accepted" for candidate in everything)
    st.caption(f"{accepted} accepted in this run: Retrain & compare adds them all to "
               "training.")
    for_target = [candidate for candidate in everything if candidate.target == target.ref]
    if not for_target:
        st.caption(f"No candidates for this {target.noun} yet.")
    else:
        _bulk_actions(run_id, for_target)
        view, order = st.columns([2, 3])
        shown = view.segmented_control("View", ["queue", "table"], default="queue",
                                       key=VIEW, required=True,
                                       format_func={"queue": "One at a time (keys)",
                                                    "table": "Table (decide many)"}.get)
        ordering = order.segmented_control(
            "Order", REVIEW_ORDERS, default=REVIEW_ORDERS[0], key=ORDER,
            required=True, help="by the number of warnings the checks raised")
        ordered = review_order(for_target, ordering)
        if shown == "queue":
            _queue(run_id, ordered, labels, rows)
        else:
            _table(run_id, ordered)
        # every key, always: what a key does here and now is _press's to say, so a key
        # pressed while the listener still heard of an older state is not dropped
        keyqueue.listen(KEY_QUEUE, list(KEYS.values()))
    _export(run_id, accepted)


def _press(run_id: int, target: Region, key: str) -> None:
    """Do what ``key``'s button does, on the queue as the store and this tab have it now:
    undo and redo anywhere, the others in the queue view and not while a candidate is
    edited (its buttons are not shown then)."""
    action = ACTIONS.get(key)
    if action == "undo":
        _undo(run_id)
        return
    if action == "redo":
        _redo(run_id)
        return
    with Store() as store:
        candidates = store.vetted(run_id, target=target.ref)
    ordered = review_order(candidates, st.session_state.get(ORDER, REVIEW_ORDERS[0]))
    ids = [candidate.id for candidate in ordered]
    if (action is None or st.session_state.get(VIEW, "queue") != "queue"
            or st.session_state.get(EDITING) or st.session_state.get(CURRENT) not in ids):
        return
    position = ids.index(st.session_state[CURRENT])
    if action in ("accept", "reject"):
        _decide_and_advance(run_id, ordered, position, action)
    elif action in ("edit", "relabel"):
        _start_editing(ids[position], action)
    elif action == "previous" and position > 0:
        _show(ids[position - 1])
    elif action == "next" and position < len(ids) - 1:
        _show(ids[position + 1])


def _counts(candidates: list[VettedCandidate]) -> None:
    """How many candidates each region has, by status (a line, not a table: the queue
    redraws it at every key press)."""
    counts = Counter((target_name(candidate.target), candidate.status)
                     for candidate in candidates)
    targets = list(dict.fromkeys(target for target, _ in counts))
    st.markdown("  \n".join(
        f"**{target}**: " + " · ".join(f"{counts[(target, status)]} {status}"
                                       for status in STATUS_ICONS)
        for target in targets))


def _bulk_actions(run_id: int, candidates: list[VettedCandidate]) -> None:
    """Accept the pending candidates that pass the checks, or all pending, or reject all
    pending; undo and redo the latest steps, single or bulk."""
    pending = [c.id for c in candidates if c.status == "pending"]
    clean = [c.id for c in candidates if c.status == "pending" and c.checks.passed]
    actions = (("augment_bulk_accept_clean", f"Accept {len(clean)} that pass the checks",
                clean, "accept"),
               ("augment_bulk_accept", f"Accept all {len(pending)} pending", pending, "accept"),
               ("augment_bulk_reject", f"Reject all {len(pending)} pending", pending, "reject"))
    steps = history(run_id)
    columns = st.columns([5, 4, 4, 4, 3])
    for column, (key, label, chosen, action) in zip(columns, actions, strict=False):
        column.button(label, key=key, disabled=not chosen, on_click=_decide_many,
                      args=(run_id, chosen, action))
    columns[-2].button(f"Undo {steps.done[-1].summary}" if steps.done else "Undo",
                       key="augment_undo", icon=":material/undo:", disabled=not steps.done,
                       help=f"key {KEYS['undo']}", on_click=_undo, args=(run_id,))
    columns[-1].button(f"Redo {steps.undone[-1].summary}" if steps.undone else "Redo",
                       key="augment_redo", icon=":material/redo:", disabled=not steps.undone,
                       help=f"key {KEYS['redo']}", on_click=_redo, args=(run_id,))


def _decide_many(run_id: int, candidate_ids: list[int], action: str) -> None:
    with Store() as store:
        history(run_id).decide_many(store, candidate_ids, action)


def _undo(run_id: int) -> None:
    with Store() as store:
        history(run_id).undo(store)


def _redo(run_id: int) -> None:
    with Store() as store:
        history(run_id).redo(store)


def _queue(run_id: int, ordered: list[VettedCandidate], labels: list[str],
           rows: pd.DataFrame) -> None:
    """One candidate, large, with its source row, its nearest training rows and its
    checks; keys decide, edit, relabel and move."""
    ids = [candidate.id for candidate in ordered]
    if st.session_state.get(CURRENT) not in ids:
        st.session_state[CURRENT] = next((c.id for c in ordered if c.status == "pending"),
                                         ids[0])
    position = ids.index(st.session_state[CURRENT])
    candidate = ordered[position]
    reviewed = sum(c.status != "pending" for c in ordered)
    st.progress(reviewed / len(ordered),
                text=f"**{reviewed} of {len(ordered)} reviewed** · candidate {position + 1} "
                     f"of {len(ordered)}")
    with st.container(border=True):
        _candidate(candidate, rows)
        editing = st.session_state.get(EDITING)
        if editing and editing[0] == candidate.id:
            _editor(run_id, candidate, labels, editing[1])
        else:
            _queue_buttons(run_id, ordered, position)


def _candidate(candidate: VettedCandidate, rows: pd.DataFrame) -> None:
    pair = candidate.text_pair
    st.markdown(f"{STATUS_ICONS[candidate.status]} **{candidate.status}** · #{candidate.id} · "
                f"label **{candidate.label}** · {candidate.lineage.get('mode', 'free')} · "
                f"`{candidate.made_by}`")
    body = html.escape(candidate.text) + (
        f"<br><i>Hypothesis:</i> {html.escape(pair)}" if pair is not None else "")
    st.markdown(f"<div style='font-size:1.3rem;line-height:1.5'>{body}</div>",
                unsafe_allow_html=True)
    text, checks = st.columns([3, 2])
    source_id = candidate.source_id
    if source_id is not None and source_id in rows.index:
        source = rows.loc[source_id]
        verdict = ("right" if source["correct"]
                   else f"wrong (predicts '{source['pred']}')")
        text.caption(f"**Rewrites row {source_id}** (true '{source['label']}', the model "
                     f"gets it {verdict}): “{short(str(source['text']), 240)}”")
    nearest = ((candidate.checks.to_json().get("intrusion") or {}).get("nearest") or [])
    known = [row for row in nearest if row["row"] in rows.index]
    if known:
        text.caption("**Nearest training rows**  \n" + "  \n".join(
            f"row {row['row']}{' (its source)' if row['row'] == source_id else ''} · "
            f"**{row['label']}** · {row['similarity']:.2f} · "
            f"“{short(str(rows.loc[row['row'], 'text']), 140)}”" for row in known))
    for warning in candidate.checks.warnings:
        checks.markdown(f":orange[:material/warning:] {warning}")
    for note in check_notes(candidate.checks):
        checks.caption(f":material/info: {note}")
    if candidate.checks.passed:
        checks.markdown(":green[:material/check:] no check raised a warning")


def _queue_buttons(run_id: int, ordered: list[VettedCandidate], position: int) -> None:
    candidate = ordered[position]
    buttons = st.columns(6)
    buttons[0].button("Accept", key="augment_queue_accept", type="primary",
                      on_click=_decide_and_advance, args=(run_id, ordered, position, "accept"),
                      width="stretch")
    buttons[1].button("Reject", key="augment_queue_reject", on_click=_decide_and_advance,
                      args=(run_id, ordered, position, "reject"), width="stretch")
    buttons[2].button("Edit", key="augment_queue_edit", on_click=_start_editing,
                      args=(candidate.id, "edit"), width="stretch")
    buttons[3].button("Relabel", key="augment_queue_relabel", on_click=_start_editing,
                      args=(candidate.id, "relabel"), width="stretch")
    buttons[4].button("Previous", key="augment_queue_previous", icon=":material/arrow_back:",
                      disabled=position == 0, on_click=_show,
                      args=(ordered[max(position - 1, 0)].id,), width="stretch")
    buttons[5].button("Next", key="augment_queue_next", icon=":material/arrow_forward:",
                      disabled=position == len(ordered) - 1, on_click=_show,
                      args=(ordered[min(position + 1, len(ordered) - 1)].id,), width="stretch")
    st.caption("Keys: " + " · ".join(f"**{key}** {action}" for action, key in KEYS.items()))


def _show(candidate_id: int) -> None:
    st.session_state[CURRENT] = candidate_id
    st.session_state.pop(EDITING, None)


def _start_editing(candidate_id: int, what: str) -> None:
    st.session_state[EDITING] = (candidate_id, what)


def _decide_and_advance(run_id: int, ordered: list[VettedCandidate], position: int,
                        action: str) -> None:
    """Decide on the candidate shown, then show the next pending one after it (in the
    queue's order, from the top again at its end); stay when none is left."""
    with Store() as store:
        history(run_id).decide(store, ordered[position].id, action)
    later = ordered[position + 1:] + ordered[:position]
    upcoming = next((c.id for c in later if c.status == "pending"), None)
    if upcoming is not None:
        st.session_state[CURRENT] = upcoming


def _editor(run_id: int, candidate: VettedCandidate, labels: list[str], what: str) -> None:
    """The text (``edit``) or the label (``relabel``) of the candidate shown; saved as one
    step of the history."""
    if what == "edit":
        st.text_area("Text", candidate.text, key=f"augment_edit_{candidate.id}", height=120)
    else:
        st.selectbox("Label", labels, index=labels.index(candidate.label),
                     key=f"augment_relabel_{candidate.id}")
    save, cancel = st.columns(2)
    save.button("Save", key="augment_queue_save", type="primary", shortcut="Ctrl+Enter",
                on_click=_save_edit, args=(run_id, candidate, what), width="stretch")
    cancel.button("Cancel", key="augment_queue_cancel", shortcut="Esc",
                  on_click=st.session_state.pop, args=(EDITING, None), width="stretch")


def _save_edit(run_id: int, candidate: VettedCandidate, what: str) -> None:
    with Store() as store:
        if what == "edit":
            text = st.session_state[f"augment_edit_{candidate.id}"]
            if text.strip() and text != candidate.text:
                history(run_id).decide(store, candidate.id, "edit", text=text)
        else:
            label = st.session_state[f"augment_relabel_{candidate.id}"]
            if label != candidate.label:
                history(run_id).decide(store, candidate.id, "relabel", label=label)
    st.session_state.pop(EDITING, None)


def _table(run_id: int, ordered: list[VettedCandidate]) -> None:
    """Every candidate in a table with a decision column; the chosen decisions are applied
    together, as one step of the history."""
    table = pd.DataFrame({
        "decide": DECISIONS[0], "id": [c.id for c in ordered],
        "status": [c.status for c in ordered],
        "warnings": [len(c.checks.warnings) for c in ordered],
        "label": [c.label for c in ordered], "text": [c.text for c in ordered],
        "checks": ["; ".join(c.checks.warnings) or "passed" for c in ordered]})
    version = st.session_state.get(TABLE_VERSION, 0)
    edited = st.data_editor(
        table, hide_index=True, width="stretch", key=f"augment_table_{version}",
        disabled=[column for column in table.columns if column != "decide"],
        column_config={"decide": st.column_config.SelectboxColumn(
            "decide", options=DECISIONS, width="small", required=True,
            help="accept or reject, then apply below; keep leaves it as it is"),
            "text": st.column_config.TextColumn(width="large")})
    chosen = {action: edited.loc[edited["decide"] == action, "id"].astype(int).tolist()
              for action in ("accept", "reject")}
    count = sum(len(ids) for ids in chosen.values())
    st.button(f"Apply {count} decision{'' if count == 1 else 's'}", key="augment_table_apply",
              type="primary", disabled=not count, on_click=_apply_table,
              args=(run_id, chosen))


def _apply_table(run_id: int, chosen: dict[str, list[int]]) -> None:
    decision_ids: list[int] = []
    with Store() as store:
        for action, candidate_ids in chosen.items():
            if candidate_ids:
                decision_ids += store.decide_many(candidate_ids, action)
    summary = " and ".join(f"{action}ed {len(ids)}" for action, ids in chosen.items() if ids)
    history(run_id).record(summary, decision_ids)
    st.session_state[TABLE_VERSION] = st.session_state.get(TABLE_VERSION, 0) + 1


def _export(run_id: int, accepted: int) -> None:
    """Download buttons for the accepted samples; the file is written when clicked."""
    if not accepted:
        return
    left, right = st.columns(2)
    for column, fmt, mime in ((left, "csv", "text/csv"), (right, "jsonl", "application/jsonl")):
        column.download_button(f"Export {accepted} accepted as {fmt.upper()}",
                               data=lambda fmt=fmt: _accepted_bytes(run_id, fmt), mime=mime,
                               file_name=f"accepted.{fmt}", key=f"augment_export_{fmt}")


def _accepted_bytes(run_id: int, fmt: str) -> bytes:
    with Store() as store, tempfile.TemporaryDirectory() as scratch:
        path = export_samples(store.accepted(run_id), Path(scratch) / f"accepted.{fmt}", fmt)
        return path.read_bytes()
