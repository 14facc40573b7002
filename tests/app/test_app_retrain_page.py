"""Streamlit AppTest of the Retrain & compare page: empty states, a head-mode round from
the page, and the before/after view of a stored round."""

from __future__ import annotations

from pathlib import Path

from conftest import accept
from streamlit.testing.v1 import AppTest

from topex_core.explorer.explored import ExploredRun
from topex_core.rounddir import list_rounds
from topex_core.storage.store import Store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "retrain.py")


def page(run: Path | None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if run is not None:
        at.session_state["run_dir"] = str(run)
    return at.run()


def test_without_a_run_or_accepted_samples_the_page_says_what_to_do(explored) -> None:
    at = page(None)
    assert not at.exception and "Data & model" in at.info[0].value
    run, _ = explored
    at = page(run)
    assert not at.exception and "No accepted samples yet" in at.info[0].value


def test_retrain_in_head_mode_and_show_before_after(explored) -> None:
    run, cluster = explored
    with Store() as store:
        accept(store, run, ["express delivery fee refund"] * 4)
    at = page(run)
    assert at.radio(key="retrain_mode").value == "head"
    at.checkbox(key="retrain_control_head").uncheck()
    at.button(key="retrain_go").click().run()
    assert not at.exception, at.exception
    assert len(list_rounds(run)) == 1
    # the planted run has no test split, so the pool leads
    assert [m.label for m in at.metric] == ["Pool accuracy", "Fixed / broken (pool)",
                                            "McNemar p"]
    assert "**After vs before** on the pool" in (at.success or at.info)[0].value
    assert any("No control was trained" in caption.value for caption in at.caption)
    assert at.selectbox(key="retrain_round_choice").value == "1"
    at.radio(key="retrain_map").set_value("sparse_pca").run()
    assert not at.exception
    assert any("Fixed (" in m.value for m in at.markdown)


def test_head_mode_compares_against_a_control_by_default(explored) -> None:
    run, _ = explored
    with Store() as store:
        accept(store, run, ["express delivery fee refund"] * 4)
    at = page(run)
    assert at.checkbox(key="retrain_control_head").value is True
    at.radio(key="retrain_mode").set_value("full").run()
    assert at.checkbox(key="retrain_control_full").value is False
    assert "twice the time" in at.checkbox(key="retrain_control_full").label
    at.radio(key="retrain_mode").set_value("head").run()
    at.button(key="retrain_go").click().run()
    assert not at.exception, at.exception
    assert list_rounds(run)[0].config["control"] is True
    assert "Samples vs control" in [m.label for m in at.metric]
    sentence = (at.success or at.info)[0].value
    assert sentence.startswith("**Samples vs control** on the pool")
    assert "rows fixed" in sentence and "McNemar" in sentence
    assert any("Against the base model" in caption.value for caption in at.caption)


def test_a_run_of_imported_predictions_offers_a_backbone_instead_of_a_mode(
        tmp_path: Path) -> None:
    from conftest import hashing_embed, make_run

    from topex_core.explorer.pipeline import explore_run
    from topex_core.rundir import read_logits, read_points
    from topex_core.training.imported import import_predictions, scored_from_frame

    planted = make_run(tmp_path / "planted")
    table = read_points(planted)[["text", "label"]]
    for column, label in enumerate(["billing", "shipping", "tech"]):
        table[f"logit_{label}"] = read_logits(planted)[:, column]
    run = tmp_path / "imported"
    import_predictions(scored_from_frame(table, source="p.csv"), run, test_size=0)
    explore_run(run, embed=hashing_embed)
    with Store() as store:
        accept(store, run, ["express delivery fee refund"])
    at = page(run)
    assert not at.exception
    assert "imported predictions and no model" in at.info[0].value
    assert [radio.key for radio in at.radio if radio.key == "retrain_mode"] == []
    assert at.text_input(key="retrain_backbone").placeholder == "packaged all-MiniLM-L6-v2"


def test_a_round_leads_with_the_region_it_targeted(explored) -> None:
    import numpy as np
    import pandas as pd

    run, cluster = explored
    points = pd.read_parquet(run / "points.parquet")  # a test split: 10 correct, 25 planted
    points.iloc[170:].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[170:])
    with Store() as store:
        accept(store, run, ["express delivery fee refund"] * 4)
    at = page(run)
    at.button(key="retrain_go").click().run()  # head mode, with its control
    assert not at.exception, at.exception
    # samples that name no region count for the default target, the strongest region
    strongest = ExploredRun.load(run).default_target()
    assert any(m.value.startswith(f"**Target {strongest.kind}: ") for m in at.markdown)
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Target test rows", "Target accuracy", "Control",
                          "Samples vs control"]
    assert any("beyond the control (95% bootstrap interval" in message.value
               for message in [*at.success, *at.info])
    assert any("Elsewhere, against the control: the whole test split (35 test rows)"
               in caption.value for caption in at.caption)
