"""Streamlit AppTest of the Augment page: empty states, generating with the offline
backend into the store, and vetting decisions that survive a fresh session."""

from __future__ import annotations

from pathlib import Path

from conftest import make_run
from streamlit.testing.v1 import AppTest

from topex_core.augmenter import augment
from topex_core.augmenter.describe import Description, SentenceCheck
from topex_core.exploredir import write_descriptions
from topex_core.explorer.explored import ExploredRun
from topex_core.records import CandidateChecks, CheckResult
from topex_core.region_ref import RegionRef
from topex_core.storage.store import Candidate, Store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "augment.py")


def page(run: Path | None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if run is not None:
        at.session_state["run_dir"] = str(run)
    return at.run()


def stored_tickets(run: Path, target: RegionRef, count: int,
                   text: str = "a billing ticket") -> tuple[int, list[int]]:
    """(run id, candidate ids) of ``count`` pending billing candidates for ``target`` that
    no check warned about, stored as a generation would."""
    with Store() as store:
        run_id = store.register_run(run)
        return run_id, store.add_candidates(run_id, [
            Candidate(text=f"{text} {i}", label="billing", backend="eda", target=target,
                      checks=CandidateChecks()) for i in range(count)])


def test_without_a_run_or_exploration_the_page_says_what_to_do(tmp_path: Path) -> None:
    at = page(None)
    assert not at.exception and "Data & model" in at.info[0].value
    at = page(make_run(tmp_path / "run"))
    assert not at.exception and "Explore this run first" in at.info[0].value


def test_generate_with_eda_then_accept_edit_and_reject(explored) -> None:
    run, cluster = explored
    at = page(run)
    assert not at.exception
    # the default is the strongest region by evidence; the planted cluster is one choice
    strongest = ExploredRun.load(run).default_target()
    assert at.selectbox(key="augment_target").value == strongest.ref
    at.selectbox(key="augment_target").set_value(RegionRef("cluster", str(cluster))).run()
    assert at.selectbox(key="augment_label").value == "billing"
    # the target has mistakes: a rewrite of each, up to 30, by default; free mode asks for 5
    mistakes = augment.target_context(run, RegionRef("cluster", str(cluster))).mistakes
    assert at.radio(key="augment_mode").value == "rewrite"
    assert at.number_input(key="augment_n").value == min(30, mistakes)
    at.radio(key="augment_mode").set_value("free").run()
    assert at.number_input(key="augment_n").value == 5
    # no server configured: the packaged language model is the default, EDA the baseline
    assert at.selectbox(key="augment_backend").value == "transformers"
    assert any("SmolLM2-135M-Instruct" in info.value and "vllm serve" in info.value
               for info in at.info)
    at.selectbox(key="augment_backend").set_value("eda").run()
    assert "No candidates yet" in at.caption[-1].value
    at.number_input(key="augment_n").set_value(4)
    at.button(key="augment_generate").click().run()
    assert not at.exception, at.exception
    with Store() as store:
        stored = store.candidates(store.run_id(run))
    assert len(stored) >= 2 and set(stored["backend"]) == {"eda"}
    # the queue shows one candidate; accepting it moves on to the next pending one
    assert any("0 of" in bar.text and "reviewed" in bar.text for bar in at.get("progress"))
    first = at.session_state["augment_queue_current"]
    at.button(key="augment_queue_accept").click().run()
    assert not at.exception, at.exception
    second = at.session_state["augment_queue_current"]
    assert second != first
    at.button(key="augment_queue_edit").click().run()
    at.text_area(key=f"augment_edit_{second}").set_value("an edited billing ticket")
    at.button(key="augment_queue_save").click().run()
    assert not at.exception
    with Store() as store:
        states = store.candidates(store.run_id(run)).set_index("id")
    assert states.loc[first, "status"] == "accepted"
    assert states.loc[second, "text"] == "an edited billing ticket"
    # undo the edit, redo it, undo it again: the history is one for every kind of step
    assert at.button(key="augment_undo").label == f"Undo edited #{second}"
    at.button(key="augment_undo").click().run()
    with Store() as store:
        assert store.candidates(store.run_id(run)).set_index("id").loc[second, "text"] != (
            "an edited billing ticket")
    at.button(key="augment_redo").click().run()
    with Store() as store:
        assert store.candidates(store.run_id(run)).set_index("id").loc[second, "text"] == (
            "an edited billing ticket")
    fresh = page(run)
    fresh.selectbox(key="augment_target").set_value(RegionRef("cluster", str(cluster))).run()
    assert fresh.button(key="augment_undo").disabled  # a new tab has no history to undo
    assert fresh.get("download_button")


def test_the_table_decides_many_at_once_as_one_undoable_step(explored) -> None:
    run, cluster = explored
    target = RegionRef("cluster", str(cluster))
    run_id, ids = stored_tickets(run, target, 4)
    at = page(run)
    at.selectbox(key="augment_target").set_value(target).run()
    at.segmented_control(key="augment_view").set_value("table").run()
    table_key = "augment_table_0"
    rows = {str(position): {"decide": action} for position, action
            in enumerate(["accept", "reject", "accept", ""])}
    at.session_state[table_key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    at.run()
    assert at.button(key="augment_table_apply").label == "Apply 3 decisions"
    at.button(key="augment_table_apply").click().run()
    assert not at.exception, at.exception
    with Store() as store:
        states = store.candidates(run_id).set_index("id")["status"]
    assert [states[i] for i in ids] == ["accepted", "rejected", "accepted", "pending"]
    assert at.button(key="augment_undo").label == "Undo accepted 2 and rejected 1"
    at.button(key="augment_undo").click().run()
    with Store() as store:
        assert set(store.candidates(run_id)["status"]) == {"pending"}


def test_rewrite_mode_shows_its_sources_and_names_them_beside_each_candidate(
        explored) -> None:
    run, cluster = explored
    at = page(run)
    at.selectbox(key="augment_target").set_value(RegionRef("cluster", str(cluster))).run()
    at.radio(key="augment_mode").set_value("rewrite").run()
    assert not at.exception and not at.text_area  # no template: the source is the prompt
    sources = at.dataframe[0].value
    assert set(sources["from"]) == {"misclassified, the cluster"}
    assert any(f"Rewrite prompts, one per source row ({len(sources)})" in expander.label
               for expander in at.expander)
    at.selectbox(key="augment_backend").set_value("eda").run()
    at.number_input(key="augment_n").set_value(4).run()
    at.button(key="augment_generate").click().run()
    assert not at.exception, at.exception
    assert any("Rewrites row" in caption.value and "gets it wrong" in caption.value
               for caption in at.caption)
    assert any("It changed" in caption.value for caption in at.caption)
    # the model still getting a rewrite of its mistake wrong is expected, not a warning
    assert not any("the model predicts" in caption.value for caption in at.caption)


def test_an_incomplete_backend_setting_is_a_plain_error(explored) -> None:
    run, _ = explored
    at = page(run)
    at.selectbox(key="augment_backend").set_value("openai").run()
    assert not at.exception
    assert "base URL" in at.error[0].value
    at.selectbox(key="augment_backend").set_value("vllm").run()
    assert "needs a model" in at.error[0].value


def test_bulk_accept_without_warnings_then_undo_and_reject_all(explored) -> None:
    run, cluster = explored
    run_id, stored = stored_tickets(run, RegionRef("cluster", str(cluster)), 3,
                                    "a clean billing ticket")
    clean_ids = set(stored)
    with Store() as store:
        store.add_candidates(run_id, [
            Candidate(text="a billing ticket the model still gets wrong", label="billing",
                      backend="eda", target=RegionRef("cluster", str(cluster)),
                      checks=CandidateChecks((CheckResult(
                          "prediction", {"label": "shipping"},
                          ("the current model predicts shipping",)),)))])
    at = page(run)
    at.selectbox(key="augment_target").set_value(RegionRef("cluster", str(cluster))).run()
    assert at.button(key="augment_bulk_accept_clean").label == "Accept 3 that pass the checks"
    at.button(key="augment_bulk_accept_clean").click().run()
    assert not at.exception, at.exception
    with Store() as store:
        states = store.candidates(run_id).set_index("id")["status"]
    assert {i for i, status in states.items() if status == "accepted"} == clean_ids
    assert at.button(key="augment_undo").label == "Undo accepted 3"
    at.button(key="augment_undo").click().run()
    with Store() as store:
        assert set(store.candidates(run_id)["status"]) == {"pending"}
    at.button(key="augment_bulk_reject").click().run()
    with Store() as store:
        assert set(store.candidates(run_id)["status"]) == {"rejected"}
    assert at.button(key="augment_bulk_accept").disabled  # nothing pending is left


def test_a_kept_description_of_the_target_is_shown(explored) -> None:
    run, cluster = explored
    check = SentenceCheck(retrieved=50, retrieved_error_rate=0.5, base_rate=0.12, lift=4.1,
                          p=1e-9, in_region=0.5, found=1.0, kept=True)
    write_descriptions(run, [Description("cluster", str(cluster), "Refund requests for "
                                         "express delivery fees", "openai", "served-model",
                                         False, check).to_json()])
    at = page(run)
    at.selectbox(key="augment_target").set_value(RegionRef("cluster", str(cluster))).run()
    assert any("Described on Explore as: “Refund requests for express delivery fees”"
               in caption.value for caption in at.caption)


def test_two_regions_merged_are_one_target(explored) -> None:
    """Pick a slice and a cluster, target their union: the target list offers it, its
    rows are both parts' and candidates are stored for it."""
    from topex_core.explorer.region_unions import union_ref

    run, cluster = explored
    parts = [RegionRef("cluster", str(cluster)), RegionRef("slice", "delivery")]
    at = page(run)
    at.multiselect(key="augment_merge_parts").set_value(parts).run()
    at.button(key="augment_merge").click().run()
    assert not at.exception, at.exception
    union = union_ref(parts)
    assert at.selectbox(key="augment_target").value == union
    assert at.selectbox(key="augment_target").options[0].startswith("union of 2 regions: ")
    at.selectbox(key="augment_backend").set_value("eda").run()
    at.number_input(key="augment_n").set_value(3).run()
    at.button(key="augment_generate").click().run()
    assert not at.exception, at.exception
    with Store() as store:
        stored = store.vetted(store.run_id(run))
    assert stored and {candidate.target for candidate in stored} == {union}


def test_keys_waiting_in_the_page_queue_each_act_once_in_order(explored) -> None:
    """The page's key listener hands over every key not yet taken: three keys pressed while
    the queue redrew (A, A, then U) accept two candidates and undo the second, one per
    run; a key already taken does nothing again, and an edit box's keys are not taken."""
    run, cluster = explored
    target = RegionRef("cluster", str(cluster))
    run_id, ids = stored_tickets(run, target, 3)
    at = page(run)
    at.selectbox(key="augment_target").set_value(target).run()
    assert at.session_state["augment_queue_current"] == ids[0]
    assert any("**A** accept" in caption.value for caption in at.caption)
    waiting = [{"seq": 1, "key": "a"}, {"seq": 2, "key": "a"}, {"seq": 3, "key": "u"}]
    at.session_state["augment_keys"] = {"pending": {"keys": waiting, "sent": 3}}

    def statuses() -> list[str]:
        with Store() as store:
            found = store.candidates(run_id).set_index("id")["status"]
        return [found[i] for i in ids]

    for expected in (["accepted", "pending", "pending"], ["accepted", "accepted", "pending"],
                     ["accepted", "pending", "pending"]):
        at.run()
        assert not at.exception, at.exception
        assert statuses() == expected
    at.run()  # every key was taken: nothing more happens
    assert statuses() == ["accepted", "pending", "pending"]
    assert at.session_state["augment_queue_current"] == ids[2]  # accepting moved on twice
    at.session_state["augment_keys"] = {"pending": {"keys": waiting + [
        {"seq": 4, "key": "e"}, {"seq": 5, "key": "x"}], "sent": 4}}
    at.run()
    at.run()  # E opened the edit box; X, pressed before it opened, rejects nothing
    assert statuses() == ["accepted", "pending", "pending"]
    assert at.text_area(key=f"augment_edit_{ids[2]}").value == "a billing ticket 2"
