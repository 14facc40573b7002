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
    at.checkbox(key="retrain_matched_head").uncheck()
    at.button(key="retrain_go").click().run()
    assert not at.exception, at.exception
    assert len(list_rounds(run)) == 1
    # the planted run has no test split: no verdict, and nothing is green
    assert not at.success
    assert at.info[0].value.startswith("**Verdict: cannot tell.** The run has no test split")
    assert any(caption.value.startswith("The whole pool split (205 rows)")
               for caption in at.caption)
    assert at.selectbox(key="retrain_round_choice").value == "1"
    at.radio(key="retrain_map").set_value("sparse_pca").run()
    assert not at.exception
    assert any("Fixed (" in m.value for m in at.markdown)


def test_head_mode_trains_both_controls_by_default(explored) -> None:
    run, _ = explored
    with Store() as store:
        accept(store, run, ["express delivery fee refund"] * 4)
    at = page(run)
    assert at.checkbox(key="retrain_control_head").value is True
    assert at.checkbox(key="retrain_matched_head").value is True
    at.radio(key="retrain_mode").set_value("full").run()
    assert at.checkbox(key="retrain_control_full").value is False
    assert at.checkbox(key="retrain_matched_full").value is False
    assert "one more fine-tune per seed" in at.checkbox(key="retrain_matched_full").label
    assert "the verdict needs it" in at.checkbox(key="retrain_matched_full").label
    at.radio(key="retrain_mode").set_value("head").run()
    at.button(key="retrain_go").click().run()
    assert not at.exception, at.exception
    config = list_rounds(run)[0].config
    assert config["control"] is True and config["matched_control"] is True
    assert any("points against the label-matched control" in caption.value
               for caption in at.caption)


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
    at.button(key="retrain_go").click().run()  # head mode, with both controls
    assert not at.exception, at.exception
    # samples that name no region count for the default target, the strongest region; on
    # the planted run any four billing rows fix its borderline rows too
    strongest = ExploredRun.load(run).default_target()
    labels = [m.label for m in at.metric]
    members = len(strongest.reach(test=True))
    assert labels == [f"Target ({members} test rows)", "Complement", f"Rest ({35 - members} "
                      "test rows)"]
    assert at.metric[0].delta == "+0.0 pp vs control" and at.metric[1].value == "no test rows"
    assert not at.success  # nothing is green that the verdict does not support
    assert at.info[0].value.startswith("**Verdict: cannot tell.** Too few rows to tell")
    assert "retrain_groups" in [chart.key for chart in at.get("plotly_chart")]
    table = next(frame.value for frame in at.dataframe if "verdict" in frame.value)
    assert table.loc[0, "verdict"] == "cannot tell" and table.loc[0, "control"] == "matched"


def test_a_round_for_a_confusion_cell_shows_its_target_and_complement(explored) -> None:
    """The Augment page makes samples for true billing predicted shipping; Retrain judges
    the round on that cell: its 25 planted test rows, and the 20 shipping rows the base
    model predicts rightly as its complement."""
    import numpy as np
    import pandas as pd

    from topex_core.region_ref import RegionRef

    run, _ = explored
    points = pd.read_parquet(run / "points.parquet")
    test_rows = [*range(100, 120), *range(180, 205)]
    points.iloc[test_rows].to_parquet(run / "test_points.parquet")
    np.save(run / "test_logits.npy", np.load(run / "logits.npy")[test_rows])
    cell = RegionRef("confusion", "billing -> shipping")
    augment = AppTest.from_file(str(Path(PAGE).with_name("augment.py")), default_timeout=120)
    augment.session_state["run_dir"] = str(run)
    augment.run()
    assert "confusion cell: true billing, predicted shipping" in augment.selectbox(
        key="augment_target").options
    augment.selectbox(key="augment_target").set_value(cell).run()
    assert augment.selectbox(key="augment_label").value == "billing"
    augment.selectbox(key="augment_backend").set_value("eda").run()
    augment.number_input(key="augment_n").set_value(4)
    augment.button(key="augment_generate").click().run()
    assert not augment.exception, augment.exception
    with Store() as store:
        stored = store.candidates(store.run_id(run), target=cell)
        assert len(stored) >= 1
        for candidate_id in stored["id"]:
            store.decide(int(candidate_id), "accept")
    at = page(run)
    at.button(key="retrain_go").click().run()
    assert not at.exception, at.exception
    assert [m.label for m in at.metric] == ["Target (25 test rows)", "Complement (20 test rows)",
                                            "Rest"]
    assert at.metric[2].value == "no test rows"
    verdict = [*at.success, *at.warning, *at.info][0].value
    assert verdict.startswith("**Verdict:") and "rest no rows" in verdict
