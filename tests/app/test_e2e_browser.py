"""End to end in real headless Chromium: the dashboard as a user drives it.

Starts ``streamlit run app.py`` on 127.0.0.1, uploads a user's CSV with no test file (2,000
rows of the demo's tickets), trains it through the page (on the tiny local backbone, one
epoch, so the test stays short) and checks that a held-out test accuracy is shown, runs
the explorer, checks that the WebGL map and the ranked table appear, generates
candidates for the union of two regions merged by hand with the default backend (the
packaged SmolLM2 language model, converted on first use) and thirty more with EDA, rejects
them all at once and undoes, redoes and undoes that by keys, vets every candidate by keys
alone (one edited), retrains in head mode and checks that the round leads with its verdict and that the before/after view
shows fixed and broken rows and plays.
Screenshots go to
``tests/artifacts/``. Needs Debian's ``chromium`` (``make test`` installs it where it
can) and the ``playwright`` Python package (no browser download: it drives that binary).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from local_server import free_port, started_server

from topex_core.data import demo

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture()
def dashboard(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "TOPEX_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    url = f"http://127.0.0.1:{port}"
    server = started_server(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1"], f"{url}/_stcore/health", seconds=60, cwd=ROOT,
        env=env)
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.slow
def test_train_explore_augment_retrain_and_see_before_after(dashboard: str, tiny_backbone: str,
                                                           tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package "
                    "(make test does this where apt-get is allowed)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="pip install playwright (requirements-dev.txt)")
    ARTIFACTS.mkdir(exist_ok=True)
    tickets = tmp_path / "tickets.csv"
    pool, _ = demo.load_demo()
    pool.to_frame()[["text", "label"]].sample(2_000, random_state=0).to_csv(tickets, index=False)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        try:
            page.goto(dashboard)
            page.get_by_text("Upload a file").click()
            page.locator("input[type=file]").set_input_files(str(tickets))
            page.get_by_text("Held-out share").wait_for(timeout=60_000)
            page.get_by_text("Model and training").click()
            backbone = page.get_by_role("textbox", name="Backbone")
            backbone.fill(tiny_backbone)
            backbone.press("Enter")
            epochs = page.get_by_role("spinbutton", name="Epochs")
            epochs.fill("1")
            epochs.press("Enter")
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text("Current run").wait_for(timeout=240_000)
            page.screenshot(path=str(ARTIFACTS / "e2e_trained.png"), full_page=True)
            test_metric = page.get_by_test_id("stMetric").filter(has_text="Test accuracy")
            assert "%" in test_metric.inner_text(), test_metric.inner_text()
            page.get_by_role("link", name="Explore").click()
            page.get_by_role("button", name="Explore").click()
            page.get_by_text("Error clusters, ranked").wait_for(timeout=240_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "e2e_explore.png"), full_page=True)
            # the default target is the strongest region, and the page says why
            assert page.get_by_text("mistakes more than its scope's error rate").count() >= 1
            assert page.get_by_text("Regions by evidence").count() >= 1
            page.get_by_role("link", name="Augment").click()
            merge_two_regions(page)
            # a rewrite round is the default; the packaged language model writes three
            page.get_by_text("Rewrite prompts, one per source row").wait_for(timeout=60_000)
            set_number(page, "Candidates (n)", 3)
            generate(page, at_least=3)
            # then thirty by EDA, for a round's worth of vetting by keys
            choose(page, "Backend", "eda")
            page.get_by_role("radio", name="New texts about the target").check(force=True)
            page.wait_for_function(IDLE, timeout=30_000)
            set_number(page, "Candidates (n)", 30)
            generate(page, at_least=30)
            undo_and_redo_a_bulk_decision(page)
            vet_by_keys(page)
            page.screenshot(path=str(ARTIFACTS / "e2e_augment.png"), full_page=True)
            page.get_by_role("link", name="Retrain & compare").click()
            page.get_by_role("button", name="Retrain", exact=True).click()
            # the round leads with its verdict against the label-matched control
            page.get_by_text("Verdict:").first.wait_for(timeout=300_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            # the rest of the page follows the verdict as it renders
            page.get_by_text("Before → after in the same").first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "e2e_before_after.png"), full_page=True)
            check_the_movement_view(page)
            check_on_a_4k_screen(page)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "e2e_failure.png"), full_page=True)
            raise
        finally:
            browser.close()


PROGRESS = "document.querySelector('[data-testid=stProgress]')?.innerText || ''"


IDLE = ("document.querySelector('[data-testid=stApp]')"
        "?.getAttribute('data-test-script-state') !== 'running'")


def press(page, key: str, until: str) -> None:
    """Press ``key`` once the page is idle, wait until the JavaScript ``until`` holds, then
    let the queue settle. Pressed once: the page's key queue loses no key (a burst of keys
    pressed during redraws is checked in ``vet_by_keys``)."""
    page.wait_for_function(IDLE, timeout=30_000)
    page.keyboard.press(key)
    page.wait_for_function(until, timeout=30_000)
    page.wait_for_function(IDLE, timeout=30_000)
    page.wait_for_timeout(300)


def reviewed(page) -> tuple[int, int]:
    """(reviewed, candidates) as the review queue's progress says them."""
    words = page.evaluate(PROGRESS).split()
    return int(words[0]), int(words[2])


