"""Augment: for the chosen error cluster or slice, preview and edit the prompt, generate candidates
with a backend, read their automatic checks, and accept, edit, relabel or reject them, one
by one or all pending at once (undoable). Every candidate and decision goes to the store at
once, so a refresh loses nothing."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import streamlit as st

from topex_app import resources, state
from topex_app.descriptions import kept_sentence
from topex_app.guards import require_run
from topex_app.rounds import last_round_of
from topex_app.vetting import vetting
from topex_core.augmenter import augment, backends, sources
from topex_core.augmenter.batches import BATCH_SIZE, generate_in_batches
from topex_core.augmenter.describe import read_region_descriptions
from topex_core.augmenter.generation import BACKEND_SPECS, BACKENDS, Sampling
from topex_core.augmenter.generation.packaged import PACKAGED_NAME
from topex_core.augmenter.prompts import TASK_TEMPLATES, Example
from topex_core.errors import TopexError
from topex_core.exploredir import explored_at
from topex_core.explorer import region_unions
from topex_core.region_ref import RegionRef
from topex_core.rundir import has_classifier
from topex_core.storage.store import Store


def _context(run_dir: Path) -> augment.TargetContext | None:
    explored = resources.explored_run(run_dir)
    regions = {region.ref: region for region in explored.choices()}
    if not regions:
        st.success("This run has no error region to augment: the model makes no mistake.")
        return None
    pickable = list(regions)
    remembered = st.session_state.get(state.TARGET)
    if remembered is not None and remembered.kind == region_unions.KIND:
        # a union merged below is a choice of its own while its parts exist
        with contextlib.suppress(TopexError):
            regions = {remembered: explored.region(remembered), **regions}
    options = list(regions)
    target = st.selectbox(
        "Target: an error region, strongest first (then the confusion cells)", options,
        key="augment_target",
        index=options.index(remembered) if remembered in options else 0,
        format_func=lambda ref: explored.choice_title(regions[ref]))
    with st.expander("Merge several regions into one target", icon=":material/join:"):
        picked = st.multiselect(
            "Regions to target as one", pickable, key="augment_merge_parts",
            max_selections=region_unions.MAX_PARTS,
            format_func=lambda ref: explored.choice_title(regions[ref]),
            help="One failure found as two concepts, or a concept and a cluster: samples "
                 "are generated for, trained on and measured against their union")
        st.button("Target their union", key="augment_merge", type="primary",
                  disabled=len(picked) < 2, on_click=_target_union, args=(picked,))
    st.session_state[state.TARGET] = target
    return augment.TargetContext(explored, regions[target])


def _target_union(parts: list[RegionRef]) -> None:
    union = region_unions.union_ref(parts)
    st.session_state[state.TARGET] = union
    st.session_state["augment_target"] = union


MODES = {"free": "New texts about the target (few-shot examples)",
         "rewrite": "Rewrite misclassified rows of the target (same label, one source each)",
         "complement": "Rewrite the region's rows of other labels (each keeps its label: a "
                       "balanced round)"}


def _mode_defaults(context: augment.TargetContext) -> None:
    """Another mode was chosen: its default size replaces the last one."""
    st.session_state["augment_n"] = context.default_size(st.session_state["augment_mode"])


def _request(context: augment.TargetContext) -> augment.AugmentRequest:
    if st.session_state.get("augment_defaults_for") != context.target.ref:
        # a new target starts from its own defaults (set before the widgets are drawn)
        st.session_state["augment_defaults_for"] = context.target.ref
        st.session_state["augment_mode"] = context.default_mode()
        st.session_state["augment_n"] = context.default_size(context.default_mode())
    mode = st.radio("Generation", list(MODES), format_func=MODES.get, horizontal=True,
                    key="augment_mode", on_change=_mode_defaults, args=(context,),
                    help="By default a round rewrites each misclassified row of the target, "
                         "up to 30: the size of the README's measured repairs. Rewrites "
                         "stay close to the rows the model gets wrong; each candidate's "
                         "lineage names its source row. Samples of one label can move the "
                         "model toward that label around the region instead of "
                         "repairing it: rewrites of the region's other-label rows beside "
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
    n = right.number_input("Candidates (n)", 1, 200, key="augment_n",
                           help="30–100 make a round that can move a region (a rewrite round "
                                "asks for one per misclassified row, up to 30); they are "
                                f"generated in batches of {BATCH_SIZE}, each stored as it "
                                "arrives")
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
        return backends.target_backend(name, context, embed=resources.embedder(),
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


def _time_left(elapsed: float, done: int, total: int) -> str:
    """Elapsed seconds, and the time left from the pace of the batches finished."""
    if not done:
        return f"{elapsed:.0f} s · the first batch sets the pace"
    left = elapsed / done * (total - done)
    return f"{elapsed:.0f} s · about {left:.0f} s left"


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
vetting(run_dir, context.target, context.label_names,
        context.points.set_index("id")[["text", "label", "pred", "correct"]])
