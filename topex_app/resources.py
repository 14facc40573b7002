"""Loaded models and explored runs, shared by every page and session
(``st.cache_resource``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from topex_core.augmenter import augment, backends
from topex_core.augmenter.checks import CandidateChecker, checker_for_run
from topex_core.augmenter.generation import Backend
from topex_core.exploredir import explored_at
from topex_core.explorer.explored import ExploredRun
from topex_core.region_ref import RegionRef
from topex_core.training.classifier import set_cpu_threads
from topex_core.training.embeddings import SentenceEmbedder


@st.cache_resource(show_spinner="Loading the sentence embedder…")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def explored_run(run_dir: Path) -> ExploredRun:
    """The explored run, read once per exploration for every page, check and backend."""
    return _explored(str(run_dir), explored_at(run_dir))


@st.cache_resource(show_spinner="Reading the explored run…", max_entries=4)
def _explored(run_dir: str, modified: float) -> ExploredRun:
    """``modified``: explore.json's mtime, so that a new exploration is read anew; shared,
    never changed by a page."""
    return ExploredRun.load(Path(run_dir))


def _context(run_dir: str, target: RegionRef) -> augment.TargetContext:
    explored = explored_run(Path(run_dir))
    return augment.TargetContext(explored, explored.region(target))


@st.cache_resource(show_spinner="Preparing the automatic checks (the dataset is embedded "
                                "once per run)…", max_entries=4)
def checker(run_dir: str, target: RegionRef, modified: float) -> CandidateChecker:
    """Checks for the ``target`` region; ``modified`` (explore.json's mtime) keys the
    cache: a new exploration, new checks."""
    set_cpu_threads()
    context = _context(run_dir, target)
    return checker_for_run(context.explored, context.target, embed=embedder(),
                           predict=backends.classifier_predict(Path(run_dir)))


@st.cache_resource(show_spinner="Finding synonyms in the target's vocabulary…", max_entries=4)
def eda_backend(run_dir: str, target: RegionRef, modified: float) -> Backend:
    return backends.target_backend("eda", _context(run_dir, target), embed=embedder())


@st.cache_resource(show_spinner="Loading the generator…", max_entries=2)
def local_backend(name: str, model: str) -> Backend:
    """A local generator (transformers, vllm), loaded once per model."""
    return backends.local_backend(name, model)