def generate(page, at_least: int) -> None:
    """Generate, then wait until the review queue holds ``at_least`` candidates and the
    page is idle. The status line of an earlier generation ("… candidates from …") stays on
    the page, so waiting for its words would go on while this one still runs, and keys
    pressed then land on a queue that is being redrawn."""
    page.wait_for_function(IDLE, timeout=30_000)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(f"+(({PROGRESS}).split(' ')[2] || 0) >= {at_least}",
                           timeout=300_000)
    page.wait_for_function(IDLE, timeout=60_000)


def set_number(page, name: str, value: int) -> None:
    """Type ``value`` into the number field ``name`` and check that it took: a field that
    is redrawn while it is filled can keep a digit of its old value ("530" for 30), so a
    wrong value is typed again."""
    field = page.get_by_role("spinbutton", name=name)
    for _ in range(3):
        page.wait_for_function(IDLE, timeout=30_000)
        field.fill(str(value))
        field.press("Enter")
        page.wait_for_timeout(1_000)
        page.wait_for_function(IDLE, timeout=30_000)
        if field.input_value() == str(value):
            return
    raise AssertionError(f"{name} shows {field.input_value()}, not {value}")


def choose(page, name: str, option: str) -> None:
    """Pick the option starting with ``option`` in the selectbox labelled ``name``."""
    page.wait_for_function(IDLE, timeout=30_000)
    page.get_by_role("combobox", name=name).click()
    page.get_by_role("option").filter(has_text=option).first.click()
    page.wait_for_timeout(1_000)
    page.wait_for_function(IDLE, timeout=30_000)


def merge_two_regions(page) -> None:
    """Merge the first two regions of the list into one target, which becomes the pick."""
    page.get_by_text("Merge several regions into one target").click()
    regions = page.get_by_role("option").filter(has_not_text="Select all")
    picker = page.get_by_role("combobox", name="Regions to target as one")
    for _ in range(2):  # the first two regions (not "Select all"), opening the list as needed
        for _ in range(5):
            if regions.first.is_visible():
                break
            picker.click()
            page.wait_for_timeout(1_000)
        regions.first.click()
        page.wait_for_timeout(1_000)
    page.keyboard.press("Escape")  # the list of regions covers the button
    page.get_by_role("button", name="Target their union").click()
    page.wait_for_function("[...document.querySelectorAll('[data-testid=stSelectbox] input')]"
                           ".some(box => box.value.startsWith('union of 2 regions'))",
                           timeout=30_000)


