"""Augment: for the chosen error cluster or slice, preview and edit the prompt, generate candidates
with a backend, read their automatic checks, and accept, edit, relabel or reject them, one
by one or all pending at once (undoable). Every candidate and decision goes to the store at
once, so a refresh loses nothing."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import streamlit as st

from topex_app import resources, state
from topex_app.descriptions import kept_sentence
from topex_app.guards import require_run
from topex_app.rounds import last_round_of
from topex_core.augmenter import augment, sources
from topex_core.augmenter.batches import BATCH_SIZE, generate_in_batches
from topex_core.augmenter.describe import read_region_descriptions
from topex_core.augmenter.generation import BACKEND_SPECS, BACKENDS, Sampling
from topex_core.augmenter.generation.packaged import PACKAGED_NAME
from topex_core.augmenter.prompts import TASK_TEMPLATES, Example
from topex_core.errors import TopexError
from topex_core.exploredir import explored_at
from topex_core.explorer.explored import Region
from topex_core.rundir import has_classifier
from topex_core.storage.candidates import VettedCandidate, target_name
from topex_core.storage.export import export_samples
from topex_core.storage.store import Store

STATUS_ICONS = {"pending": ":material/schedule:", "accepted": ":green[:material/check_circle:]",
                "rejected": ":red[:material/cancel:]"}


def _context(run_dir: Path) -> augment.TargetContext | None:
    explored = resources.explored_run(run_dir)
    regions = {region.ref: region for region in explored.choices()}
    if not regions:
        st.success("This run has no error region to augment: the model makes no mistake.")
        return None
    options = list(regions)
    remembered = st.session_state.get(state.TARGET)
    target = st.selectbox(
        "Target: an error region, strongest first (then the confusion cells)", options,
        key="augment_target",
        index=options.index(remembered) if remembered in options else 0,
        format_func=lambda ref: regions[ref].title)
    st.session_state[state.TARGET] = target
    return augment.TargetContext(explored, regions[target])


MODES = {"free": "New texts about the target (few-shot examples)",
         "rewrite": "Rewrite misclassified rows of the target (same label, one source each)",
         "complement": "Rewrite the region's rows of other labels (each keeps its label: a "
                       "balanced round)"}


def _request(context: augment.TargetContext) -> augment.AugmentRequest:
    mode = st.radio("Generation", list(MODES), format_func=MODES.get, horizontal=True,
                    key="augment_mode",
                    help="Rewrites stay close to the rows the model gets wrong; each "
                         "candidate's lineage names its source row. Samples of one label "
                         "can move the model toward that label around the region instead "
                         "of repairing it: rewrites of the region's other-label rows beside "
                         "them make a balanced round (measured in the README: it can also "
                         "cancel the repair).")
    left, middle, right = st.columns(3)
    labels = context.label_names
    label = left.selectbox("Target label", labels, key="augment_label",
                           index=labels.index(context.majority_label),
                           help="default: the true label of the target's mistakes")
    tasks = list(TASK_TEMPLATES)
    task = middle.selectbox("Task template", tasks, key="augment_task",
                            index=tasks.index("nli" if context.pair else "text"))
    n = right.number_input("Candidates (n)", 1, 200, 5, key="augment_n",
                           help="30–100 make a round that can move a region; they are "
                                "generated in batches of "
                                f"{BATCH_SIZE}, each stored as it arrives")
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="augment_seed")
    shots, mix_ratio, template = 5, 1.0, None
    if mode == "free":
        shots = left.number_input("Few-shot examples (k)", 0, 20, 5, key="augment_shots")
        mix_ratio = middle.slider("λ: share of examples from the target", 0.0, 1.0, 1.0, 0.1,
                                  key="augment_mix",
                                  help="the rest are correctly classified rows of the "
                                       "target label")
        template = st.text_area("Template ({label} and {issue} are filled in)",
                                TASK_TEMPLATES[task], key=f"augment_template_{task}",
                                height=68)
    with st.expander("Sampling"):
        a, b, c = st.columns(3)
        sampling = Sampling(
            temperature=a.slider("Temperature", 0.0, 2.0, 0.8, 0.05, key="augment_temperature"),
            top_p=b.slider("Top-p", 0.05, 1.0, 0.95, 0.05, key="augment_top_p"),
            max_tokens=_optional_int(c.number_input(
                "Max tokens", 8, 4096, None, key="augment_max_tokens", placeholder="auto",
                help="Empty: room for twice the longest example (256 without examples)")),
            seed=int(seed))
    return augment.AugmentRequest(n=int(n), label=label, task=task,
                                  shots=int(shots), mix_ratio=float(mix_ratio),
                                  template=template, sampling=sampling, mode=mode)


def _optional_int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _examples(context: augment.TargetContext, request: augment.AugmentRequest) -> list[Example]:
    """The drawn examples in an editor where the analyst can drop any of them."""
    sources_of = {"rewrite": sources.rewrite_sources,
                  "complement": sources.complement_sources}
    drawn = sources_of.get(request.mode, sources.choose_examples)(context, request)
    if not drawn:
        return []
    noun = context.target.noun
    origins = {"cluster": f"the {noun}", "target": "correct, elsewhere",
               "rewrite": f"misclassified, the {noun}", "complement": f"another label, the {noun}"}
    labels = context.points.set_index("id")["label"]
    table = pd.DataFrame({"use": True, "row": [e.row_id for e in drawn],
                          "label": [labels[e.row_id] for e in drawn],
                          "from": [origins[e.source] for e in drawn],
                          "text": [e.text for e in drawn]})
    edited = st.data_editor(table, hide_index=True, width="stretch", key="augment_examples",
                            disabled=["row", "label", "from", "text"],
                            column_config={"use": st.column_config.CheckboxColumn(width="small")})
    return [example for example, use in zip(drawn, edited["use"], strict=True) if use]


def _default_backend() -> str:
    """A configured server first; else the real language model every install carries."""
    return "openai" if os.environ.get("TOPEX_OPENAI_BASE_URL") else "transformers"


def _backend(context: augment.TargetContext, modified: float):
    name = st.selectbox("Backend", list(BACKENDS), key="augment_backend",
                        index=list(BACKENDS).index(_default_backend()),
                        format_func=lambda b: f"{b} — {BACKEND_SPECS[b].help}")
    spec = BACKEND_SPECS[name]
    if spec.source == "vocabulary":
        return resources.eda_backend(str(context.run_dir), context.target.ref,
                                     modified), False
    if spec.source == "server":
        left, middle, right = st.columns(3)
        base_url = left.text_input("Base URL", os.environ.get("TOPEX_OPENAI_BASE_URL", ""),
                                   key="augment_base_url", placeholder="http://127.0.0.1:8000/v1")
        model = middle.text_input("Model", os.environ.get("TOPEX_OPENAI_MODEL", ""),
                                  key="augment_model", help=spec.model_help)
        api_key = right.text_input("API key", type="password", key="augment_api_key",
                                   help="empty: $TOPEX_OPENAI_API_KEY or $OPENAI_API_KEY")
        stream = st.checkbox("Stream the text as it is written", True, key="augment_stream")
        return augment.target_backend(name, context, embed=resources.embedder(),
                                       base_url=base_url, model=model,
                                       api_key=api_key or None, stream=stream), stream
    model = st.text_input("Model directory or id", key="augment_local_model",
                          placeholder="" if spec.needs_model else PACKAGED_NAME,
                          help=spec.model_help)
    if not model.strip() and not spec.needs_model:
        st.info(f"**{PACKAGED_NAME}** writes these samples on this machine: a 135M "
                "model, a stand-in that shows the workflow. Expect some off-task texts "
                "(the checks flag meta-talk, refusals and echoes). For real work serve a "
                "larger model with `vllm serve MODEL --port 8000` and choose the openai "
                "backend with base URL `http://127.0.0.1:8000/v1`.")
    return resources.local_backend(name, model.strip()), False


def _generate(context, request, prompts, backend, checker, streaming: bool) -> None:
    previews: dict[tuple[int, int], str] = {}
    finished = [0, request.n]  # completions finished, asked for
    cancel = threading.Event()

    def on_batch(done: int, total: int) -> None:
        finished[:] = [done, total]
        previews.clear()

    def work():
        with Store() as store:
            return generate_in_batches(
                context, request, prompts, backend=backend, checker=checker, store=store,
                on_batch=on_batch, cancel=cancel,
                on_delta=lambda p, c, text: previews.__setitem__((p, c), text))

    with st.status(f"Generating {request.n} candidates with {backend.name}…",
                   expanded=True) as status:
        # Any click (this button included) reruns the page, which interrupts the loop
        # below at its next Streamlit call; the finally clause then stops the worker.
        st.button("Stop generating", key="augment_stop", icon=":material/stop:")
        bar, clock, live = st.progress(0.0), st.empty(), st.empty()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(work)
            try:
                while not future.done():
                    elapsed = time.monotonic() - started
                    bar.progress(finished[0] / finished[1],
                                 text=f"{finished[0]} of {finished[1]} completions")
                    clock.caption(_time_left(elapsed, *finished))
                    if streaming and previews:
                        live.markdown("\n\n".join(f"**{c + 1}.** {text}"
                                                  for (_, c), text in sorted(previews.items())))
                    time.sleep(0.25)
            finally:
                if not future.done():
                    cancel.set()
            outcome = future.result()
        bar.empty()
        clock.empty()
        live.empty()
        stored = len(outcome.candidates)
        if outcome.error:
            status.update(label=f"Stopped: {stored} candidates kept", state="error")
            st.error(outcome.error)
        else:
            status.update(label=f"{stored} candidates from {outcome.completions} completions",
                          state="complete")
        if outcome.dropped:
            st.warning(f"{outcome.dropped} completions had no usable text and were dropped.")


def _shortened(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _time_left(elapsed: float, done: int, total: int) -> str:
    """Elapsed seconds, and the time left from the pace of the batches finished."""
    if not done:
        return f"{elapsed:.0f} s · the first batch sets the pace"
    left = elapsed / done * (total - done)
    return f"{elapsed:.0f} s · about {left:.0f} s left"


def _decision_row(store: Store, candidate: VettedCandidate, labels: list[str],
                  rows: pd.DataFrame) -> None:
    candidate_id = candidate.id
    with st.container(border=True):
        text_column, action_column = st.columns([3, 2])
        pair = candidate.text_pair
        body = candidate.text + (f"  \n*Hypothesis:* {pair}" if pair is not None else "")
        text_column.markdown(f"{STATUS_ICONS[candidate.status]} {candidate.status} "
                             f"**#{candidate_id}** "
                             f"· label **{candidate.label}** · generated by "
                             f"`{candidate.made_by}`")
        text_column.text(body)
        source_id = candidate.source_id
        if source_id is not None and source_id in rows.index:
            source_row = rows.loc[source_id]
            closeness = candidate.checks.to_json().get("duplicate") or {}
            changed = (f" It changed {closeness['changed']:.0%} of the words (similarity "
                       f"{closeness['source_similarity']:.2f})."
                       if closeness.get("changed") is not None else "")
            text_column.caption(
                f"Rewritten from row {source_id} (true label {source_row['label']}), which "
                f"the model gets {'right' if source_row['correct'] else 'wrong'}: "
                f"“{_shortened(source_row['text'])}”.{changed}")
        checks = candidate.checks
        for warning in checks.warnings:
            text_column.caption(f"⚠ {warning}")
        if checks.passed:
            text_column.caption("✓ no check raised a warning")
        buttons = action_column.columns(3)
        if buttons[0].button("Accept", key=f"augment_accept_{candidate_id}", type="primary"):
            store.decide(candidate_id, "accept")
            st.rerun()
        if buttons[1].button("Reject", key=f"augment_reject_{candidate_id}"):
            store.decide(candidate_id, "reject")
            st.rerun()
        if buttons[2].button("Undo", key=f"augment_undo_{candidate_id}",
                             disabled=not candidate.decided):
            store.undo(candidate_id)
            st.rerun()
        with action_column.popover("Edit or relabel"):
            edited = st.text_area("Text", candidate.text, key=f"augment_edit_{candidate_id}")
            if st.button("Save text", key=f"augment_save_{candidate_id}"):
                store.decide(candidate_id, "edit", text=edited)
                st.rerun()
            new_label = st.selectbox("Label", labels, index=labels.index(candidate.label),
                                     key=f"augment_relabel_{candidate_id}")
            if st.button("Save label", key=f"augment_save_label_{candidate_id}"):
                store.decide(candidate_id, "relabel", label=new_label)
                st.rerun()


def _bulk_actions(store: Store, target_candidates: list[VettedCandidate]) -> None:
    """Accept or reject this target's pending candidates at once, and undo that."""
    pending = [c.id for c in target_candidates if c.status == "pending"]
    clean = [c.id for c in target_candidates if c.status == "pending" and c.checks.passed]
    actions = (("augment_bulk_accept_clean", f"Accept {len(clean)} without warnings",
                clean, "accept"),
               ("augment_bulk_accept", f"Accept all {len(pending)} pending", pending, "accept"),
               ("augment_bulk_reject", f"Reject all {len(pending)} pending", pending, "reject"))
    columns = st.columns(len(actions) + 1)
    for column, (key, label, chosen, action) in zip(columns, actions, strict=False):
        if column.button(label, key=key, disabled=not chosen):
            decision_ids = store.decide_many(chosen, action)
            st.session_state["augment_last_bulk"] = {
                "decisions": decision_ids, "summary": f"{action}ed {len(decision_ids)}"}
            st.rerun()
    last = st.session_state.get("augment_last_bulk")
    if last and columns[-1].button(f"Undo: {last['summary']}", key="augment_bulk_undo",
                                   icon=":material/undo:"):
        store.undo_decisions(last["decisions"])
        del st.session_state["augment_last_bulk"]
        st.rerun()


