"""Streamlit AppTest of the Explore page on a planted run (hashing stand-in embedder)."""

from __future__ import annotations

from pathlib import Path

from conftest import hashing_embed, make_run
from streamlit.testing.v1 import AppTest

from topex_core.augmenter.describe import Description, SentenceChecker
from topex_core.augmenter.generation.packaged import PACKAGED_NAME
from topex_core.exploredir import write_descriptions
from topex_core.explorer.clustering import ClusterConfig
from topex_core.explorer.explored import ExploredRun
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.region_ref import RegionRef

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "explore.py")


def test_without_a_run_the_page_says_what_to_do() -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "Data & model" in at.info[0].value


def test_unexplored_run_offers_the_settings_form(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["run_dir"] = str(run)
    at.run()
    assert not at.exception
    assert at.selectbox(key="explore_method").value == "auto"
    assert at.number_input(key="explore_min_samples").value == 5


def test_explored_run_shows_summary_map_table_and_detail(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, ExploreConfig(clustering=ClusterConfig(min_samples=10)), embed=hashing_embed)
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["run_dir"] = str(run)
    at.run()
    assert not at.exception
    assert [m.label for m in at.metric][:4] == ["Clusters", "Error clusters", "Error slices",
                                                "Mistakes covered"]
    assert at.metric[1].value == "1" and at.metric[3].value == "100%"
    assert "hold **100%** of the model's 25 mistakes" in at.info[0].value
    # the default target is the strongest region, and the page says why
    target = at.selectbox(key="explore_target").value
    assert f"Picked cluster {target.key}" in at.info[0].value
    assert "mistakes more than its scope's error rate would give" in at.info[0].value
    assert target.kind == "cluster" and at.session_state["target"] == target
    assert at.metric[4].label == "Default target" and at.metric[4].value == f"cluster {target.key}"
    assert any("refund" in sub.value or "express" in sub.value for sub in at.subheader)
    assert any("Error slices" in sub.value for sub in at.subheader)
    assert any(sub.value == "Regions by evidence" for sub in at.subheader)
    # the ranked clusters and the slices, from the typed regions
    scores = next(frame.value for frame in at.dataframe if "weighted" in frame.value)
    assert len(scores) == 1 and scores[["density", "weighted"]].notna().all(axis=None)
    terms = next(frame.value for frame in at.dataframe if "lift" in frame.value)
    assert terms.loc[0, "term"] == "delivery" and terms.loc[0, "scope"] == "all rows"
    assert terms.loc[0, "example_ids"].startswith("180; 181")
    # the slice holds the cluster's very mistakes: one row, the slice named beside it
    ranked = next(frame.value for frame in at.dataframe if "explained" in frame.value)
    assert len(ranked) == 1 and ranked.loc[0, "region"].startswith(f"cluster {target.key}:")
    assert any(f"cluster {target.key}:" in caption.value and "also holds slice: delivery"
               in caption.value for caption in at.caption)
    assert any("The region above holds **100%** of the model's 25 mistakes (25)"
               in caption.value for caption in at.caption)
    # no server configured: the packaged model writes the sentences; EDA cannot
    assert at.selectbox(key="describe_backend").value == "transformers"
    assert not any(option.startswith("eda") for option in
                   at.selectbox(key="describe_backend").options)
    assert any("0 mistakes outside" in expander.label for expander in at.expander)
    at.radio(key="explore_color_by").set_value("correct").run()
    at.radio(key="explore_map_name").set_value("sparse_pca").run()
    assert not at.exception
    slices = [option for option in at.selectbox(key="explore_target").options
              if option.startswith("slice")]
    assert slices
    first_slice = ExploredRun.load(run).regions("slice")[0]
    at.selectbox(key="explore_target").set_value(first_slice.ref).run()
    assert not at.exception, at.exception
    assert at.session_state["target"] == first_slice.ref
    assert any(sub.value.startswith("Slice: ") for sub in at.subheader)


def test_a_regions_sentence_shows_with_its_check_and_terms(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    check = SentenceChecker(ExploredRun.load(run), hashing_embed)
    kept = ExploredRun.load(run).regions("slice")[0]
    sentences = {kept: "express delivery fee refund requests"}
    write_descriptions(run, [Description(
        region.kind, region.key, sentence, "transformers", PACKAGED_NAME, True,
        check(region, sentence)).to_json() for region, sentence in sentences.items()])
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["run_dir"] = str(run)
    at.run()
    at.selectbox(key="explore_target").set_value(kept.ref).run()
    assert not at.exception, at.exception
    assert any(m.value.startswith("**express delivery fee refund requests**")
               and "a 135M stand-in" in m.value for m in at.markdown)
    assert any("rows nearest this sentence" in c.value and c.value.endswith("kept.")
               for c in at.caption)
    assert any(c.value == f"Terms: {' · '.join(kept.terms)}" for c in at.caption)
    table = next(frame.value for frame in at.dataframe if "description" in frame.value)
    assert table["description"].iloc[
        list(table["region"]).index(f"{kept.listing} · {kept.confusion}")] == ("“express delivery fee refund requests” "
                                                     "(packaged SmolLM2)")


def test_a_confusion_matrix_cell_becomes_the_target(tmp_path: Path) -> None:
    """The planted mistakes are true billing predicted shipping: selecting that cell of the
    pool's matrix targets them; the diagonal is not a target."""
    run = make_run(tmp_path / "run")
    explore_run(run, embed=hashing_embed)
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["run_dir"] = str(run)
    at.run()
    assert any(sub.value.startswith("Confusion matrix") for sub in at.subheader)
    matrix = at.dataframe(key="explore_confusion_pool").value
    assert matrix.loc["billing", "shipping"] == 25 and matrix.loc["billing", "billing"] == 60
    at.session_state["explore_confusion_pool"] = {
        "selection": {"rows": [], "columns": [], "cells": [[0, "shipping"]]}}
    at.run()
    assert not at.exception, at.exception
    cell = ExploredRun.load(run).region(RegionRef("confusion", "billing -> shipping"))
    assert at.session_state["target"] == cell.ref
    assert at.selectbox(key="explore_target").value == cell.ref
    assert any(sub.value == "Confusion cell: true billing, predicted shipping"
               for sub in at.subheader)
    assert any("25 pool rows of true billing predicted shipping" in caption.value
               for caption in at.caption)
    # a target picked since is not taken back by the selection the matrix keeps
    strongest = ExploredRun.load(run).default_target()
    at.selectbox(key="explore_target").set_value(strongest.ref).run()
    assert at.session_state["target"] == strongest.ref
    at.session_state["explore_confusion_pool"] = {
        "selection": {"rows": [], "columns": [], "cells": [[1, "shipping"]]}}
    at.run()
    assert at.session_state["target"] == strongest.ref
    assert any("diagonal cell shipping holds the rows the model gets right" in caption.value
               for caption in at.caption)