def undo_and_redo_a_bulk_decision(page) -> None:
    """Reject every pending candidate at once, undo it by key, redo it, undo it again."""
    page.get_by_text("reviewed").first.wait_for(timeout=60_000)
    total = reviewed(page)[1]
    page.get_by_role("button", name=f"Reject all {total} pending").click()
    page.wait_for_function(f"({PROGRESS}).startsWith('{total} of')", timeout=30_000)
    for key, expected in (("u", 0), ("y", total), ("u", 0)):
        press(page, key, f"({PROGRESS}).startsWith('{expected} of')")


def vet_by_keys(page) -> None:
    """Every candidate of the queue decided by keys alone: three accepted in one burst,
    then accept most, reject every fourth, edit one (E, type, Ctrl+Enter) and step back and
    forth (P, N)."""
    for key in ("n", "p"):  # each press waits for the queue to show its effect
        page.wait_for_function(IDLE, timeout=30_000)
        press(page, key, f"({PROGRESS}) !== {page.evaluate(PROGRESS)!r}")
    page.wait_for_function(IDLE, timeout=30_000)
    page.keyboard.press("e")
    text = page.get_by_role("textbox", name="Text")
    text.wait_for(timeout=30_000)
    text.press("End")
    text.type(" (checked by hand)")
    text.press("Control+Enter")
    page.get_by_text("(checked by hand)").first.wait_for(timeout=30_000)
    # keys typed while the edit box still has the focus are text, not decisions
    text.wait_for(state="detached", timeout=30_000)
    page.get_by_role("button", name="Accept", exact=True).wait_for(timeout=30_000)
    done, total = reviewed(page)
    assert total >= 30, total
    # three keys at once, each pressed while the queue still redraws the one before: none
    # is lost (Streamlit's per-button shortcuts lost keys pressed during a redraw)
    page.wait_for_function(IDLE, timeout=30_000)
    for _ in range(3):
        page.keyboard.press("a")
        page.wait_for_timeout(50)
    page.wait_for_function(f"({PROGRESS}).startsWith('{done + 3} of')", timeout=30_000)
    page.wait_for_function(IDLE, timeout=30_000)
    page.wait_for_timeout(1_000)
    assert reviewed(page)[0] == done + 3  # and no key acted twice
    done = reviewed(page)[0]
    while done < total:
        press(page, "x" if done % 4 == 3 else "a", f"!({PROGRESS}).startsWith('{done} of')")
        done = reviewed(page)[0]
    page.get_by_text("accepted in this run").first.wait_for(timeout=30_000)


def check_the_movement_view(page) -> None:
    """The before → after map names its fixed and broken rows in the legend, draws them,
    and plays from before to after (the chart of the groups against the control comes
    first)."""
    chart = next(plot for plot in page.locator(".js-plotly-plot").all()
                 if plot.get_by_text("play before → after").count())
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(1_000)
    legend = chart.locator(".legendtext").all_text_contents()  # SVG text has no innerText
    counts = {name.split(" (")[0]: int(name.split("(")[-1].rstrip(")").replace(",", ""))
              for name in legend if name.startswith(("fixed", "broken"))}
    assert set(counts) == {"fixed", "broken"} and sum(counts.values()) > 0, legend
    page.screenshot(path=str(ARTIFACTS / "e2e_movement.png"))
    chart.get_by_text("play before → after").click()
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / "e2e_movement_playing.png"))


def check_on_a_4k_screen(page) -> None:
    """A 3840×2160 window (a 4k screen at 100% zoom): the figures grow with the page instead
    of staying a small island, and screenshots are kept for a look at their text sizes."""
    page.set_viewport_size({"width": 3840, "height": 2160})
    page.wait_for_timeout(1_500)  # Plotly relayouts on resize
    widths = [box["width"] for box in (plot.bounding_box() for plot in
                                       page.locator(".js-plotly-plot").all()) if box]
    page.screenshot(path=str(ARTIFACTS / "e2e_before_after_4k.png"))
    assert widths and max(widths) > 1_500, widths
    page.get_by_role("link", name="Explore").click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1_500)
    page.screenshot(path=str(ARTIFACTS / "e2e_explore_4k.png"))