def _counts(candidates: list[VettedCandidate]) -> None:
    """How many candidates each region has, by status."""
    counts = Counter((target_name(candidate.target), candidate.status)
                     for candidate in candidates)
    targets = list(dict.fromkeys(target for target, _ in counts))
    st.dataframe(pd.DataFrame({status: [counts[(target, status)] for target in targets]
                               for status in STATUS_ICONS}, index=pd.Index(targets, name="target")),
                 width="content")


def _vetting(run_dir: Path, target: Region, labels: list[str], rows: pd.DataFrame) -> None:
    with Store() as store:
        run_id = store.register_run(run_dir)
        everything = store.vetted(run_id)
        st.subheader("Candidates")
        if not everything:
            st.caption("No candidates yet: generate some above.")
            return
        _counts(everything)
        total = sum(candidate.status == "accepted" for candidate in everything)
        st.caption(f"{total} accepted in this run: Retrain & compare adds them all to training.")
        show = st.radio("Show", ["pending", "all", "accepted", "rejected"], horizontal=True,
                        key="augment_show")
        for_target = [candidate for candidate in everything if candidate.target == target.ref]
        _bulk_actions(store, for_target)
        for candidate in reversed(for_target):
            if show in ("all", candidate.status):
                _decision_row(store, candidate, labels, rows)
        accepted = store.accepted(run_id)
    if not accepted.empty:
        left, right = st.columns(2)
        for column, fmt, mime in ((left, "csv", "text/csv"),
                                  (right, "jsonl", "application/jsonl")):
            column.download_button(f"Export {len(accepted)} accepted as {fmt.upper()}",
                                   data=_export_bytes(accepted, fmt), mime=mime,
                                   file_name=f"accepted.{fmt}", key=f"augment_export_{fmt}")


