"""A region's sentence on the pages: the form that asks a generator for sentences
(Explore), a sentence with its check and the region's terms, and a kept sentence in a
line (Explore's table, Augment)."""

from __future__ import annotations

import os

import streamlit as st

from topex_app import resources
from topex_app.work import long_work
from topex_core.augmenter.describe import (
    TOP_REGIONS,
    Description,
    describe_backend,
    describe_regions,
)
from topex_core.augmenter.generation.packaged import PACKAGED_NAME
from topex_core.augmenter.generation.registry import BACKEND_SPECS, BACKENDS
from topex_core.explorer.explored import ExploredRun, Region
from topex_core.training.classifier import set_cpu_threads


def describe_form(explored: ExploredRun) -> None:
    """Describe the strongest regions with a language model."""
    left, middle, right = st.columns(3)
    writers = [name for name in BACKENDS if BACKEND_SPECS[name].source != "vocabulary"]
    # a configured server first; else the language model every install carries
    default = "openai" if os.environ.get("TOPEX_OPENAI_BASE_URL") else "transformers"
    name = left.selectbox("Generator", writers, key="describe_backend",
                          index=writers.index(default),
                          format_func=lambda b: f"{b} — {BACKEND_SPECS[b].help}")
    spec = BACKEND_SPECS[name]
    base_url = (middle.text_input("Base URL", os.environ.get("TOPEX_OPENAI_BASE_URL", ""),
                                  key="describe_base_url",
                                  placeholder="http://127.0.0.1:8000/v1")
                if spec.source == "server" else None)
    model = right.text_input("Model", os.environ.get("TOPEX_OPENAI_MODEL", "")
                             if spec.source == "server" else "", key="describe_model",
                             placeholder="" if spec.needs_model else PACKAGED_NAME,
                             help=spec.model_help)
    top = left.number_input("Regions", 1, 20, TOP_REGIONS, key="describe_top",
                            help="how many of the strongest regions to describe")
    if not st.button("Describe", key="describe_go"):
        return
    with long_work("Describing the strongest regions…", failed_label="Describing failed",
                   first_step="loading the generator") as work:
        set_cpu_threads()
        backend = (resources.local_backend(name, model.strip()) if spec.source == "local"
                   else describe_backend(name, model=model or None, base_url=base_url))
        found = describe_regions(explored, backend, embed=resources.embedder(), top=int(top),
                                 progress=work.progress)
        work.done(f"Described {len(found)} regions; {sum(d.kept for d in found)} kept")
    if not work.failed:
        st.rerun()


def show_description(target: Region, description: Description | None) -> None:
    """The region's sentence with its check, and its terms beneath."""
    if description is not None:
        written = (f"written by {PACKAGED_NAME}, a 135M stand-in: check it against the rows"
                   if description.packaged else f"written by {description.model}")
        if description.kept:
            st.markdown(f"**{description.sentence}**  \n:gray[{written}]")
            st.caption(str(description.check))
        else:
            st.caption(f"Not shown as its description: “{description.sentence}” "
                       f"({written}). {description.check}")
    if target.terms:
        st.caption("Terms: " + " · ".join(target.terms))


def kept_sentence(description: Description | None) -> str:
    """The sentence in quotes when the check kept it (labelled when the packaged model
    wrote it); empty otherwise."""
    if description is None or not description.kept:
        return ""
    return f"“{description.sentence}”" + (" (packaged SmolLM2)" if description.packaged
                                         else "")