def _export_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        path = export_samples(frame, Path(scratch) / f"accepted.{fmt}", fmt)
        return path.read_bytes()


st.title("Augment")
run_dir = require_run(explored_because="the Explore page finds the error clusters and "
                                       "slices to augment.")
context = _context(run_dir)
if context is None:
    st.stop()
last_round_of(run_dir, context.target)
described = kept_sentence(read_region_descriptions(run_dir).get((context.target.kind,
                                                                  context.target.key)))
if described:
    st.caption(f"Described on Explore as: {described} · terms: "
               f"{' · '.join(context.target.terms)}")
explored = explored_at(run_dir)
try:
    request = _request(context)
    examples = _examples(context, request)
    prompts = augment.prepare_prompts(context, request, examples)
    shown = ("Prompt sent to the generator" if request.mode == "free"
             else f"Rewrite prompts, one per source row ({len(prompts)}): the first")
    with st.expander(shown, expanded=False):
        st.code(prompts[0].text, language=None, wrap_lines=True)
    backend, streaming = _backend(context, explored)
except TopexError as error:
    st.error(str(error))
    st.stop()
if not has_classifier(run_dir):
    st.caption("This run holds imported predictions and no model: candidates get every "
               "check except the model's prediction of them.")
if st.button("Generate", type="primary", key="augment_generate"):
    checker = resources.checker(str(run_dir), context.target.ref, explored)
    _generate(context, request, prompts, backend, checker, streaming)
try:
    _vetting(run_dir, context.target, context.label_names,
             context.points.set_index("id")[["text", "label", "correct"]])
except TopexError as error:
    st.error(str(error))
